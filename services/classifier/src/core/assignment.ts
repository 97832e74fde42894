// Which partitions an instance owns: members sorted by id, partition p to member p mod n. Every instance
// computes the same answer from the same member list, so no coordinator is needed.
export function assignPartitions(members: readonly string[], me: string, partitions: number): number[] {
  const sorted = [...new Set(members)].sort();
  const index = sorted.indexOf(me);
  if (index === -1) return [];
  const owned: number[] = [];
  for (let p = index; p < partitions; p += sorted.length) owned.push(p);
  return owned;
}
