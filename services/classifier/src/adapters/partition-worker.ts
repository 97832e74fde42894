// Consumes one raw partition through a durable JetStream consumer, with an engine of its own: each batch is
// screened (partition, timestamps: core/record-guard.ts), fed to the engine, and acknowledged only once what it
// produced is stored in ADI_DERIVED, so a crash or a hand-off to another instance loses nothing (what is redone is
// dropped by the derived messages' ids). What one raw batch produced goes out as one message per kind: one
// acknowledged publish per observation was half the CPU.
//
// Taking a partition (a start, a restart after kill -9, a hand-off) first WARMS UP: the engine is deterministic per
// connection, so re-reading the partition from the checkpoint (the lowest stream position of any connection still
// open, kept in KV) up to the consumer's ack floor, output discarded (it is stored already), rebuilds exactly the
// connection states replay has at that point: exchange `seq` numbers and ids then equal replay's (issue 10, item 6).
import { AckPolicy, DeliverPolicy, jetstream, jetstreamManager } from "@nats-io/jetstream";
import type { ConsumerMessages, JetStreamClient, JetStreamManager, JsMsg } from "@nats-io/jetstream";
import { headers } from "@nats-io/transport-node";
import type { NatsConnection } from "@nats-io/transport-node";
import type { Logger } from "pino";
import { deleteOrdered, isAbort, isAlreadyExists, retryWithBackoff } from "@adi/shared/nats";
import { deadletterSubject, derivedSubject, encodeDerivedBatches, RAW_STREAM, rawFilter } from "@adi/shared/wire";
import type { Derived } from "@adi/shared/wire";
import type { RedactionPolicy } from "@adi/shared/redaction";
import { ClassifierEngine } from "../core/engine.ts";
import type { EngineStats } from "../core/engine.ts";
import { screenBatch } from "../core/record-guard.ts";
import type { DeadLetterCounts, DeadLetterReason, TimestampWindow } from "../core/record-guard.ts";
import { rewindStart } from "../core/rewind.ts";
import type { CheckpointStore } from "./checkpoints.ts";

/** How long a batch held by an instance that went away blocks its partition before it is redelivered. */
export const ACK_WAIT_NS = 10_000_000_000;
/** How often a partition's checkpoint is written (and at stop): a killed instance's is at most this old. */
export const CHECKPOINT_EVERY_MS = 3_000;

export interface WorkerCounters {
  batches: number;
  derived: number;
  /** Raw messages that went to ADI_DEADLETTER (whole batches, and batches with records removed). */
  deadLetters: number;
  /** By reason: whole batches, and removed records (`timestamp_*`). */
  deadLetterReasons: DeadLetterCounts;
  /** Batches re-read to warm up engines, and how long that took. */
  rewoundBatches: number;
  rewindMs: number;
}

/** What every worker of an instance shares. */
export interface WorkerContext {
  nc: NatsConnection;
  log: Logger;
  counters: WorkerCounters;
  checkpoints: CheckpointStore;
  /** The stream's partition count now (`rawStreamContract`, else ADI_PARTITIONS). */
  partitions: () => number;
  /** The timestamp window from the stream's max age. */
  window: () => TimestampWindow;
  /** Bound of a warm-up, ms of store time before the ack floor (ADI_CLASSIFIER_REWIND_MAX). */
  rewindMaxMs: number;
  /** Applied to every exchange before it is published (RedactionPolicy.fromConfig). */
  redaction: RedactionPolicy;
}

/** Host token of `adi.raw.v1.<host>.<p>`. */
export function hostOfSubject(subject: string): string {
  return subject.split(".")[3] ?? "_";
}

/** Where a raw batch sits: what derived messages name as their source and derive their ids from. */
export function rawSource(seq: number): string {
  return `${RAW_STREAM}#${seq}`;
}

/**
 * Publishes what one raw batch produced. The message id is the raw batch's own id (the capture agent's, unique
 * across hosts and restarts; else its stream position) and the kind: a batch redone after a crash or a
 * hand-off (within the stream's duplicate window) is stored once.
 */
export async function publishDerived(js: JetStreamClient, host: string, raw: { source: string; msgId: string | undefined }, items: readonly Derived[], redaction?: string): Promise<void> {
  const id = raw.msgId || raw.source;
  await Promise.all(encodeDerivedBatches(raw.source, items, redaction).map(({ kind, data }) => js.publish(derivedSubject(host, kind), data, { msgID: `${id}.${kind}` })));
}

/**
 * Publishes a raw batch to ADI_DEADLETTER with its reason (`Adi-Reason`), detail (`Adi-Error`) and position
 * (`Adi-Source`). Its id is the raw batch's plus `.deadletter`, so a batch redone after a crash is stored once.
 */
export async function publishDeadLetter(js: JetStreamClient, m: { subject: string; seq: number; data: Uint8Array; msgId: string | undefined }, reason: DeadLetterReason, detail: string): Promise<void> {
  const h = headers();
  h.set("Adi-Reason", reason);
  h.set("Adi-Error", detail);
  h.set("Adi-Source", rawSource(m.seq));
  await js.publish(deadletterSubject(hostOfSubject(m.subject), "classifier"), m.data, { headers: h, msgID: `${m.msgId || rawSource(m.seq)}.deadletter` });
}

/** What one raw message turned into: kept for a redelivery of the same message (a publish or the ack failed). */
interface Outcome {
  seq: number;
  host: string;
  /** The engine saw (some of) its records. */
  fed: boolean;
  derived: Derived[];
  dead: { reason: DeadLetterReason; detail: string; counts: Partial<DeadLetterCounts> } | undefined;
}

export class PartitionWorker {
  readonly partition: number;
  #engine: ClassifierEngine;
  readonly #ctx: WorkerContext;
  readonly #abort = new AbortController();
  #messages: ConsumerMessages | undefined;
  #done: Promise<void> | undefined;
  #stopping = false;
  #warm = false;
  #timer: NodeJS.Timeout | undefined;
  /** The warm-up start a restart from now would need: lowWater before the latest batch fed, or that batch. */
  #mark: number | undefined;
  #written: number | undefined;
  /** The latest message fed to the engine: a redelivery of it is republished, never fed twice. */
  #last: Outcome | undefined;
  /** Highest stream position the engine has seen (warm-up included). */
  #fedTo = 0;

  constructor(partition: number, ctx: WorkerContext) {
    this.partition = partition;
    this.#ctx = ctx;
    this.#engine = new ClassifierEngine({ redaction: ctx.redaction });
  }

  get name(): string {
    return `adi-classifier-p${this.partition}`;
  }

  /**
   * Creates (or updates) the durable consumer, warms the engine up, and starts following. Retries with backoff
   * (each failure logged at warn) until it follows, `timeoutMs` passes (rejects with an AdiError), or the worker or
   * `signal` is stopped (rejects with the abort reason; `isAbort`).
   */
  async start(opts: { timeoutMs?: number; signal?: AbortSignal } = {}): Promise<void> {
    const signal = opts.signal ? AbortSignal.any([opts.signal, this.#abort.signal]) : this.#abort.signal;
    await retryWithBackoff(() => this.#startOnce(), {
      what: `follow partition ${this.partition} (consumer ${this.name})`,
      signal,
      timeoutMs: opts.timeoutMs,
      onRetry: (err, failures, delayMs) => this.#ctx.log.warn({ err: (err as Error).message, partition: this.partition, failures, delayMs }, "could not follow a partition yet: retrying"),
    });
    this.#timer = setInterval(() => void this.#checkpoint(), CHECKPOINT_EVERY_MS);
  }

  async #startOnce(): Promise<void> {
    const { nc } = this.#ctx;
    const js = jetstream(nc);
    const jsm = await jetstreamManager(nc);
    // One batch outstanding at a time: a connection's batches are processed strictly in order, also when the
    // partition moves to another instance (what this one held is redelivered before anything newer). A consumer
    // re-created while running (it was deleted) starts at the last batch fed, not at the stream's start.
    const config = {
      durable_name: this.name,
      filter_subject: rawFilter(this.partition),
      ack_policy: AckPolicy.Explicit,
      ...(this.#fedTo > 0 ? { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: this.#fedTo } : { deliver_policy: DeliverPolicy.All }),
      ack_wait: ACK_WAIT_NS,
      max_ack_pending: 1,
    };
    await jsm.consumers.add(RAW_STREAM, config).catch(async (err: unknown) => {
      if (!isAlreadyExists(err)) throw err;
      await jsm.consumers.update(RAW_STREAM, this.name, { ack_wait: config.ack_wait, max_ack_pending: config.max_ack_pending });
    });
    const consumer = await js.consumers.get(RAW_STREAM, this.name);
    if (!this.#warm) {
      const info = await consumer.info();
      // A warm-up cut short (a timeout half-way) starts over on a fresh engine: a state fed twice is wrong.
      this.#engine = new ClassifierEngine({ redaction: this.#ctx.redaction });
      this.#fedTo = 0;
      this.#last = undefined;
      await this.#warmUp(js, jsm, info.ack_floor.stream_seq);
      this.#warm = true;
    }
    if (this.#stopping) return;
    // abort_on_missing_resource: a consumer (or stream) deleted under us ends the iteration, and it is re-created
    // below; otherwise the client waited for it forever and the partition was silently not consumed.
    const messages = await consumer.consume({ max_messages: 1, abort_on_missing_resource: true });
    this.#messages = messages;
    this.#done = (async () => {
      try {
        for await (const m of messages) {
          if (this.#stopping) {
            m.nak();
            continue;
          }
          try {
            await this.#handle(js, m);
          } catch (err) {
            if (this.#stopping) {
              m.nak();
              continue;
            }
            this.#ctx.log.error({ err, partition: this.partition, seq: m.seq }, "batch not processed; it will be redelivered");
            m.nak(1000);
          }
        }
      } catch (err) {
        if (!this.#stopping) this.#ctx.log.warn({ err: (err as Error).message, partition: this.partition }, "partition consumer lost: re-creating it");
      }
      if (!this.#stopping) this.#follow();
    })();
  }

  /** Re-creates the consumer and follows again, retrying with backoff until it works or the worker is stopped. */
  #follow(): void {
    void retryWithBackoff(() => this.#startOnce(), {
      what: `follow partition ${this.partition} again (consumer ${this.name})`,
      signal: this.#abort.signal,
      onRetry: (err, failures, delayMs) => this.#ctx.log.warn({ err: (err as Error).message, partition: this.partition, failures, delayMs }, "could not follow a partition again yet: retrying"),
    }).then(
      () => this.#ctx.log.info({ partition: this.partition }, "following the partition again"),
      () => undefined, // stopped
    );
  }

  /**
   * Rebuilds the engine's connection states as they are after `ackFloor` (the last batch acknowledged): re-reads
   * the partition from the checkpoint (bounded by rewindMaxMs and the stream's first message) through the engine,
   * output discarded. Logs `rewound N batches in X ms`.
   */
  async #warmUp(js: JetStreamClient, jsm: JetStreamManager, ackFloor: number): Promise<void> {
    this.#mark = ackFloor + 1;
    if (ackFloor === 0) return;
    const { log, checkpoints } = this.#ctx;
    const began = performance.now();
    const checkpoint = await checkpoints.read(this.partition);
    const info = await jsm.streams.info(RAW_STREAM);
    const floorMsg = await jsm.streams.getMessage(RAW_STREAM, { seq: ackFloor }).catch(() => null);
    const atCheckpoint = checkpoint === undefined || checkpoint > ackFloor ? null : await jsm.streams.getMessage(RAW_STREAM, { seq: Math.max(checkpoint, info.state.first_seq) }).catch(() => null);
    const start = rewindStart({
      checkpoint,
      ackFloor,
      firstSeq: info.state.first_seq,
      ackFloorTimeMs: floorMsg?.time.getTime(),
      checkpointTimeMs: atCheckpoint?.time.getTime(),
      rewindMaxMs: this.#ctx.rewindMaxMs,
    });
    let batches = 0;
    if (start.kind !== "none") {
      const consumer = await js.consumers.get(RAW_STREAM, {
        filter_subjects: rawFilter(this.partition),
        ...(start.kind === "seq" ? { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: start.seq } : { deliver_policy: DeliverPolicy.StartTime, opt_start_time: new Date(start.timeMs).toISOString() }),
      });
      try {
        if ((await consumer.info(true)).num_pending > 0) {
          const messages = await consumer.consume({ max_messages: 256 });
          try {
            for await (const m of messages) {
              if (this.#stopping || m.seq > ackFloor) break;
              this.#feed(m);
              batches++;
              if (m.seq >= ackFloor || m.info.pending === 0) break;
            }
          } finally {
            await messages.close();
          }
        }
      } finally {
        await deleteOrdered(consumer);
      }
    }
    this.#fedTo = Math.max(this.#fedTo, ackFloor);
    this.#mark = this.#engine.lowWater() ?? ackFloor + 1;
    const ms = Math.round(performance.now() - began);
    this.#ctx.counters.rewoundBatches += batches;
    this.#ctx.counters.rewindMs += ms;
    log.info({ partition: this.partition, batches, ms, from: start, checkpoint, ackFloor }, `rewound ${batches} batches in ${ms} ms`);
  }

  /** Screens a message and feeds what passes to the engine; returns what came out (discarded in a warm-up). */
  #feed(m: JsMsg): Outcome {
    const host = hostOfSubject(m.subject);
    const s = screenBatch(m.subject, Buffer.from(m.data), BigInt(m.info.timestampNanos), this.#ctx.partitions(), this.#ctx.window());
    this.#fedTo = Math.max(this.#fedTo, m.seq);
    if (s.kind === "dead") return { seq: m.seq, host, fed: false, derived: [], dead: { reason: s.reason, detail: s.detail, counts: { [s.reason]: 1 } } };
    // Before feeding: a restart that finds this batch unacknowledged must rebuild the states the engine held
    // before it, so the mark is taken now.
    this.#mark = this.#engine.lowWater() ?? m.seq;
    try {
      const derived = this.#engine.onRecords(host, s.header.bootId, s.records, m.seq);
      return { seq: m.seq, host, fed: true, derived, dead: s.removed };
    } catch (err) {
      this.#ctx.log.error({ err, partition: this.partition, seq: m.seq }, "classifier engine failed on a batch");
      return { seq: m.seq, host, fed: false, derived: [], dead: { reason: "engine_error", detail: (err as Error).message, counts: { engine_error: 1 } } };
    }
  }

  async #handle(js: JetStreamClient, m: JsMsg): Promise<void> {
    const counters = this.#ctx.counters;
    let out: Outcome;
    let fresh = false;
    if (this.#last?.seq === m.seq) out = this.#last; // redelivered after a failed publish or ack: never fed twice
    else if (m.seq <= this.#fedTo) {
      m.ack(); // already in the engine (warm-up) and stored: nothing to redo
      return;
    } else {
      out = this.#last = this.#feed(m);
      fresh = true;
    }
    const msgId = m.headers?.get("Nats-Msg-Id") || undefined;
    if (out.dead) await publishDeadLetter(js, { subject: m.subject, seq: m.seq, data: m.data, msgId }, out.dead.reason, out.dead.detail);
    await publishDerived(js, out.host, { source: rawSource(m.seq), msgId }, out.derived, this.#ctx.redaction.id);
    m.ack();
    if (!fresh) return;
    if (out.dead) {
      counters.deadLetters++;
      for (const [reason, n] of Object.entries(out.dead.counts)) counters.deadLetterReasons[reason as DeadLetterReason] += n;
      this.#ctx.log.warn({ reason: out.dead.reason, detail: out.dead.detail, partition: this.partition, seq: m.seq }, "raw batch sent to the dead-letter stream");
    }
    if (out.fed) {
      counters.batches++;
      counters.derived += out.derived.length;
    }
  }

  async #checkpoint(): Promise<void> {
    const mark = this.#mark;
    if (mark === undefined || mark === this.#written) return;
    try {
      await this.#ctx.checkpoints.write(this.partition, mark);
      this.#written = mark;
    } catch (err) {
      this.#ctx.log.warn({ err: (err as Error).message, partition: this.partition }, "could not write the partition's checkpoint");
    }
  }

  /** Engine counters of this worker. */
  stats(): Readonly<EngineStats> {
    return this.#engine.stats();
  }

  /**
   * Stops after the batch in hand (a batch delivered but not started is handed back at once: nak), aborts a start
   * still retrying, and writes the checkpoint. Never throws.
   */
  async stop(): Promise<void> {
    this.#stopping = true;
    this.#abort.abort(new DOMException("partition worker stopped", "AbortError"));
    clearInterval(this.#timer);
    await this.#messages?.close()?.catch(() => undefined);
    await this.#done;
    if (this.#warm) await this.#checkpoint();
  }
}

export { isAbort };
