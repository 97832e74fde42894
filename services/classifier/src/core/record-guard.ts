// What a raw batch must satisfy before the engine sees it, as data and pure functions, so the live classifier
// and `adi replay` drop exactly the same things (issue 10, items 7 and 8): a batch on a subject that is not one of
// the stream's partitions, or whose header names another partition than its subject, is dead-lettered whole; a
// record stamped outside a sane window around the message's store time is removed from its batch and
// dead-lettered. One record stamped 2^64-1 ns set the service map's `generated_at` to the year 2554 for as long as
// the stream kept it.
import { decodeBatch, WireFormatError, partitionOfSubject } from "@adi/shared/wire";
import type { BatchHeader, RawRecord } from "@adi/shared/wire";

/** Why something went to ADI_DEADLETTER (the `Adi-Reason` header, and the counter's key). */
export const DEAD_LETTER_REASONS = [
  "malformed", // the batch does not decode (WireFormatError)
  "not_a_partition", // the subject's last token is not a partition number
  "partition_out_of_range", // the subject's partition is not below the stream's partition count
  "partition_mismatch", // the batch header names another partition than its subject
  "timestamp_future", // a record stamped more than FUTURE_SLACK_NS after the message was stored
  "timestamp_past", // a record stamped before the window the stream can hold (retention + PAST_SLACK_NS)
  "engine_error", // the engine threw on the batch (a bug: logged at error)
] as const;
export type DeadLetterReason = (typeof DEAD_LETTER_REASONS)[number];

export type DeadLetterCounts = Record<DeadLetterReason, number>;

/** A zeroed counter per reason. */
export function emptyDeadLetterCounts(): DeadLetterCounts {
  return Object.fromEntries(DEAD_LETTER_REASONS.map((r) => [r, 0])) as DeadLetterCounts;
}

const DAY_NS = 86_400_000_000_000n;
/** A record may be this far ahead of its store time (clock skew between host and broker, never a day). */
export const FUTURE_SLACK_NS = DAY_NS;
/** ... and this much older than the oldest message the stream keeps (a broker away for hours, an outbox held). */
export const PAST_SLACK_NS = DAY_NS;
/** The past bound when the stream keeps everything (max age 0): a capture buffered a month is not credible. */
export const UNLIMITED_RETENTION_PAST_NS = 30n * DAY_NS;

/** The window a record's `tsNs` (UTC ns) must fall in, relative to its message's store time. */
export interface TimestampWindow {
  /** Largest allowed `tsNs − storeNs`. */
  aheadNs: bigint;
  /** Largest allowed `storeNs − tsNs`. */
  behindNs: bigint;
}

/**
 * The window for a stream whose max age is `maxAgeMs` (ms, 0 = unlimited): up to 1 day ahead of the store time, and
 * at most the retention plus 1 day behind it (30 days plus 1 when unlimited). Both live and replay read the max age
 * from the stream itself, so they compute the same window.
 */
export function timestampWindow(maxAgeMs: number): TimestampWindow {
  const retention = maxAgeMs > 0 ? BigInt(Math.round(maxAgeMs)) * 1_000_000n : UNLIMITED_RETENTION_PAST_NS;
  return { aheadNs: FUTURE_SLACK_NS, behindNs: retention + PAST_SLACK_NS };
}

/** A batch refused whole, or records removed from one: the reason and a one-line detail for the dead letter. */
export interface Rejection {
  reason: DeadLetterReason;
  detail: string;
}

/**
 * Checks a batch's partition against its subject and the stream's count: null when it belongs to the partition
 * its subject names and that partition exists. `headerPartition` is the batch header's partition field;
 * `partitions` the stream's count (`rawStreamContract`, or the classifier's ADI_PARTITIONS while the stream states
 * none). A batch that fails is dead-lettered whole: its connections' records would otherwise be read by a consumer
 * that does not see the rest of them, or by none at all live while replay classified them.
 */
export function checkBatchPartition(subject: string, headerPartition: number, partitions: number): Rejection | null {
  const p = partitionOfSubject(subject);
  if (p === undefined) return { reason: "not_a_partition", detail: `subject ${subject} names no partition` };
  if (p >= partitions) return { reason: "partition_out_of_range", detail: `subject partition ${p} is not below the stream's ${partitions} partitions` };
  if (headerPartition !== p) return { reason: "partition_mismatch", detail: `batch header says partition ${headerPartition}, its subject ${p}` };
  return null;
}

/** Records of one batch split by the timestamp window, in their order; `rejected` holds each removed record's index. */
export interface GuardedRecords {
  kept: RawRecord[];
  rejected: { index: number; tsNs: bigint; reason: "timestamp_future" | "timestamp_past" }[];
}

/**
 * Removes the records stamped outside `window` around `storeNs` (the message's JetStream store time, UTC ns).
 * Returns the input array itself (no copy) when nothing is removed: the hot path allocates nothing.
 */
export function guardRecords(records: readonly RawRecord[], storeNs: bigint, window: TimestampWindow): GuardedRecords {
  const hi = storeNs + window.aheadNs;
  const lo = storeNs - window.behindNs;
  let rejected: GuardedRecords["rejected"] | undefined;
  for (let i = 0; i < records.length; i++) {
    const ts = records[i]!.tsNs;
    if (ts > hi) (rejected ??= []).push({ index: i, tsNs: ts, reason: "timestamp_future" });
    else if (ts < lo) (rejected ??= []).push({ index: i, tsNs: ts, reason: "timestamp_past" });
  }
  if (!rejected) return { kept: records as RawRecord[], rejected: [] };
  const drop = new Set(rejected.map((r) => r.index));
  return { kept: records.filter((_, i) => !drop.has(i)), rejected };
}

/** One line for a dead letter of removed records: how many, which reasons, the first offending stamp. */
export function describeRejected(g: GuardedRecords, storeNs: bigint): string {
  const first = g.rejected[0]!;
  return `${g.rejected.length} record(s) stamped outside the window around the store time ${storeNs} ns (first: record #${first.index} at ${first.tsNs} ns, ${first.reason})`;
}

/** A raw message screened for the engine: refused whole, or its records that pass (and what was removed). */
export type ScreenedBatch =
  | { kind: "dead"; reason: DeadLetterReason; detail: string }
  | {
      kind: "ok";
      header: BatchHeader;
      records: RawRecord[];
      /** Records removed by the timestamp window: the batch is also dead-lettered, with these counts by reason. */
      removed?: { reason: DeadLetterReason; detail: string; counts: Partial<DeadLetterCounts> };
    };

/**
 * Everything a raw message goes through before the engine, identically live, in a warm-up and in `adi replay`:
 * decode (a WireFormatError is `malformed`), the partition check, then the timestamp window. `storeNs` is the
 * message's JetStream store time (UTC ns); `partitions` the stream's count. Other errors (bugs) are thrown.
 */
export function screenBatch(subject: string, data: Buffer, storeNs: bigint, partitions: number, window: TimestampWindow): ScreenedBatch {
  let batch: { header: BatchHeader; records: RawRecord[] };
  try {
    batch = decodeBatch(data);
  } catch (err) {
    if (err instanceof WireFormatError) return { kind: "dead", reason: "malformed", detail: err.message };
    throw err;
  }
  const bad = checkBatchPartition(subject, batch.header.partition, partitions);
  if (bad) return { kind: "dead", ...bad };
  const g = guardRecords(batch.records, storeNs, window);
  if (g.rejected.length === 0) return { kind: "ok", header: batch.header, records: batch.records };
  const counts: Partial<DeadLetterCounts> = {};
  for (const r of g.rejected) counts[r.reason] = (counts[r.reason] ?? 0) + 1;
  return { kind: "ok", header: batch.header, records: g.kept, removed: { reason: g.rejected[0]!.reason, detail: describeRejected(g, storeNs), counts } };
}
