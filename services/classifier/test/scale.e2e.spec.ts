// Scale: three classifier instances split the raw partitions between them, three mappers each build the
// outputs from the shared derived stream, and all of them write exactly what one instance (a replay) does.
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
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
const REQUESTS = 24;
let nats: NatsServerFixture;
let pipe: Pipeline;
let owned: number[][];
let batchesPerInstance: number[];

beforeAll(async () => {
  nats = await NatsServerFixture.start();
  pipe = await startPipeline(nats.url, { classifiers: 3, mappers: 3, env: { ADI_PARTITIONS: "8" } });
  owned = pipe.classifiers.map((c) => c.owned());
  const port = await freePort();
  const env = (name: string) => ({ cwd: ROOT, env: processEnv({ ADI_PROFILE: "scale", ADI_PROFILE_NAME: name }) });
  const api = startBackground(process.execPath, [join(ROOT, "test/support/clients/http-server.mjs"), String(port)], env("api"));
  try {
    await waitForPort(port);
    // One connection per request: they spread over the partitions.
    for (let i = 0; i < REQUESTS; i++) {
      const r = await run("curl", ["-sS", "--fail", "-o", "/dev/null", `http://127.0.0.1:${port}/items/${i}`], env("fanout"));
      expect(r.code, r.stderr).toBe(0);
    }
    await sleep(300);
  } finally {
    await stopBackground(api);
  }
  await pipe.capture!.stop(10_000);
  const deadline = Date.now() + 30_000;
  for (;;) {
    const done = pipe.mappers.every((_, i) => {
      try {
        const file = i === 0 ? pipe.cfg.serviceMapPath! : join(pipe.dir, `service-map.${i}.yaml`);
        const m = parse(readFileSync(file, "utf8")) as { services: { name: string; endpoints?: { count: number }[] }[] };
        // Every call counted (the 24 ids may be folded into one route entry, /items/{id}).
        return (m.services.find((s) => s.name === "fanout")?.endpoints ?? []).reduce((n, e) => n + e.count, 0) === REQUESTS;
      } catch {
        return false;
      }
    });
    if (done) break;
    if (Date.now() > deadline) throw new Error("mappers did not see every call");
    await sleep(200);
  }
  await sleep(300);
  batchesPerInstance = pipe.classifiers.map((c) => c.counters().batches);
  await pipe.stop();
}, 180_000);

afterAll(() => tearDown(pipe, nats));

describe("three classifier instances", () => {
  it("split the partitions: disjoint, complete, none idle", () => {
    expect(owned.flat().sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    for (const o of owned) expect(o.length).toBeGreaterThan(0);
  });

  it("each processed batches of its own partitions", () => {
    expect(batchesPerInstance.filter((n) => n > 0).length).toBeGreaterThanOrEqual(2);
  });
});

describe("three mappers", () => {
  it("write byte-identical files, equal to one instance rebuilding everything (a replay; the log line for line)", async () => {
    const maps = [pipe.cfg.serviceMapPath!, join(pipe.dir, "service-map.1.yaml"), join(pipe.dir, "service-map.2.yaml")].map((f) => readFileSync(f, "utf8"));
    const logs = [pipe.cfg.outputPath, join(pipe.dir, "traffic.1.log"), join(pipe.dir, "traffic.2.log")].map((f) => readFileSync(f, "utf8"));
    expect(new Set(maps).size).toBe(1);
    expect(new Set(logs).size).toBe(1);
    const out = mkdtempSync(join(tmpdir(), "adi-scale-replay-"));
    const env = testEnv(nats.url, out, { ADI_HOST: pipe.cfg.host, ADI_PARTITIONS: "8" });
    const code = await new Promise<number | null>((resolve) => {
      const child = spawn(join(ROOT, "bin/adi"), ["replay", "--out", out], { env: { PATH: process.env.PATH!, ...env }, stdio: "ignore" });
      child.on("exit", resolve);
    });
    expect(code).toBe(0);
    expect(readFileSync(join(out, "service-map.yaml"), "utf8")).toBe(maps[0]);
    // Order can differ only for a line later than the log's 1 s window (see README): compare the lines.
    const sortedLines = (text: string) => text.trimEnd().split("\n").sort();
    expect(sortedLines(readFileSync(join(out, "traffic.log"), "utf8"))).toEqual(sortedLines(logs[0]!));
    const fanout = (parse(maps[0]!) as { services: { name: string; endpoints: { count: number }[] }[] }).services.find((s) => s.name === "fanout")!;
    // Each call once, whether the ids are listed or folded: a call counted twice (both ends unpaired) would show.
    expect(fanout.endpoints.reduce((n, e) => n + e.count, 0)).toBe(REQUESTS);
  }, 60_000);
});
