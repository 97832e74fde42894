// @adi/shared: what every adi service uses besides the wire contracts, the NATS helpers and the redaction policy
// (those are the package's other three surfaces: @adi/shared/wire, @adi/shared/nats, @adi/shared/redaction).
// Nothing else of this package is importable from outside it (package.json "exports"; eslint refuses deep imports).
export * from "./config.ts";
export * from "./config-values.ts";
export * from "./errors.ts";
export * from "./host.ts";
export * from "./logger.ts";
export * from "./net.ts";
export * from "./net-listeners.ts";
export * from "./optin.ts";
export * from "./output-file.ts";
export * from "./output-files.ts";
export * from "./metrics.ts";
export * from "./printable.ts";
