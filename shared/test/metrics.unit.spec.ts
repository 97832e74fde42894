// The metrics registry (families computed at scrape time, merged by name, rendered by prom-client as Prometheus text
// 0.0.4) and the capture agent's families from its stats facts. Parsed back with parse-prometheus-text-format, as a
// Prometheus would read it.
import { createRequire } from "node:module";
import { Writable } from "node:stream";
import { pino } from "pino";
import { describe, expect, it } from "vitest";
import { AGENT_REPORT_MAX_AGE_MS, AgentReports, agentMetricFamilies, consumerPendingFamily, histogramSamples, metricFamily, MetricsRegistry } from "@adi/shared";
import type { MetricFamily } from "@adi/shared";
import type { AgentStatsFact } from "@adi/shared/wire";

interface Parsed {
  name: string;
  type: string;
  help: string;
  metrics: { value?: string; labels?: Record<string, string>; buckets?: Record<string, string>; count?: string; sum?: string }[];
}
const parsePrometheus = createRequire(import.meta.url)("parse-prometheus-text-format") as (text: string) => Parsed[];

/**
 * Every sample line of `name` (a histogram's `name_bucket`...), labels included. The parser folds a histogram's
 * series into one object without their labels (it was written for one unlabelled histogram), so the histograms are
 * read again untyped: each line is then a sample with all its labels, parsed by the same sample-line parser.
 */
const seriesOf = (text: string, name: string) =>
  parsePrometheus(text.replace(/^# TYPE \S+ histogram$/gm, ""))
    .filter((f) => f.name === name)
    .flatMap((f) => f.metrics.map((m) => ({ labels: m.labels ?? {}, value: Number(m.value) })));

const registry = async (...families: MetricFamily[]) => {
  const r = await MetricsRegistry.create({ processMetrics: false });
  r.add(...families);
  return r;
};

function agentFact(host: string, over: { events?: number; droppedEvents?: number } = {}): AgentStatsFact {
  return {
    v: 1,
    type: "agent_stats",
    ts: "2026-04-08T18:24:10.000000000Z",
    host,
    boot_id: "3c5e5b0e-8f4a-4c1e-9b7a-2f0d6c1e4a11",
    agent_id: `${host}-1`,
    uptime_s: 12.5,
    kernel: { events: over.events ?? 100, bytes: 4096, drops: { ringbuf_full: 7, payload_read: 1, conn_table_full: 0, args_table_full: 2, no_tuple: 3 }, drops_by_cpu: {} },
    user: {
      batches_published: 5,
      events_published: 90,
      bytes_published: 4000,
      batches_dropped: 1,
      events_dropped: over.droppedEvents ?? 4,
      buffered_bytes: 96,
      publish_retries: 2,
      process_events: 6,
      malformed: 0,
      optin_undecided: 1,
    },
  };
}

describe("MetricsRegistry", () => {
  it("renders families computed at scrape time in the Prometheus text format, read again on every scrape", async () => {
    let calls = 7;
    const r = await registry(
      metricFamily("adi_test_calls_total", "counter", "Calls.", () => [[{ route: "/items/{id}" }, calls]]),
      metricFamily("adi_test_buffer_bytes", "gauge", "Buffered.", () => [[{}, 4096]]),
    );
    expect(r.contentType).toBe("text/plain; version=0.0.4; charset=utf-8");
    expect(await r.render()).toBe(
      [
        "# HELP adi_test_calls_total Calls.",
        "# TYPE adi_test_calls_total counter",
        'adi_test_calls_total{route="/items/{id}"} 7',
        "",
        "# HELP adi_test_buffer_bytes Buffered.",
        "# TYPE adi_test_buffer_bytes gauge",
        "adi_test_buffer_bytes 4096",
        "",
      ].join("\n"),
    );
    calls = 9;
    expect(parsePrometheus(await r.render())[0]!.metrics).toEqual([{ value: "9", labels: { route: "/items/{id}" } }]);
  });

  it("escapes label values so that any route or name reads back as it was", async () => {
    const odd = 'a "quoted" \\ back\nslash';
    const r = await registry(metricFamily("adi_test_total", "counter", "T.", () => [[{ route: odd }, 1]]));
    expect(parsePrometheus(await r.render())[0]!.metrics[0]!.labels).toEqual({ route: odd });
  });

  it("lists a histogram with cumulative buckets, +Inf equal to _count, and _sum", async () => {
    const r = await registry({
      name: "adi_test_duration_seconds",
      type: "histogram",
      help: "D.",
      samples: () => histogramSamples({ edge: "a" }, [[0.005, 2], [0.01, 3]], 0.0125, 4),
    });
    const text = await r.render();
    expect(parsePrometheus(text)).toMatchObject([{ name: "adi_test_duration_seconds", type: "HISTOGRAM" }]);
    expect(seriesOf(text, "adi_test_duration_seconds_bucket")).toEqual([
      { labels: { edge: "a", le: "0.005" }, value: 2 },
      { labels: { edge: "a", le: "0.01" }, value: 3 },
      { labels: { edge: "a", le: "+Inf" }, value: 4 },
    ]);
    expect(seriesOf(text, "adi_test_duration_seconds_sum")).toEqual([{ labels: { edge: "a" }, value: 0.0125 }]);
    expect(seriesOf(text, "adi_test_duration_seconds_count")).toEqual([{ labels: { edge: "a" }, value: 4 }]);
  });

  it("merges families added under one name by several services (one # TYPE, every sample)", async () => {
    const r = await registry(consumerPendingFamily(() => [[{ stream: "ADI_FACTS", consumer: "mapper" }, 3]]), consumerPendingFamily(async () => [[{ stream: "ADI_FACTS", consumer: "enricher" }, 0]]));
    const text = await r.render();
    expect(text.match(/# TYPE adi_consumer_pending_messages gauge/g)).toHaveLength(1);
    expect(parsePrometheus(text)[0]!.metrics.map((m) => [m.labels!.consumer, m.value])).toEqual([
      ["mapper", "3"],
      ["enricher", "0"],
    ]);
    expect(() => r.add(metricFamily("adi_consumer_pending_messages", "counter", "other", () => []))).toThrow(/different type or help/);
  });

  it("leaves a family that fails out of the scrape, keeps the others, and warns once per failure streak", async () => {
    const lines: string[] = [];
    const log = pino({ level: "warn" }, new Writable({ write: (chunk, _enc, done) => (lines.push(String(chunk)), done()) }));
    let failing = true;
    const r = await MetricsRegistry.create({ processMetrics: false, log });
    r.add(
      { name: "adi_test_broker_gauge", type: "gauge", help: "B.", samples: async () => (failing ? Promise.reject(new Error("broker away")) : [{ labels: {}, value: 1 }]) },
      metricFamily("adi_test_ok_total", "counter", "O.", () => [[{}, 5]]),
    );
    for (let i = 0; i < 3; i++) {
      const parsed = parsePrometheus(await r.render());
      expect(parsed.find((f) => f.name === "adi_test_broker_gauge")!.metrics).toEqual([]);
      expect(parsed.find((f) => f.name === "adi_test_ok_total")!.metrics).toEqual([{ value: "5" }]);
    }
    expect(lines.filter((l) => l.includes("a metric could not be collected"))).toHaveLength(1);
    expect(JSON.parse(lines[0]!)).toMatchObject({ metric: "adi_test_broker_gauge", err: "broker away" });
    failing = false;
    expect(parsePrometheus(await r.render()).find((f) => f.name === "adi_test_broker_gauge")!.metrics).toEqual([{ value: "1" }]);
  });
});

describe("the capture agent's families (agentMetricFamilies)", () => {
  const valueOf = (parsed: Parsed[], name: string, labels: Record<string, string>) =>
    parsed.find((f) => f.name === name)?.metrics.find((m) => Object.entries(labels).every(([k, v]) => m.labels?.[k] === v))?.value;

  it("shows each host's counters, drops by reason (kernel reasons and buffer_full), and the publish buffer", async () => {
    const r = await registry(
      ...agentMetricFamilies(() => [
        { fact: agentFact("node-1"), atMs: 1_775_000_000_000, bufferLimitBytes: 268435456 },
        { fact: agentFact("node-2", { events: 5, droppedEvents: 0 }), atMs: 1_775_000_001_500 },
      ]),
    );
    const parsed = parsePrometheus(await r.render());
    expect(valueOf(parsed, "adi_capture_events_total", { host: "node-1" })).toBe("100");
    expect(valueOf(parsed, "adi_capture_events_total", { host: "node-2" })).toBe("5");
    expect(valueOf(parsed, "adi_capture_payload_bytes_total", { host: "node-1" })).toBe("4096");
    expect(valueOf(parsed, "adi_capture_published_batches_total", { host: "node-1" })).toBe("5");
    expect(valueOf(parsed, "adi_capture_publish_buffer_bytes", { host: "node-1" })).toBe("96");
    expect(parsed.find((f) => f.name === "adi_capture_drops_total")!.metrics.filter((m) => m.labels!.host === "node-1").map((m) => [m.labels!.reason, m.value])).toEqual([
      ["ringbuf_full", "7"],
      ["payload_read", "1"],
      ["conn_table_full", "0"],
      ["args_table_full", "2"],
      ["no_tuple", "3"],
      ["buffer_full", "4"],
    ]);
    // The limit only where this process knows it; the report's time in seconds.
    expect(parsed.find((f) => f.name === "adi_capture_publish_buffer_limit_bytes")!.metrics).toEqual([{ value: "268435456", labels: { host: "node-1" } }]);
    expect(valueOf(parsed, "adi_capture_last_report_timestamp_seconds", { host: "node-2" })).toBe("1775000001.5");
    for (const f of parsed) if (f.type === "COUNTER") expect(f.name).toMatch(/^adi_capture_[a-z_]+_total$/);
  });

  it("keeps each host's newest report by store time, and drops a host whose last one is too old", () => {
    const reports = new AgentReports();
    reports.note(agentFact("b", { events: 2 }), 2_000);
    reports.note(agentFact("a", { events: 10 }), 1_000);
    reports.note(agentFact("a", { events: 20 }), 3_000);
    reports.note(agentFact("a", { events: 15 }), 2_500); // stored before the newest: an older report
    expect(reports.current(3_000).map((r) => [r.fact.host, r.fact.kernel.events])).toEqual([
      ["a", 20],
      ["b", 2],
    ]);
    expect(reports.current(2_000 + AGENT_REPORT_MAX_AGE_MS + 1).map((r) => r.fact.host)).toEqual(["a"]);
    expect(reports.current(3_000 + AGENT_REPORT_MAX_AGE_MS + 1)).toEqual([]);
  });
});
