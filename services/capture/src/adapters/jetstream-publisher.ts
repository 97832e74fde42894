// Drives the Outbox against JetStream: async publishes with a bounded number in flight, one message id per
// batch (`<agent>.<subject>.<seq>`, reused on retry so the stream's duplicate window drops repeats), and
// retries with backoff while the broker is slow or away.
import { jetstream } from "@nats-io/jetstream";
import type { JetStreamClient } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import type { Logger } from "pino";
import { Outbox } from "../core/outbox.ts";
import type { OutboxItem, OutboxStats } from "../core/outbox.ts";

export interface PublisherOptions {
  agentId: string;
  maxBufferBytes: number;
  maxInflight: number;
  ackTimeoutMs?: number;
  log: Logger;
}

export interface PublisherStats extends OutboxStats {
  published: number;
  publishedRecords: number;
  publishedBytes: number;
  duplicates: number;
  inflight: number;
}

export class JetStreamPublisher {
  readonly #js: JetStreamClient;
  readonly #outbox: Outbox;
  readonly #opts: PublisherOptions;
  readonly #seq = new Map<string, number>();
  #inflight = 0;
  #timer: NodeJS.Timeout | undefined;
  #published = 0;
  #publishedRecords = 0;
  #publishedBytes = 0;
  #duplicates = 0;
  #lastErrorLog = 0;
  #idleWaiters: (() => void)[] = [];

  constructor(nc: NatsConnection, opts: PublisherOptions) {
    this.#js = jetstream(nc, { timeout: opts.ackTimeoutMs ?? 5000 });
    this.#outbox = new Outbox(opts.maxBufferBytes);
    this.#opts = opts;
  }

  /** Queues a message; false when the buffer is full (the message is dropped and counted). */
  enqueue(subject: string, data: Uint8Array, records: number): boolean {
    const seq = (this.#seq.get(subject) ?? 0) + 1;
    this.#seq.set(subject, seq);
    const ok = this.#outbox.offer({ subject, data, records, msgId: `${this.#opts.agentId}.${subject}.${seq}` });
    this.#pump();
    return ok;
  }

  #pump(): void {
    for (;;) {
      if (this.#inflight >= this.#opts.maxInflight) return;
      const item = this.#outbox.take(Date.now());
      if (!item) break;
      this.#send(item);
    }
    this.#scheduleRetry();
    if (this.#outbox.empty && this.#inflight === 0) for (const w of this.#idleWaiters.splice(0)) w();
  }

  #send(item: OutboxItem): void {
    this.#inflight++;
    this.#js
      .publish(item.subject, item.data, { msgID: item.msgId })
      .then((ack) => {
        if (ack.duplicate) this.#duplicates++;
        this.#published++;
        this.#publishedRecords += item.records;
        this.#publishedBytes += item.data.length;
        this.#outbox.ack(item);
      })
      .catch((err: Error) => {
        const delay = this.#outbox.fail(item, Date.now());
        const now = Date.now();
        if (now - this.#lastErrorLog > 1000) {
          this.#lastErrorLog = now;
          this.#opts.log.warn({ err: err.message, subject: item.subject, retryInMs: delay, ...this.#outbox.stats() }, "publish failed, will retry");
        }
      })
      .finally(() => {
        this.#inflight--;
        this.#pump();
      });
  }

  #scheduleRetry(): void {
    const at = this.#outbox.nextRetryAt();
    if (at === undefined || this.#timer) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#pump();
    }, Math.max(0, at - Date.now()));
  }

  /** Resolves when everything queued is stored, or after timeoutMs; returns whether it all went out. */
  async drain(timeoutMs: number): Promise<boolean> {
    if (this.#outbox.empty && this.#inflight === 0) return true;
    let timer: NodeJS.Timeout | undefined;
    const done = await Promise.race([
      new Promise<boolean>((resolve) => this.#idleWaiters.push(() => resolve(true))),
      new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), timeoutMs))),
    ]);
    clearTimeout(timer);
    return done;
  }

  stats(): PublisherStats {
    return {
      ...this.#outbox.stats(),
      published: this.#published,
      publishedRecords: this.#publishedRecords,
      publishedBytes: this.#publishedBytes,
      duplicates: this.#duplicates,
      inflight: this.#inflight,
    };
  }

  close(): void {
    clearTimeout(this.#timer);
  }
}
