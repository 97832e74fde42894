// No orphans: SIGKILL of the process a user or a supervisor started (what `npx adi <cmd>` runs: bin/adi) leaves
// no adi process running. bin/adi execs the CLI, so that process is the service; `adi up` runs its capture agent
// in a child that stops when it loses its parent. bin/adi.mjs (kept for `node bin/adi.mjs` callers) does the same
// on a Node without process.execve through a child that dies with it.
import { setTimeout as sleep } from "node:timers/promises";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort, NatsServerFixture } from "../../test/support/nats-server.ts";
import { ADI, ADI_MJS, killAll, processesOf, startAdi, waitUntilNoneLeft } from "./adi-process.ts";
import type { AdiRun } from "./adi-process.ts";

let nats: NatsServerFixture;
let dir: string;

beforeAll(async () => {
  nats = await NatsServerFixture.start();
  dir = mkdtempSync(join(tmpdir(), "adi-orphans-"));
});

afterAll(async () => {
  await nats?.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** Configuration of one run: the test's nats-server, outputs in the temp dir, a host and an opt-in of its own. */
function env(name: string): Record<string, string> {
  const id = randomBytes(4).toString("hex");
  return {
    NATS_URL: nats.url,
    ADI_HOST: `orphans${id}`,
    ADI_PROFILE_ALLOWED: `orphans${id}`,
    OUTPUT_PATH: join(dir, `${name}.log`),
    ENV_OUTPUT_PATH: join(dir, `${name}-env.yaml`),
    LOG_LEVEL: "info",
  };
}

/** SIGKILL to the pid that was started, then every process of the run must be gone within `withinMs`. */
async function killAndExpectNoneLeft(run: AdiRun, withinMs: number): Promise<number> {
  try {
    run.child.kill("SIGKILL");
    await run.exited;
    return await waitUntilNoneLeft(run.marker, withinMs);
  } finally {
    killAll(run.marker);
  }
}

/** A Node on PATH outside node_modules without process.execve (the host's older Node), if there is one. */
function nodeWithoutExecve(): string | undefined {
  for (const d of (process.env.PATH ?? "").split(delimiter)) {
    if (d.includes("node_modules")) continue;
    const node = join(d, "node");
    if (!existsSync(node)) continue;
    const r = spawnSync(node, ["-p", "typeof process.execve"], { encoding: "utf8" });
    if (r.status === 0 && r.stdout.trim() === "undefined") return node;
  }
  return undefined;
}

describe("SIGKILL of the process that `npx adi` started", () => {
  it("adi map: that process is the mapper (bin/adi execs it), and nothing is left", async () => {
    const run = startAdi(ADI, ["map"], env("map"));
    await run.waitForLog("mapper ready");
    const procs = processesOf(run.marker);
    expect(procs.map((p) => p.pid)).toEqual([run.child.pid]);
    const tookMs = await killAndExpectNoneLeft(run, 5_000);
    expect(tookMs).toBeLessThan(5_000);
  });

  it("adi up: its capture child stops too, and nothing is left", async () => {
    const run = startAdi(ADI, ["up"], env("up"));
    // capture starts last: the first `ready` line means every service is ready
    await run.waitForLog("ready", 90_000);
    const procs = processesOf(run.marker);
    expect(procs).toHaveLength(2);
    const parent = procs.find((p) => p.pid === run.child.pid)!;
    const capture = procs.find((p) => p.pid !== run.child.pid)!;
    expect(parent.argv).toContain("up");
    expect(capture.ppid).toBe(parent.pid);
    expect(capture.argv).toContain("capture");
    expect(capture.argv).toContain("--max-semi-space-size=2");
    // the agent flushes what it holds (up to 5 s) before it exits
    await killAndExpectNoneLeft(run, 8_000);
    expect(run.stdout()).toMatch(/"msg":"capture stopped"/);
  });

  it("adi up with its embedded broker: the broker dies with it too (the next start finds its port free)", async () => {
    const dataDir = mkdtempSync(join(dir, "data-"));
    const port = await freePort();
    const { NATS_URL: _, ...rest } = env("up-embedded");
    const run = startAdi(ADI, ["up"], { ...rest, ADI_DATA_DIR: dataDir, ADI_NATS_PORT: String(port) });
    const brokers = () =>
      readdirSync("/proc").filter((p) => /^\d+$/.test(p)).filter((p) => {
        try {
          // nats-server -c <ADI_DATA_DIR>/nats/server.conf (its config: loopback, store, the one nkey user)
          return readFileSync(`/proc/${p}/cmdline`, "utf8").split("\0").includes(join(dataDir, "nats", "server.conf"));
        } catch {
          return false;
        }
      });
    try {
      await run.waitForLog("ready", 90_000);
      expect(brokers()).toHaveLength(1);
      await killAndExpectNoneLeft(run, 8_000);
      for (let i = 0; i < 100 && brokers().length > 0; i++) await sleep(50);
      expect(brokers(), "embedded nats-server still running").toEqual([]);
    } finally {
      for (const pid of brokers()) process.kill(Number(pid), "SIGKILL");
    }
  });

  it("node bin/adi.mjs map on a Node without process.execve: its child dies with it", async (ctx) => {
    const node = nodeWithoutExecve();
    if (!node) ctx.skip(); // every Node here can exec: bin/adi.mjs replaces itself, as bin/adi does
    const run = startAdi(node!, [ADI_MJS, "map"], env("mjs"));
    await run.waitForLog("mapper ready");
    const [cli] = processesOf(run.marker);
    expect(cli!.ppid).toBe(run.child.pid);
    await killAndExpectNoneLeft(run, 5_000);
  });
});
