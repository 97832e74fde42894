// `node --expose-gc bench/mapper-heap.ts`: the mapper's heap at a high rate, in one process, without a broker.
// The synthetic raw stream (test/support/synthetic-stream.ts) goes through RawBatchClassifier, encodeDerivedBatches
// and decodeDerivedBatch (what a live mapper reads) into MapperOutputs, whose log is drained past 8 MB as the live
// mapper does. At the end: gc(), then the live heap and RSS. EVENTS (default 1,400,000: ~630,000 observations over
// ~70 s of capture time, about 9,000 exchanges/s, past the 60 s pairing window). SNAP=FILE also writes a heap
// snapshot there. BENCHMARKS.md, "Mapper heap, in process".
import { performance } from "node:perf_hooks";
import { writeHeapSnapshot } from "node:v8";
import { RawBatchClassifier } from "@adi/classifier";
import { MapperOutputs } from "@adi/mapper";
import { RedactionPolicy } from "@adi/shared/redaction";
import { decodeDerivedBatch, encodeDerivedBatches } from "@adi/shared/wire";
import { emptyStats, syntheticBatches } from "../test/support/synthetic-stream.ts";

const events = Number(process.env.EVENTS ?? 1_400_000);
const policy = RedactionPolicy.DEFAULT;
const classifier = new RawBatchClassifier({ redaction: policy, partitions: 16, maxAgeMs: 0 });
const outputs = new MapperOutputs({ redaction: policy });
const storeNs = BigInt(Date.now()) * 1_000_000n;
let seq = 0;
let observations = 0;
let logChars = 0;
let mapperMs = 0;
let peakRss = 0;
const t0 = performance.now();
for (const batch of syntheticBatches({ events, partitions: 16 }, emptyStats())) {
  const derived = classifier.classify({ subject: batch.subject, data: batch.data, storeNs, seq: ++seq });
  if (derived.length === 0) continue;
  const t1 = performance.now();
  for (const encoded of encodeDerivedBatches("benchhost", derived, policy.id)) {
    for (const d of decodeDerivedBatch(encoded.data).observations) {
      outputs.addDerived(d, undefined, policy.id);
      observations++;
    }
  }
  if (outputs.readyChars() > 8_000_000) for (const line of outputs.takeLogLines()) logChars += line.length;
  mapperMs += performance.now() - t1;
  if (seq % 500 === 0) peakRss = Math.max(peakRss, process.memoryUsage().rss);
}
for (const line of outputs.takeLogLines()) logChars += line.length;
const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error("run with node --expose-gc");
gc();
const memory = process.memoryUsage();
const mb = (bytes: number) => Math.round(bytes / 1e6);
console.log({
  observations,
  stats: outputs.stats(),
  logMB: mb(logChars),
  mapperMsPer1000: Number(((mapperMs / observations) * 1000).toFixed(1)),
  heapAfterGcMB: mb(memory.heapUsed),
  rssMB: mb(memory.rss),
  peakRssMB: mb(Math.max(peakRss, memory.rss)),
  wallMs: Math.round(performance.now() - t0),
});
if (process.env.SNAP) writeHeapSnapshot(process.env.SNAP);
