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

/**
 * Sorted, de-duplicated member ids from a key listing. The KV key listing is an ordered push consumer: when the
 * server is slow it is reset and delivers the keys again (one slow start listed this instance 16 times).
 */
export function memberList(keys: Iterable<string>): string[] {
  return [...new Set(keys)].sort();
}
