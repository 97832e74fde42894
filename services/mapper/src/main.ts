// The mapper service: follows the facts and the derived observations from their first message and keeps
// OUTPUT_PATH (appended as lines become final) and SERVICE_MAP_PATH (rewritten atomically) written, debounced,
// mode 0600. Every instance reads every observation, so N instances write the same files as one.
import type { JsMsg } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import type { Logger } from "pino";
import type { AdiConfig } from "@adi/shared/config";
import { follow, readToEnd } from "@adi/shared/nats/consume";
import { ensureStreams } from "@adi/shared/nats/streams";
import { decodeDerivedBatch } from "@adi/shared/wire/derived";
import { decodeFact } from "@adi/shared/wire/facts";
import { DERIVED_STREAM, DERIVED_SUBJECT_PREFIX, FACTS_STREAM, factsFilter } from "@adi/shared/wire/subjects";
import { AppendingFileWriter, AtomicFileWriter } from "./adapters/output-file.ts";
import { MapperOutputs } from "./core/outputs.ts";

export interface Mapper {
  outputs: MapperOutputs;
  counters(): { facts: number; batches: number; invalid: number } & ReturnType<MapperOutputs["stats"]>;
  /** Writes both files now (pending changes only). */
  flush(): Promise<void>;
  stop(): Promise<void>;
}

export async function startMapper(cfg: AdiConfig, nc: NatsConnection, log: Logger): Promise<Mapper> {
  await ensureStreams(nc, { maxAgeMs: cfg.streamMaxAgeMs, maxBytes: cfg.streamMaxBytes, replicas: cfg.streamReplicas });
  const outputs = new MapperOutputs({ redact: cfg.envRedact });
  const onError = (err: unknown) => log.error({ err }, "could not write an output file; will retry");
  const logWriter = new AppendingFileWriter(cfg.outputPath, { onError });
  await logWriter.open();
  const mapWriter = cfg.serviceMapPath ? new AtomicFileWriter(cfg.serviceMapPath, { onError }) : undefined;
  const counters = { facts: 0, batches: 0, invalid: 0 };
  let writtenVersion = outputs.version;
  // Facts that change nothing (the agent's counters every 5 s) must not re-render the map.
  const changed = () => {
    if (outputs.version === writtenVersion) return;
    writtenVersion = outputs.version;
    logWriter.schedule((quiet) => outputs.takeLogLines(quiet));
    mapWriter?.schedule(() => outputs.renderMap());
  };
  const abort = new AbortController();
  const onFact = (m: JsMsg) => {
    try {
      outputs.addFact(decodeFact(m.data));
      counters.facts++;
      changed();
    } catch (err) {
      counters.invalid++;
      log.warn({ err: (err as Error).message, seq: m.seq }, "invalid fact skipped");
    }
  };
  // The facts stored so far first: observations caught up from the stream (a restart) would otherwise become final
  // log lines before the facts that name their processes were read.
  let factsSeq = 0;
  await readToEnd(nc, FACTS_STREAM, factsFilter(), onFact, { lastSeq: (seq) => (factsSeq = seq) });
  const following = [
    follow(nc, FACTS_STREAM, factsFilter(), onFact, abort.signal, factsSeq > 0 ? { seq: factsSeq + 1 } : undefined),
    follow(nc, DERIVED_STREAM, `${DERIVED_SUBJECT_PREFIX}.>`, (m) => {
      try {
        for (const d of decodeDerivedBatch(m.data).observations) outputs.addDerived(d);
        counters.batches++;
        changed();
      } catch (err) {
        counters.invalid++;
        log.warn({ err: (err as Error).message, seq: m.seq }, "invalid observation skipped");
      }
    }, abort.signal),
  ].map((p) => p.catch((err) => log.error({ err }, "mapper stopped following a stream")));
  log.info({ outputPath: cfg.outputPath, serviceMapPath: cfg.serviceMapPath ?? null }, "mapper ready");

  const flush = async () => {
    await logWriter.flush();
    await mapWriter?.flush();
  };
  return {
    outputs,
    counters: () => ({ ...counters, ...outputs.stats() }),
    flush,
    async stop() {
      abort.abort();
      await Promise.all(following);
      await logWriter.close();
      await mapWriter?.close();
    },
  };
}
