// What every command needs before it can do its job: validated configuration, a logger, and a NATS
// connection (NATS_URL, or an embedded nats-server under ADI_DATA_DIR that stops with us).
import type { NatsConnection } from "@nats-io/transport-node";
import type { Logger } from "pino";
import { loadConfig } from "@adi/shared/config";
import type { AdiConfig } from "@adi/shared/config";
import { formatFatal } from "@adi/shared/errors";
import { createLogger } from "@adi/shared/logger";
import { connectNats } from "@adi/shared/nats/connect";
import { startEmbeddedNats } from "@adi/shared/nats/embedded-server";
import type { EmbeddedNats } from "@adi/shared/nats/embedded-server";
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
 * `beforeConnect` runs after the configuration is valid and before any broker is started or dialled. The first
 * connection is retried for ADI_START_TIMEOUT (then AdiError ADI_ERR_NATS_UNREACHABLE); `signal` stops that wait
 * (a stop requested while starting), rejecting with its reason.
 */
export async function openRuntime(name: string, beforeConnect?: (cfg: AdiConfig) => void, opts: { signal?: AbortSignal } = {}): Promise<Runtime> {
  const cfg = loadConfig();
  beforeConnect?.(cfg);
  const log = createLogger(name, cfg.logLevel);
  const embedded = cfg.natsServers ? undefined : await startEmbeddedNats({ dataDir: cfg.dataDir, port: cfg.natsPort, log });
  const servers = cfg.natsServers ?? [embedded!.url];
  let nc: NatsConnection;
  try {
    nc = await connectNats({ servers, name: `adi-${name}`, log, retryForMs: cfg.startTimeoutMs, signal: opts.signal });
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
