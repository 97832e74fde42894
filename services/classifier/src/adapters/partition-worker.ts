// Consumes one raw partition through a durable JetStream consumer: each batch is decoded, fed to the
// engine, and acknowledged only once what it produced is stored in ADI_DERIVED, so a crash or a hand-off to
// another instance loses nothing (what is redone is dropped by the derived messages' ids). What one raw batch
// produced goes out as one message per kind: one acknowledged publish per observation was half the CPU.
import { AckPolicy, DeliverPolicy, jetstream, jetstreamManager } from "@nats-io/jetstream";
import type { ConsumerMessages, JetStreamClient, JsMsg } from "@nats-io/jetstream";
import { headers } from "@nats-io/transport-node";
import type { NatsConnection } from "@nats-io/transport-node";
import type { Logger } from "pino";
import { deadletterSubject, derivedSubject, encodeDerivedBatches } from "@adi/shared/wire/derived";
import type { Derived } from "@adi/shared/wire/derived";
import { decodeBatch, WireFormatError } from "@adi/shared/wire/raw-events";
import { RAW_STREAM, rawFilter } from "@adi/shared/wire/subjects";
import type { ClassifierEngine } from "../core/engine.ts";

/** How long a batch held by an instance that went away blocks its partition before it is redelivered. */
export const ACK_WAIT_NS = 10_000_000_000;

export interface WorkerCounters {
  batches: number;
  derived: number;
  deadLetters: number;
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
export async function publishDerived(js: JetStreamClient, host: string, raw: { source: string; msgId: string | undefined }, items: readonly Derived[]): Promise<void> {
  const id = raw.msgId || raw.source;
  await Promise.all(encodeDerivedBatches(raw.source, items).map(({ kind, data }) => js.publish(derivedSubject(host, kind), data, { msgID: `${id}.${kind}` })));
}

export class PartitionWorker {
  readonly partition: number;
  #messages: ConsumerMessages | undefined;
  #done: Promise<void> | undefined;
  #stopping = false;

  constructor(partition: number) {
    this.partition = partition;
  }

  async start(nc: NatsConnection, engine: ClassifierEngine, counters: WorkerCounters, log: Logger): Promise<void> {
    const js = jetstream(nc);
    const jsm = await jetstreamManager(nc);
    const name = `adi-classifier-p${this.partition}`;
    // One batch outstanding at a time: a connection's batches are processed strictly in order, also when the
    // partition moves to another instance (what this one held is redelivered before anything newer).
    const config = {
      durable_name: name,
      filter_subject: rawFilter(this.partition),
      ack_policy: AckPolicy.Explicit,
      deliver_policy: DeliverPolicy.All,
      ack_wait: ACK_WAIT_NS,
      max_ack_pending: 1,
    };
    await jsm.consumers.add(RAW_STREAM, config).catch(async (err: Error) => {
      if (!/already in use|exists/i.test(err.message)) throw err;
      await jsm.consumers.update(RAW_STREAM, name, { ack_wait: config.ack_wait, max_ack_pending: config.max_ack_pending });
    });
    const consumer = await js.consumers.get(RAW_STREAM, name);
    this.#messages = await consumer.consume({ max_messages: 1 });
    const handle = async (m: JsMsg) => {
      let derived: Derived[];
      const host = hostOfSubject(m.subject);
      try {
        const { header, records } = decodeBatch(Buffer.from(m.data));
        derived = engine.onRecords(host, header.bootId, records);
      } catch (err) {
        // A batch that cannot be decoded, or that the engine chokes on, must not be redelivered forever.
        if (!(err instanceof WireFormatError)) log.error({ err, seq: m.seq }, "classifier engine failed on a batch");
        counters.deadLetters++;
        const h = headers();
        h.set("Adi-Error", (err as Error).message);
        h.set("Adi-Source", rawSource(m.seq));
        await js.publish(deadletterSubject(host, "classifier"), m.data, { headers: h });
        log.warn({ err: (err as Error).message, seq: m.seq }, "raw batch sent to the dead-letter stream");
        m.ack();
        return;
      }
      await publishDerived(js, host, { source: rawSource(m.seq), msgId: m.headers?.get("Nats-Msg-Id") }, derived);
      counters.batches++;
      counters.derived += derived.length;
      m.ack();
    };
    this.#done = (async () => {
      for await (const m of this.#messages!) {
        if (this.#stopping) {
          m.nak();
          continue;
        }
        try {
          await handle(m);
        } catch (err) {
          log.error({ err, partition: this.partition, seq: m.seq }, "batch not processed; it will be redelivered");
          m.nak(1000);
        }
      }
    })();
  }

  /** Stops after the batch in hand; a batch delivered but not started is handed back at once (nak). */
  async stop(): Promise<void> {
    this.#stopping = true;
    await this.#messages?.close();
    await this.#done;
  }
}
