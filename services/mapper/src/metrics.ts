// The mapper's metrics. RED per edge, computed at scrape time from the fold's service map (the numbers the map, the
// view and the exports show), shaped as OBI's / Tempo's service-graph metrics are (a series per client→server edge;
// here per route too):
//
//   adi_http_requests_total{source,destination,method,route,status}       counter ("none": no response)
//   adi_http_request_errors_total{source,destination,method,route}        counter (5xx and no response)
//   adi_http_request_duration_seconds{source,destination,method,route}    histogram (PROMETHEUS_BOUNDS_MS / 1000)
//   adi_connections_total{source,destination,protocol,category}           counter (classified connections)
//
// The fold keeps finer buckets (DURATION_BOUNDS_MS) and every Prometheus bound is one of them, so each cumulative
// bucket is an exact sum of fine counts, not an estimate. The fold can move a call from one series (or bucket) to
// another: a call seen first by its server's end is counted with that view (its duration, `external` as its source
// when the server cannot name the client) until the client's view comes (the pairing window, 60 s of capture time),
// which then replaces it. A series that lost a call would go down, and Prometheus reads any decrease as a counter
// reset (rate() would jump by the whole count), so each series is exposed as the most it has shown (MonotonicSeries):
// it may run ahead of the map by the calls that moved away, until new calls catch up. When a route folds (/items/1
// ... /items/21 become /items/{id}) or a name resolves late, the old series vanish and the new one carries their
// calls. Besides RED: the mapper's own counters, its consumers' lag, and the capture agents' figures from their
// stats facts (every agent publishing to the broker, by host).
import type { MetricFamily, MetricSample } from "@adi/shared";
import { agentMetricFamilies, consumerPendingFamily, histogramSamples, metricFamily } from "@adi/shared";
import { DERIVED_STREAM, FACTS_STREAM } from "@adi/shared/wire";
import { PROMETHEUS_BOUNDS_MS } from "./core/call-stats.ts";
import type { ServiceMap } from "./core/map-types.ts";
import type { Mapper } from "./main.ts";

/** The RED families' samples, from one build of the map. */
export interface RedSamples {
  requests: MetricSample[];
  errors: MetricSample[];
  duration: MetricSample[];
  connections: MetricSample[];
}

interface EdgeTally {
  labels: Record<string, string>;
  statuses: Map<string, number>;
  errors: number;
  /** Calls at or below each PROMETHEUS_BOUNDS_MS bound (cumulative). */
  buckets: number[];
  count: number;
  sumUs: number;
}

/**
 * RED samples of `map`. Entries that differ only by what the labels leave out (body schemas; a connection's port)
 * are added up, so each series appears once. Durations: seconds; _sum from the entries' sum_ms (µs-exact integers
 * added, then scaled), _count from their duration.count (answered calls: requests with status "none" are not timed).
 */
export function redSamples(map: ServiceMap): RedSamples {
  const edges = new Map<string, EdgeTally>();
  for (const service of map.services) {
    for (const e of service.endpoints) {
      const labels = { source: service.name, destination: e.destination, method: e.method, route: e.path };
      const key = JSON.stringify([labels.source, labels.destination, labels.method, labels.route]);
      let t = edges.get(key);
      if (!t) edges.set(key, (t = { labels, statuses: new Map(), errors: 0, buckets: PROMETHEUS_BOUNDS_MS.map(() => 0), count: 0, sumUs: 0 }));
      for (const [status, n] of Object.entries(e.stats.status_codes)) t.statuses.set(status, (t.statuses.get(status) ?? 0) + n);
      t.errors += e.stats.errors;
      const h = e.stats.duration;
      // Cumulative: the fine counts at or below each coarse bound (each coarse bound is a fine one: exact).
      let below = 0;
      let i = 0;
      PROMETHEUS_BOUNDS_MS.forEach((le, j) => {
        while (i < h.bounds_ms.length && h.bounds_ms[i]! <= le) below += h.counts[i++] ?? 0;
        t.buckets[j]! += below;
      });
      t.count += h.count;
      t.sumUs += Math.round(h.sum_ms * 1000);
    }
  }
  const out: RedSamples = { requests: [], errors: [], duration: [], connections: [] };
  for (const t of edges.values()) {
    for (const [status, n] of t.statuses) out.requests.push({ labels: { ...t.labels, status }, value: n });
    out.errors.push({ labels: t.labels, value: t.errors });
    const buckets = PROMETHEUS_BOUNDS_MS.map((le, j) => [le / 1000, t.buckets[j]!] as const);
    out.duration.push(...histogramSamples(t.labels, buckets, t.sumUs / 1e6, t.count));
  }
  const connections = new Map<string, MetricSample>();
  for (const service of map.services) {
    for (const c of service.connections) {
      const labels = { source: service.name, destination: c.destination, protocol: c.protocol, category: c.category };
      const key = JSON.stringify([labels.source, labels.destination, labels.protocol, labels.category]);
      connections.set(key, { labels, value: (connections.get(key)?.value ?? 0) + c.count });
    }
  }
  out.connections = [...connections.values()];
  return out;
}

/**
 * Keeps a counter's series from going down: each sample is exposed as the most its series has shown, and a series
 * absent from one call is forgotten (a series that comes back starts again from what it then holds). For a
 * histogram, the guarded cumulative buckets stay cumulative (the max of two non-decreasing sequences is one), and
 * the +Inf bucket and _count stay equal.
 */
export class MonotonicSeries {
  #last = new Map<string, number>();

  /** `samples` with every value raised to its series' last exposed value where it is lower. */
  apply(samples: readonly MetricSample[]): MetricSample[] {
    const next = new Map<string, number>();
    const out = samples.map((s) => {
      const key = `${s.suffix ?? ""}${JSON.stringify(Object.entries(s.labels))}`;
      const value = Math.max(s.value, this.#last.get(key) ?? -Infinity);
      next.set(key, value);
      return value === s.value ? s : { ...s, value };
    });
    this.#last = next;
    return out;
  }
}

/** The four RED families, reading `red()` at each scrape (one map build for all four: see mapperMetricFamilies). */
export function redMetricFamilies(red: () => RedSamples): MetricFamily[] {
  return [
    { name: "adi_http_requests_total", type: "counter", help: "HTTP calls by source (client) and destination (server) service, method, route and response status (none: no response).", samples: () => red().requests },
    { name: "adi_http_request_errors_total", type: "counter", help: "HTTP calls answered 5xx or not answered, by source, destination, method and route.", samples: () => red().errors },
    {
      name: "adi_http_request_duration_seconds",
      type: "histogram",
      help: "Duration of answered HTTP calls (request's first byte to response's last byte, as the client's end saw it, else the server's), by source, destination, method and route.",
      samples: () => red().duration,
    },
    { name: "adi_connections_total", type: "counter", help: "Classified non-HTTP connections (database, cache, message bus) by source, destination, protocol and category.", samples: () => red().connections },
  ];
}

type Counters = ReturnType<Mapper["counters"]>;

/** The mapper's own counters: name, help, value. */
const COUNTERS: readonly (readonly [string, string, (c: Counters) => number])[] = [
  ["adi_mapper_facts_total", "Facts taken from ADI_FACTS.", (c) => c.facts],
  ["adi_mapper_batches_total", "Derived batches taken from ADI_DERIVED.", (c) => c.batches],
  ["adi_mapper_invalid_messages_total", "Facts or derived batches that did not decode, skipped.", (c) => c.invalid],
  ["adi_mapper_observations_total", "Observations taken into the fold (redeliveries excluded).", (c) => c.observations],
  ["adi_mapper_duplicate_observations_total", "Observations taken before (redelivered, or stored twice), ignored.", (c) => c.duplicates],
  ["adi_mapper_late_observations_total", "Observations that arrived after their log lines' time was final (appended out of order).", (c) => c.late],
  ["adi_mapper_bad_time_total", "Facts or observations dropped for a capture time outside the sane window.", (c) => c.bad_time],
  ["adi_mapper_unpaired_late_total", "Views of a call that came after its pairing window had closed (the call may be counted twice).", (c) => c.unpaired_late],
];

export interface MapperMetricsOptions {
  /** ADI_PUBLISH_BUFFER_BYTES of the agents whose limits this process knows, by host (`adi up`: its own child's). */
  agentBufferLimits?: Readonly<Record<string, number>>;
}

/**
 * Every family of a running mapper: RED (the map is built at most once per fold version, so the four families of one
 * scrape agree; never going down: MonotonicSeries), its counters, adi_mapper_pending_observations, its two consumers' lag (consumer="mapper"), and the
 * capture agents' families from the stats facts it read (agentMetricFamilies).
 */
export function mapperMetricFamilies(mapper: Pick<Mapper, "outputs" | "counters" | "pending" | "agentReports">, opts: MapperMetricsOptions = {}): MetricFamily[] {
  let memo: { version: number; red: RedSamples } | undefined;
  const guards = { requests: new MonotonicSeries(), errors: new MonotonicSeries(), duration: new MonotonicSeries(), connections: new MonotonicSeries() };
  const red = () => {
    const version = mapper.outputs.version;
    if (memo?.version !== version) {
      const now = redSamples(mapper.outputs.serviceMap());
      memo = {
        version,
        red: { requests: guards.requests.apply(now.requests), errors: guards.errors.apply(now.errors), duration: guards.duration.apply(now.duration), connections: guards.connections.apply(now.connections) },
      };
    }
    return memo.red;
  };
  const limits = opts.agentBufferLimits ?? {};
  return [
    ...redMetricFamilies(red),
    ...COUNTERS.map(([name, help, value]) => metricFamily(name, "counter", help, () => [[{}, value(mapper.counters())]])),
    metricFamily("adi_mapper_pending_observations", "gauge", "Observations whose log lines are not final yet.", () => [[{}, mapper.counters().pending]]),
    consumerPendingFamily(() => {
      const p = mapper.pending();
      return [
        [{ stream: FACTS_STREAM, consumer: "mapper" }, p.facts],
        [{ stream: DERIVED_STREAM, consumer: "mapper" }, p.derived],
      ];
    }),
    ...agentMetricFamilies(() => mapper.agentReports().map((r) => (limits[r.fact.host] === undefined ? r : { ...r, bufferLimitBytes: limits[r.fact.host] }))),
  ];
}
