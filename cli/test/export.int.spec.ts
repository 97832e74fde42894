// `adi export` as a user runs it (bin/adi, a child process) against a real nats-server holding real raw events: a
// client "web" calling "api" over HTTP/1.1 (keep-alive, 24 item lookups that fold into /items/{id}, a login-like
// POST whose password must not reach the document, a text health check) and PostgreSQL "db". The classifier inside
// the fold (foldStreams, as `adi replay`) makes the exchanges; the documents and graphs are checked as written.
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { jetstream } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import { fromDot } from "ts-graphviz";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse, parseAllDocuments } from "yaml";
import { createLogger } from "@adi/shared";
import { connectNats, ensureStreams } from "@adi/shared/nats";
import { encodeBatch, encodeFact, encodeRecord, factSubject, nsToIso, rawSubject } from "@adi/shared/wire";
import type { RecordInit } from "@adi/shared/wire";
import { validateOpenApi } from "@adi/mapper";
import type { OpenApiDocument } from "@adi/mapper";
import { freePort, NatsServerFixture } from "../../test/support/nats-server.ts";
import { ADI, startAdi } from "./adi-process.ts";

const HOST = "exporthost";
const BOOT = "0b5e7a11-3c2d-4e5f-8a9b-0c1d2e3f4a5b";
const CLIENT = { pid: 7, startTicks: 100 };
const API_PORT = 8080;
const DB_PORT = 5432;
const PASSWORD = "hunter2-PLANTED";

let nats: NatsServerFixture;
let dir: string;

beforeAll(async () => {
  nats = await NatsServerFixture.start();
  dir = mkdtempSync(join(tmpdir(), "adi-export-"));
  const nc = await connectNats({ servers: [nats.url], name: "export-test", log: createLogger("export-test", "silent") });
  try {
    await publishTraffic(nc);
  } finally {
    await nc.close();
  }
});

afterAll(async () => {
  await nats?.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** The facts naming both ends, and one raw batch of the client's two connections, as the capture agent writes them. */
async function publishTraffic(nc: NatsConnection): Promise<void> {
  await ensureStreams(nc, { maxAgeMs: 0, maxBytes: -1, replicas: 1, partitions: 1 });
  const js = jetstream(nc);
  let ts = BigInt(Date.now() - 60_000) * 1_000_000n;
  const next = () => (ts += 1_000_000n);
  const header = { v: 1 as const, ts: nsToIso(next()), host: HOST, boot_id: BOOT };
  await js.publish(
    factSubject(HOST, "process"),
    encodeFact({
      ...header, type: "process", event: "scan", pid: CLIENT.pid, start_ticks: CLIENT.startTicks, ppid: 1, comm: "node", exe: null, cmdline: "node web.js",
      cgroup: null, container_id: null, adi_profile_match: "local", adi_profile_name: "web", optin: "yes", env: {}, env_redacted: true, error: null, exit_code: null,
    }),
  );
  await js.publish(
    factSubject(HOST, "listeners"),
    encodeFact({
      ...header, type: "listeners", event: "scan",
      listeners: [
        { ip: "127.0.0.1", port: API_PORT, pid: null, start_ticks: null, comm: "node", adi_profile_name: "api" },
        { ip: "127.0.0.1", port: DB_PORT, pid: null, start_ticks: null, comm: "postgres", adi_profile_name: "db" },
      ],
    }),
  );
  const records: RecordInit[] = [];
  const conn = (connId: bigint, port: number) => ({ ...CLIENT, connId, tuple: { laddr: "127.0.0.1", lport: 40000 + Number(connId), raddr: "127.0.0.1", rport: port } });
  const api = conn(1n, API_PORT);
  records.push({ type: "conn_open", tsNs: next(), ...api, syscall: "connect", role: "client" });
  const exchange = (request: string, status: string, body: string, type = "application/json") => {
    records.push({ type: "data", tsNs: next(), ...api, direction: "egress", payload: request });
    records.push({ type: "data", tsNs: next(), ...api, direction: "ingress", payload: `HTTP/1.1 ${status}\r\nContent-Type: ${type}\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}` });
  };
  // More distinct ids than a path position lists (20): one route, /items/{id}.
  for (let id = 1; id <= 22; id++) exchange(`GET /items/${id} HTTP/1.1\r\nHost: api:${API_PORT}\r\n\r\n`, "200 OK", JSON.stringify({ id, name: `item ${id}` }));
  for (const id of [900, 901]) exchange(`GET /items/${id} HTTP/1.1\r\nHost: api:${API_PORT}\r\n\r\n`, "404 Not Found", '{"error":"not found"}');
  const login = JSON.stringify({ name: "ann", password: PASSWORD });
  exchange(`POST /items HTTP/1.1\r\nHost: api:${API_PORT}\r\nContent-Type: application/json\r\nContent-Length: ${login.length}\r\n\r\n${login}`, "201 Created", '{"id":7}');
  exchange(`GET /health HTTP/1.1\r\nHost: api:${API_PORT}\r\n\r\n`, "200 OK", "ok", "text/plain");
  records.push({ type: "conn_close", tsNs: next(), ...api, syscall: "close", role: "client" });
  const db = conn(2n, DB_PORT);
  records.push({ type: "conn_open", tsNs: next(), ...db, syscall: "connect", role: "client" });
  records.push({ type: "data", tsNs: next(), ...db, direction: "egress", payload: postgresStartup() });
  records.push({ type: "data", tsNs: next(), ...db, direction: "ingress", payload: Buffer.from([0x52, 0, 0, 0, 8, 0, 0, 0, 0, 0x5a, 0, 0, 0, 5, 0x49]) });
  records.push({ type: "conn_close", tsNs: next(), ...db, syscall: "close", role: "client" });
  await js.publish(rawSubject(HOST, 0), encodeBatch({ partition: 0, seq: 1n, bootId: BOOT }, records.map((r) => encodeRecord(r))));
}

/** A PostgreSQL StartupMessage (protocol 3.0). */
function postgresStartup(): Buffer {
  const params = Buffer.from("user\0app\0database\0shop\0\0");
  const b = Buffer.alloc(8 + params.length);
  b.writeUInt32BE(b.length, 0);
  b.writeUInt32BE(196608, 4);
  params.copy(b, 8);
  return b;
}

/** Runs `adi export <args>` to its exit against the fixture's broker. */
async function adiExport(args: string[], env: Record<string, string> = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const r = startAdi(ADI, ["export", ...args], { NATS_URL: nats.url, ADI_DATA_DIR: join(dir, "data"), LOG_LEVEL: "info", ...env });
  const { code } = await r.exited;
  return { code, stdout: r.stdout(), stderr: r.stderr() };
}

describe("adi export openapi", () => {
  it("--service api --out F: one valid document, mode 0600, with the operations api served", async () => {
    const out = join(dir, "api.yaml");
    const r = await adiExport(["openapi", "--service", "api", "--out", out]);
    expect(r.stderr).toContain('"msg":"export done"'); // logs on stderr
    expect(r.code).toBe(0);
    expect(r.stdout).toBe("");
    expect(statSync(out).mode & 0o777).toBe(0o600);
    const text = readFileSync(out, "utf8");
    expect(text).not.toContain(PASSWORD);
    const doc = parse(text) as OpenApiDocument;
    await validateOpenApi(doc);
    expect(doc.info.title).toBe("api");
    const operations = Object.entries(doc.paths).flatMap(([path, item]) =>
      Object.entries(item)
        .filter(([key]) => key !== "parameters")
        .map(([method, op]) => [method, path, (op as { operationId: string }).operationId, Object.keys((op as { responses: object }).responses)]),
    );
    expect(operations).toEqual([
      ["get", "/health", "get_health", ["200"]],
      ["post", "/items", "post_items", ["201"]],
      ["get", "/items/{id}", "get_items_id", ["200", "404"]],
    ]);
    expect(doc.paths["/items/{id}"]!.parameters).toEqual([
      { name: "id", in: "path", required: true, description: "A path segment whose value varied between calls.", schema: { type: "string" }, example: "1" },
    ]);
    const get = doc.paths["/items/{id}"]!.get!;
    expect(get).toMatchObject({
      responses: {
        "200": { content: { "application/json": { schema: { type: "object", properties: { id: { type: "number" }, name: { type: "string" } } }, example: { id: 1, name: "item 1" } } }, "x-adi-count": 22 },
        "404": { content: { "application/json": { schema: { type: "object", properties: { error: { type: "string" } } } } }, "x-adi-count": 2 },
      },
      "x-adi-count": 24,
      "x-adi-callers": ["web"],
      "x-adi-errors": 0,
    });
    expect(typeof get["x-adi-p50-ms"]).toBe("number");
    const post = doc.paths["/items"]!.post!;
    // The body as the classifier redacted it: the password never reaches the document.
    expect(post.requestBody).toEqual({
      required: true,
      content: { "application/json": { schema: { type: "object", properties: { name: { type: "string" }, password: { type: "string" } } }, example: { name: "ann", password: "[REDACTED]" } } },
    });
    expect(doc.paths["/health"]!.get!.responses).toEqual({ "200": { description: "OK", content: { "application/octet-stream": { example: "ok" } }, "x-adi-count": 1 } });
  });

  it("without --service, to standard output: a YAML stream of every serving service's document", async () => {
    const r = await adiExport(["openapi"]);
    expect(r.code).toBe(0);
    const docs = parseAllDocuments(r.stdout).map((d) => d.toJS() as OpenApiDocument);
    expect(docs.map((d) => d.info.title)).toEqual(["api"]);
    for (const doc of docs) await validateOpenApi(doc);
  });

  it("--out F.json: JSON", async () => {
    const out = join(dir, "api.json");
    const r = await adiExport(["openapi", "--service", "api", "--out", out]);
    expect(r.code).toBe(0);
    const doc = JSON.parse(readFileSync(out, "utf8")) as OpenApiDocument;
    expect(doc.openapi).toBe("3.1.1");
    await validateOpenApi(doc);
  });

  it("--out F.json without --service: the one serving service's document, itself valid (never an array)", async () => {
    const out = join(dir, "all.json");
    const r = await adiExport(["openapi", "--out", out]);
    expect(r.code, r.stderr).toBe(0);
    const doc = JSON.parse(readFileSync(out, "utf8")) as OpenApiDocument;
    expect(doc.info.title).toBe("api");
    await validateOpenApi(doc);
  });

  it("an empty window: exit 2 and no file, never an empty document that reads as success", async () => {
    const out = join(dir, "empty.yaml");
    const empty = await adiExport(["openapi", "--since", "2099-01-01T00:00:00Z", "--out", out]);
    expect(empty.code).toBe(2);
    expect(empty.stderr).toContain("adi: ADI_ERR_CONFIG: no service served HTTP endpoints in this window");
    expect(existsSync(out)).toBe(false);
    const reversed = await adiExport(["mermaid", "--since", "2026-12-01T10:00:00Z", "--until", "2026-12-01T09:00:00Z"]);
    expect(reversed.code).toBe(2);
    expect(reversed.stderr).toContain("is after --until");
  });

  it("--service naming no server: exit 2, one line naming those that serve", async () => {
    const r = await adiExport(["openapi", "--service", "web"]);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe("");
    expect(r.stderr.trim().split("\n").filter((l) => l.startsWith("adi: "))).toEqual([
      'adi: ADI_ERR_CONFIG: --service "web": served no HTTP endpoint in this window (services serving HTTP endpoints: "api")',
    ]);
  });

  it("refuses an unknown format, a bad time and a --out that is a directory before reaching the broker", async () => {
    // No broker behind this URL: a command that dialled it would wait ADI_START_TIMEOUT, then exit 5.
    const env = { NATS_URL: `nats://127.0.0.1:${await freePort()}` };
    const bad = await adiExport(["xml"], env);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('adi: ADI_ERR_CONFIG: format "xml": expected one of openapi, mermaid, dot');
    const since = await adiExport(["dot", "--since", "yesterday"], env);
    expect(since.code).toBe(2);
    expect(since.stderr).toContain('adi: ADI_ERR_CONFIG: --since "yesterday": expected an ISO 8601 time');
    const service = await adiExport(["mermaid", "--service", "api"], env);
    expect(service.code).toBe(2);
    expect(service.stderr).toContain("adi: ADI_ERR_CONFIG: --service applies to openapi only");
    const dirOut = await adiExport(["mermaid", "--out", dir], env);
    expect(dirOut.code).toBe(2);
    expect(dirOut.stderr).toContain(`adi: ADI_ERR_OUTPUT_PATH: --out="${dir}": is a directory`);
  });
});

describe("adi export mermaid and dot", () => {
  it("mermaid: the flowchart of web's calls to api and db", async () => {
    const r = await adiExport(["mermaid"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(
      [
        "flowchart LR",
        '  n_api(["api"])',
        '  n_db[("db")]',
        '  n_web["web"]',
        '  n_web -->|"HTTP 3 endpoints, 26 calls"| n_api',
        '  n_web -->|"postgres"| n_db',
        "",
      ].join("\n"),
    );
  });

  it("dot --out F: the same graph in DOT, mode 0600", async () => {
    const out = join(dir, "map.dot");
    const r = await adiExport(["dot", "--out", out]);
    expect(r.code).toBe(0);
    expect(statSync(out).mode & 0o777).toBe(0o600);
    const g = fromDot(readFileSync(out, "utf8"));
    expect(g.nodes.map((n) => [n.id, n.attributes.get("label"), n.attributes.get("shape")])).toEqual([
      ["n_api", "api", "ellipse"],
      ["n_db", "db", "cylinder"],
      ["n_web", "web", "box"],
    ]);
    expect(g.edges.map((e) => [...e.targets.map((t) => (t as { id: string }).id), e.attributes.get("label")])).toEqual([
      ["n_web", "n_api", "HTTP 3 endpoints, 26 calls"],
      ["n_web", "n_db", "postgres"],
    ]);
  });
});
