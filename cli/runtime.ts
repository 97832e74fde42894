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

export interface Runtime {
  cfg: AdiConfig;
  log: Logger;
  nc: NatsConnection;
  embedded: EmbeddedNats | undefined;
  close(): Promise<void>;
}

/** `beforeConnect` runs after the configuration is valid and before any broker is started or dialled. */
export async function openRuntime(name: string, beforeConnect?: (cfg: AdiConfig) => void): Promise<Runtime> {
  const cfg = loadConfig();
  beforeConnect?.(cfg);
  const log = createLogger(name, cfg.logLevel);
  const embedded = cfg.natsServers ? undefined : await startEmbeddedNats({ dataDir: cfg.dataDir, port: cfg.natsPort, log });
  const servers = cfg.natsServers ?? [embedded!.url];
  let nc: NatsConnection;
  try {
    nc = await connectNats({ servers, name: `adi-${name}`, log });
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
 * Runs a long-lived command until SIGINT/SIGTERM, then its stop function, then exits 0. A second signal
 * during shutdown is logged and ignored: shutdown is bounded by the stop functions' own timeouts.
 */
export function untilSignalled(log: Logger, stop: () => Promise<void>): Promise<void> {
  return new Promise((resolve) => {
    let stopping = false;
    const onSignal = (signal: NodeJS.Signals) => {
      if (stopping) {
        log.warn({ signal }, "already stopping");
        return;
      }
      stopping = true;
      log.info({ signal }, "stopping");
      stop()
        .catch((err) => log.error({ err }, "error while stopping"))
        .finally(resolve);
    };
    process.on("SIGINT", onSignal);
    process.on("SIGTERM", onSignal);
  });
}

/** Prints one line for a fatal error and exits with the registry's code. */
export function die(err: unknown): never {
  const { line, exitCode } = formatFatal(err);
  process.stderr.write(`${line}\n`);
  process.exit(exitCode);
}
