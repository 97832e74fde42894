// Reading the streams back, for every consumer: to the end of what is stored now (replay), or following new
// messages as they arrive (live). Ordered consumers: the server keeps no state for them, so a replay never
// disturbs the live consumers.
import { DeliverPolicy, jetstream } from "@nats-io/jetstream";
import type { JsMsg } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";

export type MessageHandler = (m: JsMsg) => void | Promise<void>;

export interface ReadOptions {
  /** Only messages stored at or after this time. */
  since?: Date;
  /** Messages stored after this time are skipped. */
  until?: Date;
  onProgress?: (done: number, pending: number) => void;
}

/** Where an ordered consumer starts: a stream sequence, a store time, or the first message. */
export type StartAt = Date | { seq: number } | undefined;

function orderedOptions(filter: string, start?: StartAt) {
  if (start instanceof Date) return { filter_subjects: filter, deliver_policy: DeliverPolicy.StartTime, opt_start_time: start.toISOString() };
  if (start) return { filter_subjects: filter, deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: start.seq };
  return { filter_subjects: filter, deliver_policy: DeliverPolicy.All };
}

/**
 * Every message of `stream` matching `filter` stored now, in stream order; resolves with the count. `lastSeq`, when
 * given, is told the stream sequence of the last message read (to follow on from there).
 */
export async function readToEnd(nc: NatsConnection, stream: string, filter: string, handle: MessageHandler, opts: ReadOptions & { lastSeq?: (seq: number) => void } = {}): Promise<number> {
  const js = jetstream(nc);
  const consumer = await js.consumers.get(stream, orderedOptions(filter, opts.since));
  const info = await consumer.info(true);
  if (info.num_pending === 0) return 0;
  const untilNs = opts.until ? BigInt(opts.until.getTime()) * 1_000_000n : undefined;
  const messages = await consumer.consume({ max_messages: 256 });
  let done = 0;
  try {
    for await (const m of messages) {
      if (untilNs === undefined || BigInt(m.info.timestampNanos) <= untilNs) await handle(m);
      opts.lastSeq?.(m.seq);
      done++;
      if (done % 1000 === 0) opts.onProgress?.(done, m.info.pending);
      if (m.info.pending === 0) break;
    }
  } finally {
    await messages.close();
  }
  opts.onProgress?.(done, 0);
  return done;
}

/** Follows `stream` from its first message (or `start`) until `signal` aborts. */
export async function follow(nc: NatsConnection, stream: string, filter: string, handle: MessageHandler, signal: AbortSignal, start?: StartAt): Promise<void> {
  const js = jetstream(nc);
  const consumer = await js.consumers.get(stream, orderedOptions(filter, start));
  const messages = await consumer.consume({ max_messages: 256 });
  const stop = () => void messages.close();
  signal.addEventListener("abort", stop, { once: true });
  try {
    for await (const m of messages) await handle(m);
  } finally {
    signal.removeEventListener("abort", stop);
  }
}
