// The compose stack on a real Docker engine (images built offline): capture in a container watching the demo
// containers, and the outputs naming the compose services with their images and exactly the Go tool's edges.
// Then the stack is stopped and a replay (in a container on the stack's network) rebuilds the three outputs.
import { mkdtempSync, readFileSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parse, parseAllDocuments } from "yaml";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ADI_TEST_IMAGE, buildAdiImage, ComposeStack, ensureInfraImage } from "../../test/support/compose-stack.ts";
import { sleep } from "../../test/support/capture.ts";

type Entry = Record<string, unknown>;
type Service = { name: string; image: string | null; endpoints?: Entry[]; connections?: Entry[] };

const out = mkdtempSync(join(tmpdir(), "adi-compose-"));
const stack = new ComposeStack(`adie2e${process.pid}`, { ADI_OUTPUT_DIR: out, ADI_HOST: "composetest", LOG_LEVEL: "warn", CLASSIFIER_REPLICAS: "2" });
let map: { services: Service[] };
let lines: Entry[];
let replayDir: string;

const readMap = () => parse(readFileSync(join(out, "ebpf_service_map.yaml"), "utf8")) as { services: Service[] };
const edges = (m: { services: Service[] }, name: string) =>
  (m.services.find((s) => s.name === name)?.connections ?? []).map((c) => `${c.destination}:${c.protocol}:${c.port}`).sort();

const EXPECTED = {
  "traffic-generator": ["postgres:postgres:5432", "redis:redis:6379"],
  "http-service": ["nats:nats:4222"],
  "request-logger": ["nats:nats:4222", "redis:redis:6379"],
};

beforeAll(async () => {
  await ensureInfraImage();
  await buildAdiImage();
  await stack.up();
  const deadline = Date.now() + 120_000;
  for (;;) {
    try {
      const m = readMap();
      const endpoints = m.services.find((s) => s.name === "traffic-generator")?.endpoints ?? [];
      if (Object.entries(EXPECTED).every(([n, e]) => JSON.stringify(edges(m, n)) === JSON.stringify(e)) && endpoints.length >= 4) break;
    } catch {
      // not written yet
    }
    if (Date.now() > deadline) throw new Error(`the map never showed the expected edges:\n${await stack.logs("capture")}\n${await stack.logs("mapper")}`);
    await sleep(1000);
  }
  // Quiesce in pipeline order, so the live files hold everything the streams hold: workload, capture, consumers.
  await stack.stop("traffic-generator", "request-logger", "http-service");
  await sleep(2000);
  await stack.stop("capture");
  await sleep(5000);
  await stack.stop("classifier");
  await stack.stop("enricher", "mapper");
  map = readMap();
  lines = readFileSync(join(out, "ebpf_http_profiler.log"), "utf8").trim().split("\n").map((l) => JSON.parse(l) as Entry);
  await stack.compose("run", "--rm", "--no-deps", "mapper", "replay", "--out", "/output/replay");
  replayDir = join(out, "replay");
}, 600_000);

afterAll(async () => {
  await stack.down().catch(() => undefined);
});

describe("the compose stack", () => {
  it("names the compose services with their images", () => {
    for (const name of ["traffic-generator", "http-service", "request-logger"]) {
      expect(map.services.find((s) => s.name === name), name).toMatchObject({ image: ADI_TEST_IMAGE });
    }
  });

  it("has the traffic generator calling the HTTP service's four endpoints, container to container, with schemas", () => {
    const endpoints = map.services.find((s) => s.name === "traffic-generator")!.endpoints!.filter((e) => e.response_schema !== null);
    const find = (method: string, path: string) => endpoints.find((e) => e.method === method && e.path === path);
    for (const [m, p] of [["GET", "/"], ["GET", "/healthz"], ["POST", "/echo"], ["GET", "/slow"]] as const) {
      expect(find(m, p), `${m} ${p}`).toMatchObject({ destination: "http-service", destination_type: "container" });
    }
    expect(find("POST", "/echo")!.request_schema).toMatchObject({ message: "string" });
    expect(find("GET", "/slow")!.response_schema).toMatchObject({ slow: "boolean" });
    expect(new Set(endpoints.map((e) => e.destination))).toEqual(new Set(["http-service"]));
  });

  it("has exactly the Go tool's non-HTTP edges, to the compose services", () => {
    for (const [name, expected] of Object.entries(EXPECTED)) expect(edges(map, name), name).toEqual(expected);
    const names = map.services.map((s) => s.name).sort();
    expect(names).toEqual(["http-service", "request-logger", "traffic-generator"]);
  });

  it("logs source and destination containers on the HTTP events", () => {
    const send = lines.find((l) => l.direction === "send" && l.url === "/healthz");
    expect(send).toMatchObject({
      source_container: { service: "traffic-generator", image: ADI_TEST_IMAGE },
      destination_container: { service: "http-service", image: ADI_TEST_IMAGE },
      destination_type: "container",
    });
  });

  it("writes the environment inventory of the three demo containers", () => {
    const docs = parseAllDocuments(readFileSync(join(out, "ebpf_http_env.yaml"), "utf8")).map((d) => d.toJS() as Entry);
    const cmdlines = docs.map((d) => String(d.adi_profile_cmdline)).sort();
    expect(cmdlines).toEqual(expect.arrayContaining([expect.stringMatching(/http-service\.ts$/), expect.stringMatching(/request-logger\.ts$/), expect.stringMatching(/traffic-generator\.ts$/)]));
    for (const d of docs) expect(d).toMatchObject({ adi_profile_match: "local" });
  });

  it("is rebuilt by a replay: the environment YAML and the container-enriched map identical to the live ones, the log line for line", () => {
    expect(readdirSync(replayDir).sort()).toEqual(["ebpf_http_env.yaml", "ebpf_http_profiler.log", "ebpf_service_map.yaml"]);
    for (const f of ["ebpf_http_env.yaml", "ebpf_service_map.yaml"]) expect(readFileSync(join(replayDir, f), "utf8"), f).toBe(readFileSync(join(out, f), "utf8"));
    // The same lines, names and containers included; the order may differ only for a line that reached the live
    // mapper later than the log's 1 s window (appended where it arrived, see README), so compare them sorted.
    const sortedLines = (f: string) => readFileSync(f, "utf8").trimEnd().split("\n").sort();
    const rebuilt = sortedLines(join(replayDir, "ebpf_http_profiler.log"));
    expect(rebuilt.length).toBeGreaterThan(10);
    expect(rebuilt).toEqual(sortedLines(join(out, "ebpf_http_profiler.log")));
  });
});
