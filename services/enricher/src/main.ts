// The enricher service: keeps ENV_OUTPUT_PATH written from the process facts, and, when a container runtime
// socket is configured (CONTAINERD_SOCKET, else DOCKER_HOST), publishes container identities as facts, so the
// mapper (and any replay) can name services by their compose service and image without asking a runtime.
import type { NatsConnection } from "@nats-io/transport-node";
import { jetstream } from "@nats-io/jetstream";
import type { Logger } from "pino";
import type { AdiConfig } from "@adi/shared/config";
import { follow } from "@adi/shared/nats/consume";
import { readBootId } from "@adi/shared/host";
import { ensureStreams } from "@adi/shared/nats/streams";
import { decodeFact, encodeFact, nsToIso } from "@adi/shared/wire/facts";
import { FACTS_STREAM, factSubject, factsFilter, sanitizeToken } from "@adi/shared/wire/subjects";
import { AtomicFileWriter } from "@adi/mapper/adapters/output-file";
import { EnvInventory } from "./core/env-inventory.ts";
import { ContainerLedger, containerFact } from "./core/container-facts.ts";
import type { ContainerEvent } from "./core/container-facts.ts";
import { openRuntime } from "./adapters/runtime.ts";
import type { ContainerRuntime } from "./adapters/runtime.ts";

export const RESYNC_MS = 30_000;

export interface Enricher {
  inventory: EnvInventory;
  runtime: string | null;
  /** Lists the runtime now and publishes what changed (also done on events and every RESYNC_MS). */
  resync(): Promise<void>;
  flush(): Promise<void>;
  stop(): Promise<void>;
}

export async function startEnricher(cfg: AdiConfig, nc: NatsConnection, log: Logger): Promise<Enricher> {
  await ensureStreams(nc, { maxAgeMs: cfg.streamMaxAgeMs, maxBytes: cfg.streamMaxBytes, replicas: cfg.streamReplicas });
  const inventory = new EnvInventory();
  const writer = new AtomicFileWriter(cfg.envOutputPath, { onError: (err) => log.error({ err }, "could not write ENV_OUTPUT_PATH; will retry") });
  const abort = new AbortController();
  const following = follow(nc, FACTS_STREAM, factsFilter("process"), (m) => {
    try {
      const fact = decodeFact(m.data);
      if (fact.type !== "process") return;
      const before = inventory.version;
      inventory.add(fact);
      if (inventory.version !== before) writer.schedule(() => inventory.render());
    } catch (err) {
      log.warn({ err: (err as Error).message, seq: m.seq }, "invalid process fact skipped");
    }
  }, abort.signal).catch((err) => log.error({ err }, "enricher stopped following the facts"));

  // Container identities
  const socket = cfg.containerdSocket ?? cfg.dockerSocket;
  let runtime: ContainerRuntime | null = null;
  const ledger = new ContainerLedger();
  const js = jetstream(nc);
  const host = sanitizeToken(cfg.host);
  const bootId = readBootId();
  const publish = async (identity: Parameters<typeof containerFact>[0], event: ContainerEvent) => {
    if (event !== "destroy" && !ledger.changed(identity)) return;
    if (event === "destroy") ledger.forget(identity.container_id);
    const fact = containerFact(identity, event, { ts: nsToIso(BigInt(Date.now()) * 1_000_000n), host, bootId });
    await js.publish(factSubject(host, "container"), encodeFact(fact));
  };
  const resync = async () => {
    if (!runtime) return;
    try {
      for (const identity of await runtime.list()) await publish(identity, "snapshot");
    } catch (err) {
      log.warn({ err: (err as Error).message }, "container runtime list failed; will retry");
    }
  };
  let stopWatch: (() => void) | undefined;
  let resyncTimer: NodeJS.Timeout | undefined;
  if (socket) {
    runtime = await openRuntime(socket, { namespace: cfg.containerdNamespace, log });
    await resync();
    stopWatch = runtime.watch(
      (e) => {
        if (!e.identity) {
          ledger.forget(e.id); // gone: a container that ran still names the calls it made
          return;
        }
        publish(e.identity, e.action).catch((err) => log.warn({ err: (err as Error).message }, "could not publish a container event"));
      },
      { onReconnect: () => void resync() },
    );
    resyncTimer = setInterval(() => void resync(), RESYNC_MS);
    log.info({ socket, runtime: runtime.kind }, "container enrichment on");
  }
  log.info({ envOutputPath: cfg.envOutputPath }, "enricher ready");

  return {
    inventory,
    runtime: runtime?.kind ?? null,
    resync,
    flush: () => writer.flush(),
    async stop() {
      clearInterval(resyncTimer);
      stopWatch?.();
      runtime?.close();
      abort.abort();
      await following;
      await writer.close();
    },
  };
}
