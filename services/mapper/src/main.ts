// The mapper service: follows the facts and the derived observations from their first message and keeps
// OUTPUT_PATH (appended as lines become final) and SERVICE_MAP_PATH (rewritten atomically) written, debounced,
// mode 0600. Every instance reads every observation, so N instances write the same files as one. It is ready only
// once it follows both streams: a JetStream timeout while creating a consumer is retried (issue 10: one left the
// mapper "ready" and its files empty for a whole run), up to ADI_START_TIMEOUT, then it fails in one line.
import type { JsMsg } from "@nats-io/jetstream";
import type { Following } from "@adi/shared/nats";
import type { NatsConnection } from "@nats-io/transport-node";
import type { Logger } from "pino";
import type { AdiConfig } from "@adi/shared";
import { followStream, readToEndRetrying, storedAtMs, retryWithBackoff, ensureStreams } from "@adi/shared/nats";
import { decodeDerivedBatch, decodeFact, DERIVED_STREAM, DERIVED_SUBJECT_PREFIX, FACTS_STREAM, factsFilter } from "@adi/shared/wire";
import { AgentReports, OutputFiles, checkOutputPath } from "@adi/shared";
import type { AgentReport, OutputTarget } from "@adi/shared";
import { RedactionPolicy } from "@adi/shared/redaction";
import { MapperOutputs } from "./core/outputs.ts";
import { serviceMapProjection, trafficLogProjection } from "./core/projections.ts";

/** Final log lines (characters) held before the mapper writes them at once rather than at the writer's timer. */
const LOG_DRAIN_CHARS = 4 * 1024 * 1024;

export interface Mapper {
  outputs: MapperOutputs;
  counters(): { facts: number; batches: number; invalid: number } & ReturnType<MapperOutputs["stats"]>;
  /**
   * Messages stored after the last one handled, per stream, as the server counted them when it delivered that one
   * (its `info.pending`): the consumer lag the metrics show.
   */
  pending(): { facts: number; derived: number };
  /** The latest agent stats fact of each host, stored within AGENT_REPORT_MAX_AGE_MS of now (the metrics read them). */
  agentReports(): AgentReport[];
  /** Writes both files now (pending changes only). */
  flush(): Promise<void>;
  stop(): Promise<void>;
}

export interface StartOptions {
  /** Aborts a start still waiting for the broker (SIGTERM while starting): startMapper rejects with its reason. */
  signal?: AbortSignal;
  /**
   * Writes OUTPUT_PATH and SERVICE_MAP_PATH (default true). false: the fold only, for a reader of `outputs` (the
   * standalone `adi view`): no path is checked, opened or written, and log lines are dropped as they become final
   * (memory holds the log's 1 s window, as with files).
   */
  files?: boolean;
}

/**
 * Starts the mapper; resolves once it follows ADI_FACTS and ADI_DERIVED (logged `mapper ready`). Creating the
 * streams, reading the stored facts and creating both consumers are retried with backoff for cfg.startTimeoutMs
 * in all, then it rejects with AdiError ADI_ERR_NOT_FOLLOWING; an unusable OUTPUT_PATH or SERVICE_MAP_PATH rejects
 * at once with ADI_ERR_OUTPUT_PATH. Once ready, a consumer that fails is re-created from where it was until stopped.
 */
export async function startMapper(cfg: AdiConfig, nc: NatsConnection, log: Logger, opts: StartOptions = {}): Promise<Mapper> {
  const writeFiles = opts.files ?? true;
  // Before anything is read or created: a bad path is a configuration error, not something to retry.
  if (writeFiles) checkOutputPath("OUTPUT_PATH", cfg.outputPath);
  if (writeFiles && cfg.serviceMapPath) checkOutputPath("SERVICE_MAP_PATH", cfg.serviceMapPath);
  const startedAt = performance.now();
  const left = () => Math.max(1, cfg.startTimeoutMs - (performance.now() - startedAt));
  const abort = new AbortController();
  // A stop during the start stops the retries too; once ready, only stop() does.
  const onStartAbort = () => abort.abort(opts.signal?.reason);
  if (opts.signal?.aborted) onStartAbort();
  opts.signal?.addEventListener("abort", onStartAbort, { once: true });
  const retryLog = (what: string) => (err: unknown, failures: number, retryInMs: number) =>
    log.warn({ err: (err as Error).message, failures, retryInMs }, `could not ${what}; will retry`);
  await retryWithBackoff(() => ensureStreams(nc, { maxAgeMs: cfg.streamMaxAgeMs, maxBytes: cfg.streamMaxBytes, replicas: cfg.streamReplicas }, 0), {
    what: "create the streams",
    signal: abort.signal,
    timeoutMs: left(),
    onRetry: retryLog("create the streams"),
  }).catch((err) => {
    opts.signal?.removeEventListener("abort", onStartAbort);
    throw err;
  });
  const outputs = new MapperOutputs({ redaction: RedactionPolicy.fromConfig(cfg) });
  // The traffic log is a new empty file from now on; the map is written once something changes it.
  const targets: OutputTarget[] = [{ path: cfg.outputPath, variable: "OUTPUT_PATH", projection: trafficLogProjection(outputs) }];
  if (cfg.serviceMapPath) targets.push({ path: cfg.serviceMapPath, variable: "SERVICE_MAP_PATH", projection: serviceMapProjection(outputs) });
  const open = writeFiles ? OutputFiles.open(targets, { onError: (err, variable) => log.error({ err, variable }, `could not write ${variable}; will retry`) }) : null;
  const files = await Promise.resolve(open).catch((err) => {
    opts.signal?.removeEventListener("abort", onStartAbort);
    throw err;
  });
  const counters = { facts: 0, batches: 0, invalid: 0 };
  const pending = { facts: 0, derived: 0 };
  const agents = new AgentReports();
  // Facts that change nothing (the agent's counters every 5 s) re-render nothing: OutputFiles compares versions.
  // Without files, the final lines have no reader: dropped at once.
  const changed = () => (files ? files.changed() : void outputs.takeLogLines());
  const onFact = (m: JsMsg) => {
    pending.facts = m.info.pending;
    try {
      const fact = decodeFact(m.data);
      if (fact.type === "agent_stats") agents.note(fact, storedAtMs(m));
      outputs.addFact(fact, storedAtMs(m));
      counters.facts++;
      changed();
    } catch (err) {
      counters.invalid++;
      log.warn({ err: (err as Error).message, seq: m.seq }, "invalid fact skipped");
    }
  };
  // The facts stored so far first: observations caught up from the stream (a restart) would otherwise become final
  // log lines before the facts that name their processes were read.
  const onDerived = async (m: JsMsg) => {
    pending.derived = m.info.pending;
    try {
      const at = storedAtMs(m);
      const batch = decodeDerivedBatch(m.data);
      for (const d of batch.observations) outputs.addDerived(d, at, batch.redaction);
      counters.batches++;
      changed();
    } catch (err) {
      counters.invalid++;
      log.warn({ err: (err as Error).message, seq: m.seq }, "invalid observation skipped");
    }
    // Lines final by now go to the file without waiting for the writer's timer, and the next message waits for
    // the write: memory holds the log's 1 s window, not 10 s of lines (issue 12: 1.5 GB at 10,000 exchanges/s).
    if (files && outputs.readyChars() >= LOG_DRAIN_CHARS) await files.drain().catch((err: unknown) => log.error({ err }, "could not write OUTPUT_PATH; will retry"));
  };
  let streams: Following[] = [];
  try {
    const factsSeq = await readToEndRetrying(nc, FACTS_STREAM, factsFilter(), onFact, { signal: abort.signal, timeoutMs: left(), log });
    streams = [
      followStream(nc, FACTS_STREAM, factsFilter(), onFact, { signal: abort.signal, start: factsSeq > 0 ? { seq: factsSeq + 1 } : undefined, timeoutMs: left(), log }),
      followStream(nc, DERIVED_STREAM, `${DERIVED_SUBJECT_PREFIX}.>`, onDerived, { signal: abort.signal, timeoutMs: left(), log }),
    ];
    await Promise.all(streams.map((f) => f.ready));
  } catch (err) {
    // Not following both (the bound ran out, or a stop came first): nothing is left running, and no line written.
    abort.abort();
    await Promise.all(streams.map((f) => f.done.catch(() => undefined)));
    await files?.close().catch(() => undefined);
    throw err;
  } finally {
    opts.signal?.removeEventListener("abort", onStartAbort);
  }
  const following = streams.map((f) => f.done.catch((err) => log.error({ err }, "mapper stopped following a stream")));
  log.info(writeFiles ? { outputPath: cfg.outputPath, serviceMapPath: cfg.serviceMapPath ?? null } : { files: false }, "mapper ready");

  const flush = async () => files?.flush();
  return {
    outputs,
    counters: () => ({ ...counters, ...outputs.stats() }),
    pending: () => ({ ...pending }),
    agentReports: () => agents.current(Date.now()),
    flush,
    async stop() {
      abort.abort();
      await Promise.all(following);
      await files?.close();
    },
  };
}
