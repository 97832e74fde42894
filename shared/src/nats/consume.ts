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

function orderedOptions(filter: string, since?: Date) {
  return since
    ? { filter_subjects: filter, deliver_policy: DeliverPolicy.StartTime, opt_start_time: since.toISOString() }
    : { filter_subjects: filter, deliver_policy: DeliverPolicy.All };
}

/** Every message of `stream` matching `filter` stored now, in stream order; resolves with the count. */
export async function readToEnd(nc: NatsConnection, stream: string, filter: string, handle: MessageHandler, opts: ReadOptions = {}): Promise<number> {
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

/** Follows `stream` from its first message (or `since`) until `signal` aborts. */
export async function follow(nc: NatsConnection, stream: string, filter: string, handle: MessageHandler, signal: AbortSignal, since?: Date): Promise<void> {
  const js = jetstream(nc);
  const consumer = await js.consumers.get(stream, orderedOptions(filter, since));
  const messages = await consumer.consume({ max_messages: 256 });
  const stop = () => void messages.close();
  signal.addEventListener("abort", stop, { once: true });
  try {
    for await (const m of messages) await handle(m);
  } finally {
    signal.removeEventListener("abort", stop);
  }
}
