// Reading the streams back, for every consumer: to the end of what is stored now (replay), or following new
// messages as they arrive (live). Ordered consumers: the server keeps no state for them, so a replay never
// disturbs the live consumers.
import { DeliverPolicy, jetstream } from "@nats-io/jetstream";
import type { Consumer, ConsumerMessages, JsMsg } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import type { Logger } from "pino";
import { setTimeout as sleep } from "node:timers/promises";
import { backoffDelayMs, isAbort, retryWithBackoff } from "./retry.ts";

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
 * Deletes an ordered consumer once read. Closing its iterator leaves it on the server for nats.js's inactive_threshold
 * (5 min), and its num_pending grows with every later message of its subjects: one left by a classifier's warm-up
 * after a hand-off during traffic made ADI_RAW look undrained for 5 min to whoever sums its consumers (the compose
 * e2e's drain check timed out at 60 s with the classifiers' own consumers empty). Never throws: one not deleted
 * (broker slow, already gone) still expires by itself.
 */
export async function deleteOrdered(consumer: Pick<Consumer, "delete">): Promise<void> {
  await consumer.delete().catch(() => undefined);
}

/**
 * Every message of `stream` matching `filter` stored now, in stream order; resolves with the count. Its ordered
 * consumer is deleted at the end (deleteOrdered). `lastSeq`, when
 * given, is told the stream sequence of each message read (to follow on, or resume after a failure, from there).
 * `start` (a sequence) overrides `since`. Rejects on a JetStream error (a timeout): see readToEndRetrying.
 */
export async function readToEnd(
  nc: NatsConnection,
  stream: string,
  filter: string,
  handle: MessageHandler,
  opts: ReadOptions & { lastSeq?: (seq: number) => void; start?: { seq: number } } = {},
): Promise<number> {
  const js = jetstream(nc);
  const consumer = await js.consumers.get(stream, orderedOptions(filter, opts.start ?? opts.since));
  try {
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
  } finally {
    await deleteOrdered(consumer);
  }
}

export interface RetryingReadOptions {
  signal?: AbortSignal;
  /** Bound on the whole read, ms (ADI_START_TIMEOUT at start): then AdiError ADI_ERR_NOT_FOLLOWING. */
  timeoutMs?: number;
  log?: Logger;
}

/**
 * readToEnd, retried with backoff on failure from the message after the last one handled (so none is handled
 * twice or skipped). Resolves with the stream sequence of the last message read (0: none).
 */
export async function readToEndRetrying(nc: NatsConnection, stream: string, filter: string, handle: MessageHandler, opts: RetryingReadOptions = {}): Promise<number> {
  let last = 0;
  await retryWithBackoff(
    () => readToEnd(nc, stream, filter, handle, { lastSeq: (seq) => (last = seq), start: last > 0 ? { seq: last + 1 } : undefined }),
    {
      what: `read ${stream} (${filter})`,
      signal: opts.signal,
      timeoutMs: opts.timeoutMs,
      onRetry: (err, failures, delayMs) => opts.log?.warn({ stream, filter, err: (err as Error).message, failures, retryInMs: delayMs, lastSeq: last }, "could not read the stream; will retry"),
    },
  );
  return last;
}

/** Follows `stream` from its first message (or `start`) until `signal` aborts. Rejects on the first failure. */
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

export interface FollowOptions {
  /** Stops following (and any retry) at once; `done` then resolves. */
  signal: AbortSignal;
  /** The first message to deliver: a sequence, a store time; default the stream's first. */
  start?: StartAt;
  /**
   * Bound on creating the consumer the first time, ms (ADI_START_TIMEOUT): past it `ready` and `done` reject with
   * AdiError ADI_ERR_NOT_FOLLOWING. Re-creating it after a failure later is retried until stopped.
   */
  timeoutMs?: number;
  log?: Logger;
}

export interface Following {
  /** Resolves once the consumer exists and consumes; rejects at the timeout, or with the abort reason if stopped first. */
  ready: Promise<void>;
  /** Resolves when stopped; rejects at the start-up timeout, or with an error `handle` threw (a bug: not retried). */
  done: Promise<void>;
}

/** An error thrown by the caller's handler: not a broker failure, so not retried. */
class HandlerError extends Error {
  constructor(cause: unknown) {
    super((cause as Error)?.message ?? String(cause), { cause });
  }
}

/**
 * Closes `messages` when the client re-creates its ordered consumer by itself (after a broker restart, a sequence
 * gap): measured here, the re-created one delivered what one pull had asked for and then nothing more until two
 * idle heartbeats were missed (30 s), because the client keeps the old pull's pending count. Closed, followStream
 * creates a fresh consumer from the message after the last one handled at once.
 */
async function renewOnRecreate(messages: ConsumerMessages): Promise<void> {
  for await (const n of messages.status()) {
    if (n.type === "ordered_consumer_recreated") {
      await messages.close().catch(() => undefined);
      return;
    }
  }
}

/**
 * Follows `stream` (messages matching `filter`) with an ordered consumer that is created with retries and backoff,
 * and re-created from the message after the last one handled whenever it fails or ends (a JetStream timeout while
 * creating it, a consumer the server dropped, the client's own ordered-consumer recovery giving up): no message
 * is handled twice or skipped, and it keeps following until `signal` aborts. The issue-10 fault: one timeout while
 * creating it left a service "ready" and empty for the whole run.
 */
export function followStream(nc: NatsConnection, stream: string, filter: string, handle: MessageHandler, opts: FollowOptions): Following {
  const { signal, log } = opts;
  const js = jetstream(nc);
  let lastSeq: number | undefined;
  let markReady!: () => void;
  let failReady!: (err: unknown) => void;
  const ready = new Promise<void>((resolve, reject) => {
    markReady = resolve;
    failReady = reject;
  });
  ready.catch(() => undefined); // observed through `done` too; never an unhandled rejection
  let readyNow = false;
  const open = (): Promise<ConsumerMessages> =>
    retryWithBackoff(
      async () => {
        const start = lastSeq === undefined ? opts.start : { seq: lastSeq + 1 };
        const consumer = await js.consumers.get(stream, orderedOptions(filter, start));
        return consumer.consume({ max_messages: 256 });
      },
      {
        what: `follow ${stream} (${filter})`,
        signal,
        timeoutMs: readyNow ? undefined : opts.timeoutMs,
        onRetry: (err, failures, delayMs) =>
          log?.warn({ stream, filter, err: (err as Error).message, failures, retryInMs: delayMs }, "could not create a consumer; will retry"),
      },
    );
  /** Consumers that ended without delivering anything, in a row: paces re-creation (no tight loop). */
  let idleEnds = 0;
  const done = (async () => {
    while (!signal.aborted) {
      let messages: ConsumerMessages;
      try {
        messages = await open();
      } catch (err) {
        if (isAbort(err, signal) || signal.aborted) break;
        failReady(err);
        throw err;
      }
      if (signal.aborted) {
        await messages.close();
        break;
      }
      readyNow = true;
      markReady();
      const stop = () => void messages.close();
      signal.addEventListener("abort", stop, { once: true });
      void renewOnRecreate(messages);
      const before = lastSeq;
      try {
        for await (const m of messages) {
          try {
            await handle(m);
          } catch (err) {
            throw new HandlerError(err);
          }
          lastSeq = m.seq;
        }
        if (!signal.aborted) log?.warn({ stream, filter, lastSeq: lastSeq ?? null }, "consumer ended; re-creating it");
      } catch (err) {
        if (err instanceof HandlerError) throw err.cause;
        if (!signal.aborted) log?.warn({ stream, filter, lastSeq: lastSeq ?? null, err: (err as Error).message }, "consumer failed; re-creating it");
      } finally {
        signal.removeEventListener("abort", stop);
        await messages.close().catch(() => undefined);
      }
      idleEnds = lastSeq === before ? idleEnds + 1 : 0;
      if (idleEnds > 0) await sleep(backoffDelayMs(idleEnds), undefined, { signal }).catch(() => undefined);
    }
    failReady(signal.reason);
  })();
  return { ready, done };
}

/**
 * When JetStream stored a message: its store time in ms since the epoch (`info.timestampNanos`). What a
 * consumer judges capture times against (a capture time a day past the store time is bad data), identically
 * live and in replay.
 */
export function storedAtMs(m: JsMsg): number {
  return Number(BigInt(m.info.timestampNanos) / 1_000_000n);
}
