// Per-partition warm-up checkpoints in a KV bucket of their own. Not in `adi_classifiers` (the membership bucket):
// its keys are the member list and expire after 10 s, and a checkpoint must outlive a classifier that was down
// longer than that.
import { Kvm } from "@nats-io/kv";
import type { KV } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/transport-node";

export const CHECKPOINT_BUCKET = "adi_classifier_checkpoints";

/** Reads and writes `p<partition>` → `{ "pos": <raw stream sequence>, "at": <ISO time> }`. */
export interface CheckpointStore {
  /** The partition's checkpoint, undefined if none (or unreadable). Throws what JetStream throws. */
  read(partition: number): Promise<number | undefined>;
  write(partition: number, pos: number): Promise<void>;
}

/** Opens (creating if needed) the checkpoint bucket: history 1, no TTL. Throws what JetStream throws. */
export async function openCheckpoints(nc: NatsConnection): Promise<CheckpointStore> {
  const kv: KV = await new Kvm(nc).create(CHECKPOINT_BUCKET, { history: 1 });
  return {
    async read(partition) {
      const e = await kv.get(`p${partition}`);
      if (!e || e.operation !== "PUT") return undefined;
      try {
        const pos = (e.json() as { pos?: unknown }).pos;
        return typeof pos === "number" && Number.isSafeInteger(pos) && pos > 0 ? pos : undefined;
      } catch {
        return undefined;
      }
    },
    async write(partition, pos) {
      await kv.put(`p${partition}`, JSON.stringify({ pos, at: new Date().toISOString() }));
    },
  };
}
