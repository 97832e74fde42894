// One way to connect to NATS for every service: reconnect forever (a broker that goes away and comes back is
// routine, not fatal), log every status change, and retry the first connection with backoff for a bounded time
// (a broker still starting, or paused for a few seconds, is routine too), then fail with one clear error.
import { connect } from "@nats-io/transport-node";
import type { NatsConnection } from "@nats-io/transport-node";
import type { Logger } from "pino";
import { adiError } from "../errors.ts";
import { describeServers, maskUrlUserinfo, natsClientOptions, serverParts } from "./auth.ts";
import type { NatsAuthSettings, NatsClientOptions } from "./auth.ts";
import { isPermanentRefusal } from "./errors.ts";
import { retryWithBackoff } from "./retry.ts";

export interface ConnectOptions {
  /** NATS_URL split: `nats://user:password@host`, `nats://token@host` and `tls://host` are understood (auth.ts). */
  servers: readonly string[];
  /** NATS_CREDS, NATS_NKEY, NATS_USER/NATS_PASSWORD, NATS_TOKEN, NATS_CA, NATS_CERT/NATS_KEY (AdiConfig.natsAuth). */
  auth?: NatsAuthSettings;
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

/** A refused attempt, resolved rather than rejected so that retryWithBackoff stops at once. */
class Refused {
  readonly err: Error;
  constructor(err: Error) {
    this.err = err;
  }
}

/**
 * A function that masks URL userinfo in a text (maskUrlUserinfo) and then replaces every secret of `servers` and
 * `auth` (the password or token of each URL, as written and percent-decoded; NATS_PASSWORD, NATS_TOKEN) with ***:
 * in-text URL masking stops at a space or a quote, which a password may hold.
 */
function scrubber(servers: readonly string[], auth: NatsAuthSettings): (text: string) => string {
  const secrets = new Set<string>();
  for (const server of servers) {
    const secret = serverParts(server)?.secret;
    if (secret === undefined) continue;
    secrets.add(secret);
    try {
      secrets.add(decodeURIComponent(secret));
    } catch {
      // not percent-encoded: the raw form is enough
    }
  }
  if (auth.password) secrets.add(auth.password);
  if (auth.token) secrets.add(auth.token);
  // Shorter than 3: replacing it would garble the text more than it hides.
  const list = [...secrets].filter((x) => x.length >= 3).sort((a, b) => b.length - a.length);
  return (text) => list.reduce((acc, secret) => acc.split(secret).join("***"), maskUrlUserinfo(text));
}

/**
 * Connects to `servers` with `auth` (see natsClientOptions); the connection then reconnects forever. Throws AdiError
 * ADI_ERR_NATS_UNREACHABLE (exit 5) naming the servers (userinfo masked) and the last error when no attempt
 * succeeded within `retryForMs`; ADI_ERR_NATS_AUTH (exit 5) at once when the server refused the credentials or TLS
 * failed (isPermanentRefusal), or when the settings cannot be used (a conflict, an unreadable file); the signal's
 * reason when aborted. No line or error carries a password, token or seed.
 */
export async function connectNats(opts: ConnectOptions): Promise<NatsConnection> {
  const perAttempt = opts.timeoutMs ?? 5000;
  const started = performance.now();
  const shown = describeServers(opts.servers);
  // Whatever nats.js or node put in a message (a URL, a server's reply), the secrets themselves never pass.
  const clean = scrubber(opts.servers, opts.auth ?? {});
  let client: NatsClientOptions;
  try {
    client = natsClientOptions(opts.servers, opts.auth ?? {});
  } catch (err) {
    throw adiError("ADI_ERR_NATS_AUTH", `${shown}: ${(err as Error).message}`);
  }
  const attempt = () =>
    connect({
      ...client,
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
  // With reconnection on, nats.js retries a TLS handshake the server rejects (a missing client certificate) until
  // its timeout and reports only "timeout". One dial without reconnection, after a failed TLS attempt, tells why.
  const probe = async (failed: unknown): Promise<Refused> => {
    if (!client.tls) throw failed;
    const once = await connect({ ...client, name: opts.name, reconnect: false, timeout: 2000 }).catch((err: unknown) => err as Error);
    if (once instanceof Error && isPermanentRefusal(once)) return new Refused(once);
    if (!(once instanceof Error)) await once.close();
    throw failed;
  };
  const outcome = await retryWithBackoff(
    () =>
      abandonOnAbort(attempt(), opts.signal).catch((err: unknown) =>
        isPermanentRefusal(err) ? new Refused(err as Error) : abandonOnAbort(probe(err), opts.signal),
      ),
    {
      what: `connect to ${shown}`,
      timeoutMs: opts.retryForMs ?? 0,
      signal: opts.signal,
      onRetry: (err, failures, delayMs) =>
        opts.log.warn({ servers: shown, err: clean((err as Error).message), failures, retryInMs: delayMs }, "nats not reachable yet; will retry"),
    },
  ).catch((err: unknown) => {
    if (opts.signal?.aborted) throw err;
    const cause = ((err as Error).cause ?? err) as Error;
    const within = opts.retryForMs ? ` (retried for ${Math.round(opts.retryForMs / 1000)} s)` : "";
    // The cause is kept out of the error (formatFatal would print its message): only its masked text is shown.
    throw adiError("ADI_ERR_NATS_UNREACHABLE", `${shown}: ${clean(cause.message)}${within}`);
  });
  if (outcome instanceof Refused) {
    // Said only where it is the likely reason: a TLS failure is about certificates, not credentials.
    const how = client.authenticator || client.tls ? "" : " (no credentials were given)";
    throw adiError("ADI_ERR_NATS_AUTH", `${shown}: refused: ${clean(messageOf(outcome.err))}${how}`);
  }
  const nc = outcome;
  void (async () => {
    for await (const s of nc.status()) {
      if (s.type === "disconnect" || s.type === "reconnect" || s.type === "error") {
        opts.log.warn({ nats: s.type, server: "server" in s ? clean(String(s.server)) : undefined }, `nats ${s.type}`);
      }
    }
  })();
  return nc;
}

/**
 * `connecting`, or the signal's reason as soon as it aborts (a stop during start is not held up by a connection
 * attempt to a stalled broker, up to 5 s); a connection that still comes after that is closed, never leaked.
 */
function abandonOnAbort<T extends NatsConnection | Refused>(connecting: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return connecting;
  return new Promise((resolve, reject) => {
    const onAbort = () => {
      reject(signal.reason);
      void connecting.then((late) => (late instanceof Refused ? undefined : late.close()), () => undefined);
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

/** An error's message, with its cause's when it adds to it (node's TLS errors carry the reason in the cause). */
function messageOf(err: Error): string {
  const cause = err.cause instanceof Error ? err.cause.message : undefined;
  return cause && !err.message.includes(cause) ? `${err.message}: ${cause}` : err.message;
}
