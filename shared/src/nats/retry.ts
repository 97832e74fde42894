// Retrying what a service needs from the broker before it can work (a connection, its streams, its consumers),
// with exponential backoff, until it succeeds, the service is stopped, or a start-up bound runs out. A JetStream
// request that times out once (a loaded host, a broker paused for a few seconds) is routine: giving up on it left
// the mapper "ready" and empty for a whole run (issue 10). Giving up silently is never right either: past the bound
// the caller gets an AdiError, one line and a non-zero exit, instead of a service that runs empty.
import { setTimeout as sleep } from "node:timers/promises";
import { adiError } from "../errors.ts";
import type { ErrorCode } from "../errors.ts";

export interface BackoffPolicy {
  /** First delay after a failure, ms. Default 200. */
  initialMs?: number;
  /** Longest delay, ms. Default 5000: a broker back after a pause is used within 5 s. */
  maxMs?: number;
  /** Growth per failure. Default 2. */
  factor?: number;
  /** Fraction of the delay drawn at random (±), so N instances do not retry in step. Default 0.2. */
  jitter?: number;
}

const DEFAULTS: Required<BackoffPolicy> = { initialMs: 200, maxMs: 5000, factor: 2, jitter: 0.2 };

/**
 * The wait after the `failures`-th failure (1 = the first), ms: initialMs·factor^(failures−1), capped at maxMs, then
 * spread by ±jitter (random in [0, 1); 0.5 gives the exact value). Pure. Never negative; failures < 1 counts as 1.
 */
export function backoffDelayMs(failures: number, policy: BackoffPolicy = {}, random = Math.random()): number {
  const p = { ...DEFAULTS, ...policy };
  const n = Math.max(1, Math.floor(failures));
  // Capped before the power overflows to Infinity on a long outage.
  const base = Math.min(p.maxMs, p.initialMs * p.factor ** Math.min(n - 1, 64));
  return Math.max(0, Math.round(base * (1 + p.jitter * (2 * random - 1))));
}

export interface RetryOptions extends BackoffPolicy {
  /** What is attempted, for the log and the error: "follow ADI_DERIVED", "create consumer adi-classifier-p3". */
  what: string;
  /** Aborting stops the retries at once: the promise rejects with `signal.reason`. */
  signal?: AbortSignal;
  /**
   * Gives up when no attempt succeeded within this many ms of the first: rejects with AdiError(code,
   * `<what>: not done within <N> s: <last error>`). Undefined: retries until aborted.
   */
  timeoutMs?: number;
  /** The AdiError's code at the timeout. Default ADI_ERR_NOT_FOLLOWING. */
  code?: ErrorCode;
  /** Told of each failure before the wait: log it (a warning: it is retried). */
  onRetry?: (err: unknown, failures: number, delayMs: number) => void;
  /**
   * Which failures are retried (errors.ts's classifiers: isTransient...). Any other rejects at once with the error
   * itself, untold to onRetry. Default: every failure.
   */
  retryIf?: (err: unknown) => boolean;
  /** Past `timeoutMs`, reject with the last error itself instead of the AdiError. Default false. */
  rethrowAtTimeout?: boolean;
}

/**
 * Runs `attempt` until it resolves and returns its value. After the n-th rejection it waits backoffDelayMs(n) (cut
 * short so the last attempt starts before the timeout). `attempt` gets the count of failures so far and the signal.
 * Rejects with `signal.reason` when aborted (before, between or, if the attempt honours the signal, during
 * attempts), with the AdiError above (or the last error, `rethrowAtTimeout`) once `timeoutMs` has passed since the
 * first attempt, or with a failure `retryIf` refuses, as it is.
 */
export async function retryWithBackoff<T>(
  attempt: (failures: number, signal: AbortSignal | undefined) => Promise<T>,
  opts: RetryOptions,
): Promise<T> {
  const { signal } = opts;
  const started = performance.now();
  let failures = 0;
  for (;;) {
    signal?.throwIfAborted();
    try {
      return await attempt(failures, signal);
    } catch (err) {
      signal?.throwIfAborted();
      if (opts.retryIf && !opts.retryIf(err)) throw err;
      failures++;
      const left = opts.timeoutMs === undefined ? Infinity : opts.timeoutMs - (performance.now() - started);
      if (left <= 0) {
        if (opts.rethrowAtTimeout) throw err;
        throw adiError(opts.code ?? "ADI_ERR_NOT_FOLLOWING", `${opts.what}: not done within ${formatMs(opts.timeoutMs ?? 0)}: ${messageOf(err)}`, err);
      }
      const delay = Math.min(backoffDelayMs(failures, opts), left);
      opts.onRetry?.(err, failures, delay);
      await sleepOrAbort(delay, signal);
    }
  }
}

/**
 * Waits `ms` (node:timers/promises' setTimeout); an abort of `signal` cuts it short and rejects with the signal's
 * reason (timers/promises rejects with its own AbortError, which would hide a reason the caller gave).
 */
export async function sleepOrAbort(ms: number, signal?: AbortSignal): Promise<void> {
  await sleep(ms, undefined, { signal }).catch((e: unknown) => {
    signal?.throwIfAborted();
    throw e;
  });
}

/** True when `err` is how an aborted retryWithBackoff (or any signal-aware wait) ended: a stop, not a failure. */
export function isAbort(err: unknown, signal?: AbortSignal): boolean {
  if (signal?.aborted && err === signal.reason) return true;
  // By name: node exports no AbortError class (timers/promises' and AbortSignal.abort()'s DOMException both carry
  // this name, as node's docs say to test). Not a NATS error: errors.ts has those.
  return err instanceof Error && err.name === "AbortError";
}

/** 1500 → "2 s", 300 → "300 ms": the bound as a user set it (ADI_START_TIMEOUT is in seconds or more). */
function formatMs(ms: number): string {
  return ms >= 1000 ? `${Math.round(ms / 1000)} s` : `${Math.round(ms)} ms`;
}

/** The last error's message, for the one fatal line (a JetStream timeout's name says more than its message). */
function messageOf(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  return err.message || err.name;
}
