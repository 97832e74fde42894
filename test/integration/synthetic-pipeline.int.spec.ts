// The pipeline without a kernel: a small synthetic raw stream (test/support/synthetic-stream.ts, records made by the
// shared record encoder from the BTF-generated layouts) published to a real nats-server, then classified and mapped
// live by a real classifier and mapper, and rebuilt by `adi replay`. No root, no BPF. The live outputs must hold
// what the stream holds (every exchange, the servers named by the listeners fact) and equal replay's: the service
// map byte for byte, the traffic log's lines as a set (partitions are logged in parallel, so their order differs).
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parse } from "yaml";
import { afterAll, describe, expect, it } from "vitest";
import { runReplay } from "../../cli/commands/replay.ts";
import { NatsServerFixture } from "../support/nats-server.ts";
import { sleep } from "../support/capture.ts";
import { startPipeline, tearDown } from "../support/pipeline.ts";
import type { Pipeline } from "../support/pipeline.ts";
import { publishSyntheticStream } from "../support/synthetic-stream.ts";
import { readStream } from "../support/stream.ts";
import { jetstream } from "@nats-io/jetstream";
import { decodeDerivedBatch, DERIVED_STREAM, FACTS_STREAM, type Derived } from "@adi/shared/wire";

const HOST = "synthhost";

let nats: NatsServerFixture | undefined;
let pipe: Pipeline | undefined;
let older: NatsServerFixture | undefined;
let olderPipe: Pipeline | undefined;
/** What the live pipeline wrote, for the retained-stream test to compare with. */
let live: { log: string; map: string } | undefined;
const dirs: string[] = [];
afterAll(async () => {
  await tearDown(pipe, nats, { stop: true });
  await tearDown(olderPipe, older, { stop: true });
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

interface MapService {
  name: string;
  endpoints: { destination: string; method: string; path: string }[];
}

interface LogLine {
  event_type?: string;
  exchange_id?: string;
  method?: string;
  protocol?: string;
  dest_port?: number;
}

describe("a synthetic raw stream through the live pipeline and adi replay", () => {
  it("logs every exchange, names the servers, and live outputs equal replay's", async () => {
    nats = await NatsServerFixture.start();
    pipe = await startPipeline(nats.url, { capture: false, env: { ADI_HOST: HOST } });
    dirs.push(pipe.dir);
    const stats = await publishSyntheticStream(pipe.nc, { events: 3_000, host: HOST, concurrent: 24, seed: 11 });
    expect(stats.exchanges).toBeGreaterThan(300);
    expect(stats.otherConnections).toBeGreaterThan(0);

    // Live: the classifier finds every exchange; the mapper has stored all it will once its count stops moving.
    const deadline = Date.now() + 30_000;
    while (pipe.classifiers[0]!.counters().exchanges < stats.exchanges && Date.now() < deadline) await sleep(100);
    expect(pipe.classifiers[0]!.counters().exchanges).toBe(stats.exchanges);
    for (let last = -1; pipe.mappers[0]!.counters().observations !== last; await sleep(1_500)) last = pipe.mappers[0]!.counters().observations;
    await pipe.stop();

    const liveLog = readFileSync(pipe.cfg.outputPath, "utf8");
    const liveMap = readFileSync(pipe.cfg.serviceMapPath!, "utf8");
    live = { log: liveLog, map: liveMap };
    const lines = liveLog.trimEnd().split("\n").map((l) => JSON.parse(l) as LogLine);
    // Each exchange is two lines (request, response) with one exchange_id; each Redis or Postgres connection one line.
    const exchangeLines = lines.filter((l) => l.exchange_id !== undefined);
    expect(exchangeLines).toHaveLength(2 * stats.exchanges);
    expect(new Set(exchangeLines.map((l) => l.exchange_id)).size).toBe(stats.exchanges);
    expect(new Set(exchangeLines.flatMap((l) => (l.method ? [l.method] : [])))).toEqual(new Set(["GET", "POST"]));
    const connections = lines.filter((l) => l.event_type === "connection");
    expect(connections).toHaveLength(stats.otherConnections);
    expect(connections.every((l) => (l.protocol === "redis" && l.dest_port === 6379) || (l.protocol === "postgres" && l.dest_port === 5432))).toBe(true);

    // The map: the three synthetic processes (no process facts: named by pid) and their external callers; the
    // servers they call named by the listeners fact the stream carries (10.0.0.11:8080 is "orders", ...).
    const map = parse(liveMap) as { services: MapService[] };
    expect(map.services.map((s) => s.name).sort()).toEqual(["external", "pid-4101", "pid-4102", "pid-4103"]);
    const destinations = new Set(map.services.flatMap((s) => s.endpoints.map((e) => e.destination)));
    for (const named of ["orders", "users", "inventory", "orders.internal:8080", "api.example.com"]) expect(destinations).toContain(named);
    const ordersGets = map.services.flatMap((s) => s.endpoints.filter((e) => e.destination === "orders" && e.method === "GET"));
    expect(ordersGets.length).toBeGreaterThan(0);
    expect(ordersGets.every((e) => e.path.startsWith("/"))).toBe(true);

    // Replay rebuilds the same outputs from the streams, with fresh state.
    const out = mkdtempSync(join(tmpdir(), "adi-synthetic-replay-"));
    dirs.push(out);
    const saved = { ...process.env };
    Object.assign(process.env, { NATS_URL: nats.url, ADI_HOST: HOST, LOG_LEVEL: "silent", OUTPUT_PATH: pipe.cfg.outputPath, SERVICE_MAP_PATH: pipe.cfg.serviceMapPath, ADI_DATA_DIR: pipe.dir });
    try {
      await runReplay({ out: join(out, "replay") });
    } finally {
      process.env = saved;
    }
    expect(readFileSync(join(out, "replay", "service-map.yaml"), "utf8")).toBe(liveMap);
    const sorted = (text: string) => text.trimEnd().split("\n").sort();
    expect(sorted(readFileSync(join(out, "replay", "traffic.log"), "utf8"))).toEqual(sorted(liveLog));
  }, 90_000);

  it("maps a derived stream retained from the previous version (v2 JSON) into the same outputs", async () => {
    expect(live).toBeDefined();
    // ADI_DERIVED as the previous version (656df55) wrote it: its encodeDerivedBatches was JSON text of
    // {v: 2, kind, source, observations}, observations without the v3 body_schema. The same observations the live
    // classifier stored (v3), re-encoded that way into a broker of their own, with the same facts.
    const v3 = await readStream(pipe!.nc, DERIVED_STREAM);
    const facts = await readStream(pipe!.nc, FACTS_STREAM);
    expect(v3.length).toBeGreaterThan(0);
    expect(v3.every((m) => m.data[0] !== 0x7b)).toBe(true); // the live classifier wrote v3 (binary)
    older = await NatsServerFixture.start();
    olderPipe = await startPipeline(older.url, { capture: false, classifiers: 0, env: { ADI_HOST: HOST } });
    dirs.push(olderPipe.dir);
    const js = jetstream(olderPipe.nc);
    for (const f of facts) await js.publish(f.subject, f.data);
    const withoutSchema = (d: Derived): Derived => {
      if (d.type !== "http_exchange") return d;
      const strip = <M extends { body_schema?: string }>({ body_schema: _, ...m }: M) => m;
      return { ...d, request: strip(d.request), response: d.response && strip(d.response) };
    };
    let observations = 0;
    for (const m of v3) {
      const batch = decodeDerivedBatch(m.data);
      observations += batch.observations.length;
      await js.publish(m.subject, JSON.stringify({ v: 2, kind: batch.kind, source: batch.source, observations: batch.observations.map(withoutSchema) }));
    }
    await olderPipe.waitForObservations(observations, 30_000);
    await olderPipe.stop();
    expect(olderPipe.mappers[0]!.counters().invalid).toBe(0);
    expect(readFileSync(olderPipe.cfg.serviceMapPath!, "utf8")).toBe(live!.map);
    const sorted = (text: string) => text.trimEnd().split("\n").sort();
    expect(sorted(readFileSync(olderPipe.cfg.outputPath, "utf8"))).toEqual(sorted(live!.log));
  }, 90_000);
});
