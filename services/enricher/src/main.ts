// The enricher service: keeps ENV_OUTPUT_PATH written from the process facts, and, when a container runtime
// socket is configured (CONTAINERD_SOCKET, else DOCKER_HOST), publishes container identities as facts, so the
// mapper (and any replay) can name services by their compose service and image without asking a runtime.
import type { NatsConnection } from "@nats-io/transport-node";
import { jetstream } from "@nats-io/jetstream";
import type { Logger } from "pino";
import type { AdiConfig } from "@adi/shared";
import { followStream, retryWithBackoff, ensureStreams } from "@adi/shared/nats";
import { readBootId, OutputFiles, checkOutputPath } from "@adi/shared";
import { decodeFact, encodeFact, nsToIso, FACTS_STREAM, factSubject, factsFilter, sanitizeToken } from "@adi/shared/wire";
import { RedactionPolicy } from "@adi/shared/redaction";
import { EnvInventory } from "./core/env-inventory.ts";
import { envInventoryProjection } from "./core/env-projection.ts";
import { startContainerEnrichment } from "./adapters/container-enrichment.ts";

export { RESYNC_MS } from "./adapters/container-enrichment.ts";

export interface Enricher {
  inventory: EnvInventory;
  runtime: string | null;
  /**
   * Process facts taken, messages that did not decode, and the messages stored after the last one handled (its
   * `info.pending` when delivered: the consumer lag the metrics show).
   */
  counters(): { facts: number; invalid: number; pending: number };
  /** Lists the runtime now and publishes what changed (also done on events and every RESYNC_MS). */
  resync(): Promise<void>;
  flush(): Promise<void>;
  stop(): Promise<void>;
}

export interface StartOptions {
  /** Aborts a start still waiting for the broker (SIGTERM while starting): startEnricher rejects with its reason. */
  signal?: AbortSignal;
}

/**
 * Starts the enricher; resolves once it follows the process facts (logged `enricher ready`). Creating the streams
 * and the consumer is retried with backoff for cfg.startTimeoutMs, then rejects with AdiError ADI_ERR_NOT_FOLLOWING;
 * an unusable ENV_OUTPUT_PATH rejects at once with ADI_ERR_OUTPUT_PATH. Once ready, a consumer that fails is
 * re-created until stopped.
 */
export async function startEnricher(cfg: AdiConfig, nc: NatsConnection, log: Logger, opts: StartOptions = {}): Promise<Enricher> {
  checkOutputPath("ENV_OUTPUT_PATH", cfg.envOutputPath);
  const startedAt = performance.now();
  const left = () => Math.max(1, cfg.startTimeoutMs - (performance.now() - startedAt));
  await retryWithBackoff(() => ensureStreams(nc, { maxAgeMs: cfg.streamMaxAgeMs, maxBytes: cfg.streamMaxBytes, replicas: cfg.streamReplicas }, 0), {
    what: "create the streams",
    signal: opts.signal,
    timeoutMs: left(),
    onRetry: (err, failures, retryInMs) => log.warn({ err: (err as Error).message, failures, retryInMs }, "could not create the streams; will retry"),
  });
  const inventory = new EnvInventory({ all: cfg.envOutputAll, redaction: RedactionPolicy.fromConfig(cfg) });
  const files = await OutputFiles.open([{ path: cfg.envOutputPath, variable: "ENV_OUTPUT_PATH", projection: envInventoryProjection(inventory) }], {
    onError: (err, variable) => log.error({ err, variable }, `could not write ${variable}; will retry`),
  });
  const abort = new AbortController();
  // A stop during the start stops the retries too; once ready, only stop() does.
  const onStartAbort = () => abort.abort(opts.signal?.reason);
  opts.signal?.addEventListener("abort", onStartAbort, { once: true });
  const counters = { facts: 0, invalid: 0, pending: 0 };
  const facts = followStream(nc, FACTS_STREAM, factsFilter("process"), (m) => {
    counters.pending = m.info.pending;
    try {
      const fact = decodeFact(m.data);
      if (fact.type !== "process") return;
      inventory.add(fact);
      counters.facts++;
      files.changed(); // written only when the inventory's version moved
    } catch (err) {
      counters.invalid++;
      log.warn({ err: (err as Error).message, seq: m.seq }, "invalid process fact skipped");
    }
  }, { signal: abort.signal, timeoutMs: left(), log });
  try {
    await facts.ready;
  } catch (err) {
    abort.abort();
    await facts.done.catch(() => undefined);
    await files.discard(); // not ready: nothing written after the start failed
    throw err;
  } finally {
    opts.signal?.removeEventListener("abort", onStartAbort);
  }
  const following = facts.done.catch((err) => log.error({ err }, "enricher stopped following the facts"));

  // Container identities: a socket with nothing behind it yet is waited for (retried with backoff), never fatal.
  const socket = cfg.containerdSocket ?? cfg.dockerSocket;
  const js = jetstream(nc);
  const host = sanitizeToken(cfg.host);
  const bootId = readBootId();
  const containers = socket
    ? startContainerEnrichment({
        socket,
        namespace: cfg.containerdNamespace,
        log,
        stamp: () => ({ ts: nsToIso(BigInt(Date.now()) * 1_000_000n), host, bootId }),
        publish: async (fact) => void (await js.publish(factSubject(host, "container"), encodeFact(fact))),
      })
    : null;
  await containers?.firstAttempt; // as before when the engine answers: its containers are published before ready
  log.info({ envOutputPath: cfg.envOutputPath }, "enricher ready");

  return {
    inventory,
    get runtime() {
      return containers?.runtime ?? null;
    },
    counters: () => ({ ...counters }),
    resync: async () => containers?.resync(),
    flush: () => files.flush(),
    async stop() {
      await containers?.stop();
      abort.abort();
      await following;
      await files.close();
    },
  };
}
