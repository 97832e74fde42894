// One way to connect to NATS for every service: reconnect forever (a broker that goes away and comes back is
// routine, not fatal), log every status change, and fail the first connection with a clear error.
import { connect } from "@nats-io/transport-node";
import type { NatsConnection } from "@nats-io/transport-node";
import type { Logger } from "pino";
import { adiError } from "../errors.ts";

export interface ConnectOptions {
  servers: readonly string[];
  name: string;
  log: Logger;
  /** How long the first connection may take before we give up, ms. */
  timeoutMs?: number;
}

export async function connectNats(opts: ConnectOptions): Promise<NatsConnection> {
  let nc: NatsConnection;
  try {
    nc = await connect({
      servers: [...opts.servers],
      name: opts.name,
      maxReconnectAttempts: -1,
      reconnectTimeWait: 250,
      reconnectJitter: 100,
      timeout: opts.timeoutMs ?? 5000,
      pingInterval: 10_000,
      // Otherwise every request (each JetStream publish) builds an Error up front to keep a stack for a timeout
      // that almost never happens: ~11-17% of the capture agent's and classifier's CPU in profiles (BENCHMARKS.md).
      noAsyncTraces: true,
    });
  } catch (err) {
    throw adiError("ADI_ERR_NATS_UNREACHABLE", `${opts.servers.join(",")}: ${(err as Error).message}`, err);
  }
  void (async () => {
    for await (const s of nc.status()) {
      if (s.type === "disconnect" || s.type === "reconnect" || s.type === "error") {
        opts.log.warn({ nats: s.type, server: "server" in s ? s.server : undefined }, `nats ${s.type}`);
      }
    }
  })();
  return nc;
}
