// @adi/shared/nats: connecting to the broker (auth, TLS, the embedded server), the streams' configuration, reading
// and following streams, and the retry policy every service uses while the broker is away.
export * from "./auth.ts";
export * from "./connect.ts";
export * from "./consume.ts";
export * from "./embedded-server.ts";
export * from "./retry.ts";
export * from "./streams.ts";
