// Classifier instances find each other through a JetStream key-value bucket: each keeps a key alive with a
// heartbeat; keys expire with the bucket's TTL when an instance dies. Every heartbeat re-reads the members.
import { Kvm } from "@nats-io/kv";
import type { KV } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/transport-node";
import type { Logger } from "pino";
import { memberList } from "../core/assignment.ts";

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
  /** The heartbeat in flight: beats never overlap (a slow broker made them pile up), and stop waits for it. */
  #beating: Promise<void> | undefined;
  #stopped = false;

  constructor(nc: NatsConnection, id: string, log: Logger, onChange: (members: string[]) => void) {
    this.id = id;
    this.#nc = nc;
    this.#log = log;
    this.#onChange = onChange;
  }

  /**
   * Opens the bucket and beats once; throws what JetStream throws (the caller retries): an instance that took its
   * partitions from a failed first beat would own none (it was not yet a member) and still say it is ready.
   */
  async start(): Promise<void> {
    this.#kv ??= await new Kvm(this.#nc).create(MEMBERS_BUCKET, { ttl: TTL_MS, history: 1 });
    await this.#beat(true);
    this.#timer ??= setInterval(() => {
      if (!this.#beating && !this.#stopped) this.#beating = this.#beat().finally(() => (this.#beating = undefined));
    }, HEARTBEAT_MS);
  }

  members(): string[] {
    return [...this.#members];
  }

  async #beat(rethrow = false): Promise<void> {
    try {
      await this.#kv!.put(this.id, new Date().toISOString());
      const keys: string[] = [];
      for await (const k of await this.#kv!.keys()) keys.push(k);
      if (this.#stopped) return;
      const members = memberList(keys);
      if (members.join(",") !== this.#members.join(",")) {
        this.#members = members;
        this.#log.info({ members }, "classifier members changed");
        this.#onChange(members);
      }
    } catch (err) {
      if (rethrow) throw err;
      if (!this.#stopped) this.#log.warn({ err: (err as Error).message }, "membership heartbeat failed");
    }
  }

  /** Stops beating and removes this instance's key (after a beat in flight, which would put it back). Never throws. */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearInterval(this.#timer);
    await this.#beating;
    await this.#kv?.delete(this.id).catch(() => undefined);
  }
}
