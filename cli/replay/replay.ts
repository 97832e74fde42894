// Replay as a composition of the services' public surfaces (issue 12, item 5): the durable streams read back with
// fresh state through exactly what the live pipeline runs, and nothing of any service's insides:
//
//   ADI_FACTS  ─► MapperOutputs.addFact (names) and, for process facts, EnvInventory.add (the inventory)
//   ADI_RAW    ─► RawBatchClassifier.classify (@adi/classifier: screened as live, dead letters counted, the engine)
//              ─► MapperOutputs.addDerived (the traffic log and the service map)
//   the folds  ─► OutputFiles (@adi/shared: the one writer, as the live mapper and enricher use it)
//
// ReplayFold is the pure part (events in, projections out); replayStreams reads the streams into it and writes
// the files. The CLI command (cli/commands/replay.ts) adds the flags, the output directory and the error lines.
import type { NatsConnection } from "@nats-io/transport-node";
import type { JsMsg } from "@nats-io/jetstream";
import type { Logger } from "pino";
import type { AdiConfig, DocumentProjection, LinesProjection } from "@adi/shared";
import { OutputFiles } from "@adi/shared";
import { RawBatchClassifier } from "@adi/classifier";
import type { DeadLetterCounts, EngineStats } from "@adi/classifier";
import { MapperOutputs, serviceMapProjection, trafficLogProjection } from "@adi/mapper";
import type { ServiceMap } from "@adi/mapper";
import { EnvInventory, envInventoryProjection } from "@adi/enricher";
import { RedactionPolicy } from "@adi/shared/redaction";
import { readToEnd, rawStreamContract, storedAtMs } from "@adi/shared/nats";
import { decodeFact, FACTS_STREAM, factsFilter, RAW_STREAM, rawFilter } from "@adi/shared/wire";
import type { ProcessFact } from "@adi/shared/wire";

export interface ReplayFoldOptions {
  /** The policy the live services build from the same configuration (RedactionPolicy.fromConfig). */
  redaction: RedactionPolicy;
  /** ENV_OUTPUT_ALL, as the live enricher. */
  envAll: boolean;
}

/** What the classifier needs of ADI_RAW to screen it as live does. */
export interface RawContract {
  /** The stream's partition count (ADI_PARTITIONS only while it states none). */
  partitions: number;
  /** The stream's max age, ms (0: unlimited): the classifier's timestamp window, as live. */
  maxAgeMs: number;
}

/** What a replay read and left out, for its `replay done` line. */
export interface ReplaySummary {
  facts: number;
  batches: number;
  /** Facts that did not decode, plus raw batches dead-lettered as malformed. */
  invalid: number;
  deadLetters: DeadLetterCounts;
  engine: EngineStats;
  outputs: ReturnType<MapperOutputs["stats"]>;
}

/**
 * The services' folds, composed: facts, then (after startRaw) raw messages in, each with its JetStream store time;
 * the three projections out. Pure: no clock, no I/O; the same messages give the same files.
 */
export class ReplayFold {
  readonly #outputs: MapperOutputs;
  readonly #inventory: EnvInventory;
  readonly #redaction: RedactionPolicy;
  #classifier: RawBatchClassifier | null = null;
  #invalidFacts = 0;

  constructor(opts: ReplayFoldOptions) {
    this.#redaction = opts.redaction;
    this.#outputs = new MapperOutputs({ redaction: opts.redaction });
    this.#inventory = new EnvInventory({ all: opts.envAll, redaction: opts.redaction });
  }

  /** Before the first raw message: ADI_RAW's contract, read from the stream after the facts. */
  startRaw(contract: RawContract): void {
    this.#classifier = new RawBatchClassifier({ redaction: this.#redaction, ...contract });
  }

  /** OUTPUT_PATH, SERVICE_MAP_PATH and ENV_OUTPUT_PATH as projections, for OutputFiles. */
  readonly projections = (): { log: LinesProjection; map: DocumentProjection; env: DocumentProjection } => ({
    log: trafficLogProjection(this.#outputs),
    map: serviceMapProjection(this.#outputs),
    env: envInventoryProjection(this.#inventory),
  });

  /** One ADI_FACTS message (encoded fact); one that does not decode is counted invalid. `storedAtMs`: its store time. */
  fact(data: Uint8Array, storedAtMs: number): void {
    let fact;
    try {
      fact = decodeFact(data);
    } catch {
      this.#invalidFacts++;
      return;
    }
    this.#outputs.addFact(fact, storedAtMs);
    if (fact.type === "process") this.#inventory.add(fact);
  }

  /** One ADI_RAW message: classified as live (what live dead-letters is counted and left out), then mapped. */
  raw(m: { subject: string; data: Uint8Array; storeNs: bigint; seq: number }): void {
    if (this.#classifier === null) throw new Error("ReplayFold.raw before startRaw");
    const at = Number(m.storeNs / 1_000_000n);
    // The engine redacted with this very policy.
    for (const d of this.#classifier.classify(m)) this.#outputs.addDerived(d, at, this.#redaction.id);
  }

  /** The service map as data, RED figures included (MapperOutputs.serviceMap). */
  serviceMap(): ServiceMap {
    return this.#outputs.serviceMap();
  }

  /** The processes ENV_OUTPUT_PATH lists, redacted (EnvInventory.processes). */
  processes(): ProcessFact[] {
    return this.#inventory.processes();
  }

  /** Log lines final so far, taken (and forgotten): a fold read only for its map drops them to bound memory. */
  dropLogLines(): void {
    this.#outputs.takeLogLines();
  }

  summary(facts: number, batches: number): ReplaySummary {
    const classifier = this.#classifier ?? new RawBatchClassifier({ redaction: this.#redaction, partitions: 1, maxAgeMs: 0 });
    const deadLetters = classifier.deadLetters();
    return {
      facts,
      batches,
      invalid: this.#invalidFacts + deadLetters.malformed,
      deadLetters: { ...deadLetters },
      engine: { ...classifier.stats() },
      outputs: this.#outputs.stats(),
    };
  }
}

/** Where replayStreams writes each output (paths checked and free: prepareReplayOut). */
export interface ReplayPaths {
  log: string;
  map: string;
  env: string;
}

export interface ReplayStreamsOptions {
  since?: Date;
  until?: Date;
  log: Logger;
  /** Told the stream being read (null once done), so a broker error can name it. */
  onStream?: (stream: string | null) => void;
}

/**
 * Reads ADI_FACTS, then ADI_RAW (within since/until), through a fresh ReplayFold and writes the three files with
 * OutputFiles: the traffic log appended as its lines become final, synchronously with the reading (the write is
 * the back-pressure: memory holds a window of traffic, not the stream), under a temporary name renamed into place
 * at the end, then the map and the inventory, each written once, atomically. On any failure nothing is left in
 * the directory (the temporary log is removed) and the error is thrown as is (the JetStream client's, or a file
 * system error with its syscall).
 */
export async function replayStreams(nc: NatsConnection, cfg: AdiConfig, paths: ReplayPaths, opts: ReplayStreamsOptions): Promise<ReplaySummary> {
  const reading = async <T>(stream: string, read: () => Promise<T>): Promise<T> => {
    opts.onStream?.(stream);
    const result = await read();
    opts.onStream?.(null);
    return result;
  };
  const progress = (stream: string) => (done: number, pending: number) => opts.log.info({ stream, done, pending }, "replay progress");
  const fold = new ReplayFold({ redaction: RedactionPolicy.fromConfig(cfg), envAll: cfg.envOutputAll });
  const p = fold.projections();
  const variable = "--out file";
  const files = await OutputFiles.open(
    [
      { path: paths.log, variable, projection: p.log },
      { path: paths.map, variable, projection: p.map },
      { path: paths.env, variable, projection: p.env },
    ],
    { staged: true, timed: false },
  );
  try {
    // Facts first (names), then the raw events: the fold does not depend on the order, the logs read better.
    const facts = await reading(FACTS_STREAM, () =>
      readToEnd(nc, FACTS_STREAM, factsFilter(), (m: JsMsg) => fold.fact(m.data, storedAtMs(m)), { until: opts.until, onProgress: progress(FACTS_STREAM) }),
    );
    // Every raw subject is screened as the live classifiers screen it: the stream's partition count (ADI_PARTITIONS
    // only while the stream states none), the timestamp window from the stream's max age.
    const contract = await reading(RAW_STREAM, () => rawStreamContract(nc));
    fold.startRaw({ partitions: contract.partitions ?? cfg.partitions, maxAgeMs: contract.maxAgeMs });
    const batches = await reading(RAW_STREAM, () =>
      readToEnd(
        nc,
        RAW_STREAM,
        rawFilter(),
        async (m: JsMsg) => {
          fold.raw({ subject: m.subject, data: m.data, storeNs: BigInt(m.info.timestampNanos), seq: m.seq });
          files.changed();
          await files.drain();
        },
        { since: opts.since, until: opts.until, onProgress: progress(RAW_STREAM) },
      ),
    );
    // Every file, even when the window held nothing (an empty log, a map with no services).
    files.changed({ all: true });
    await files.close();
    return fold.summary(facts, batches);
  } catch (err) {
    await files.discard();
    throw err;
  }
}

export interface FoldWindow {
  /** Only raw events stored at or after this time. */
  since?: Date;
  /** Only events stored up to this time. */
  until?: Date;
  log: Logger;
  /** Told the stream being read (null once done), so a broker error can name it. */
  onStream?: (stream: string | null) => void;
}

/**
 * The streams read back through a fresh ReplayFold, as `adi replay` reads them, but into memory only: for what
 * is built from a window of the stream without writing files (`adi export`, `adi diff`, the view's windows).
 * The traffic log's lines are dropped as they become final (memory holds the fold's window, not the log). Throws
 * the JetStream client's errors as is (replayError names them).
 */
export async function foldStreams(nc: NatsConnection, cfg: AdiConfig, opts: FoldWindow): Promise<{ fold: ReplayFold; summary: ReplaySummary }> {
  const reading = async <T>(stream: string, read: () => Promise<T>): Promise<T> => {
    opts.onStream?.(stream);
    const result = await read();
    opts.onStream?.(null);
    return result;
  };
  const fold = new ReplayFold({ redaction: RedactionPolicy.fromConfig(cfg), envAll: cfg.envOutputAll });
  const facts = await reading(FACTS_STREAM, () => readToEnd(nc, FACTS_STREAM, factsFilter(), (m: JsMsg) => fold.fact(m.data, storedAtMs(m)), { until: opts.until }));
  const contract = await reading(RAW_STREAM, () => rawStreamContract(nc));
  fold.startRaw({ partitions: contract.partitions ?? cfg.partitions, maxAgeMs: contract.maxAgeMs });
  let n = 0;
  const batches = await reading(RAW_STREAM, () =>
    readToEnd(
      nc,
      RAW_STREAM,
      rawFilter(),
      (m: JsMsg) => {
        fold.raw({ subject: m.subject, data: m.data, storeNs: BigInt(m.info.timestampNanos), seq: m.seq });
        if (++n % 256 === 0) fold.dropLogLines();
      },
      { since: opts.since, until: opts.until },
    ),
  );
  fold.dropLogLines();
  return { fold, summary: fold.summary(facts, batches) };
}
