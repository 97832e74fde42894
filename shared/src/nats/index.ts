// @adi/shared/nats: connecting to the broker (auth, TLS, the embedded server), the streams' configuration, reading
// and following streams, the retry policy every service uses while the broker is away, and what each NATS error
// means (errors.ts: every check of a nats.js error goes through it).
export * from "./auth.ts";
export * from "./connect.ts";
export * from "./consume.ts";
export * from "./embedded-server.ts";
export * from "./errors.ts";
export * from "./retry.ts";
export * from "./streams.ts";
