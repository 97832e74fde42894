// What the runtime adapters share around their event streams: the reconnect loop (engines restart: upgrades,
// crashes; an enricher that silently stops hearing about containers is worse than one that fails), the ordered
// hand-off of events with their inspection, and noticing that a stream ended.
import { backoffDelayMs, retryWithBackoff, sleepOrAbort } from "@adi/shared/nats";
import type { ContainerIdentity } from "../core/identity.ts";
import type { RuntimeAction, RuntimeEvent, RuntimeLog, WatchOptions } from "./runtime-port.ts";

/** Delays between attempts to open a stream: 250 ms doubling to 10 s, no jitter (one enricher per engine). */
const RECONNECT = { initialMs: 250, maxMs: 10_000, jitter: 0 } as const;

/**
 * Keeps one stream open: `open` connects and resolves once it is established, with `lost`, a promise that
 * settles when the stream ends (wrapped in an object: a promise resolved with a promise would wait for it).
 * Failed opens are retried with the shared backoff (retryWithBackoff, RECONNECT) and told to `onError`; a stream
 * lost is reopened 250 ms later. Runs until the returned function stops it; `onReconnect` fires on every
 * re-establishment (any earlier attempt, failed or lost, may have missed events).
 */
export function keepStreaming(
  open: (signal: AbortSignal) => Promise<{ lost: Promise<void> }>,
  options: WatchOptions = {},
): () => void {
  const controller = new AbortController();
  const { signal } = controller;
  const loop = async () => {
    let first = true;
    while (!signal.aborted) {
      const { lost } = await retryWithBackoff(
        async (failures) => {
          const opened = await open(signal);
          if (!first || failures > 0) options.onReconnect?.();
          return opened;
        },
        { what: "open the runtime's event stream", signal, ...RECONNECT, onRetry: (err) => options.onError?.(err) },
      );
      first = false;
      await lost;
      await sleepOrAbort(backoffDelayMs(1, RECONNECT), signal);
    }
  };
  // Ends only by the stop (retryWithBackoff and the wait reject with the abort's reason).
  loop().catch(() => undefined);
  return () => controller.abort();
}

/** The watch options a caller gave, with the adapter's log standing in for missing handlers. */
export function withLog(options: WatchOptions, log: RuntimeLog | undefined, what: string): WatchOptions {
  return {
    onError: options.onError ?? ((err) => log?.warn({ err: (err as Error)?.message ?? String(err) }, `${what}: watch error (it carries on)`)),
    onReconnect: options.onReconnect ?? (() => log?.info({}, `${what}: event stream reconnected`)),
  };
}


/**
 * Hands events on in the engine's order, each with the container's identity inspected first (none for a
 * destroy). A failed inspection or a throwing handler is reported to onError and never ends the chain.
 */
export function inspectInOrder(
  inspect: (id: string, namespace: string | null) => Promise<ContainerIdentity | null>,
  onEvent: (event: RuntimeEvent) => void,
  onError: (err: unknown) => void = () => {},
): (action: RuntimeAction, id: string, namespace: string | null) => void {
  let queue: Promise<void> = Promise.resolve();
  return (action, id, namespace) => {
    queue = queue.then(async () => {
      let identity: ContainerIdentity | null = null;
      if (action !== "destroy") {
        try {
          identity = await inspect(id, namespace);
        } catch (err) {
          onError(err);
        }
      }
      try {
        onEvent({ action, id, namespace, identity });
      } catch (err) {
        onError(err);
      }
    });
  };
}

/** Settles when `stream` ends, closes or fails (a failure not caused by `signal` is reported). */
export function streamLost(stream: NodeJS.EventEmitter, signal: AbortSignal, onError: (err: unknown) => void = () => {}): Promise<void> {
  return new Promise<void>((resolve) => {
    stream.on("end", () => resolve());
    stream.on("close", () => resolve());
    stream.on("error", (err: unknown) => {
      if (!signal.aborted) onError(err);
      resolve();
    });
  });
}
