// The one retry/backoff used for everything a service needs from the broker at start (connection, streams,
// consumers): the delays it waits, that it keeps going until success, and its two ways out (the bound, a stop).
import { setTimeout as sleep } from "node:timers/promises";
import { describe, expect, it, vi } from "vitest";
import { AdiError } from "../src/errors.ts";
import { backoffDelayMs, isAbort, retryWithBackoff, sleepOrAbort } from "../src/nats/retry.ts";

describe("backoffDelayMs", () => {
  it("doubles from 200 ms up to the 5 s cap (no jitter at random 0.5)", () => {
    expect([1, 2, 3, 4, 5, 6, 7, 50].map((n) => backoffDelayMs(n, {}, 0.5))).toEqual([200, 400, 800, 1600, 3200, 5000, 5000, 5000]);
  });

  it("spreads by ±20% at the extremes of the random draw", () => {
    expect(backoffDelayMs(3, {}, 0)).toBe(640);
    expect(backoffDelayMs(3, {}, 0.999999)).toBe(960);
    expect(backoffDelayMs(6, {}, 0.999999)).toBe(6000); // the cap is spread too: instances stay out of step
  });

  it("follows another policy, never goes negative, and survives a very long outage (no Infinity, no NaN)", () => {
    expect(backoffDelayMs(3, { initialMs: 10, factor: 3, maxMs: 1000, jitter: 0 }, 0.1)).toBe(90);
    expect(backoffDelayMs(0, { jitter: 0 })).toBe(200);
    expect(backoffDelayMs(1_000_000, { jitter: 1 }, 0)).toBe(0);
    expect(backoffDelayMs(10_000, {}, 0.5)).toBe(5000);
  });
});

describe("retryWithBackoff", () => {
  it("retries a failing attempt until it succeeds, telling onRetry each failure and its wait", async () => {
    const seen: [string, number, number][] = [];
    let calls = 0;
    const value = await retryWithBackoff(
      async (failures) => {
        expect(failures).toBe(calls);
        if (++calls < 4) throw new Error(`timeout ${calls}`);
        return "consumer";
      },
      { what: "follow ADI_DERIVED", initialMs: 1, maxMs: 4, jitter: 0, onRetry: (err, failures, delay) => seen.push([(err as Error).message, failures, delay]) },
    );
    expect(value).toBe("consumer");
    expect(seen).toEqual([
      ["timeout 1", 1, 1],
      ["timeout 2", 2, 2],
      ["timeout 3", 3, 4],
    ]);
  });

  it("gives up at the bound with one AdiError naming what and the last error (ADI_ERR_NOT_FOLLOWING, exit 5)", async () => {
    const started = performance.now();
    const err = await retryWithBackoff(() => Promise.reject(new Error("TimeoutError: timeout")), { what: "follow ADI_FACTS", timeoutMs: 300, initialMs: 20, maxMs: 50 }).catch((e: unknown) => e);
    const took = performance.now() - started;
    expect(err).toBeInstanceOf(AdiError);
    expect((err as AdiError).code).toBe("ADI_ERR_NOT_FOLLOWING");
    expect((err as AdiError).exitCode).toBe(5);
    expect((err as AdiError).message).toBe("follow ADI_FACTS: not done within 300 ms: TimeoutError: timeout");
    expect(took).toBeGreaterThanOrEqual(290);
    expect(took).toBeLessThan(1000); // the last wait is cut to the bound, not a full backoff past it
  });

  it("uses the code it is given", async () => {
    const err = await retryWithBackoff(() => Promise.reject(new Error("x")), { what: "connect", timeoutMs: 0, code: "ADI_ERR_NATS_UNREACHABLE" }).catch((e: unknown) => e);
    expect((err as AdiError).code).toBe("ADI_ERR_NATS_UNREACHABLE");
  });

  it("stops at once when aborted during a wait, with the signal's reason, and attempts no more", async () => {
    const abort = new AbortController();
    const attempt = vi.fn(() => Promise.reject(new Error("no responders")));
    const running = retryWithBackoff(attempt, { what: "create the streams", signal: abort.signal, initialMs: 10_000, jitter: 0 });
    await sleep(50);
    const reason = new Error("SIGTERM");
    const started = performance.now();
    abort.abort(reason);
    await expect(running).rejects.toBe(reason);
    expect(performance.now() - started).toBeLessThan(100);
    expect(attempt).toHaveBeenCalledTimes(1);
    expect(isAbort(reason, abort.signal)).toBe(true);
  });

  it("does not start when already aborted, and an abort during an attempt wins over its failure", async () => {
    const abort = new AbortController();
    abort.abort();
    const attempt = vi.fn(() => Promise.resolve(1));
    await expect(retryWithBackoff(attempt, { what: "x", signal: abort.signal })).rejects.toMatchObject({ name: "AbortError" });
    expect(attempt).not.toHaveBeenCalled();

    const during = new AbortController();
    const p = retryWithBackoff(
      async () => {
        during.abort(new Error("stop"));
        throw new Error("timeout");
      },
      { what: "x", signal: during.signal },
    );
    await expect(p).rejects.toThrow("stop");
  });

  it("rethrows at once, as it is, a failure retryIf refuses, and retries the ones it accepts", async () => {
    const refusal = new Error("Authorization Violation");
    const seen: string[] = [];
    let calls = 0;
    const err = await retryWithBackoff(
      () => Promise.reject(++calls < 3 ? new Error("timeout") : refusal),
      { what: "x", initialMs: 1, jitter: 0, retryIf: (e) => (e as Error).message === "timeout", onRetry: (e) => seen.push((e as Error).message) },
    ).catch((e: unknown) => e);
    expect(err).toBe(refusal);
    expect(calls).toBe(3);
    expect(seen).toEqual(["timeout", "timeout"]);
  });

  it("rejects past the bound with the last error itself when asked (rethrowAtTimeout); timeoutMs 0 is one attempt", async () => {
    const attempt = vi.fn(() => Promise.reject(new Error("no suitable peers for placement")));
    const err = await retryWithBackoff(attempt, { what: "x", timeoutMs: 0, rethrowAtTimeout: true }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Error);
    expect(err).not.toBeInstanceOf(AdiError);
    expect((err as Error).message).toBe("no suitable peers for placement");
    expect(attempt).toHaveBeenCalledTimes(1);
  });

  it("sleepOrAbort waits the time, or rejects with the signal's reason as soon as it aborts", async () => {
    let started = performance.now();
    await sleepOrAbort(60);
    expect(performance.now() - started).toBeGreaterThanOrEqual(55);
    const abort = new AbortController();
    const reason = new Error("SIGTERM");
    setTimeout(() => abort.abort(reason), 30);
    started = performance.now();
    await expect(sleepOrAbort(10_000, abort.signal)).rejects.toBe(reason);
    expect(performance.now() - started).toBeLessThan(1000);
  });

  it("isAbort tells a stop from a failure", () => {
    expect(isAbort(new Error("timeout"))).toBe(false);
    expect(isAbort(Object.assign(new Error("aborted"), { name: "AbortError" }))).toBe(true);
  });
});
