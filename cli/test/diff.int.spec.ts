// `adi diff` as a user runs it (bin/adi, a child process) against a real nats-server: raw events of a client
// (traffic-generator) calling http-service published in two windows of store time, A then B, compared as windows
// of the stream and as the two service maps `adi replay` rebuilds from them; and its usage errors and exit codes.
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { jetstream } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import type { NatsConnection } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ensureStreams } from "@adi/shared/nats";
import { encodeBatch, encodeFact, encodeRecord, factSubject, partitionOf, rawSubject } from "@adi/shared/wire";
import type { ProcessFact, RecordInit } from "@adi/shared/wire";
import { NatsServerFixture } from "../../test/support/nats-server.ts";
import { ADI } from "./adi-process.ts";

const HOST = "diffhost";
const BOOT = "4f7a1c2e-9b3d-4e5f-8a6b-7c8d9e0f1a2b";
const PARTITIONS = 4;
/** The client: a process fact names it traffic-generator; its calls carry Host: http-service. */
const PID = 4242;
const TICKS = 777;
const TG = "traffic-generator";
const HS = "http-service";

let nats: NatsServerFixture;
let dir: string;
/** Window A: [aSince, boundary]; window B: [boundary, bUntil] (store time). */
let aSince: string;
let boundary: string;
let bUntil: string;

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `adi args` to its end (its output streams closed, not only its exit). */
function adi(args: string[], env: Record<string, string> = {}): Promise<Run> {
  const child = spawn(ADI, args, { env: { PATH: process.env.PATH!, HOME: dir, NATS_URL: nats.url, ...env }, stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d: Buffer) => (stdout += d.toString("utf8")));
  child.stderr.on("data", (d: Buffer) => (stderr += d.toString("utf8")));
  return new Promise((resolve, reject) => {
    child.once("error", reject);
    child.once("close", (code) => resolve({ code, stdout, stderr }));
  });
}

/** One keep-alive connection of the client making `calls` (path, JSON response body), opened and closed, as one batch. */
async function publishConnection(nc: NatsConnection, connId: bigint, calls: [string, string][]): Promise<void> {
  let ts = BigInt(Date.now()) * 1_000_000n;
  const next = () => (ts += 1_000_000n);
  const base = { pid: PID, startTicks: TICKS, connId, tuple: { laddr: "127.0.0.1", lport: 40000 + Number(connId % 1000n), raddr: "127.0.0.1", rport: 8080 } };
  const records: RecordInit[] = [{ type: "conn_open", tsNs: next(), ...base, syscall: "connect", role: "client" }];
  for (const [path, body] of calls) {
    records.push({ type: "data", tsNs: next(), ...base, direction: "egress", payload: Buffer.from(`GET ${path} HTTP/1.1\r\nHost: ${HS}\r\n\r\n`) });
    const response = `HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
    records.push({ type: "data", tsNs: next(), ...base, direction: "ingress", payload: Buffer.from(response) });
  }
  records.push({ type: "conn_close", tsNs: next(), ...base, syscall: "tcp_destroy", role: "client" });
  const p = partitionOf(connId, PARTITIONS);
  await jetstream(nc).publish(rawSubject(HOST, p), encodeBatch({ partition: p, seq: connId, bootId: BOOT }, records.map((r) => encodeRecord(r))));
}

const SIDES_TEXT = () => [`--- A: stream stored from ${aSince} to ${boundary}`, `+++ B: stream stored from ${boundary} to ${bUntil}`];
const WINDOWS = () => ["--a-since", aSince, "--a-until", boundary, "--b-since", boundary, "--b-until", bUntil];
const TWO_CHANGES = [`+ endpoint ${TG} -> ${HS} GET /b`, `~ field ${TG} -> ${HS} GET /slow response.slow: boolean -> string`, "2 changes: 1 endpoint added, 1 field changed type"];

beforeAll(async () => {
  nats = await NatsServerFixture.start();
  dir = mkdtempSync(join(tmpdir(), "adi-diff-"));
  const nc = await connect({ servers: nats.url });
  await ensureStreams(nc, { maxAgeMs: 0, maxBytes: -1, replicas: 1, partitions: PARTITIONS });
  const fact = {
    v: 1, type: "process", event: "exec", ts: new Date().toISOString().replace("Z", "000000Z"), host: HOST, boot_id: BOOT, pid: PID, start_ticks: TICKS,
    ppid: 1, comm: "node", exe: "/usr/bin/node", cmdline: "node generator.js", cgroup: null, container_id: null,
    adi_profile_match: "local", adi_profile_name: TG, optin: "yes", env: {}, env_redacted: true, error: null, exit_code: null,
  } satisfies ProcessFact;
  await jetstream(nc).publish(factSubject(HOST, "process"), encodeFact(fact));
  // Windows are by JetStream store time: each publish is acknowledged (stored) before the next instant is taken.
  aSince = new Date().toISOString();
  await sleep(100);
  await publishConnection(nc, 1001n, [["/a", '{"ok":true}'], ["/slow", '{"slow":true}']]);
  await sleep(200);
  boundary = new Date().toISOString();
  await sleep(200);
  await publishConnection(nc, 2002n, [["/a", '{"ok":true}'], ["/slow", '{"slow":"yes"}'], ["/b", '{"b":1}']]);
  await sleep(100);
  bUntil = new Date().toISOString();
  await nc.drain();
});

afterAll(async () => {
  await nats?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe("adi diff of two windows of the stream", () => {
  it("reports exactly the new endpoint and the retyped response field, and exits 1", async () => {
    const r = await adi(["diff", ...WINDOWS()]);
    expect(r).toEqual({ code: 1, stdout: [...SIDES_TEXT(), ...TWO_CHANGES, ""].join("\n"), stderr: "" });
  });

  it("--json: the two sides and the same two changes", async () => {
    const r = await adi(["diff", ...WINDOWS(), "--json"]);
    expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 1, stderr: "" });
    expect(JSON.parse(r.stdout)).toEqual({
      a: { since: aSince, until: boundary },
      b: { since: boundary, until: bUntil },
      changes: [
        { change: "endpoint_added", source: TG, destination: HS, method: "GET", path: "/b" },
        { change: "field_type_changed", source: TG, destination: HS, method: "GET", path: "/slow", field: "response.slow", from: "boolean", to: "string" },
      ],
    });
  });

  it("a window against itself: no changes, exit 0", async () => {
    const r = await adi(["diff", "--a-since", aSince, "--a-until", boundary, "--b-since", aSince, "--b-until", boundary]);
    expect(r).toEqual({ code: 0, stdout: [`--- A: stream stored from ${aSince} to ${boundary}`, `+++ B: stream stored from ${aSince} to ${boundary}`, "no changes", ""].join("\n"), stderr: "" });
  });

  it("on a broker without the streams: ADI_ERR_NO_STREAM, exit 5", async () => {
    const empty = await NatsServerFixture.start();
    try {
      const r = await adi(["diff", "--a-until", boundary, "--b-since", boundary], { NATS_URL: empty.url });
      expect(r.code).toBe(5);
      expect(r.stdout).toBe("");
      expect(r.stderr).toMatch(/^adi: ADI_ERR_NO_STREAM: stream ADI_FACTS does not exist on the broker/);
    } finally {
      await empty.stop();
    }
  });
});

describe("adi diff of two saved maps", () => {
  it("the maps `adi replay` rebuilds from each window give the same two changes", async () => {
    const files: string[] = [];
    for (const [name, since, until] of [["a", aSince, boundary], ["b", boundary, bUntil]] as const) {
      const out = join(dir, `replay-${name}`);
      const replay = await adi(["replay", "--out", out, "--since", since, "--until", until], { LOG_LEVEL: "warn" });
      expect({ name, code: replay.code, stderr: replay.stderr }).toEqual({ name, code: 0, stderr: "" });
      files.push(join(out, "ebpf_service_map.yaml"));
    }
    expect(readFileSync(files[0]!, "utf8")).toContain("/slow");
    const r = await adi(["diff", files[0]!, files[1]!]);
    expect(r).toEqual({ code: 1, stdout: [`--- A: ${files[0]}`, `+++ B: ${files[1]}`, ...TWO_CHANGES, ""].join("\n"), stderr: "" });
    const json = await adi(["diff", files[0]!, files[1]!, "--json"]);
    expect(json.code).toBe(1);
    expect(JSON.parse(json.stdout)).toMatchObject({ a: { file: files[0] }, b: { file: files[1] }, changes: [{ change: "endpoint_added", path: "/b" }, { change: "field_type_changed", field: "response.slow" }] });
    expect(await adi(["diff", files[1]!, files[1]!])).toMatchObject({ code: 0, stderr: "" });
  });

  it("a file that is not a service map: ADI_ERR_CONFIG naming the file and the bad place, exit 2", async () => {
    const bad = join(dir, "bad.yaml");
    writeFileSync(bad, "generated_at: null\nservices:\n  - name: s\n    image: null\n    endpoints: [{destination: d}]\n");
    const r = await adi(["diff", bad, bad]);
    expect({ code: r.code, stdout: r.stdout }).toEqual({ code: 2, stdout: "" });
    expect(r.stderr).toBe(`adi: ADI_ERR_CONFIG: ${bad} at services[0].endpoints[0].destination_type: missing (expected one of "container", "external")\n`);
    const missing = await adi(["diff", join(dir, "none.yaml"), bad]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain(`adi: ADI_ERR_CONFIG: ${join(dir, "none.yaml")}: cannot be read: ENOENT`);
  });
});

describe("adi diff usage", () => {
  const cases: [string, string[], RegExp][] = [
    ["nothing", [], /adi diff: nothing to compare: give two saved maps/],
    ["one file", ["a.yaml"], /adi diff: one saved map given/],
    ["files and windows", ["a.yaml", "b.yaml", "--a-since", "2026-01-01T00:00:00Z"], /adi diff: saved maps and --a-since given together/],
    ["a side without a window", ["--a-since", "2026-01-01T00:00:00Z"], /adi diff: side B has no window: give --b-since and\/or --b-until/],
    ["a time that is not one", ["--a-since", "yesterday", "--b-since", "2026-01-01T00:00:00Z"], /--a-since "yesterday": expected an ISO 8601 time/],
    ["a window ending before it starts", ["--a-since", "2026-01-02T00:00:00Z", "--a-until", "2026-01-01T00:00:00Z", "--b-since", "2026-01-01T00:00:00Z"], /--a-since 2026-01-02T00:00:00.000Z is after --a-until/],
  ];
  it.each(cases)("%s: ADI_ERR_CONFIG, exit 2, before any broker is reached", async (_what, args, message) => {
    // An unreachable NATS_URL: a usage error must not wait for the broker (ADI_START_TIMEOUT would).
    const r = await adi(["diff", ...args], { NATS_URL: "nats://127.0.0.1:1" });
    expect({ code: r.code, stdout: r.stdout }).toEqual({ code: 2, stdout: "" });
    expect(r.stderr).toMatch(/^adi: ADI_ERR_CONFIG: /);
    expect(r.stderr).toMatch(message);
  });
});
