// `adi up` against a broker that stalls 7 s right after start (SIGSTOP, then SIGCONT of the nats-server process),
// real kernel, real processes: `ready` comes only once the broker is back, every exchange sent after that is in
// the live log, and the stop is clean (issue 10: one JetStream timeout while the mapper created its consumers left
// the live log and map empty for the whole run, `mapper ready` logged before the consumers existed, exit 0).
import { setTimeout as sleep } from "node:timers/promises";
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort, NatsServerFixture, waitForPort } from "../../test/support/nats-server.ts";
import { ADI, killAll, startAdi } from "./adi-process.ts";

let nats: NatsServerFixture;
let dir: string;
beforeAll(async () => {
  nats = await NatsServerFixture.start();
  dir = mkdtempSync(join(tmpdir(), "adi-stall-"));
});
afterAll(async () => {
  nats?.resume();
  await nats?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const curl = (url: string, profile: string) =>
  new Promise<number | null>((resolve) =>
    spawn("curl", ["-s", "-o", "/dev/null", url], { env: { PATH: process.env.PATH!, ADI_PROFILE: profile, ADI_PROFILE_NAME: "stall-client" } }).on("exit", resolve),
  );

describe("adi up under a broker that stalls 7 s right after start", () => {
  it("is ready once the broker resumes, logs every exchange sent after, and stops cleanly", async () => {
    const id = randomBytes(4).toString("hex");
    const webPort = await freePort();
    const web = spawn("python3", ["-m", "http.server", String(webPort), "--bind", "127.0.0.1", "--directory", dir], { stdio: "ignore", env: { PATH: process.env.PATH! } });
    await waitForPort(webPort);
    const outputs = { OUTPUT_PATH: join(dir, "traffic.log"), SERVICE_MAP_PATH: join(dir, "map.yaml"), ENV_OUTPUT_PATH: join(dir, "env.yaml") };
    nats.pause();
    const run = startAdi(ADI, ["up"], {
      NATS_URL: nats.url,
      ADI_HOST: `stall${id}`,
      ADI_PROFILE_ALLOWED: `stall${id}`,
      ADI_DATA_DIR: join(dir, "data"),
      LOG_LEVEL: "info",
      ...outputs,
    });
    let resumedAt = 0;
    const resume = setTimeout(() => {
      resumedAt = Date.now();
      nats.resume();
    }, 7000);
    try {
      const ready = await run.waitForLog("ready", 90_000);
      expect(resumedAt).toBeGreaterThan(0);
      expect(ready.time as number).toBeGreaterThanOrEqual(resumedAt);
      for (const svc of ["mapper ready", "enricher ready"]) {
        expect((await run.waitForLog(svc, 1000)).time as number, svc).toBeGreaterThanOrEqual(resumedAt);
      }
      const paths = Array.from({ length: 20 }, (_, i) => `/after-stall-${i}`);
      for (const p of paths) await curl(`http://127.0.0.1:${webPort}${p}`, `stall${id}`);
      await sleep(1500);
      run.child.kill("SIGTERM");
      const exit = await run.exited;
      expect(exit.code).toBe(0);
      const urls = readFileSync(outputs.OUTPUT_PATH, "utf8")
        .split("\n")
        .filter(Boolean)
        .map((l) => (JSON.parse(l) as { url?: string; method?: string }).url)
        .filter((u): u is string => typeof u === "string" && u.startsWith("/after-stall-"));
      expect([...new Set(urls)].sort()).toEqual([...paths].sort());
      expect(readFileSync(outputs.SERVICE_MAP_PATH, "utf8")).toMatch(/name: stall-client/);
      const errors = run
        .stdout()
        .split("\n")
        .filter((l) => l.startsWith("{"))
        .map((l) => JSON.parse(l) as { level: number; msg: string })
        .filter((l) => l.level >= 50);
      expect(errors).toEqual([]);
      expect(run.stderr()).toBe("");
    } finally {
      clearTimeout(resume);
      nats.resume();
      web.kill();
      killAll(run.marker);
    }
  });
});
