// Raw batches on subjects that are not one of the stream's partitions (`adi.raw.v1.h.40` when the stream holds
// 16, or a token that is no partition number) match no classifier's consumer: live they were ignored while replay
// classified them (issue 10, item 7). A stream that states its count stores no such subject; one made before that
// (subjects `adi.raw.v1.>`) can hold them. The owner of partition 0 moves them to ADI_DEADLETTER (with their
// reason) and purges them from ADI_RAW; replay screens them out the same way (core/record-guard.ts).
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import type { Logger } from "pino";
import { readToEnd } from "@adi/shared/nats";
import { RAW_STREAM, RAW_SUBJECT_PREFIX } from "@adi/shared/wire";
import { checkBatchPartition } from "../core/record-guard.ts";
import { publishDeadLetter } from "./partition-worker.ts";
import type { WorkerCounters } from "./partition-worker.ts";

/**
 * Dead-letters and purges every raw message on a subject outside `partitions`; returns how many. Throws what
 * JetStream throws (the caller tries again later: a message dead-lettered twice is dropped by its id).
 */
export async function sweepStrays(nc: NatsConnection, partitions: number, counters: WorkerCounters, log: Logger): Promise<number> {
  const jsm = await jetstreamManager(nc);
  const js = jetstream(nc);
  const info = await jsm.streams.info(RAW_STREAM, { subjects_filter: `${RAW_SUBJECT_PREFIX}.>` });
  let moved = 0;
  for (const subject of Object.keys(info.state.subjects ?? {})) {
    const bad = checkBatchPartition(subject, -1, partitions);
    if (!bad || bad.reason === "partition_mismatch") continue;
    let last = 0;
    // What is stored on the subject now, through an ordered consumer readToEnd deletes once read.
    await readToEnd(nc, RAW_STREAM, subject, async (m) => {
      await publishDeadLetter(js, { subject: m.subject, seq: m.seq, data: m.data, msgId: m.headers?.get("Nats-Msg-Id") || undefined }, bad.reason, bad.detail);
      counters.deadLetters++;
      counters.deadLetterReasons[bad.reason]++;
      moved++;
      last = m.seq;
    });
    if (last === 0) continue;
    // Only what was dead-lettered: `seq` purges below it.
    await jsm.streams.purge(RAW_STREAM, { filter: subject, seq: last + 1 });
    log.error({ subject, partitions, reason: bad.reason, detail: bad.detail, upTo: last }, "raw batches outside the stream's partitions moved to the dead-letter stream");
  }
  return moved;
}
