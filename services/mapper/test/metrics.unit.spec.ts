// RED per edge from the mapper's fold (issue 13): the Prometheus series are the map's numbers, summed per label set,
// and the histogram's cumulative buckets are exact sums of the fold's fine buckets (every Prometheus bound is one of
// them). Rendered through the registry and read back with parse-prometheus-text-format.
import { createRequire } from "node:module";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { MetricsRegistry } from "@adi/shared";
import type { MetricSample } from "@adi/shared";
import { RedactionPolicy } from "@adi/shared/redaction";
import { HttpExchangeSchema } from "@adi/shared/wire";
import type { HttpExchange } from "@adi/shared/wire";
import { at, BOOT, clientExchange } from "./support/client-exchange.ts";
import { callStats, DURATION_BOUNDS_MS, endpointStats, mergeStats, NO_RESPONSE, PROMETHEUS_BOUNDS_MS } from "../src/core/call-stats.ts";
import type { CallStats } from "../src/core/call-stats.ts";
import type { ConnectionEntry, EndpointEntry, ServiceMap } from "../src/core/map-types.ts";
import { MapperOutputs } from "../src/core/outputs.ts";
import { mapperMetricFamilies, MonotonicSeries, redSamples } from "../src/metrics.ts";

const parsePrometheus = createRequire(import.meta.url)("parse-prometheus-text-format") as (text: string) => { name: string; type: string; metrics: { labels?: Record<string, string>; value?: string }[] }[];
/** Every sample line of `name`, labels included (histograms read untyped: the parser folds a histogram's labelled series into one). */
const seriesOf = (text: string, name: string) =>
  parsePrometheus(text.replace(/^# TYPE \S+ histogram$/gm, ""))
    .filter((f) => f.name === name)
    .flatMap((f) => f.metrics.map((m) => ({ labels: m.labels ?? {}, value: Number(m.value) })));

const T = "2026-04-08T18:24:10.000000000Z";
const calls = (...c: [status: number, ms: number | null][]): CallStats => c.map(([status, ms]) => callStats(status, ms === null ? null : ms * 1000)).reduce(mergeStats);

function endpoint(destination: string, method: string, path: string, stats: CallStats, responseSchema: EndpointEntry["response_schema"] = null): EndpointEntry {
  const s = endpointStats(stats);
  const count = Object.values(s.status_codes).reduce((a, b) => a + b, 0);
  return { destination, destination_type: "external", method, path, request_schema: null, response_schema: responseSchema, first_seen: T, last_seen: T, count, stats: s, example: null };
}

function connection(destination: string, port: number, count: number): ConnectionEntry {
  return { destination, destination_type: "external", protocol: "postgres", category: "database", port, confidence: 90, reason: "port", first_seen: T, last_seen: T, count };
}

const labelsOf = (s: MetricSample) => s.labels;
const find = (samples: readonly MetricSample[], labels: Record<string, string>) => samples.filter((s) => Object.entries(labels).every(([k, v]) => s.labels[k] === v));

describe("RED per edge from the service map (redSamples)", () => {
  // web → orders GET /items/{id}: two entries (answered with a body; unanswered) add up to one edge.
  const map: ServiceMap = {
    generated_at: T,
    services: [
      {
        name: "web",
        image: null,
        endpoints: [
          endpoint("orders", "GET", "/items/{id}", calls([200, 3], [200, 5], [200, 5.001], [404, 80], [503, 2600], [200, 90_000]), { id: "number" }),
          endpoint("orders", "GET", "/items/{id}", calls([NO_RESPONSE, null], [NO_RESPONSE, null])),
          endpoint("users", "POST", "/login", calls([201, 0.004])),
        ],
        connections: [connection("db", 5432, 3), connection("db", 5433, 2)],
        first_seen: T,
        last_seen: T,
      },
    ],
  };
  const red = redSamples(map);

  it("counts requests by status (none: no response) and errors (5xx, none), one series per label set", () => {
    const items = { source: "web", destination: "orders", method: "GET", route: "/items/{id}" };
    expect(find(red.requests, items).map((s) => [s.labels.status, s.value])).toEqual([
      ["200", 4],
      ["404", 1],
      ["503", 1],
      ["none", 2],
    ]);
    expect(find(red.errors, items).map((s) => s.value)).toEqual([3]);
    expect(red.errors.map(labelsOf)).toEqual([items, { source: "web", destination: "users", method: "POST", route: "/login" }]);
    expect(red.connections).toEqual([{ labels: { source: "web", destination: "db", protocol: "postgres", category: "database" }, value: 5 }]);
  });

  it("gives exact cumulative buckets at OBI's bounds (seconds), +Inf = _count = answered calls, _sum in seconds", () => {
    const items = find(red.duration, { destination: "orders" });
    const buckets = items.filter((s) => s.suffix === "_bucket").map((s) => [s.labels.le, s.value]);
    expect(buckets).toEqual([
      ["0.005", 2], // 3 ms, 5 ms (at the bound: le includes it), not 5.001 ms
      ["0.01", 3],
      ["0.025", 3],
      ["0.05", 3],
      ["0.075", 3],
      ["0.1", 4], // 80 ms
      ["0.25", 4],
      ["0.5", 4],
      ["0.75", 4],
      ["1", 4],
      ["2.5", 4],
      ["5", 5], // 2.6 s
      ["7.5", 5],
      ["10", 5],
      ["+Inf", 6], // 90 s: above every bound
    ]);
    expect(items.find((s) => s.suffix === "_count")!.value).toBe(6);
    expect(items.find((s) => s.suffix === "_sum")!.value).toBe((3000 + 5000 + 5001 + 80_000 + 2_600_000 + 90_000_000) / 1e6);
    // An edge whose calls are all faster than the first bound: every bucket holds them all.
    expect(find(red.duration, { destination: "users" }).filter((s) => s.suffix === "_bucket").every((s) => s.value === 1)).toBe(true);
  });

  it("is exact for any durations: bucket le holds the calls of at most le seconds, _sum their total", () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 120_000_000 }), { minLength: 1, maxLength: 200 }), (durationsUs) => {
        const stats = durationsUs.map((us) => callStats(200, us)).reduce(mergeStats);
        const r = redSamples({ generated_at: T, services: [{ name: "a", image: null, endpoints: [endpoint("b", "GET", "/", stats)], connections: [], first_seen: T, last_seen: T }] });
        const byLe = new Map(r.duration.filter((s) => s.suffix === "_bucket").map((s) => [s.labels.le, s.value]));
        for (const le of PROMETHEUS_BOUNDS_MS) expect(byLe.get(String(le / 1000))).toBe(durationsUs.filter((us) => us / 1000 <= le).length);
        expect(byLe.get("+Inf")).toBe(durationsUs.length);
        expect(r.duration.find((s) => s.suffix === "_sum")!.value).toBeCloseTo(durationsUs.reduce((a, b) => a + b, 0) / 1e6, 9);
      }),
      { seed: 13, numRuns: 200 },
    );
    // Why it is exact: every coarse bound is a fine one.
    for (const le of PROMETHEUS_BOUNDS_MS) expect(DURATION_BOUNDS_MS).toContain(le);
  });
});

const exchange = clientExchange;

describe("mapperMetricFamilies over a live fold", () => {
  const mapperOf = (outputs: MapperOutputs) => ({
    outputs,
    counters: () => ({ facts: 0, batches: 1, invalid: 0, ...outputs.stats() }),
    pending: () => ({ facts: 0, derived: 4 }),
    agentReports: () => [],
  });

  it("shows the map's numbers at each scrape, and a route that folds replaces its concrete series (documented)", async () => {
    const outputs = new MapperOutputs({ redaction: RedactionPolicy.DEFAULT });
    const registry = await MetricsRegistry.create({ processMetrics: false });
    registry.add(...mapperMetricFamilies(mapperOf(outputs)));
    for (let i = 0; i < 3; i++) outputs.addDerived(exchange(i, i * 10, `/items/${i}`, i === 2 ? 500 : 200));
    outputs.addDerived(exchange(3, 40, "/items/0", null));
    let text = await registry.render();
    const requests = () => seriesOf(text, "adi_http_requests_total").map((s) => [s.labels.route, s.labels.status, s.value]);
    expect(requests()).toEqual([
      ["/items/0", "200", 1],
      ["/items/0", "none", 1],
      ["/items/1", "200", 1],
      ["/items/2", "500", 1],
    ]);
    // The same totals as the map's entries.
    const mapCount = outputs.serviceMap().services.flatMap((s) => s.endpoints).reduce((n, e) => n + e.count, 0);
    expect(seriesOf(text, "adi_http_requests_total").reduce((n, s) => n + s.value, 0)).toBe(mapCount);
    // _count is the answered calls; the +Inf bucket equals it; 5.1 ms is in le=0.01, not le=0.005.
    const items0 = (name: string) => seriesOf(text, name).filter((s) => s.labels.route === "/items/0");
    expect(items0("adi_http_request_duration_seconds_count")[0]!.value).toBe(1);
    expect(items0("adi_http_request_duration_seconds_bucket").map((s) => [s.labels.le, s.value]).slice(0, 2)).toEqual([
      ["0.005", 0],
      ["0.01", 1],
    ]);
    expect(items0("adi_http_request_errors_total")[0]!.value).toBe(1);
    expect(seriesOf(text, "adi_mapper_observations_total")).toEqual([{ labels: {}, value: 4 }]);
    expect(seriesOf(text, "adi_consumer_pending_messages").map((s) => [s.labels.stream, s.value])).toEqual([
      ["ADI_FACTS", 0],
      ["ADI_DERIVED", 4],
    ]);

    // 25 distinct ids: the position folds to a parameter; the concrete series vanish, the template carries them all.
    for (let i = 4; i < 29; i++) outputs.addDerived(exchange(i, i * 10, `/items/${i}`, 200));
    text = await registry.render();
    expect([...new Set(seriesOf(text, "adi_http_requests_total").map((s) => s.labels.route))]).toEqual(["/items/{id}"]);
    expect(seriesOf(text, "adi_http_requests_total").reduce((n, s) => n + s.value, 0)).toBe(29);
    expect(seriesOf(text, "adi_http_request_duration_seconds_count").reduce((n, s) => n + s.value, 0)).toBe(28);
  });
});

/** One end's view of call `n` (client port 41000 + n → 10.0.0.1:8080): request's first byte at `startMs`, response's last at `endMs`. */
function endView(n: number, side: "client" | "server", startMs: number, endMs: number): HttpExchange {
  const client = { ip: "10.0.0.1", port: 41_000 + n };
  const server = { ip: "10.0.0.1", port: 8080 };
  const [local, remote] = side === "client" ? [client, server] : [server, client];
  const message = (t: number, e: number) => ({ ts: at(t), end_ts: at(e), version: "1.1", headers: [["Host", "10.0.0.1:8080"]] as [string, string][], body: null, body_size: 0, body_truncated: false, body_binary: false, raw: "" });
  return HttpExchangeSchema.parse({
    v: 1, type: "http_exchange", host: "a", boot_id: BOOT, conn_id: `${n}${side === "client" ? 1 : 2}`, side, pid: side === "client" ? 10 : 20, start_ticks: 1,
    local, remote, family: 4, transport: "tcp", seq: 0, client, server,
    request: { ...message(startMs, startMs + 0.1), method: "GET", target: "/x" },
    response: { ...message(endMs - 0.1, endMs), status: 200, reason: "OK" },
    latency_ns: 1,
  });
}

describe("RED series never go down (MonotonicSeries)", () => {
  it("keeps what a call moved away (its server's view replaced by its client's) from reading as a counter reset", async () => {
    const outputs = new MapperOutputs({ redaction: RedactionPolicy.DEFAULT });
    const registry = await MetricsRegistry.create({ processMetrics: false });
    registry.add(...mapperMetricFamilies({ outputs, counters: () => ({ facts: 0, batches: 0, invalid: 0, ...outputs.stats() }), pending: () => ({ facts: 0, derived: 0 }), agentReports: () => [] }));
    const scrape = async () => {
      const text = await registry.render();
      const of = (name: string, source: string, le?: string) => seriesOf(text, name).find((s) => s.labels.source === source && (le === undefined || s.labels.le === le))?.value;
      return { external: of("adi_http_requests_total", "external"), client: of("adi_http_requests_total", "pid-10"), fastBucket: of("adi_http_request_duration_seconds_bucket", "pid-10", "0.005") };
    };
    // Two calls seen by the server only (the server cannot name its client: `external`), 4.9 ms each.
    outputs.addDerived(endView(1, "server", 0.05, 4.95));
    outputs.addDerived(endView(2, "server", 10.05, 14.95));
    expect(await scrape()).toEqual({ external: 2, client: undefined, fastBucket: undefined });
    // Call 1's client view comes: the map moves it to pid-10, with the client's 5.2 ms (above le=0.005).
    outputs.addDerived(endView(1, "client", 0, 5.2));
    const map = redSamples(outputs.serviceMap()).requests.map((s) => [s.labels.source, s.value]);
    expect(map).toEqual([["external", 1], ["pid-10", 1]]);
    expect(await scrape()).toEqual({ external: 2, client: 1, fastBucket: 0 }); // external does not go down to 1
    // New calls catch up: the exposed value is the map's again once it is above what was shown.
    outputs.addDerived(endView(3, "server", 20.05, 24.95));
    outputs.addDerived(endView(4, "server", 30.05, 34.95));
    expect((await scrape()).external).toBe(3);
  });

  it("raises a lower sample to its series' last value, forgets absent series, keeps histograms cumulative", () => {
    const g = new MonotonicSeries();
    const h = (a: number, b: number, inf: number): MetricSample[] => [
      { labels: { le: "0.005" }, value: a, suffix: "_bucket" },
      { labels: { le: "0.01" }, value: b, suffix: "_bucket" },
      { labels: { le: "+Inf" }, value: inf, suffix: "_bucket" },
      { labels: {}, value: inf, suffix: "_count" },
    ];
    expect(g.apply(h(2, 3, 4)).map((s) => s.value)).toEqual([2, 3, 4, 4]);
    expect(g.apply(h(1, 3, 4)).map((s) => s.value)).toEqual([2, 3, 4, 4]); // a call moved from le=0.005 to le=0.01
    expect(g.apply(h(1, 5, 6)).map((s) => s.value)).toEqual([2, 5, 6, 6]);
    expect(g.apply([])).toEqual([]);
    expect(g.apply(h(0, 1, 1)).map((s) => s.value)).toEqual([0, 1, 1, 1]); // gone, then back: starts again
  });
});
