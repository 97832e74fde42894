// /metrics as a Prometheus scrapes it (issue 13, item 3): `adi classify`, `adi map` and `adi enrich`, each as a
// user runs it with ADI_METRICS_ADDR=127.0.0.1:0, against a real nats-server fed a synthetic raw stream (no BPF),
// scraped over HTTP and read with parse-prometheus-text-format. RED per edge equals the service map's counts, the
// duration histogram adds up, the consumers' lag drains to 0, the dead letters are listed by reason, and the agent's
// figures come from its stats fact. An address that is set and taken ends the command in one line (exit 2); unset,
// a single service serves none.
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { jetstream } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import type { NatsConnection } from "@nats-io/transport-node";
import { parse } from "yaml";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { encodeFact, factSubject, nsToIso } from "@adi/shared/wire";
import type { AgentStatsFact } from "@adi/shared/wire";
import { NatsServerFixture } from "../../test/support/nats-server.ts";
import { publishSyntheticStream } from "../../test/support/synthetic-stream.ts";
import type { SyntheticStats } from "../../test/support/synthetic-stream.ts";
import { ADI, killAll, startAdi } from "./adi-process.ts";
import type { AdiRun } from "./adi-process.ts";

interface ParsedFamily {
  name: string;
  type: string;
  metrics: { labels?: Record<string, string>; value?: string }[];
}
const parsePrometheus = createRequire(import.meta.url)("parse-prometheus-text-format") as (text: string) => ParsedFamily[];

interface Sample {
  labels: Record<string, string>;
  value: number;
}

/** A scrape: the families as typed, and every sample line of a name (histograms read untyped: the parser folds a histogram's labelled series into one). */
function scrapeOf(text: string) {
  const families = parsePrometheus(text);
  const untyped = parsePrometheus(text.replace(/^# TYPE \S+ histogram$/gm, ""));
  return {
    families,
    series: (name: string): Sample[] => untyped.filter((f) => f.name === name).flatMap((f) => f.metrics.map((m) => ({ labels: m.labels ?? {}, value: Number(m.value) }))),
  };
}

async function scrape(url: string) {
  const res = await fetch(url);
  expect(res.status).toBe(200);
  expect(res.headers.get("content-type")).toBe("text/plain; version=0.0.4; charset=utf-8");
  return scrapeOf(await res.text());
}

const HOST = "metricshost";
const sum = (xs: readonly Sample[]) => xs.reduce((n, s) => n + s.value, 0);
const edgeKey = (l: Record<string, string>) => JSON.stringify([l.source, l.destination, l.method, l.route]);

let nats: NatsServerFixture;
let nc: NatsConnection;
let dir: string;
const runs: AdiRun[] = [];

beforeAll(async () => {
  nats = await NatsServerFixture.start();
  nc = await connect({ servers: nats.url });
  dir = mkdtempSync(join(tmpdir(), "adi-metrics-"));
});
afterAll(async () => {
  for (const r of runs) killAll(r.marker);
  await nc?.close();
  await nats?.stop();
  rmSync(dir, { recursive: true, force: true });
});

function adi(command: string, env: Record<string, string> = {}): AdiRun {
  const r = startAdi(ADI, [command], {
    NATS_URL: nats.url,
    ADI_HOST: HOST,
    ADI_DATA_DIR: dir,
    LOG_LEVEL: "info",
    OUTPUT_PATH: join(dir, `${command}-traffic.log`),
    SERVICE_MAP_PATH: join(dir, `${command}-map.yaml`),
    ENV_OUTPUT_PATH: join(dir, `${command}-env.yaml`),
    ...env,
  });
  runs.push(r);
  return r;
}

async function stop(r: AdiRun): Promise<number | null> {
  r.child.kill("SIGTERM");
  return (await r.exited).code;
}

function agentStats(events: number): AgentStatsFact {
  const drops = { ringbuf_full: 2, payload_read: 0, conn_table_full: 0, args_table_full: 0, no_tuple: 1 };
  return {
    v: 1, type: "agent_stats", ts: nsToIso(BigInt(Date.now()) * 1_000_000n), host: HOST, boot_id: "6f1d7c3e-2a4b-4c5d-8e9f-0a1b2c3d4e5f",
    agent_id: `${HOST}-1`, uptime_s: 30, kernel: { events, bytes: 123_456, drops, drops_by_cpu: {} },
    user: { batches_published: 40, events_published: events - 9, bytes_published: 120_000, batches_dropped: 1, events_dropped: 3, buffered_bytes: 512, publish_retries: 0, process_events: 6, malformed: 0, optin_undecided: 0 },
  };
}

const processFact = () =>
  encodeFact({
    v: 1, type: "process", event: "scan", ts: nsToIso(BigInt(Date.now()) * 1_000_000n), host: HOST, boot_id: "6f1d7c3e-2a4b-4c5d-8e9f-0a1b2c3d4e5f",
    pid: 4101, start_ticks: 123456, ppid: 1, comm: "node", exe: null, cmdline: "node orders.js", cgroup: null, container_id: null,
    adi_profile_match: "local", adi_profile_name: "orders", optin: "yes", env: {}, env_redacted: true, error: null, exit_code: null,
  });

describe("/metrics of the consumer services", () => {
  it("shows RED per edge equal to the map, a histogram that adds up, lag drained, dead letters and the agent's figures", async () => {
    const classify = adi("classify", { ADI_METRICS_ADDR: "127.0.0.1:0" });
    const map = adi("map", { ADI_METRICS_ADDR: "127.0.0.1:0" });
    const enrich = adi("enrich", { ADI_METRICS_ADDR: "127.0.0.1:0" });
    const urls = await Promise.all([classify, map, enrich].map(async (r) => (await r.waitForLog("metrics listening")).url as string));
    for (const url of urls) expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
    const [classifyUrl, mapUrl, enrichUrl] = urls as [string, string, string];
    await Promise.all([classify.waitForLog("classifier ready"), map.waitForLog("mapper ready"), enrich.waitForLog("enricher ready")]);

    const stats: SyntheticStats = await publishSyntheticStream(nc, { events: 3_000, host: HOST, concurrent: 24, seed: 11 });
    const js = jetstream(nc);
    await js.publish(factSubject(HOST, "agent"), encodeFact(agentStats(5_000)));
    await js.publish(factSubject(HOST, "process"), processFact());

    // Until the classifier has every exchange and the mapper's figures stop moving with its lag at 0.
    const deadline = Date.now() + 40_000;
    let m = await scrape(mapUrl);
    for (let last = -1; ; ) {
      const c = await scrape(classifyUrl);
      m = await scrape(mapUrl);
      const observed = sum(m.series("adi_mapper_observations_total"));
      const drained = sum(c.series("adi_consumer_pending_messages")) === 0 && sum(m.series("adi_consumer_pending_messages")) === 0;
      if (drained && observed > 0 && observed === last && sum(c.series("adi_classifier_observations_total")) === observed) break;
      if (Date.now() > deadline) throw new Error(`not settled: mapper observations ${observed}, classifier ${sum(c.series("adi_classifier_observations_total"))}`);
      last = observed;
      await sleep(1_500);
    }

    // Requests by edge, non-zero; every counter ends in _total, every family is adi_.
    const requests = m.series("adi_http_requests_total");
    expect(requests.length).toBeGreaterThan(0);
    expect(requests.every((s) => s.value > 0)).toBe(true);
    for (const f of m.families) {
      expect(f.name).toMatch(/^adi_/);
      if (f.type === "COUNTER") expect(f.name).toMatch(/_total$/);
    }
    // The histogram of each edge: cumulative (never decreasing in le order), +Inf = _count = requests answered.
    const buckets = m.series("adi_http_request_duration_seconds_bucket");
    const counts = new Map(m.series("adi_http_request_duration_seconds_count").map((s) => [edgeKey(s.labels), s.value]));
    const answered = new Map<string, number>();
    const errors = new Map<string, number>();
    for (const s of requests) {
      const k = edgeKey(s.labels);
      if (s.labels.status !== "none") answered.set(k, (answered.get(k) ?? 0) + s.value);
      if (s.labels.status === "none" || Number(s.labels.status) >= 500) errors.set(k, (errors.get(k) ?? 0) + s.value);
    }
    expect(counts.size).toBe(new Set(requests.map((s) => edgeKey(s.labels))).size);
    for (const [k, count] of counts) {
      const edge = buckets.filter((b) => edgeKey(b.labels) === k);
      expect(edge.map((b) => b.labels.le)).toEqual(["0.005", "0.01", "0.025", "0.05", "0.075", "0.1", "0.25", "0.5", "0.75", "1", "2.5", "5", "7.5", "10", "+Inf"]);
      for (let i = 1; i < edge.length; i++) expect(edge[i]!.value).toBeGreaterThanOrEqual(edge[i - 1]!.value);
      expect(edge.at(-1)!.value).toBe(count);
      expect(count).toBe(answered.get(k) ?? 0);
    }
    expect(sum(m.series("adi_http_request_duration_seconds_count"))).toBeGreaterThan(0);
    expect(sum(m.series("adi_http_request_duration_seconds_sum"))).toBeGreaterThan(0);
    for (const s of m.series("adi_http_request_errors_total")) expect(s.value).toBe(errors.get(edgeKey(s.labels)) ?? 0);

    // The same numbers as the service map the mapper writes (debounced: once it holds every call).
    // A service without endpoints (or connections) has no such key (the Go README's layout).
    type YamlMap = { services: { name: string; endpoints?: { destination: string; method: string; path: string; count: number }[]; connections?: { count: number }[] }[] };
    const mapFile = join(dir, "map-map.yaml");
    let yamlMap: YamlMap | undefined;
    for (const until = Date.now() + 15_000; Date.now() < until; await sleep(500)) {
      yamlMap = parse(readFileSync(mapFile, "utf8")) as YamlMap;
      if (yamlMap.services.flatMap((s) => s.endpoints ?? []).reduce((n, e) => n + e.count, 0) === sum(requests)) break;
    }
    const fromMap = new Map<string, number>();
    for (const s of yamlMap!.services) {
      for (const e of s.endpoints ?? []) {
        const k = edgeKey({ source: s.name, destination: e.destination, method: e.method, route: e.path });
        fromMap.set(k, (fromMap.get(k) ?? 0) + e.count);
      }
    }
    const fromMetrics = new Map<string, number>();
    for (const s of requests) fromMetrics.set(edgeKey(s.labels), (fromMetrics.get(edgeKey(s.labels)) ?? 0) + s.value);
    expect(fromMetrics).toEqual(fromMap);
    expect(sum(m.series("adi_connections_total"))).toBe(yamlMap!.services.flatMap((s) => s.connections ?? []).reduce((n, c) => n + c.count, 0));
    expect(sum(m.series("adi_connections_total"))).toBe(stats.otherConnections);

    // The agent's figures, from its stats fact, under its host.
    const host = (name: string, labels: Record<string, string> = {}) => m.series(name).filter((s) => s.labels.host === HOST && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
    expect(host("adi_capture_events_total")).toEqual([{ labels: { host: HOST }, value: 5_000 }]);
    expect(host("adi_capture_drops_total", { reason: "ringbuf_full" })[0]!.value).toBe(2);
    expect(host("adi_capture_drops_total", { reason: "buffer_full" })[0]!.value).toBe(3);
    expect(host("adi_capture_publish_buffer_bytes")[0]!.value).toBe(512);
    expect(m.series("adi_mapper_invalid_messages_total")).toEqual([{ labels: {}, value: 0 }]);

    // The classifier: batches, dead letters by reason (none here), a drained durable consumer per partition it owns.
    const c = await scrape(classifyUrl);
    expect(sum(c.series("adi_classifier_batches_total"))).toBeGreaterThan(0);
    expect(c.series("adi_classifier_dead_letters_total").map((s) => s.labels.reason).sort()).toEqual(
      ["engine_error", "malformed", "not_a_partition", "partition_mismatch", "partition_out_of_range", "timestamp_future", "timestamp_past"],
    );
    expect(sum(c.series("adi_classifier_dead_letters_total"))).toBe(0);
    const owned = c.series("adi_classifier_partitions_owned")[0]!.value;
    expect(owned).toBe(16);
    expect(c.series("adi_consumer_pending_messages").map((s) => [s.labels.stream, s.labels.consumer])).toEqual(Array.from({ length: owned }, (_, p) => ["ADI_RAW", `adi-classifier-p${p}`]));
    // Node's process figures, prefixed.
    expect(c.series("adi_process_cpu_user_seconds_total")[0]!.value).toBeGreaterThan(0);
    expect(c.series("adi_nodejs_heap_size_used_bytes")[0]!.value).toBeGreaterThan(0);

    // The enricher: the one process fact, its consumer drained.
    const e = await scrape(enrichUrl);
    expect(e.series("adi_enricher_facts_total")).toEqual([{ labels: {}, value: 1 }]);
    expect(e.series("adi_consumer_pending_messages")).toEqual([{ labels: { stream: "ADI_FACTS", consumer: "enricher" }, value: 0 }]);

    // Only /metrics is served.
    expect((await fetch(mapUrl.replace("/metrics", "/"))).status).toBe(404);
    expect(await Promise.all([classify, map, enrich].map(stop))).toEqual([0, 0, 0]);
  }, 120_000);

  it("refuses a set address that cannot be bound in one line (exit 2); unset, a single service serves none", async () => {
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, "127.0.0.1", resolve));
    const port = (taken.address() as { port: number }).port;
    try {
      const r = adi("map", { ADI_METRICS_ADDR: `127.0.0.1:${port}` });
      expect((await r.exited).code).toBe(2);
      expect(r.stderr().trim().split("\n")).toEqual([expect.stringMatching(new RegExp(`^adi: ADI_ERR_CONFIG: ADI_METRICS_ADDR="127\\.0\\.0\\.1:${port}": cannot listen there: .*EADDRINUSE`))]);
      expect(r.stdout()).not.toMatch(/"msg":"mapper ready"/);
    } finally {
      taken.close();
    }
    const unset = adi("map");
    await unset.waitForLog("mapper ready");
    expect(unset.stdout()).not.toMatch(/metrics listening/);
    expect(await stop(unset)).toBe(0);
  }, 60_000);
});
