import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { callStats, DURATION_BOUNDS_MS, durationQuantileMs, endpointStats, isError, mergeStats, NO_RESPONSE, PROMETHEUS_BOUNDS_MS } from "../src/core/call-stats.ts";

describe("call stats (issue 13: RED figures from the fold)", () => {
  it("has ascending bounds that include every Prometheus (OBI default) bound", () => {
    for (let i = 1; i < DURATION_BOUNDS_MS.length; i++) expect(DURATION_BOUNDS_MS[i]).toBeGreaterThan(DURATION_BOUNDS_MS[i - 1]!);
    for (const b of PROMETHEUS_BOUNDS_MS) expect(DURATION_BOUNDS_MS).toContain(b);
    expect(DURATION_BOUNDS_MS[0]).toBe(0.01);
    expect(DURATION_BOUNDS_MS.at(-1)).toBe(75000);
  });

  it("counts 5xx and unanswered calls as errors, not 4xx", () => {
    expect([200, 302, 404, 499, 500, 503, NO_RESPONSE].map(isError)).toEqual([false, false, false, false, true, true, true]);
    const s = endpointStats([callStats(200, 1000), callStats(404, 2000), callStats(503, 3000), callStats(NO_RESPONSE, null)].reduce(mergeStats));
    expect(s.status_codes).toEqual({ none: 1, "200": 1, "404": 1, "503": 1 });
    expect(s.errors).toBe(2);
    expect(s.duration.count).toBe(3); // the unanswered call is not timed
    expect(s.duration.sum_ms).toBe(6);
  });

  it("puts a duration in the first bucket whose bound is at or above it (Prometheus le)", () => {
    const at = (ms: number) => endpointStats(callStats(200, ms * 1000)).duration.counts.findIndex((n) => n === 1);
    expect(DURATION_BOUNDS_MS[at(5)]).toBe(5);
    expect(DURATION_BOUNDS_MS[at(5.001)]).toBe(6);
    expect(at(0)).toBe(0);
    expect(at(100_000)).toBe(DURATION_BOUNDS_MS.length); // above the last bound
    expect(endpointStats(callStats(200, -3)).duration.sum_ms).toBe(0); // two CPUs' clocks: never negative
  });

  it("reads quantiles as histogram_quantile does", () => {
    // 100 calls: 50 at 1 ms, 49 at 10 ms, 1 at 1 s.
    const calls = [...Array(50).fill(1), ...Array(49).fill(10), 1000].map((ms: number) => callStats(200, ms * 1000));
    const s = endpointStats(calls.reduce(mergeStats));
    expect(s.p50_ms).toBe(1); // rank 50 is the last of the (0.75, 1] bucket
    expect(s.p99_ms).toBe(10); // rank 99 is the last of the (7.5, 10] bucket
    expect(durationQuantileMs(s.duration, 1)).toBe(1000);
    expect(endpointStats(callStats(NO_RESPONSE, null)).p50_ms).toBeNull();
  });

  it("gives the same figures whatever the order the calls are added in (integer sums)", () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.constantFrom(200, 201, 404, 500, NO_RESPONSE), fc.double({ min: 0, max: 1e8, noNaN: true })), { minLength: 1, maxLength: 40 }), (calls) => {
        const stats = calls.map(([status, us]) => callStats(status, status === NO_RESPONSE ? null : us));
        const forward = endpointStats(stats.reduce(mergeStats));
        const backward = endpointStats([...stats].reverse().reduce(mergeStats));
        expect(backward).toEqual(forward);
        expect(forward.duration.counts.reduce((a, b) => a + b, 0)).toBe(forward.duration.count);
      }),
    );
  });
});
