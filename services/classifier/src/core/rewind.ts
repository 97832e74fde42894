// Where a classifier that takes a partition starts re-reading it to rebuild its engine (the warm-up): pure, so the
// bounds are tested without a broker. Issue 10, item 6: a restarted classifier must hold the connection states
// replay holds, or `seq` restarts at 0 on every open keep-alive connection and exchange ids diverge.

/** What the worker knows when it takes a partition. Sequences are ADI_RAW stream sequences; times are ms (UTC). */
export interface RewindInput {
  /** The partition's checkpoint (lowest position of a connection still open), if one was ever written. */
  checkpoint: number | undefined;
  /** The durable consumer's ack floor: every batch up to it is stored; 0 when none was acknowledged. */
  ackFloor: number;
  /** The stream's first sequence now (retention removed what is before it). */
  firstSeq: number;
  /** Store time of the message at the ack floor (undefined if it is gone). */
  ackFloorTimeMs: number | undefined;
  /** Store time of the message at the (clamped) checkpoint (undefined if unknown). */
  checkpointTimeMs: number | undefined;
  /** The longest stretch of store time re-read (ADI_CLASSIFIER_REWIND_MAX), ms. */
  rewindMaxMs: number;
}

export type RewindStart =
  | { kind: "none" }
  | { kind: "seq"; seq: number }
  /** From the first message stored at or after this time (the bound cut the rewind short, or no checkpoint). */
  | { kind: "time"; timeMs: number };

/**
 * Decides the warm-up's first message:
 * - nothing acknowledged yet (ackFloor 0), or a checkpoint past the ack floor (no connection was open there): none;
 * - a checkpoint: from it, but never before the stream's first sequence, and never more than rewindMaxMs of store
 *   time before the ack floor's message (then from that time: connections older than the bound are seen mid-way,
 *   as before this design);
 * - no checkpoint (first start of this release, bucket lost): rewindMaxMs before the ack floor's message.
 */
export function rewindStart(i: RewindInput): RewindStart {
  if (i.ackFloor <= 0) return { kind: "none" };
  if (i.checkpoint !== undefined && i.checkpoint > i.ackFloor) return { kind: "none" };
  const bound = i.ackFloorTimeMs === undefined ? undefined : i.ackFloorTimeMs - i.rewindMaxMs;
  if (i.checkpoint === undefined) return bound === undefined ? { kind: "seq", seq: Math.max(1, i.firstSeq) } : { kind: "time", timeMs: bound };
  const seq = Math.max(i.checkpoint, i.firstSeq, 1);
  if (bound !== undefined && i.checkpointTimeMs !== undefined && i.checkpointTimeMs < bound) return { kind: "time", timeMs: bound };
  return { kind: "seq", seq };
}
