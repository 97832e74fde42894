// One way to connect to NATS for every service: reconnect forever (a broker that goes away and comes back is
// routine, not fatal), log every status change, and retry the first connection with backoff for a bounded time
// (a broker still starting, or paused for a few seconds, is routine too), then fail with one clear error.
import { connect } from "@nats-io/transport-node";
import type { NatsConnection } from "@nats-io/transport-node";
import type { Logger } from "pino";
import { adiError } from "../errors.ts";
import { retryWithBackoff } from "./retry.ts";

export interface ConnectOptions {
  servers: readonly string[];
  name: string;
  log: Logger;
  /** How long one attempt at the first connection may take, ms. Default 5000. */
  timeoutMs?: number;
  /**
   * How long the first connection is retried (with backoff) before giving up, ms: ADI_START_TIMEOUT for services.
   * Default 0: one attempt.
   */
  retryForMs?: number;
  /** Stops the retries (SIGTERM during start): rejects with the signal's reason. */
  signal?: AbortSignal;
}

/**
 * Connects to `servers`; the connection then reconnects forever. Throws AdiError ADI_ERR_NATS_UNREACHABLE (exit 5)
 * naming the servers and the last error when no attempt succeeded within `retryForMs`, or the signal's reason when
 * aborted.
 */
export async function connectNats(opts: ConnectOptions): Promise<NatsConnection> {
  const perAttempt = opts.timeoutMs ?? 5000;
  const started = performance.now();
  const attempt = () =>
    connect({
      servers: [...opts.servers],
      name: opts.name,
      maxReconnectAttempts: -1,
      reconnectTimeWait: 250,
      reconnectJitter: 100,
      // Never past the bound: the fatal line comes when ADI_START_TIMEOUT says, not up to 5 s later.
      timeout: Math.max(250, Math.min(perAttempt, opts.retryForMs ? opts.retryForMs - (performance.now() - started) : perAttempt)),
      pingInterval: 10_000,
      // Otherwise every request (each JetStream publish) builds an Error up front to keep a stack for a timeout
      // that almost never happens: ~11-17% of the capture agent's and classifier's CPU in profiles (BENCHMARKS.md).
      noAsyncTraces: true,
    });
  const nc = await retryWithBackoff(
    () => abandonOnAbort(attempt(), opts.signal),
    {
      what: `connect to ${opts.servers.join(",")}`,
      timeoutMs: opts.retryForMs ?? 0,
      signal: opts.signal,
      onRetry: (err, failures, delayMs) =>
        opts.log.warn({ servers: opts.servers, err: (err as Error).message, failures, retryInMs: delayMs }, "nats not reachable yet; will retry"),
    },
  ).catch((err: unknown) => {
    if (opts.signal?.aborted) throw err;
    const cause = ((err as Error).cause ?? err) as Error;
    const within = opts.retryForMs ? ` (retried for ${Math.round(opts.retryForMs / 1000)} s)` : "";
    throw adiError("ADI_ERR_NATS_UNREACHABLE", `${opts.servers.join(",")}: ${cause.message}${within}`, cause);
  });
  void (async () => {
    for await (const s of nc.status()) {
      if (s.type === "disconnect" || s.type === "reconnect" || s.type === "error") {
        opts.log.warn({ nats: s.type, server: "server" in s ? s.server : undefined }, `nats ${s.type}`);
      }
    }
  })();
  return nc;
}

/**
 * `connecting`, or the signal's reason as soon as it aborts (a stop during start is not held up by a connection
 * attempt to a stalled broker, up to 5 s); a connection that still comes after that is closed, never leaked.
 */
function abandonOnAbort(connecting: Promise<NatsConnection>, signal: AbortSignal | undefined): Promise<NatsConnection> {
  if (!signal) return connecting;
  return new Promise((resolve, reject) => {
    const onAbort = () => {
      reject(signal.reason);
      void connecting.then((late) => late.close(), () => undefined);
    };
    if (signal.aborted) return onAbort();
    signal.addEventListener("abort", onAbort, { once: true });
    connecting.then(
      (nc) => {
        signal.removeEventListener("abort", onAbort);
        resolve(nc);
      },
      (err: unknown) => {
        signal.removeEventListener("abort", onAbort);
        reject(err);
      },
    );
  });
}
