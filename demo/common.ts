// Small helpers shared by the demo programs: settings from the environment, stderr logging, clean shutdown.
// The programs stay free of the project's own packages: they stand for arbitrary user services.

/** Subject on which http-service announces every request it served. */
export const REQUESTS_SUBJECT = "demo.requests";

/**
 * Lines the programs write to stderr when they reach a state worth waiting for; run.ts watches for them so
 * that no request is published before anyone is listening (core NATS does not keep messages).
 */
export const MARKERS = {
  natsConnected: "nats connected",
  subscribed: `subscribed to ${REQUESTS_SUBJECT}`,
} as const;

/** What http-service publishes on REQUESTS_SUBJECT. */
export interface RequestEvent {
  method: string;
  path: string;
  status: number;
  ts: string;
}

/** Per-step success counts of the traffic generator. */
export interface StepCounts {
  ok: number;
  failed: number;
}

/** The one JSON line traffic-generator prints on stdout when it ends. */
export interface GeneratorSummary {
  iterations: number;
  /** Iterations in which every step succeeded (all four HTTP calls answered 200, PostgreSQL, Redis). */
  ok: number;
  failed: number;
  steps: { http: StepCounts; postgres: StepCounts; redis: StepCounts };
}

export function envString(name: string, fallback: string): string {
  const v = process.env[name];
  return v === undefined || v === "" ? fallback : v;
}

/** A non-negative integer setting; a malformed value stops the program rather than being silently replaced. */
export function envInt(name: string, fallback: number): number {
  const v = process.env[name];
  if (v === undefined || v === "") return fallback;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new Error(`${name} must be a non-negative integer, got "${v}"`);
  return n;
}

export function log(message: string): void {
  process.stderr.write(`${message}\n`);
}

/**
 * For a client that reports every failed reconnect attempt: logs each distinct message once, until
 * `reset()` (call it when the connection is back), so a server that stays down costs one line, not hundreds.
 */
export function repeatedErrors(prefix: string): { report(message: string): void; reset(): void } {
  let last = "";
  return {
    report(message) {
      if (message === last) return;
      last = message;
      log(`${prefix}: ${message}`);
    },
    reset() {
      last = "";
    },
  };
}

export function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** Resolves after `ms`, or at once when `signal` aborts (so a stop request does not wait out an interval). */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const timer = setTimeout(done, ms);
    signal?.addEventListener("abort", done, { once: true });
    function done(): void {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    }
  });
}

/**
 * On the first SIGTERM or SIGINT, runs `close` and exits 0; a close that hangs (e.g. a broker that never
 * answers) is cut short after `graceMs` with exit code 1. Later signals are ignored: a Ctrl-C reaches the whole
 * process group, and run.ts's own SIGTERM that follows must not cut the orderly close short.
 */
export function onShutdown(close: () => Promise<void>, graceMs = 5_000): void {
  let closing = false;
  const handler = (signal: NodeJS.Signals): void => {
    if (closing) return;
    closing = true;
    log(`${signal}: shutting down`);
    setTimeout(() => {
      log(`shutdown took longer than ${graceMs} ms, exiting`);
      process.exit(1);
    }, graceMs).unref();
    close().then(
      () => process.exit(0),
      (err: unknown) => {
        log(`shutdown failed: ${errorText(err)}`);
        process.exit(1);
      },
    );
  };
  process.on("SIGTERM", handler);
  process.on("SIGINT", handler);
}
