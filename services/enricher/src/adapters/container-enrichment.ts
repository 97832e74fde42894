// The container side of the enricher: finds the engine behind the configured socket (waiting for it, with
// backoff, when it is not there yet: a runtime is never a reason to stop), lists what it runs, follows its
// events, re-lists every resync period and after a reconnect, and publishes identities as container facts.
// What to publish is decided by the pure core (core/container-facts.ts, core/runtime-events.ts).
import type { Logger } from "pino";
import { isAbort, retryWithBackoff } from "@adi/shared/nats";
import { ContainerLedger, containerFact, factEvent, removedIdentity, vanishedEvent } from "../core/container-facts.ts";
import type { ContainerEvent } from "../core/container-facts.ts";
import type { ContainerIdentity } from "../core/identity.ts";
import type { RuntimeAction } from "../core/runtime-events.ts";
import { openRuntime } from "./runtime.ts";
import type { ContainerRuntime, RuntimeEvent } from "./runtime.ts";

/** Docker's own re-list period in the reference profiler; also the bound on a missed event's effect. */
export const RESYNC_MS = 30_000;

/** The fact's event for an engine event whose container could be inspected. */
const FACT_EVENT: Readonly<Record<Exclude<RuntimeAction, "destroy">, ContainerEvent>> = {
  start: "start",
  die: "die",
  change: "snapshot",
};

export interface ContainerEnrichmentOptions {
  /** The engine's socket (CONTAINERD_SOCKET or DOCKER_HOST's path); the engine is detected. */
  readonly socket: string;
  /** containerd only: the one namespace to query (CONTAINERD_NAMESPACE). */
  readonly namespace?: string | undefined;
  /** Publishes one fact (to adi.facts.v1.<host>.container); a rejection is logged and the fact retried at the next resync. */
  readonly publish: (fact: ReturnType<typeof containerFact>) => Promise<void>;
  /** Stamps a fact: publishing time, host, boot id. */
  readonly stamp: () => { ts: string; host: string; bootId: string };
  readonly log: Logger;
  /** Default RESYNC_MS. */
  readonly resyncMs?: number;
  /** Backoff while the socket does not answer: first and longest delay, ms (default 500 and 5,000). */
  readonly retryInitialMs?: number;
  readonly retryMaxMs?: number;
}

export interface ContainerEnrichment {
  /** The engine found ("docker", "podman", "containerd"), or null while none answered yet. */
  readonly runtime: string | null;
  /** Settles when the engine was first listed (never rejects; stays pending while the socket is missing). */
  readonly ready: Promise<void>;
  /**
   * Settles after the first attempt: true once the engine answered and was listed, false when it did not answer
   * (it is still retried). A service awaits it to start as before when the engine is there, without waiting
   * (or dying) when it is not.
   */
  readonly firstAttempt: Promise<boolean>;
  /** Lists the engine now and publishes what changed, including containers it no longer lists. */
  resync(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Starts the container side and returns at once: the engine is looked for in the background, retried with
 * backoff (500 ms doubling to 5 s) for as long as it does not answer, each failure logged at warn (the first
 * and every change of reason; then at debug). Never throws.
 */
export function startContainerEnrichment(opts: ContainerEnrichmentOptions): ContainerEnrichment {
  const { log } = opts;
  const abort = new AbortController();
  const ledger = new ContainerLedger();
  let runtime: ContainerRuntime | null = null;
  let stopWatch: (() => void) | undefined;
  let timer: NodeJS.Timeout | undefined;

  const publish = async (identity: ContainerIdentity, event: ContainerEvent): Promise<void> => {
    const previous = ledger.last(identity.container_id);
    if (!ledger.changed(identity)) return;
    try {
      await opts.publish(containerFact(identity, factEvent(previous, identity, event), opts.stamp()));
    } catch (err) {
      // Not published: the ledger goes back to what was, so the next resync sees the difference and tries again
      // (forgetting instead would lose a container that stopped: unlisted and unknown, it would never be marked).
      if (previous) ledger.changed(previous);
      else ledger.forget(identity.container_id);
      throw err;
    }
    if (identity.state === "removed") ledger.forget(identity.container_id);
  };

  /** A container the engine no longer knows: its last identity, removed (nothing when it was never published). */
  const removed = async (id: string): Promise<void> => {
    const last = ledger.last(id);
    if (last && last.state !== "removed") await publish(removedIdentity(last), "destroy");
  };

  // One resync at a time; a request during one runs once more after it (the engine may have changed meanwhile).
  let running: Promise<void> | null = null;
  let again = false;
  const resyncOnce = async (): Promise<void> => {
    const rt = runtime;
    if (!rt) return;
    const { changed, missing } = ledger.plan(await rt.list());
    for (const identity of changed) await publish(identity, "snapshot");
    for (const last of missing) {
      const inspected = await rt.inspect(last.container_id);
      const event = vanishedEvent(inspected);
      if (event === "destroy") await removed(last.container_id);
      else await publish(inspected!, event);
    }
  };
  const resync = (): Promise<void> => {
    if (running) {
      again = true;
      return running;
    }
    running = (async () => {
      do {
        again = false;
        try {
          await resyncOnce();
        } catch (err) {
          log.warn({ err: (err as Error).message }, "container runtime resync failed; will retry");
        }
      } while (again && !abort.signal.aborted);
      running = null;
    })();
    return running;
  };

  const onEvent = (e: RuntimeEvent): void => {
    // A change (network (dis)connect, pause, rename) updates a container already published; one not seen yet is
    // left to its start event or the resync (Docker connects a new container to its networks before its start:
    // publishing it then would take the place of its start fact).
    if (e.action === "change" && !ledger.last(e.id)) return;
    const done =
      e.action === "destroy" || !e.identity
        ? removed(e.id) // gone before it could be inspected: as good as removed
        : publish(e.identity, FACT_EVENT[e.action]);
    done.catch((err) => log.warn({ err: (err as Error).message }, "could not publish a container event"));
  };

  let lastReason = "";
  let settleFirst: (listed: boolean) => void = () => {};
  const firstAttempt = new Promise<boolean>((resolve) => (settleFirst = resolve));
  const ready = retryWithBackoff(
    (_failures, signal) =>
      openRuntime(opts.socket, { namespace: opts.namespace, log }).then((rt) => {
        if (signal?.aborted) {
          rt.close();
          throw signal.reason;
        }
        return rt;
      }),
    {
      what: `container runtime ${opts.socket}`,
      signal: abort.signal,
      initialMs: opts.retryInitialMs ?? 500,
      maxMs: opts.retryMaxMs ?? 5_000,
      onRetry: (err, failures, delayMs) => {
        settleFirst(false);
        const reason = (err as Error).message;
        const fields = { socket: opts.socket, failures, retryInMs: Math.round(delayMs), err: reason };
        // A socket that is simply not there yet (podman's idle service, an engine still starting) is expected:
        // say it once, not every few seconds.
        if (reason !== lastReason) log.warn(fields, "container runtime not reachable; will retry");
        else log.debug(fields, "container runtime still not reachable");
        lastReason = reason;
      },
    },
  ).then(
    async (rt) => {
      runtime = rt;
      log.info({ socket: opts.socket, runtime: rt.kind }, "container enrichment on");
      await resync();
      settleFirst(true);
      if (abort.signal.aborted) return;
      stopWatch = rt.watch(onEvent, { onReconnect: () => void resync() });
      timer = setInterval(() => void resync(), opts.resyncMs ?? RESYNC_MS);
    },
    (err: unknown) => {
      settleFirst(false);
      if (!isAbort(err, abort.signal)) log.error({ err: (err as Error).message }, "container enrichment gave up");
    },
  );

  return {
    get runtime() {
      return runtime?.kind ?? null;
    },
    ready,
    firstAttempt,
    resync,
    async stop() {
      abort.abort();
      await ready;
      clearInterval(timer);
      stopWatch?.();
      await running;
      runtime?.close();
    },
  };
}
