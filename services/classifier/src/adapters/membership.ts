// Classifier instances find each other through a JetStream key-value bucket: each keeps a key alive with a
// heartbeat; keys expire with the bucket's TTL when an instance dies. Every heartbeat re-reads the members.
import { Kvm } from "@nats-io/kv";
import type { KV } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/transport-node";
import type { Logger } from "pino";

export const MEMBERS_BUCKET = "adi_classifiers";
const TTL_MS = 10_000;
const HEARTBEAT_MS = 2_000;

export class Membership {
  readonly id: string;
  readonly #nc: NatsConnection;
  readonly #log: Logger;
  readonly #onChange: (members: string[]) => void;
  #kv: KV | undefined;
  #timer: NodeJS.Timeout | undefined;
  #members: string[] = [];

  constructor(nc: NatsConnection, id: string, log: Logger, onChange: (members: string[]) => void) {
    this.id = id;
    this.#nc = nc;
    this.#log = log;
    this.#onChange = onChange;
  }

  async start(): Promise<void> {
    this.#kv = await new Kvm(this.#nc).create(MEMBERS_BUCKET, { ttl: TTL_MS, history: 1 });
    await this.#beat();
    this.#timer = setInterval(() => void this.#beat(), HEARTBEAT_MS);
  }

  async #beat(): Promise<void> {
    try {
      await this.#kv!.put(this.id, new Date().toISOString());
      const keys: string[] = [];
      for await (const k of await this.#kv!.keys()) keys.push(k);
      keys.sort();
      if (keys.join(",") !== this.#members.join(",")) {
        this.#members = keys;
        this.#log.info({ members: keys }, "classifier members changed");
        this.#onChange(keys);
      }
    } catch (err) {
      this.#log.warn({ err: (err as Error).message }, "membership heartbeat failed");
    }
  }

  async stop(): Promise<void> {
    clearInterval(this.#timer);
    await this.#kv?.delete(this.id).catch(() => undefined);
  }
}
