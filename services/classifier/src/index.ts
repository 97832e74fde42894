// @adi/classifier: raw socket events into HTTP exchanges and classified connections. Its one surface: the live
// service (startClassifier), the pure engine, and RawBatchClassifier (the engine behind the live record guard),
// which `adi replay` composes over a stream.
export { startClassifier, SETTLE_MS, CONTRACT_EVERY_MS } from "./main.ts";
export type { Classifier } from "./main.ts";
export { ClassifierEngine } from "./core/engine.ts";
export type { EngineStats } from "./core/engine.ts";
export type { DeadLetterCounts, DeadLetterReason } from "./core/record-guard.ts";
// What `adi replay` composes: the raw stream screened as live, dead letters counted, through the same engine.
export { RawBatchClassifier } from "./raw-batches.ts";
export type { RawBatchClassifierOptions, RawMessage } from "./raw-batches.ts";
// Its Prometheus families (counters, dead letters by reason, its durable consumers' lag).
export { classifierMetricFamilies } from "./metrics.ts";
