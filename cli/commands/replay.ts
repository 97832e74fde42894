// `adi replay --out DIR`: rebuilds every output (traffic log, service map, environment inventory) from the
// durable streams into DIR with fresh state, without
// touching the live outputs or the live consumers (ordered consumers leave no state on the server). The raw
// stream goes through the same classifier engine, and the result through the same mapper fold, as live.
import { closeSync, constants, fsyncSync, mkdirSync, openSync, renameSync, writeSync } from "node:fs";
import { basename, join } from "node:path";
import { AtomicFileWriter } from "@adi/shared/output-file";
import { MapperOutputs } from "@adi/mapper/core/outputs";
import { ClassifierEngine } from "@adi/classifier/core/engine";
import { EnvInventory } from "@adi/enricher/core/env-inventory";
import { adiError } from "@adi/shared/errors";
import { readToEnd, storedAtMs } from "@adi/shared/nats/consume";
import { decodeFact } from "@adi/shared/wire/facts";
import { rawStreamContract } from "@adi/shared/nats/streams";
import { emptyDeadLetterCounts, screenBatch, timestampWindow } from "@adi/classifier/core/record-guard";
import type { DeadLetterReason } from "@adi/classifier/core/record-guard";
import { FACTS_STREAM, factsFilter, RAW_STREAM, rawFilter } from "@adi/shared/wire/subjects";
import { hostOfSubject } from "@adi/classifier/adapters/partition-worker";
import { openRuntime } from "../runtime.ts";

export interface ReplayOptions {
  out: string;
  since?: string;
  until?: string;
}

function parseTime(flag: string, value: string | undefined): Date | undefined {
  if (value === undefined) return undefined;
  const d = new Date(value);
  if (Number.isNaN(d.getTime())) throw adiError("ADI_ERR_CONFIG", `${flag} ${JSON.stringify(value)}: expected an ISO 8601 time, e.g. 2026-11-27T09:00:00Z`);
  return d;
}

export async function runReplay(opts: ReplayOptions): Promise<void> {
  const since = parseTime("--since", opts.since);
  const until = parseTime("--until", opts.until);
  const rt = await openRuntime("replay");
  try {
    mkdirSync(opts.out, { recursive: true, mode: 0o700 });
    const outputs = new MapperOutputs({ redact: rt.cfg.envRedact });
    const inventory = new EnvInventory({ all: rt.cfg.envOutputAll }); // ENV_OUTPUT_ALL, as the live enricher
    const engine = new ClassifierEngine();
    const progress = (stream: string) => (done: number, pending: number) => rt.log.info({ stream, done, pending }, "replay progress");
    let invalid = 0;
    const files = {
      log: join(opts.out, basename(rt.cfg.outputPath)),
      map: join(opts.out, basename(rt.cfg.serviceMapPath ?? "ebpf_service_map.yaml")),
      env: join(opts.out, basename(rt.cfg.envOutputPath)),
    };
    // The log is appended as its lines become final (memory holds a window, not the stream), synchronously (the
    // write is the back-pressure), to a temporary file renamed at the end: DIR never holds half a log.
    const logTemp = join(opts.out, `.${basename(files.log)}.${process.pid}.tmp`);
    // Created here, never opened through a link planted at that name.
    const logFd = openSync(logTemp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
    const appendFinal = (all = false) => {
      const lines = outputs.takeLogLines(all);
      for (let i = 0; i < lines.length; i += 1024) writeSync(logFd, lines.slice(i, i + 1024).join(""));
    };
    // Facts first (names), then the raw events: the fold does not depend on the order, the logs read better.
    const facts = await readToEnd(rt.nc, FACTS_STREAM, factsFilter(), (m) => {
      try {
        const fact = decodeFact(m.data);
        outputs.addFact(fact, storedAtMs(m));
        if (fact.type === "process") inventory.add(fact);
      } catch {
        invalid++;
      }
    }, { until, onProgress: progress(FACTS_STREAM) });
    // Every raw subject is screened as the live classifiers screen it (core/record-guard.ts): the stream's partition
    // count (ADI_PARTITIONS only while the stream states none), the partition check, the timestamp window from the
    // stream's max age. What live dead-letters, replay counts and leaves out.
    const contract = await rawStreamContract(rt.nc);
    const partitions = contract.partitions ?? rt.cfg.partitions;
    const window = timestampWindow(contract.maxAgeMs);
    const deadLetters = emptyDeadLetterCounts();
    const batches = await readToEnd(rt.nc, RAW_STREAM, rawFilter(), (m) => {
      const s = screenBatch(m.subject, Buffer.from(m.data), BigInt(m.info.timestampNanos), partitions, window);
      if (s.kind === "dead") {
        deadLetters[s.reason]++;
        if (s.reason === "malformed") invalid++;
        return;
      }
      for (const [reason, n] of Object.entries(s.removed?.counts ?? {})) deadLetters[reason as DeadLetterReason] += n;
      const at = storedAtMs(m);
      for (const d of engine.onRecords(hostOfSubject(m.subject), s.header.bootId, s.records, m.seq)) outputs.addDerived(d, at);
      appendFinal();
    }, { since, until, onProgress: progress(RAW_STREAM) });
    appendFinal(true);
    fsyncSync(logFd);
    closeSync(logFd);
    renameSync(logTemp, files.log);
    const renders = [
      [files.map, () => outputs.renderMap()],
      [files.env, () => inventory.render()],
    ] as const;
    for (const [path, render] of renders) {
      const w = new AtomicFileWriter(path, { debounceMs: 0 });
      w.schedule(render);
      await w.close();
    }
    rt.log.info({ facts, batches, invalid, deadLetters, ...engine.stats(), ...outputs.stats(), files }, "replay done");
  } finally {
    await rt.close();
  }
}
