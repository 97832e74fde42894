// Issue 10, item 1, through the real kernel: a request line longer than the first 256 bytes is HTTP and logged
// with its whole target (curl against a Node and a Python server), a first write of two bytes waits for the rest,
// and a connection no rule recognises reaches the derived stream as `unknown` with its first bytes.
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { decodeDerivedBatch, DERIVED_STREAM } from "@adi/shared/wire";
import type { ConnectionObservation, Derived, HttpExchange } from "@adi/shared/wire";
import { freePort, NatsServerFixture, waitForPort } from "../../../test/support/nats-server.ts";
import { processEnv, run, sleep, startBackground, stopBackground } from "../../../test/support/capture.ts";
import { startPipeline, stopAndReadLog, tearDown } from "../../../test/support/pipeline.ts";
import type { Pipeline } from "../../../test/support/pipeline.ts";
import { readStream } from "../../../test/support/stream.ts";
import { poll } from "../../../test/support/wait.ts";

const SERVERS = fileURLToPath(new URL("./fixtures/servers/", import.meta.url));
const optedIn = (name: string, cwd = tmpdir()) => ({ cwd, env: processEnv({ ADI_PROFILE: "local", ADI_PROFILE_NAME: name }) });
/** 500 characters: the first 256 bytes of the request end inside it (the old verdict was taken there). */
const TARGET = `/reports/${"r".repeat(484)}?page=2`;

let nats: NatsServerFixture;
let pipe: Pipeline;
let observations: Derived[] = [];
let log: Record<string, unknown>[] = [];
let nodePort = 0;
let pyPort = 0;
let rawPort = 0;

async function ok(name: string, cmd: string, args: string[]): Promise<string> {
  const r = await run(cmd, args, optedIn(name));
  expect(r.code, `${name}: ${r.stderr}`).toBe(0);
  return r.stdout;
}

async function derived(): Promise<Derived[]> {
  const msgs = await readStream(pipe.nc, DERIVED_STREAM);
  return msgs.flatMap((m) => decodeDerivedBatch(m.data).observations);
}

beforeAll(async () => {
  nats = await NatsServerFixture.start();
  pipe = await startPipeline(nats.url);
  [nodePort, pyPort, rawPort] = [await freePort(), await freePort(), await freePort()];
  const www = mkdtempSync(join(tmpdir(), "adi-detect-www-"));
  const node = startBackground(process.execPath, [join(SERVERS, "target-echo.mjs"), String(nodePort)], optedIn("node-api"));
  const py = startBackground("python3", ["-m", "http.server", String(pyPort), "--bind", "127.0.0.1"], optedIn("py-api", www));
  const raw = startBackground("python3", [join(SERVERS, "raw-peer.py"), "server", String(rawPort)], optedIn("raw-server"));
  try {
    await Promise.all([waitForPort(nodePort), waitForPort(pyPort), waitForPort(rawPort)]);
    const body = await ok("long-curl", "curl", ["-sS", `http://127.0.0.1:${nodePort}${TARGET}`]);
    expect(JSON.parse(body)).toEqual({ target: TARGET, length: 500 });
    await ok("long-curl-py", "curl", ["-sS", "-o", "/dev/null", `http://127.0.0.1:${pyPort}${TARGET}`]);
    await ok("two-bytes", "python3", [join(SERVERS, "raw-peer.py"), "client", String(nodePort), "http2bytes"]);
    await ok("raw-client", "python3", [join(SERVERS, "raw-peer.py"), "client", String(rawPort)]);
    await sleep(300);
  } finally {
    for (const p of [node, py, raw]) await stopBackground(p);
  }
  await pipe.capture!.stop(10_000);
  // Client and server views of three HTTP calls, and the raw connection's two views.
  observations = await poll(derived, (seen) => {
    const targets = seen.filter((d): d is HttpExchange => d.type === "http_exchange").length;
    const unknown = seen.filter((d) => d.type === "connection" && d.protocol === "unknown").length;
    return targets >= 6 && unknown >= 2;
  }, 30_000);
  await pipe.waitForObservations(observations.length, 20_000).catch(() => undefined);
  log = await stopAndReadLog(pipe);
}, 180_000);

afterAll(() => tearDown(pipe, nats));

const exchangesTo = (port: number) =>
  observations.filter((d): d is HttpExchange => d.type === "http_exchange" && d.server.port === port);

describe("a 500-character target through the kernel", () => {
  it("is HTTP at both ends against Node, with the whole target and the response", () => {
    const xs = exchangesTo(nodePort).filter((x) => x.request.target === TARGET);
    expect(xs.map((x) => [x.side, x.request.method, x.request.target.length, x.response?.status]).sort()).toEqual([
      ["client", "GET", 500, 200],
      ["server", "GET", 500, 200],
    ]);
  });

  it("is HTTP at both ends against Python's http.server (404 for a path it does not have)", () => {
    const xs = exchangesTo(pyPort);
    expect(xs.map((x) => [x.side, x.request.target, x.response?.status]).sort()).toEqual([
      ["client", TARGET, 404],
      ["server", TARGET, 404],
    ]);
  });

  it("is never called unknown", () => {
    const conns = observations.filter((d): d is ConnectionObservation => d.type === "connection" && (d.server.port === nodePort || d.server.port === pyPort));
    expect(conns).toEqual([]);
  });

  it("reaches the traffic log with the whole target, from both ends", () => {
    const lines = log.filter((l) => l.url === TARGET);
    const expected = [
      ["client", "GET", nodePort],
      ["client", "GET", pyPort],
      ["server", "GET", nodePort],
      ["server", "GET", pyPort],
    ];
    expect(lines.map((l) => [l.side, l.method, l.dest_port]).sort()).toEqual(expected.sort());
  });
});

describe("a first write of two bytes", () => {
  it("waits for the rest of the request line: HTTP at both ends", () => {
    const xs = exchangesTo(nodePort).filter((x) => x.request.target === "/first-write-of-two-bytes");
    expect(xs.map((x) => [x.side, x.request.method, x.response?.status]).sort()).toEqual([
      ["client", "GET", 200],
      ["server", "GET", 200],
    ]);
  });
});

describe("a connection no rule recognises", () => {
  it("is emitted as unknown (0) at both ends, with its first bytes in hex", () => {
    const conns = observations.filter((d): d is ConnectionObservation => d.type === "connection" && d.server.port === rawPort);
    expect(conns.map((c) => [c.side, c.protocol, c.confidence]).sort()).toEqual([
      ["client", "unknown", 0],
      ["server", "unknown", 0],
    ]);
    for (const c of conns) expect(c.evidence.first_bytes_hex).toBe("0102039c007f6f7061717565");
  });
});
