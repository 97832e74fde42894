// Stream and subject names, as data. The version sits in the subject (`v1`) so a new wire format can be
// published next to the old one while consumers migrate.

export const RAW_STREAM = "ADI_RAW";
export const RAW_SUBJECT_PREFIX = "adi.raw.v1";

export const FACTS_STREAM = "ADI_FACTS";
export const FACTS_SUBJECT_PREFIX = "adi.facts.v1";

/** Last token of a facts subject. `container` is reserved for the enricher. */
export const FACT_KINDS = ["process", "agent", "listeners", "container"] as const;
export type FactKind = (typeof FACT_KINDS)[number];

export const DERIVED_STREAM = "ADI_DERIVED";
export const DERIVED_SUBJECT_PREFIX = "adi.derived.v2";
export const DEADLETTER_STREAM = "ADI_DEADLETTER";
export const DEADLETTER_SUBJECT_PREFIX = "adi.deadletter.v1";

/** What each stream captures, ready for a JetStream stream config. */
export const STREAMS = {
  raw: { name: RAW_STREAM, subjects: [`${RAW_SUBJECT_PREFIX}.>`] },
  facts: { name: FACTS_STREAM, subjects: [`${FACTS_SUBJECT_PREFIX}.>`] },
  derived: { name: DERIVED_STREAM, subjects: [`${DERIVED_SUBJECT_PREFIX}.>`] },
  deadletter: { name: DEADLETTER_STREAM, subjects: [`${DEADLETTER_SUBJECT_PREFIX}.>`] },
} as const;

const TOKEN = /^[A-Za-z0-9_-]+$/;

/** Makes `s` safe as one subject token: anything outside [A-Za-z0-9_-] becomes '_'; empty becomes '_'. */
export function sanitizeToken(s: string): string {
  const cleaned = s.replace(/[^A-Za-z0-9_-]/g, "_");
  return cleaned === "" ? "_" : cleaned;
}

export function isSubjectToken(s: string): boolean {
  return TOKEN.test(s);
}

/** `adi.raw.v1.<host>.<partition>` */
export function rawSubject(host: string, partition: number): string {
  assertToken(host, "host");
  assertPartition(partition);
  return `${RAW_SUBJECT_PREFIX}.${host}.${partition}`;
}

/** One partition across all hosts (`adi.raw.v1.*.<p>`), or everything (`adi.raw.v1.>`). */
export function rawFilter(partition?: number): string {
  if (partition === undefined) return `${RAW_SUBJECT_PREFIX}.>`;
  assertPartition(partition);
  return `${RAW_SUBJECT_PREFIX}.*.${partition}`;
}

/**
 * The subjects ADI_RAW stores when it holds `partitions` partitions: `adi.raw.v1.*.0` … `adi.raw.v1.*.<n-1>`, in
 * order. The partition count is part of the stream's contract (issue 10): the stream stores nothing else, so a
 * producer publishing to a partition the stream does not have gets an error instead of a batch nobody consumes.
 * Throws a RangeError for a count that is not a positive integer.
 */
export function rawPartitionSubjects(partitions: number): string[] {
  if (!Number.isSafeInteger(partitions) || partitions < 1) throw new RangeError(`partitions must be a positive integer, got ${partitions}`);
  return Array.from({ length: partitions }, (_, p) => `${RAW_SUBJECT_PREFIX}.*.${p}`);
}

/**
 * The partition count a stream's subject list states: n when the list is exactly `rawPartitionSubjects(n)` (any
 * order), undefined otherwise (e.g. `adi.raw.v1.>`, a stream made by a consumer before any producer or by an older
 * release: no count yet).
 */
export function partitionsOfSubjects(subjects: readonly string[]): number | undefined {
  if (subjects.length === 0) return undefined;
  const seen = new Set<number>();
  for (const s of subjects) {
    const m = /^adi\.raw\.v1\.\*\.(0|[1-9][0-9]{0,8})$/.exec(s);
    if (!m) return undefined;
    seen.add(Number(m[1]));
  }
  for (let p = 0; p < subjects.length; p++) if (!seen.has(p)) return undefined;
  return seen.size === subjects.length ? subjects.length : undefined;
}

/**
 * The partition token of a raw subject `adi.raw.v1.<host>.<p>`: a decimal without leading zeros, else undefined
 * (a subject that is not a raw partition subject at all, e.g. `adi.raw.v1.h.07` or `adi.raw.v1.h.x`).
 */
export function partitionOfSubject(subject: string): number | undefined {
  const t = subject.split(".");
  if (t.length !== 5 || `${t[0]}.${t[1]}.${t[2]}` !== RAW_SUBJECT_PREFIX || !/^(0|[1-9][0-9]{0,8})$/.test(t[4]!)) return undefined;
  return Number(t[4]);
}

/** `adi.facts.v1.<host>.<kind>` */
export function factSubject(host: string, kind: FactKind): string {
  assertToken(host, "host");
  return `${FACTS_SUBJECT_PREFIX}.${host}.${kind}`;
}

/** One kind of fact across all hosts (`adi.facts.v1.*.<kind>`), or everything (`adi.facts.v1.>`). */
export function factsFilter(kind?: FactKind): string {
  return kind === undefined ? `${FACTS_SUBJECT_PREFIX}.>` : `${FACTS_SUBJECT_PREFIX}.*.${kind}`;
}

const MASK64 = (1n << 64n) - 1n;

/**
 * SplitMix64's output function (Steele et al.): a bijective 64-bit mix, so connection ids that differ in
 * one low bit (the kernel hands them out sequentially) still spread evenly over the partitions.
 * Changing it reshuffles every connection's partition: keep it fixed.
 */
export function splitmix64(x: bigint): bigint {
  let z = (BigInt.asUintN(64, x) + 0x9e3779b97f4a7c15n) & MASK64;
  z = ((z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n) & MASK64;
  z = ((z ^ (z >> 27n)) * 0x94d049bb133111ebn) & MASK64;
  return z ^ (z >> 31n);
}

/** The partition a connection's events go to: the same connection id always lands in the same one. */
export function partitionOf(connId: bigint, partitions: number): number {
  if (!Number.isSafeInteger(partitions) || partitions < 1) {
    throw new RangeError(`partitions must be a positive integer, got ${partitions}`);
  }
  return Number(splitmix64(connId) % BigInt(partitions));
}

function assertToken(value: string, what: string): void {
  if (!TOKEN.test(value)) {
    throw new TypeError(`${what} ${JSON.stringify(value)} is not a subject token ([A-Za-z0-9_-]+): use sanitizeToken`);
  }
}

function assertPartition(partition: number): void {
  if (!Number.isSafeInteger(partition) || partition < 0) {
    throw new RangeError(`partition must be a non-negative integer, got ${partition}`);
  }
}
