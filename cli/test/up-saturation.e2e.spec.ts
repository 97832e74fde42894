// `adi up` at saturation: an opted-in keep-alive HTTP server (~1 KiB JSON) loaded by an opted-in `wrk -t2 -c20`
// for 10 s. With the capture agent in a process of its own, the consumers (which lag at that rate) cannot starve
// the kernel path: the agent's counters at stop (its last agent_stats fact) show no drop, kernel or user space.
// When they shared one event loop, user space dropped 45k-105k events per run.
import { spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { decodeFact, FACTS_STREAM, factSubject } from "@adi/shared/wire";
import type { AgentStatsFact } from "@adi/shared/wire";
import { processEnv, run, stopBackground } from "../../test/support/capture.ts";
import { freePort, NatsServerFixture } from "../../test/support/nats-server.ts";
import { ADI, killAll, startAdi } from "./adi-process.ts";

const ITEM_SERVER = fileURLToPath(new URL("./item-server.mjs", import.meta.url));

let nats: NatsServerFixture;
let dir: string;

beforeAll(async () => {
  nats = await NatsServerFixture.start();
  dir = mkdtempSync(join(tmpdir(), "adi-saturation-"));
});

afterAll(async () => {
  await nats?.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** The agent's last agent_stats fact (it publishes one at stop, after its final flush). */
async function lastAgentStats(host: string): Promise<AgentStatsFact> {
  const nc = await connect({ servers: nats.url });
  try {
    const jsm = await jetstreamManager(nc);
    const m = await jsm.streams.getMessage(FACTS_STREAM, { last_by_subj: factSubject(host, "agent") });
    const fact = decodeFact(m!.data);
    if (fact.type !== "agent_stats") throw new Error(`unexpected fact ${fact.type}`);
    return fact;
  } finally {
    await nc.close();
  }
}

describe("adi up under wrk at saturation for 10 s", () => {
  it("captures the traffic with 0 kernel and 0 user-space drops (the agent's counters at stop)", async () => {
    const id = randomBytes(4).toString("hex");
    const host = `sat${id}`;
    const profile = `sat${id}`;
    const adi = startAdi(ADI, ["up"], {
      NATS_URL: nats.url,
      ADI_HOST: host,
      ADI_PROFILE_ALLOWED: profile,
      OUTPUT_PATH: join(dir, "traffic.log"),
      SERVICE_MAP_PATH: join(dir, "map.yaml"),
      ENV_OUTPUT_PATH: join(dir, "env.yaml"),
      LOG_LEVEL: "info",
    });
    const port = await freePort();
    let server: ChildProcess | undefined;
    try {
      await adi.waitForLog("ready", 90_000);
      server = spawn(process.execPath, [ITEM_SERVER, String(port)], {
        env: processEnv({ ADI_PROFILE: profile, ADI_PROFILE_NAME: "item-server" }),
        stdio: ["ignore", "pipe", "ignore"],
      });
      await new Promise((resolve, reject) => {
        server!.stdout!.once("data", resolve);
        server!.once("exit", (code) => reject(new Error(`item server exited (${code})`)));
      });

      const wrk = await run("wrk", ["-t2", "-c20", "-d10s", `http://127.0.0.1:${port}/item`], { env: processEnv({ ADI_PROFILE: profile }) });
      expect(wrk.code, wrk.stderr).toBe(0);
      const requests = Number(/(\d+) requests in/.exec(wrk.stdout)?.[1]);
      expect(requests).toBeGreaterThan(5_000);

      adi.child.kill("SIGTERM");
      const exit = await adi.exited;
      expect(exit, adi.stderr()).toEqual({ code: 0, signal: null });

      const stats = await lastAgentStats(host);
      const figures = { requests, kernel: stats.kernel, user: stats.user };
      console.log(`adi up under wrk -t2 -c20 -d10s: ${JSON.stringify(figures)}`);
      expect(Object.values(stats.kernel.drops).every((n) => n === 0), JSON.stringify(figures)).toBe(true);
      expect(stats.user.events_dropped, JSON.stringify(figures)).toBe(0);
      expect(stats.user.batches_dropped, JSON.stringify(figures)).toBe(0);
      // Every exchange is four records at least (the server's receive and send, the client's send and receive).
      expect(stats.kernel.events).toBeGreaterThan(4 * requests * 0.9);
      // The fact is published before the last drain; the agent's last log line has the counters after it: every
      // event the kernel reported was published (process events become facts instead).
      const stopped = await adi.waitForLog("capture stopped", 1);
      const final = stopped as unknown as { drained: boolean; kernel: { events: number }; user: { events_published: number; process_events: number } };
      expect(final.drained).toBe(true);
      expect(final.user.events_published + final.user.process_events).toBe(final.kernel.events);
    } finally {
      if (server) await stopBackground(server);
      if (adi.child.exitCode === null && adi.child.signalCode === null) adi.child.kill("SIGKILL");
      killAll(adi.marker);
    }
  }, 180_000);
});
