// RED figures of a route (rate, errors, duration), tallied with its calls so that the map, the view, the
// Prometheus metrics and the OpenAPI export all read them from the one fold (issue 13: "one truth").
//
// Everything here is a sum of integers (counts, microseconds): adding the same calls in any order, or merging
// per-process tallies into per-service ones, gives the same figures to the last digit, so a replay shows what the
// live mapper showed (floating-point sums would differ in their last bits with the order).
import type { DurationHistogram, EndpointStats } from "./map-types.ts";

/**
 * Upper bounds of the duration buckets, ms: 1, 1.5, 2, 2.5, 3, 4, 5, 6 and 7.5 per decade, from 0.01 ms to 75 s.
 * Fine enough for a p99 read within ~25 %, and a superset of OBI's (Beyla's) default request-duration buckets
 * (0.005 s ... 10 s: 5, 10, 25, 50, 75, 100, 250, 500, 750, 1000, 2500, 5000, 7500, 10000 ms) so that the
 * Prometheus histogram can be given in those without re-bucketing error (PROMETHEUS_BOUNDS_MS).
 */
export const DURATION_BOUNDS_MS: readonly number[] = (() => {
  const steps = [1, 1.5, 2, 2.5, 3, 4, 5, 6, 7.5];
  const bounds: number[] = [];
  for (let exp = -2; exp <= 4; exp++) for (const s of steps) bounds.push(Number((s * 10 ** exp).toPrecision(3)));
  return bounds;
})();

/**
 * The bounds the Prometheus histogram uses, ms: OBI's default `http.server.request.duration` buckets (its
 * `otel_metrics_export.buckets.duration_histogram`), each one of DURATION_BOUNDS_MS.
 */
export const PROMETHEUS_BOUNDS_MS: readonly number[] = [5, 10, 25, 50, 75, 100, 250, 500, 750, 1000, 2500, 5000, 7500, 10000];

/** The status tallied for a call that had no response (yet, or ever): reported as "none". */
export const NO_RESPONSE = 0;

/** A call's figures as the tallies hold them: sparse, small, never mutated once made (values are shared). */
export interface CallStats {
  /** Calls by response status; NO_RESPONSE for none. */
  readonly statuses: Readonly<Record<number, number>>;
  /** Timed calls (answered) by bucket index into DURATION_BOUNDS_MS; index length: above the last bound. */
  readonly buckets: Readonly<Record<number, number>>;
  /** Sum of the timed calls' durations, µs (an integer). */
  readonly sumUs: number;
}

/**
 * One call's figures. `status`: the response's status code, or NO_RESPONSE. `durationUs`: from the request's
 * first byte to the response's last byte, µs, or null when not answered. A negative duration (clocks of two CPUs
 * a few µs apart) counts as 0.
 */
export function callStats(status: number, durationUs: number | null): CallStats {
  if (durationUs === null) return { statuses: { [status]: 1 }, buckets: {}, sumUs: 0 };
  const us = Math.max(0, Math.round(durationUs));
  return { statuses: { [status]: 1 }, buckets: { [bucketOf(us / 1000)]: 1 }, sumUs: us };
}

/** a + b, new object (commutative, associative; arguments untouched). */
export function mergeStats(a: CallStats, b: CallStats): CallStats {
  return { statuses: addCounts(a.statuses, b.statuses), buckets: addCounts(a.buckets, b.buckets), sumUs: a.sumUs + b.sumUs };
}

/** The map's (and the view's) form: status codes as strings ("none" for no response), dense buckets. */
export function endpointStats(stats: CallStats): EndpointStats {
  const status_codes: Record<string, number> = {};
  let errors = 0;
  for (const code of Object.keys(stats.statuses).map(Number).sort((x, y) => x - y)) {
    const n = stats.statuses[code]!;
    status_codes[code === NO_RESPONSE ? "none" : String(code)] = n;
    if (isError(code)) errors += n;
  }
  const counts = new Array<number>(DURATION_BOUNDS_MS.length + 1).fill(0);
  let count = 0;
  for (const [i, n] of Object.entries(stats.buckets)) {
    counts[Number(i)] = n;
    count += n;
  }
  const duration: DurationHistogram = { bounds_ms: DURATION_BOUNDS_MS, counts, count, sum_ms: stats.sumUs / 1000 };
  return { status_codes, errors, duration, p50_ms: durationQuantileMs(duration, 0.5), p99_ms: durationQuantileMs(duration, 0.99) };
}

/**
 * An error for RED: a 5xx response, or none (the connection closed or reset before one). 4xx are the client's
 * errors, not the server's: OpenTelemetry's HTTP semantic conventions mark a server span as failed on 5xx only,
 * and Linkerd and Istio count success rate the same way.
 */
export function isError(status: number): boolean {
  return status === NO_RESPONSE || status >= 500;
}

/**
 * The q-quantile (0..1) of `h`, ms, interpolated linearly inside its bucket as Prometheus's histogram_quantile
 * does (the first bucket starts at 0; a quantile in the bucket above the last bound is that bound). null when no
 * call was timed.
 */
export function durationQuantileMs(h: DurationHistogram, q: number): number | null {
  if (h.count === 0) return null;
  const rank = q * h.count;
  let below = 0;
  for (let i = 0; i < h.counts.length; i++) {
    const n = h.counts[i]!;
    if (n > 0 && below + n >= rank) {
      if (i >= h.bounds_ms.length) return h.bounds_ms[h.bounds_ms.length - 1]!;
      const lower = i === 0 ? 0 : h.bounds_ms[i - 1]!;
      const upper = h.bounds_ms[i]!;
      return Number((lower + ((upper - lower) * (rank - below)) / n).toPrecision(4));
    }
    below += n;
  }
  return h.bounds_ms[h.bounds_ms.length - 1]!;
}

/** Adds two histograms of the same bounds (a service's edge from its endpoints' histograms). */
export function mergeHistograms(a: DurationHistogram, b: DurationHistogram): DurationHistogram {
  return { bounds_ms: a.bounds_ms, counts: a.counts.map((n, i) => n + (b.counts[i] ?? 0)), count: a.count + b.count, sum_ms: (Math.round(a.sum_ms * 1000) + Math.round(b.sum_ms * 1000)) / 1000 };
}

/** The bucket of a duration, ms: the first bound at or above it (Prometheus `le`), else DURATION_BOUNDS_MS.length. */
function bucketOf(ms: number): number {
  let lo = 0;
  let hi = DURATION_BOUNDS_MS.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (DURATION_BOUNDS_MS[mid]! >= ms) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

function addCounts(a: Readonly<Record<number, number>>, b: Readonly<Record<number, number>>): Record<number, number> {
  const sum: Record<number, number> = { ...a };
  for (const [k, n] of Object.entries(b)) sum[Number(k)] = (sum[Number(k)] ?? 0) + n;
  return sum;
}
