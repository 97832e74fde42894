// A mapper killed with SIGKILL mid-traffic on keep-alive connections and started again re-reads the facts and the
// derived stream from their start: its files must be what `adi replay` builds from the same streams (the map byte
// for byte, the log's lines as a sorted set: no missing line, no phantom caller, no call counted twice).
import { spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parse } from "yaml";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort, NatsServerFixture, waitForPort } from "../../../test/support/nats-server.ts";
import { processEnv, run, sleep, startBackground, stopBackground } from "../../../test/support/capture.ts";
import { startPipeline, tearDown, testEnv } from "../../../test/support/pipeline.ts";
import type { Pipeline } from "../../../test/support/pipeline.ts";

const ROOT = fileURLToPath(new URL("../../../", import.meta.url));
const ADI = join(ROOT, "bin/adi");

/** Three keep-alive connections calling /items/<0..29> for `seconds`; prints how many calls were answered. */
const CALLER = `
import http.client, sys, threading, time
port, seconds = int(sys.argv[1]), float(sys.argv[2])
counts = [0, 0, 0]
def worker(k):
    conn = http.client.HTTPConnection("127.0.0.1", port)
    end = time.time() + seconds
    i = 0
    while time.time() < end:
        conn.request("GET", "/items/%d" % ((i * 3 + k) % 30))
        r = conn.getresponse()
        r.read()
        assert r.status == 200, r.status
        counts[k] += 1
        i += 1
        time.sleep(0.02)
    conn.close()
threads = [threading.Thread(target=worker, args=(k,)) for k in range(3)]
for t in threads: t.start()
for t in threads: t.join()
print(sum(counts))
`;

interface MapFile {
  generated_at: string;
  services: { name: string; endpoints?: { path: string; count: number; destination: string }[] }[];
}

let nats: NatsServerFixture;
let pipe: Pipeline;
let dir: string;
let env: Record<string, string>;
let calls = 0;
let liveMap = "";
let liveLog = "";

function startMapper(): { child: ChildProcess; ready: Promise<void>; output: () => string } {
  const child = spawn(ADI, ["map"], { env: { PATH: process.env.PATH!, ...env, LOG_LEVEL: "info" }, stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  const ready = new Promise<void>((resolve, reject) => {
    const onData = (d: Buffer) => {
      output += d.toString();
      if (output.includes("mapper ready")) resolve();
    };
    child.stdout!.on("data", onData);
    child.stderr!.on("data", onData);
    child.once("exit", (code) => reject(new Error(`adi map exited ${code} before ready: ${output}`)));
  });
  return { child, ready, output: () => output };
}

const exited = (child: ChildProcess) =>
  child.exitCode !== null || child.signalCode !== null ? Promise.resolve() : new Promise<void>((r) => child.once("exit", () => r()));

const total = (map: MapFile) => map.services.flatMap((s) => s.endpoints ?? []).reduce((n, e) => n + e.count, 0);

beforeAll(async () => {
  nats = await NatsServerFixture.start();
  pipe = await startPipeline(nats.url, { mappers: 0 });
  dir = mkdtempSync(join(tmpdir(), "adi-mapper-restart-"));
  env = testEnv(nats.url, dir, { ADI_HOST: pipe.cfg.host });
  const script = join(dir, "caller.py");
  writeFileSync(script, CALLER);
  const port = await freePort();
  const optedIn = (name: string) => ({ cwd: ROOT, env: processEnv({ ADI_PROFILE: "local", ADI_PROFILE_NAME: name }) });
  const server = startBackground(process.execPath, [join(ROOT, "test/support/clients/http-server.mjs"), String(port)], optedIn("api"));
  let mapper = startMapper();
  try {
    await waitForPort(port);
    await mapper.ready;
    const caller = run("python3", [script, String(port), "8"], optedIn("caller"));
    await sleep(3000);
    mapper.child.kill("SIGKILL");
    await exited(mapper.child);
    await sleep(1000);
    mapper = startMapper();
    await mapper.ready;
    const r = await caller;
    expect(r.code, r.stderr).toBe(0);
    calls = Number(r.stdout.trim());
  } finally {
    await stopBackground(server);
  }
  await pipe.capture!.stop(10_000);
  // Until the restarted mapper's map holds every call (both ends saw each: counted once), then stable.
  const deadline = Date.now() + 60_000;
  let last = "";
  for (;;) {
    await sleep(2500);
    let text = "";
    try {
      text = readFileSync(join(dir, "service-map.yaml"), "utf8");
    } catch {
      // not written yet
    }
    if (text !== "" && text === last && total(parse(text) as MapFile) >= calls) break;
    last = text;
    if (Date.now() > deadline) break;
  }
  mapper.child.kill("SIGTERM");
  await exited(mapper.child);
  liveMap = readFileSync(join(dir, "service-map.yaml"), "utf8");
  liveLog = readFileSync(join(dir, "traffic.log"), "utf8");
}, 180_000);

afterAll(() => tearDown(pipe, nats, { stop: true }));

describe("a mapper killed (SIGKILL) mid-traffic and restarted", () => {
  it("maps every call once, from the caller, with no phantom external caller", () => {
    const map = parse(liveMap) as MapFile;
    expect(calls).toBeGreaterThan(100);
    expect(map.services.map((s) => s.name)).toEqual(["caller"]);
    expect(map.services[0]!.endpoints!.map((e) => [e.destination, e.path, e.count])).toEqual([["api", "/items/{id}", calls]]);
  });

  it("writes what adi replay builds: the map byte for byte, the log's lines as a set", async () => {
    const out = mkdtempSync(join(tmpdir(), "adi-mapper-restart-replay-"));
    const child = spawn(ADI, ["replay", "--out", out], { env: { PATH: process.env.PATH!, ...env } });
    let stderr = "";
    child.stderr.on("data", (d) => (stderr += d));
    const code = await new Promise<number | null>((resolve) => child.on("exit", resolve));
    expect(code, stderr).toBe(0);
    expect(readFileSync(join(out, "service-map.yaml"), "utf8")).toBe(liveMap);
    const sorted = (text: string) => text.trimEnd().split("\n").sort();
    const replayed = sorted(readFileSync(join(out, "traffic.log"), "utf8"));
    expect(replayed).toHaveLength(calls * 4); // request and response lines, from both ends
    expect(sorted(liveLog)).toEqual(replayed);
  }, 60_000);
});
