// The classifier service: joins the members, owns its share of the raw partitions, and turns their
// batches into derived observations. Any number of instances can run; they split the partitions.
//
// The partition count is the stream's (its subjects, set by the capture agent), not this process's ADI_PARTITIONS:
// classifiers configured with 16 against an agent with 32 left partitions 16-31 unconsumed (issue 10, item 7).
// Everything the service needs from the broker at start is retried with backoff; `ready` is logged only once every
// owned partition is followed, and a start that cannot get there within ADI_START_TIMEOUT fails with one line.
import { hostname } from "node:os";
import { randomBytes } from "node:crypto";
import type { NatsConnection } from "@nats-io/transport-node";
import type { Logger } from "pino";
import type { AdiConfig } from "@adi/shared";
import { ensureStreams, rawStreamContract, isAbort, retryWithBackoff, sleepOrAbort } from "@adi/shared/nats";
import type { RawStreamContract } from "@adi/shared/nats";
import { RedactionPolicy } from "@adi/shared/redaction";
import type { EngineStats } from "./core/engine.ts";
import { assignPartitions } from "./core/assignment.ts";
import { emptyDeadLetterCounts, timestampWindow } from "./core/record-guard.ts";
import { Membership } from "./adapters/membership.ts";
import { PartitionWorker } from "./adapters/partition-worker.ts";
import type { WorkerContext, WorkerCounters } from "./adapters/partition-worker.ts";
import { openCheckpoints } from "./adapters/checkpoints.ts";
import { sweepStrays } from "./adapters/strays.ts";

/** Two heartbeats. */
export const SETTLE_MS = 4_000;
/** How often the stream's contract (partition count, max age) is re-read: the agent may set it after we start. */
export const CONTRACT_EVERY_MS = 5_000;

export interface Classifier {
  readonly id: string;
  owned(): number[];
  /** The durable consumers (on ADI_RAW) of the partitions it owns now, in partition order. */
  consumers(): string[];
  /** The partition count in use (the stream's, else ADI_PARTITIONS). */
  partitions(): number;
  counters(): WorkerCounters & EngineStats;
  stop(): Promise<void>;
}

function sumStats(a: EngineStats, b: Readonly<EngineStats>): EngineStats {
  return { connections: a.connections + b.connections, exchanges: a.exchanges + b.exchanges, observations: a.observations + b.observations, evicted: a.evicted + b.evicted };
}

/**
 * Starts a classifier instance on `nc`. Resolves once every partition it owns is followed (consumer created, engine
 * warmed up). Rejects with an AdiError (ADI_ERR_NOT_FOLLOWING) when that is not done within cfg.startTimeoutMs, and
 * with `opts.signal`'s reason when aborted during the start (a stop: no ERROR line, nothing left running).
 */
export async function startClassifier(cfg: AdiConfig, nc: NatsConnection, log: Logger, opts: { signal?: AbortSignal } = {}): Promise<Classifier> {
  const stopper = new AbortController();
  const signal = opts.signal ? AbortSignal.any([opts.signal, stopper.signal]) : stopper.signal;
  const timeoutMs = cfg.startTimeoutMs;
  const retry = <T>(what: string, attempt: () => Promise<T>) =>
    retryWithBackoff(attempt, { what, signal, timeoutMs, onRetry: (err, failures, delayMs) => log.warn({ err: (err as Error).message, failures, delayMs }, `${what}: retrying`) });

  const id = `${hostname().replace(/[^A-Za-z0-9_-]/g, "_")}-${process.pid}-${randomBytes(3).toString("hex")}`;
  const counters: WorkerCounters = { batches: 0, derived: 0, deadLetters: 0, deadLetterReasons: emptyDeadLetterCounts(), rewoundBatches: 0, rewindMs: 0 };
  const workers = new Map<number, PartitionWorker>();
  let retired: EngineStats = { connections: 0, exchanges: 0, observations: 0, evicted: 0 };
  let contract: RawStreamContract | undefined;
  let ready = false;
  let stopped = false;
  const count = () => contract?.partitions ?? cfg.partitions;
  const describeCount = (c: RawStreamContract) => {
    if (c.partitions === undefined) log.info({ partitions: cfg.partitions }, "stream ADI_RAW states no partition count yet (no capture agent set it): using ADI_PARTITIONS");
    else if (c.partitions !== cfg.partitions) log.warn({ stream: c.partitions, env: cfg.partitions }, `ADI_PARTITIONS=${cfg.partitions} differs from stream ADI_RAW's ${c.partitions} partitions: using the stream's`);
  };

  // waitMs 0: this retry (bounded by the start timeout, stopped by the signal) is the only one.
  await retry("create the streams", () => ensureStreams(nc, { maxAgeMs: cfg.streamMaxAgeMs, maxBytes: cfg.streamMaxBytes, replicas: cfg.streamReplicas }, 0));
  contract = await retry("read stream ADI_RAW", () => rawStreamContract(nc));
  describeCount(contract);
  const checkpoints = await retry("open the checkpoint bucket", () => openCheckpoints(nc));
  const ctx: WorkerContext = {
    nc,
    log,
    counters,
    checkpoints,
    partitions: count,
    window: () => timestampWindow(contract?.maxAgeMs ?? cfg.streamMaxAgeMs),
    rewindMaxMs: cfg.classifierRewindMaxMs,
    // Built here from the configuration, passed into the (pure) engine: nothing reaches ADI_DERIVED unredacted.
    redaction: RedactionPolicy.fromConfig(cfg),
  };

  let sweeping = false;
  const sweep = () => {
    if (sweeping || stopped || !workers.has(0)) return;
    sweeping = true;
    void sweepStrays(nc, count(), counters, log)
      .catch((err) => log.warn({ err: (err as Error).message }, "could not sweep raw subjects outside the partitions: will try again"))
      .finally(() => (sweeping = false));
  };

  // Reassignments are applied one at a time, in order. Before `ready` a partition that cannot be followed within
  // the start bound fails the start; after it, a worker retries until it follows or is stopped.
  let applying: Promise<void> = Promise.resolve();
  const apply = (members: string[]) => {
    const run = applying.then(async () => {
      if (stopped) return;
      const want = new Set(assignPartitions(members, id, count()));
      for (const [p, w] of workers) {
        if (want.has(p)) continue;
        workers.delete(p);
        await w.stop();
        retired = sumStats(retired, w.stats());
      }
      const starting: Promise<void>[] = [];
      for (const p of want) {
        if (workers.has(p)) continue;
        const w = new PartitionWorker(p, ctx);
        workers.set(p, w);
        starting.push(w.start({ signal, timeoutMs: ready ? undefined : timeoutMs }));
      }
      const results = await Promise.allSettled(starting);
      const failed = results.find((r): r is PromiseRejectedResult => r.status === "rejected" && !isAbort(r.reason, signal));
      if (failed) throw failed.reason;
      if (stopped) return;
      log.info({ partitions: [...workers.keys()].sort((a, b) => a - b), of: count() }, "classifier owns partitions");
      sweep();
    });
    // A later reassignment still runs after a failed one; the failure itself is reported by whoever awaits `run`.
    applying = run.catch((err) => {
      if (ready && !isAbort(err, signal)) log.warn({ err: (err as Error).message }, "reassignment failed");
    });
    return run;
  };

  const membership = new Membership(nc, id, log, (members) => {
    if (ready) void apply(members);
  });
  const timers: { contract?: NodeJS.Timeout } = {};
  const stopAll = async () => {
    stopped = true;
    stopper.abort(new DOMException("classifier stopped", "AbortError"));
    clearInterval(timers.contract);
    await membership.stop();
    await applying;
    await Promise.all([...workers.values()].map((w) => w.stop()));
    for (const w of workers.values()) retired = sumStats(retired, w.stats());
    workers.clear();
  };

  try {
    await retry("join the classifier members", () => membership.start());
    // Instances started together see each other only after a heartbeat: wait for the membership to settle before
    // taking partitions, so a stack that starts N classifiers does not hand partitions (and their connections'
    // state) from one to another in its first seconds.
    await sleepOrAbort(SETTLE_MS, signal);
    const first = membership.members();
    await apply(first);
    // An attempt in flight when the stop came may still have succeeded: a stopped start never says ready.
    signal.throwIfAborted();
    ready = true;
    // Members that changed while the first assignment ran (compared with what it used: a change seen during it is
    // not applied by the callback before `ready`; once compared with the last change seen instead, a second instance
    // that joined then was never given its share, and both consumed the same partitions).
    if (membership.members().join(",") !== first.join(",")) void apply(membership.members());
  } catch (err) {
    await stopAll();
    throw err;
  }

  // The agent may set (or a new agent change) the count after we started: follow the stream's.
  timers.contract = setInterval(() => {
    void rawStreamContract(nc)
      .then((c) => {
        const before = count();
        contract = c;
        if (count() !== before) {
          describeCount(c);
          void apply(membership.members());
        } else if (c.partitions === undefined) sweep(); // an open subject list can gain strays at any time
      })
      .catch((err) => log.warn({ err: (err as Error).message }, "could not read stream ADI_RAW's contract"));
  }, CONTRACT_EVERY_MS);
  log.info({ id, partitions: [...workers.keys()].sort((a, b) => a - b), of: count() }, "classifier ready");

  return {
    id,
    owned: () => [...workers.keys()].sort((a, b) => a - b),
    consumers: () => [...workers.values()].sort((a, b) => a.partition - b.partition).map((w) => w.name),
    partitions: count,
    counters: () => ({ ...counters, deadLetterReasons: { ...counters.deadLetterReasons }, ...[...workers.values()].reduce((a, w) => sumStats(a, w.stats()), retired) }),
    stop: stopAll,
  };
}
