// Issue 10, item 2, through the real kernel: `curl -H 'Expect: 100-continue' --data-binary @bigfile` against a
// Node server that answers 413 at once. The body is never sent; the exchange must still appear, at both ends,
// paired with its 413, its request marked truncated. And heads larger than the capture's payload limit
// (ADI_PAYLOAD_LIMIT=1024): logged with what was captured, marked truncated, paired with their responses.
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { decodeDerivedBatch, DERIVED_STREAM } from "@adi/shared/wire";
import type { Derived, HttpExchange } from "@adi/shared/wire";
import { freePort, NatsServerFixture, waitForPort } from "../../../test/support/nats-server.ts";
import { processEnv, run, sleep, startBackground, stopBackground } from "../../../test/support/capture.ts";
import { startPipeline, stopAndReadLog, tearDown } from "../../../test/support/pipeline.ts";
import type { Pipeline } from "../../../test/support/pipeline.ts";
import { readStream } from "../../../test/support/stream.ts";
import { poll } from "../../../test/support/wait.ts";

const SERVERS = fileURLToPath(new URL("./fixtures/servers/", import.meta.url));
const optedIn = (name: string) => ({ cwd: tmpdir(), env: processEnv({ ADI_PROFILE: "local", ADI_PROFILE_NAME: name }) });
const BIG = 3 * 1024 * 1024;

let nats: NatsServerFixture;
let pipe: Pipeline;
let exchanges: HttpExchange[] = [];
let log: Record<string, unknown>[] = [];
let port = 0;
let curlStatus = "";

async function derived(p: Pipeline = pipe): Promise<Derived[]> {
  return (await readStream(p.nc, DERIVED_STREAM)).flatMap((m) => decodeDerivedBatch(m.data).observations);
}

beforeAll(async () => {
  nats = await NatsServerFixture.start();
  pipe = await startPipeline(nats.url);
  port = await freePort();
  const bigfile = join(mkdtempSync(join(tmpdir(), "adi-upload-")), "bigfile");
  writeFileSync(bigfile, Buffer.alloc(BIG, 0x61));
  const server = startBackground(process.execPath, [join(SERVERS, "refuse-upload.mjs"), String(port)], optedIn("upload-api"));
  try {
    await waitForPort(port);
    const url = `http://127.0.0.1:${port}/upload`;
    const r = await run("curl", ["-sS", "-o", "/dev/null", "-w", "%{http_code}", "-H", "Expect: 100-continue", "--data-binary", `@${bigfile}`, url], optedIn("uploader"));
    curlStatus = r.stdout;
    // A plain call after it, on a new connection: the server is still logged normally.
    const after = await run("curl", ["-sS", "-o", "/dev/null", "-w", "%{http_code}", `http://127.0.0.1:${port}/after`], optedIn("uploader"));
    expect(after.stdout).toBe("200");
    await sleep(300);
  } finally {
    await stopBackground(server);
  }
  await pipe.capture!.stop(10_000);
  const toPort = async () => (await derived()).filter((d): d is HttpExchange => d.type === "http_exchange" && d.server.port === port);
  exchanges = await poll(toPort, (xs) => xs.length >= 4, 30_000);
  log = await stopAndReadLog(pipe);
}, 180_000);

afterAll(() => tearDown(pipe, nats));

describe("Expect: 100-continue refused with 413 at once", () => {
  it("is what curl saw", () => {
    expect(curlStatus).toBe("413");
  });

  it("is an exchange at both ends, paired with its 413, the request marked truncated (its body never came)", () => {
    const refused = exchanges.filter((x) => x.request.target === "/upload");
    expect(refused.map((x) => [x.side, x.request.method, x.response?.status, x.request.body_truncated]).sort()).toEqual([
      ["client", "POST", 413, true],
      ["server", "POST", 413, true],
    ]);
    for (const x of refused) {
      expect(x.request.headers).toContainEqual(["Content-Length", String(BIG)]);
      expect(x.request.body_size).toBeLessThan(BIG);
      expect(x.response?.body).toBe("too large");
      expect(x.latency_ns).not.toBeNull();
    }
  });

  it("leaves the next call on the server alone", () => {
    expect(exchanges.filter((x) => x.request.target === "/after").map((x) => [x.side, x.response?.status]).sort()).toEqual([
      ["client", 200],
      ["server", 200],
    ]);
  });

  it("reaches the traffic log at both ends, with status 413", () => {
    const requests = log.filter((l) => l.url === "/upload" && l.method === "POST");
    expect(requests.map((l) => l.side).sort()).toEqual(["client", "server"]);
    const responses = log.filter((l) => l.status_code === 413 && l.source_port === port);
    expect(responses.map((l) => l.side).sort()).toEqual(["client", "server"]);
  });
});

describe("heads larger than the payload limit (ADI_PAYLOAD_LIMIT=1024)", () => {
  let small: Pipeline;
  let xs: HttpExchange[] = [];
  let echoPort = 0;
  const LONG_TARGET = `/long/${"t".repeat(2994)}`;

  beforeAll(async () => {
    small = await startPipeline(nats.url, { env: { ADI_PAYLOAD_LIMIT: "1024" } });
    echoPort = await freePort();
    const server = startBackground(process.execPath, [join(SERVERS, "target-echo.mjs"), String(echoPort)], optedIn("echo-api"));
    try {
      await waitForPort(echoPort);
      const curl = (args: string[]) => run("curl", ["-sS", "-o", "/dev/null", "-w", "%{http_code}", ...args], optedIn("big-heads"));
      expect((await curl(["-H", `X-Big: ${"b".repeat(5000)}`, `http://127.0.0.1:${echoPort}/big-header`])).stdout).toBe("200");
      expect((await curl([`http://127.0.0.1:${echoPort}${LONG_TARGET}`])).stdout).toBe("200");
      await sleep(300);
    } finally {
      await stopBackground(server);
    }
    await small.capture!.stop(10_000);
    const toEcho = async () =>
      (await derived(small)).filter((d): d is HttpExchange => d.type === "http_exchange" && d.host === small.cfg.host && d.server.port === echoPort);
    xs = await poll(toEcho, (found) => found.length >= 4, 30_000);
    await small.stop();
  }, 120_000);

  afterAll(async () => {
    await small?.nc.close();
  });

  it("a 5,000-byte header: the exchange at both ends, its request truncated, the headers captured kept", () => {
    const big = xs.filter((x) => x.request.target === "/big-header");
    expect(big.map((x) => [x.side, x.request.body_truncated, x.response?.status]).sort()).toEqual([
      ["client", true, 200],
      ["server", true, 200],
    ]);
    for (const x of big) expect(x.request.headers.find(([k]) => k === "Host")).toEqual(["Host", `127.0.0.1:${echoPort}`]);
  });

  it("a 3,000-character target: the exchange at both ends, its target as captured (the first 1,024 bytes)", () => {
    const long = xs.filter((x) => x.request.target.startsWith("/long/"));
    expect(long.map((x) => [x.side, x.request.method, x.request.target, x.request.body_truncated, x.response?.status]).sort()).toEqual([
      ["client", "GET", LONG_TARGET.slice(0, 1020), true, 200],
      ["server", "GET", LONG_TARGET.slice(0, 1020), true, 200],
    ]);
  });
});
