// `adi demo` as the README runs it: the whole pipeline and the demo workload, stopped after a while; the three
// outputs must show the Go tool's expected edges, and a replay must rebuild them byte for byte.
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parse, parseAllDocuments } from "yaml";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Validator } from "@seriousme/openapi-schema-validator";
import { freePort, NatsServerFixture } from "../../test/support/nats-server.ts";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
type Service = { name: string; endpoints?: Record<string, unknown>[]; connections?: Record<string, unknown>[] };

let nats: NatsServerFixture;
let out: string;
let env: Record<string, string>;
let result: { code: number | null; stderr: string };

function adi(args: string[]) {
  return new Promise<{ code: number | null; stderr: string }>((resolve) => {
    const child = spawn(join(ROOT, "bin/adi"), args, { env: { PATH: process.env.PATH!, ...env }, stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    child.stderr.on("data", (d) => (stderr += d));
    child.on("exit", (code) => resolve({ code, stderr }));
  });
}

beforeAll(async () => {
  nats = await NatsServerFixture.start();
  out = mkdtempSync(join(tmpdir(), "adi-demo-"));
  env = { NATS_URL: nats.url, ADI_HOST: `demo${process.pid}`, LOG_LEVEL: "warn", DEMO_INTERVAL_MS: "200" };
  result = await adi(["demo", "--out", out, "--port", String(await freePort()), "--duration", "8"]);
}, 120_000);

afterAll(async () => {
  await nats?.stop();
});

const map = () => parse(readFileSync(join(out, "ebpf_service_map.yaml"), "utf8")) as { services: Service[] };
const service = (name: string) => map().services.find((s) => s.name === name);

describe("adi demo", () => {
  it("stops by itself, exits 0 and says where the outputs are", () => {
    expect(result.code, result.stderr.slice(-2000)).toBe(0);
    expect(result.stderr).toMatch(/adi demo: outputs written/);
    // The summary (issue 13, item 5): what was found, and where the files are.
    expect(result.stderr).toMatch(/services +3 found: http-service, request-logger, traffic-generator/);
    expect(result.stderr).toMatch(/traffic-generator -> http-service +HTTP, 4 routes, \d+ calls/);
    expect(result.stderr).toContain(join(out, "ebpf_service_map.yaml"));
    for (const f of ["ebpf_http_profiler.log", "ebpf_http_env.yaml", "ebpf_service_map.yaml"]) expect(statSync(join(out, f)).mode & 0o777).toBe(0o600);
  });

  it("maps traffic-generator -> http-service with the four endpoints and their schemas", () => {
    const endpoints = service("traffic-generator")!.endpoints!;
    // The variant with a response (a call cut short by the stop has none, and is an entry of its own).
    const find = (method: string, path: string) => endpoints.find((e) => e.method === method && e.path === path && e.response_schema !== null);
    for (const [m, p] of [["GET", "/"], ["GET", "/healthz"], ["POST", "/echo"], ["GET", "/slow"]]) {
      expect(find(m!, p!), `${m} ${p}`).toMatchObject({ destination: "http-service" });
      expect(Number(find(m!, p!)!.count)).toBeGreaterThan(3);
    }
    expect(find("GET", "/slow")!.response_schema).toMatchObject({ slow: "boolean" });
    expect(find("POST", "/echo")!.request_schema).toMatchObject({ message: "string" });
    expect(find("GET", "/healthz")!.response_schema).toEqual({ status: "string" });
  });

  it("has exactly the Go tool's non-HTTP edges", () => {
    const edges = (name: string) => (service(name)?.connections ?? []).map((c) => `${c.protocol}:${c.port}:${c.category}:${c.confidence}`).sort();
    expect(edges("traffic-generator")).toEqual(["postgres:5432:database:90", "redis:6379:cache:90"]);
    expect(edges("http-service")).toEqual(["nats:4222:message_bus:90"]);
    expect(edges("request-logger")).toEqual(["nats:4222:message_bus:90", "redis:6379:cache:90"]);
  });

  it("writes the environment inventory of the three services", () => {
    const docs = parseAllDocuments(readFileSync(join(out, "ebpf_http_env.yaml"), "utf8")).map((d) => d.toJS());
    const names = docs.map((d) => d.adi_profile_name).sort();
    expect(names).toEqual(["http-service", "request-logger", "traffic-generator"]);
    for (const d of docs) expect(d).toMatchObject({ adi_profile_match: "local", adi_profile_env: { ADI_PROFILE: "local" } });
  });

  it("exports the http-service's OpenAPI 3.1: valid, its four operations, the request schema of /echo (issue 13)", async () => {
    const file = join(mkdtempSync(join(tmpdir(), "adi-demo-openapi-")), "http-service.json");
    const run = await adi(["export", "openapi", "--service", "http-service", "--out", file]);
    expect(run.code, run.stderr.slice(-2000)).toBe(0);
    const doc = JSON.parse(readFileSync(file, "utf8")) as { openapi: string; paths: Record<string, Record<string, { requestBody?: { content: Record<string, { schema: unknown }> } }>> };
    // Checked here by the validator itself, not only by the exporter's own check.
    const validator = new Validator();
    const result = await validator.validate(structuredClone(doc) as unknown as Record<string, unknown>);
    expect(result.errors ?? [], JSON.stringify(result.errors)).toEqual([]);
    expect(result.valid && validator.version).toBe("3.1");
    const operations = Object.entries(doc.paths).flatMap(([path, ops]) => Object.keys(ops).filter((k) => k !== "parameters").map((m) => `${m.toUpperCase()} ${path}`));
    expect(operations.sort()).toEqual(["GET /", "GET /healthz", "GET /slow", "POST /echo"]);
    expect(doc.paths["/echo"]!.post!.requestBody!.content["application/json"]!.schema).toMatchObject({ type: "object", properties: { message: { type: "string" } } });
  }, 60_000);

  it("is rebuilt by adi replay: map and environment byte for byte, the log line for line", async () => {
    const again = mkdtempSync(join(tmpdir(), "adi-demo-replay-"));
    env = { ...env, OUTPUT_PATH: join(out, "ebpf_http_profiler.log"), ENV_OUTPUT_PATH: join(out, "ebpf_http_env.yaml"), SERVICE_MAP_PATH: join(out, "ebpf_service_map.yaml") };
    expect((await adi(["replay", "--out", again])).code).toBe(0);
    for (const f of ["ebpf_http_env.yaml", "ebpf_service_map.yaml"]) expect(readFileSync(join(again, f), "utf8"), f).toBe(readFileSync(join(out, f), "utf8"));
    // Order can differ only for a line that reached the live mapper later than the log's 1 s window (see README).
    const sortedLines = (f: string) => readFileSync(f, "utf8").trimEnd().split("\n").sort();
    const rebuilt = sortedLines(join(again, "ebpf_http_profiler.log"));
    expect(rebuilt.length).toBeGreaterThan(10);
    expect(rebuilt).toEqual(sortedLines(join(out, "ebpf_http_profiler.log")));
  }, 60_000);
});
