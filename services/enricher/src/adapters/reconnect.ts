// What the runtime adapters share around their event streams: the reconnect loop (engines restart: upgrades,
// crashes; an enricher that silently stops hearing about containers is worse than one that fails), the ordered
// hand-off of events with their inspection, and noticing that a stream ended.
import type { ContainerIdentity } from "../core/identity.ts";
import type { RuntimeAction, RuntimeEvent, RuntimeLog, WatchOptions } from "./runtime.ts";

export interface Backoff {
  /** The next delay, doubling from min to max. */
  next(): number;
  reset(): void;
}

export function backoff(minMs = 250, maxMs = 10_000): Backoff {
  let delay = minMs;
  return {
    next() {
      const d = delay;
      delay = Math.min(delay * 2, maxMs);
      return d;
    },
    reset() {
      delay = minMs;
    },
  };
}

/**
 * Keeps one stream open: `open` connects and resolves once it is established, with `lost`, a promise that
 * settles when the stream ends (wrapped in an object: a promise resolved with a promise would wait for it). Retries with backoff until stopped; `onReconnect` fires on every re-establishment.
 */
export function keepStreaming(
  open: (signal: AbortSignal) => Promise<{ lost: Promise<void> }>,
  options: WatchOptions = {},
): () => void {
  const controller = new AbortController();
  const delays = backoff();
  const loop = async () => {
    let first = true;
    while (!controller.signal.aborted) {
      try {
        const { lost } = await open(controller.signal);
        // Any earlier attempt, failed or lost, may have missed events: let the caller resync.
        if (!first) options.onReconnect?.();
        first = false;
        delays.reset();
        await lost;
      } catch (err) {
        first = false;
        if (!controller.signal.aborted) options.onError?.(err);
      }
      if (!controller.signal.aborted) await sleep(delays.next(), controller.signal);
    }
  };
  void loop();
  return () => controller.abort();
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener("abort", done, { once: true });
  });
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
