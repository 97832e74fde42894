// The classifier service: joins the members, owns its share of the raw partitions, and turns their
// batches into derived observations. Any number of instances can run; they split the partitions.
import { hostname } from "node:os";
import { randomBytes } from "node:crypto";
import type { NatsConnection } from "@nats-io/transport-node";
import type { Logger } from "pino";
import type { AdiConfig } from "@adi/shared/config";
import { ensureStreams } from "@adi/shared/nats/streams";
import { ClassifierEngine } from "./core/engine.ts";
import { assignPartitions } from "./core/assignment.ts";
import { Membership } from "./adapters/membership.ts";
import { PartitionWorker } from "./adapters/partition-worker.ts";
import type { WorkerCounters } from "./adapters/partition-worker.ts";

/** Two heartbeats. */
export const SETTLE_MS = 4_000;

export interface Classifier {
  readonly id: string;
  owned(): number[];
  counters(): WorkerCounters & ReturnType<ClassifierEngine["stats"]>;
  stop(): Promise<void>;
}

export async function startClassifier(cfg: AdiConfig, nc: NatsConnection, log: Logger): Promise<Classifier> {
  await ensureStreams(nc, { maxAgeMs: cfg.streamMaxAgeMs, maxBytes: cfg.streamMaxBytes, replicas: cfg.streamReplicas });
  const id = `${hostname().replace(/[^A-Za-z0-9_-]/g, "_")}-${process.pid}-${randomBytes(3).toString("hex")}`;
  const engine = new ClassifierEngine();
  const counters: WorkerCounters = { batches: 0, derived: 0, deadLetters: 0 };
  const workers = new Map<number, PartitionWorker>();
  // Reassignments are applied one at a time, in order.
  let applying = Promise.resolve();

  const apply = (members: string[]) => {
    applying = applying.then(async () => {
      const want = new Set(assignPartitions(members, id, cfg.partitions));
      for (const [p, w] of workers) {
        if (want.has(p)) continue;
        workers.delete(p);
        await w.stop();
      }
      for (const p of want) {
        if (workers.has(p)) continue;
        const w = new PartitionWorker(p);
        workers.set(p, w);
        await w.start(nc, engine, counters, log).catch((err) => {
          workers.delete(p);
          log.error({ err, partition: p }, "could not consume partition");
        });
      }
      log.info({ partitions: [...workers.keys()].sort((a, b) => a - b) }, "classifier owns partitions");
    });
  };
  // Instances started together see each other only after a heartbeat: wait for the membership to settle before
  // taking partitions, so a stack that starts N classifiers does not hand partitions (and their connections'
  // state) from one to another in its first seconds.
  let latest: string[] = [];
  let settled = false;
  const membership = new Membership(nc, id, log, (members) => {
    latest = members;
    if (settled) apply(members);
  });
  await membership.start();
  await new Promise((r) => setTimeout(r, SETTLE_MS));
  settled = true;
  apply(latest);
  await applying;
  log.info({ id }, "classifier ready");

  return {
    id,
    owned: () => [...workers.keys()].sort((a, b) => a - b),
    counters: () => ({ ...counters, ...engine.stats() }),
    async stop() {
      await membership.stop();
      await applying;
      await Promise.all([...workers.values()].map((w) => w.stop()));
      workers.clear();
    },
  };
}
