// What every command needs before it can do its job: validated configuration, a logger, and a NATS
// connection (NATS_URL, or an embedded nats-server under ADI_DATA_DIR that stops with us).
import type { NatsConnection } from "@nats-io/transport-node";
import type { Logger } from "pino";
import { loadConfig, formatFatal, createLogger } from "@adi/shared";
import type { AdiConfig } from "@adi/shared";
import { connectNats, startEmbeddedNats } from "@adi/shared/nats";
import type { EmbeddedNats, NatsAuthSettings } from "@adi/shared/nats";
import { CaptureExitError } from "./capture-child.ts";
import { isStoppedByParent } from "./lifeline.ts";

export interface Runtime {
  cfg: AdiConfig;
  log: Logger;
  nc: NatsConnection;
  embedded: EmbeddedNats | undefined;
  close(): Promise<void>;
}

/**
 * The broker a process of this run dials and how it authenticates: NATS_URL with the NATS_* settings, or the
 * embedded server with the seed file it admits (NATS_NKEY). `env` is what a child process (the capture agent of
 * `adi up`) needs to dial the same: the seed's path, never the seed.
 */
export function natsTarget(cfg: AdiConfig, embedded: EmbeddedNats | undefined): { servers: readonly string[]; auth: NatsAuthSettings; env: Record<string, string> } {
  if (cfg.natsServers) return { servers: cfg.natsServers, auth: cfg.natsAuth, env: { NATS_URL: cfg.natsServers.join(",") } };
  return { servers: [embedded!.url], auth: { nkey: embedded!.nkeyFile }, env: { NATS_URL: embedded!.url, NATS_NKEY: embedded!.nkeyFile } };
}

/**
 * `beforeConnect` runs after the configuration is valid and before any broker is started or dialled. The first
 * connection is retried for ADI_START_TIMEOUT (then AdiError ADI_ERR_NATS_UNREACHABLE); `signal` stops that wait
 * (a stop requested while starting), rejecting with its reason. With NATS_URL unset and `attach`, a command that only
 * reads and consumes (replay, a consumer alone) uses the embedded server an `adi up` already runs under the same
 * ADI_DATA_DIR, with its key, instead of failing on the taken port (startEmbeddedNats).
 */
export async function openRuntime(name: string, beforeConnect?: (cfg: AdiConfig) => void, opts: { signal?: AbortSignal; attach?: boolean; logToStderr?: boolean } = {}): Promise<Runtime> {
  const cfg = loadConfig();
  beforeConnect?.(cfg);
  // A command whose stdout is its output (adi diff, adi export) logs on stderr.
  const log = createLogger(name, cfg.logLevel, { format: cfg.logFormat, stderr: opts.logToStderr });
  const embedded = cfg.natsServers ? undefined : await startEmbeddedNats({ dataDir: cfg.dataDir, port: cfg.natsPort, log, attach: opts.attach });
  const { servers, auth } = natsTarget(cfg, embedded);
  let nc: NatsConnection;
  try {
    nc = await connectNats({ servers, auth, name: `adi-${name}`, log, retryForMs: cfg.startTimeoutMs, signal: opts.signal });
  } catch (err) {
    await embedded?.stop();
    throw err;
  }
  return {
    cfg,
    log,
    nc,
    embedded,
    async close() {
      await nc.drain().catch(() => nc.close());
      await embedded?.stop();
    },
  };
}

/**
 * SIGINT/SIGTERM, listened for from the moment this is called: a signal that arrives while services are still
 * starting is kept, and honoured once they are up (stopping half-started services is worse than waiting).
 * `untilStopped` waits for a signal, or for `failed` to reject (a part of the pipeline ended by itself: it is
 * logged, everything else is stopped, and the error is thrown for the caller to exit non-zero), then runs `stop`.
 */
export function listenForStop(): {
  requested: Promise<NodeJS.Signals>;
  untilStopped(log: Logger, stop: () => Promise<void>, failed?: Promise<never>): Promise<void>;
} {
  let first: (s: NodeJS.Signals) => void = () => undefined;
  const requested = new Promise<NodeJS.Signals>((resolve) => (first = resolve));
  let stopping = false;
  let log: Logger | undefined;
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping) log?.warn({ signal }, "already stopping");
    stopping = true;
    first(signal);
  };
  // A child that its adi parent stops ignores the terminal's SIGINT (cli/lifeline.ts): the parent stops it, in order.
  if (!isStoppedByParent()) process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  return {
    requested,
    async untilStopped(l, stop, failed) {
      log = l;
      const outcome = await Promise.race([requested.then((signal) => ({ signal })), (failed ?? new Promise<never>(() => undefined)).catch((err: unknown) => ({ err }))]);
      stopping = true;
      if ("err" in outcome) {
        l.error({ err: outcome.err }, "stopping: a part of the pipeline ended by itself");
        await stop().catch((err) => l.error({ err }, "error while stopping"));
        throw outcome.err;
      }
      l.info({ signal: outcome.signal }, "stopping");
      await stop().catch((err) => l.error({ err }, "error while stopping"));
    },
  };
}

/**
 * Prints one line for a fatal error and exits with the registry's code. A capture child that failed with a
 * documented code already printed its own line: its code is kept and nothing is added.
 */
export function die(err: unknown): never {
  if (err instanceof CaptureExitError) {
    if (!err.explained) process.stderr.write(`adi: ${err.message}\n`);
    process.exit(err.exitCode);
  }
  const { line, exitCode } = formatFatal(err);
  process.stderr.write(`${line}\n`);
  process.exit(exitCode);
}
