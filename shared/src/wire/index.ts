// @adi/shared/wire: the versioned contracts services meet through (ARCHITECTURE.md "Streams and subjects"):
// subjects and streams, the kernel's raw records, process facts, derived observations.
export * from "./subjects.ts";
export * from "./raw-events.ts";
export * from "./record-encoder.ts";
export * from "./facts.ts";
export * from "./time.ts";
export * from "./body-schema.ts";
export * from "./derived.ts";
