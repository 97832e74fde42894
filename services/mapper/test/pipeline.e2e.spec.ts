// Through the kernel, end to end: real clients against real servers, captured, classified and mapped into
// the Go tool's two traffic outputs (OUTPUT_PATH JSON lines, SERVICE_MAP_PATH YAML), then rebuilt by replay.
import { spawn } from "node:child_process";
import { readFileSync, statSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parse } from "yaml";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort, NatsServerFixture, waitForPort } from "../../../test/support/nats-server.ts";
import { processEnv, run, sleep, startBackground, stopBackground } from "../../../test/support/capture.ts";
import { startPipeline, tearDown, testEnv } from "../../../test/support/pipeline.ts";
import type { Pipeline } from "../../../test/support/pipeline.ts";
import { until } from "../../../test/support/wait.ts";

const ROOT = fileURLToPath(new URL("../../../", import.meta.url));
const CLIENTS = join(ROOT, "test/support/clients");
const ADI = join(ROOT, "bin/adi");

let nats: NatsServerFixture;
let pipe: Pipeline;
let lines: Record<string, unknown>[];
let map: { generated_at: string; services: { name: string; endpoints?: Record<string, unknown>[]; connections?: Record<string, unknown>[] }[] };
let logText: string;
let mapText: string;
let httpPort = 0;

const optedIn = (name: string) => ({ cwd: ROOT, env: processEnv({ ADI_PROFILE: "local", ADI_PROFILE_NAME: name }) });
async function client(name: string, cmd: string, args: string[]) {
  const r = await run(cmd, args, optedIn(name));
  expect(r.code, `${name}: ${r.stderr}`).toBe(0);
}

beforeAll(async () => {
  nats = await NatsServerFixture.start();
  pipe = await startPipeline(nats.url);
  httpPort = await freePort();
  const api = startBackground(process.execPath, [join(CLIENTS, "http-server.mjs"), String(httpPort)], optedIn("api"));
  try {
    await waitForPort(httpPort);
    const base = `http://127.0.0.1:${httpPort}`;
    await client("web", process.execPath, [join(CLIENTS, "http-client.mjs"), base]);
    await client("prober", "curl", ["-sS", "--fail", "-o", "/dev/null", `${base}/healthz`]);
    await client("pipeliner", "python3", [join(CLIENTS, "pipeline.py"), String(httpPort)]);
    await client("pg-client", process.execPath, [join(CLIENTS, "pg.mjs")]);
    await client("mysql-client", process.execPath, [join(CLIENTS, "mysql.mjs")]);
    await client("redis-client", process.execPath, [join(CLIENTS, "redis.mjs")]);
    await client("amqp-client", process.execPath, [join(CLIENTS, "amqp.mjs")]);
    await client("nats-client", process.execPath, [join(CLIENTS, "nats.mjs"), "127.0.0.1:4222"]);
    await client("memcached-client", process.execPath, [join(CLIENTS, "memcached.mjs")]);
    await sleep(300);
  } finally {
    await stopBackground(api);
  }
  await pipe.capture!.stop(10_000);
  const mapPath = pipe.cfg.serviceMapPath!;
  await until("the service map to show every client", () => {
    try {
      const m = parse(readFileSync(mapPath, "utf8")) as typeof map;
      const names = new Set(m.services.map((s) => s.name));
      const web = m.services.find((s) => s.name === "web");
      return ["web", "prober", "pipeliner", "pg-client", "mysql-client", "redis-client", "amqp-client", "nats-client", "memcached-client"].every((n) => names.has(n)) &&
        (web?.endpoints?.length ?? 0) >= 4 && (m.services.find((s) => s.name === "pipeliner")?.endpoints?.length ?? 0) >= 3;
    } catch {
      return false;
    }
  }, 20_000);
  await sleep(500);
  await pipe.stop();
  logText = readFileSync(pipe.cfg.outputPath, "utf8");
  mapText = readFileSync(mapPath, "utf8");
  lines = logText.trim().split("\n").map((l) => JSON.parse(l));
  map = parse(mapText);
}, 180_000);

afterAll(() => tearDown(pipe, nats));

const service = (name: string) => map.services.find((s) => s.name === name)!;
const endpoint = (from: string, method: string, path: string) => service(from).endpoints!.filter((e) => e.method === method && e.path === path);
const connection = (from: string, protocol: string) => service(from).connections?.find((c) => c.protocol === protocol);

describe("HTTP through the kernel (Node fetch, curl and pipelining against a Node server)", () => {
  it("logs every request and response seen from both ends, with the Go tool's fields", () => {
    const sends = lines.filter((l) => l.method === "POST" && l.url === "/echo");
    expect(sends.map((l) => l.direction).sort()).toEqual(["recv", "send"]);
    for (const l of sends) {
      expect(l).toMatchObject({ source_ip: "127.0.0.1", dest_ip: "127.0.0.1", dest_port: httpPort, body: '{"message":"hello"}' });
      expect(l.timestamp).toMatch(/^2\d{3}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z$/);
      for (const field of ["pid", "comm", "cmdline", "source_port", "bytes", "headers", "raw_payload"]) expect(l, field).toHaveProperty(field);
    }
    const responses = lines.filter((l) => l.status_code === 200 && String(l.body ?? "").includes('"echo"'));
    expect(responses.length).toBe(2);
    expect(responses[0]!.source_port).toBe(httpPort); // the response is sent by the server
  });

  it("decodes chunked and gzip bodies", () => {
    const chunked = lines.find((l) => l.status_code === 200 && String(l.body ?? "").startsWith('{"parts"'));
    expect(JSON.parse(chunked!.body as string)).toEqual({ parts: [{ n: 1 }, { n: 2 }] });
    const gz = lines.find((l) => String(l.body ?? "").includes('"compressed"'));
    expect(JSON.parse(gz!.body as string)).toEqual({ compressed: true, size: 3 });
  });

  it("pairs three pipelined requests with their responses, in order", () => {
    for (const i of [1, 2, 3]) {
      const e = endpoint("pipeliner", "GET", `/items/${i}`);
      expect(e).toHaveLength(1);
      expect(e[0]).toMatchObject({ destination: "api", count: 1, response_schema: { id: "number", tags: ["string"] } });
    }
    const seqs = lines.filter((l) => String(l.url ?? "").startsWith("/items/") && l.side === "client").map((l) => [l.url, l.seq]);
    expect(seqs.sort()).toEqual([["/items/1", 0], ["/items/2", 1], ["/items/3", 2]]);
  });

  it("maps each call once even though both ends saw it, with request and response schemas", () => {
    expect(endpoint("web", "GET", "/")[0]).toMatchObject({ destination: "api", count: 1, request_schema: null, response_schema: { ok: "boolean", service: "string" } });
    expect(endpoint("web", "POST", "/echo")[0]).toMatchObject({ count: 1, request_schema: { message: "string" }, response_schema: { echo: { message: "string" } } });
    expect(endpoint("web", "GET", "/chunked")[0]).toMatchObject({ count: 1, response_schema: { parts: [{ n: "number" }] } });
    expect(endpoint("web", "GET", "/gzip")[0]).toMatchObject({ count: 1, response_schema: { compressed: "boolean", size: "number" } });
    expect(endpoint("prober", "GET", "/healthz")[0]).toMatchObject({ destination: "api", count: 1, response_schema: { status: "string" } });
  });
});

describe("databases, caches and message buses through the kernel (real clients, real servers)", () => {
  const cases = [
    ["pg-client", "postgres", "database", 5432],
    ["mysql-client", "mysql", "database", 3306],
    ["redis-client", "redis", "cache", 6379],
    ["memcached-client", "memcached", "cache", 11211],
    ["amqp-client", "amqp", "message_bus", 5672],
    ["nats-client", "nats", "message_bus", 4222],
  ] as const;
  for (const [name, protocol, category, port] of cases) {
    it(`classifies ${name} as ${protocol} with a confirmed fingerprint`, () => {
      expect(connection(name, protocol)).toMatchObject({ protocol, category, port, confidence: 90 });
      expect(String(connection(name, protocol)!.reason)).toMatch(new RegExp(`port ${port}`));
      const line = lines.find((l) => l.event_type === "connection" && l.protocol === protocol && l.dest_port === port);
      expect(line).toMatchObject({ category, confidence: 90, direction: expect.any(String) });
      expect(line!.detection_reason).toBeTruthy();
    });
  }
});

describe("output files", () => {
  it("are written with mode 0600 and a generated_at from capture time", () => {
    expect(statSync(pipe.cfg.outputPath).mode & 0o777).toBe(0o600);
    expect(statSync(pipe.cfg.serviceMapPath!).mode & 0o777).toBe(0o600);
    const latest = lines.map((l) => l.timestamp as string).sort().at(-1)!;
    expect(map.generated_at <= latest || map.generated_at.slice(0, 19) === latest.slice(0, 19)).toBe(true);
  });
});

describe("adi replay", () => {
  const replay = (out: string, ...extra: string[]) =>
    new Promise<{ code: number | null; stderr: string }>((resolve) => {
      const env = testEnv(nats.url, out, { ADI_HOST: pipe.cfg.host, OUTPUT_PATH: pipe.cfg.outputPath, SERVICE_MAP_PATH: pipe.cfg.serviceMapPath! });
      const child = spawn(ADI, ["replay", "--out", out, ...extra], { env: { PATH: process.env.PATH!, ...env } });
      let stderr = "";
      child.stderr.on("data", (d) => (stderr += d));
      child.on("exit", (code) => resolve({ code, stderr }));
    });

  it("rebuilds byte-identical files, twice, equal to what the live pipeline wrote (the log line for line)", async () => {
    const a = mkdtempSync(join(tmpdir(), "adi-replay-a-"));
    const b = mkdtempSync(join(tmpdir(), "adi-replay-b-"));
    for (const dir of [a, b]) expect((await replay(dir)).code).toBe(0);
    const files = ["traffic.log", "service-map.yaml"];
    for (const f of files) expect(readFileSync(join(a, f), "utf8")).toBe(readFileSync(join(b, f), "utf8"));
    expect(readFileSync(join(a, "service-map.yaml"), "utf8")).toBe(mapText);
    // The same lines; their order can differ only for a line that reached the live mapper later than the log's
    // 1 s window (appended where it arrived, see README).
    const sortedLines = (text: string) => text.trimEnd().split("\n").sort();
    expect(sortedLines(readFileSync(join(a, "traffic.log"), "utf8"))).toEqual(sortedLines(logText));
  }, 60_000);

  it("limits itself to a time window (--until before the traffic: empty outputs)", async () => {
    const out = mkdtempSync(join(tmpdir(), "adi-replay-until-"));
    expect((await replay(out, "--until", "2001-01-01T00:00:00Z")).code).toBe(0);
    expect(readFileSync(join(out, "traffic.log"), "utf8")).toBe("");
    expect(parse(readFileSync(join(out, "service-map.yaml"), "utf8"))).toMatchObject({ services: [] });
    const bad = await replay(out, "--since", "yesterday-ish");
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--since "yesterday-ish"/);
  }, 60_000);
});
