// @adi/classifier: raw socket events into HTTP exchanges and classified connections. Its one surface: the live
// service (startClassifier) and the pure engine with its record guard, which `adi replay` composes over a stream.
export { startClassifier, SETTLE_MS, CONTRACT_EVERY_MS } from "./main.ts";
export type { Classifier } from "./main.ts";
export { ClassifierEngine } from "./core/engine.ts";
export type { EngineStats } from "./core/engine.ts";
export { emptyDeadLetterCounts, screenBatch, timestampWindow } from "./core/record-guard.ts";
export type { DeadLetterReason } from "./core/record-guard.ts";
export { hostOfSubject } from "./adapters/partition-worker.ts";
