// kill -9 of the classifier mid-traffic on keep-alive connections (issue 10, item 6), through the real kernel: the
// capture agent and a mapper run in this process, the classifier as `adi classify` in a process of its own. It is
// SIGKILLed while 4 keep-alive connections are busy, restarted, and the traffic goes on over the same sockets. The
// live service map must then be byte-identical to `adi replay`'s and the live log's lines equal replay's as a sorted
// set: no exchange missing, none counted twice, no phantom caller. Before the warm-up, `seq` restarted at 0 on the
// open connections, the two ends no longer paired, and the map gained an `external` caller.
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { jetstreamManager } from "@nats-io/jetstream";
import { parse } from "yaml";
import { afterAll, describe, expect, it } from "vitest";
import { RAW_STREAM } from "@adi/shared/wire";
import { freePort, NatsServerFixture, waitForPort } from "../../../test/support/nats-server.ts";
import { processEnv, sleep, startBackground, stopBackground } from "../../../test/support/capture.ts";
import { startPipeline, testEnv } from "../../../test/support/pipeline.ts";
import type { Pipeline } from "../../../test/support/pipeline.ts";
import { startAdi } from "../../../cli/test/adi-process.ts";
import type { AdiRun } from "../../../cli/test/adi-process.ts";

const ROOT = fileURLToPath(new URL("../../../", import.meta.url));
const ADI = join(ROOT, "bin/adi");
const CLIENTS = join(ROOT, "test/support/clients");
const CALLS = fileURLToPath(new URL("./support/keepalive-calls.mjs", import.meta.url));

let nats: NatsServerFixture | undefined;
let pipe: Pipeline | undefined;
const runs: AdiRun[] = [];
afterAll(async () => {
  for (const r of runs) if (r.child.exitCode === null && r.child.signalCode === null) r.child.kill("SIGKILL");
  await pipe?.stop().catch(() => undefined);
  await nats?.stop();
});

const optedIn = (name: string) => ({ cwd: ROOT, env: processEnv({ ADI_PROFILE: "local", ADI_PROFILE_NAME: name }) });

/** Raw batches not yet acknowledged by the classifier consumers (all 16 partitions). */
async function classifierBacklog(p: Pipeline): Promise<number> {
  const jsm = await jetstreamManager(p.nc);
  let left = 0;
  for (let i = 0; i < p.cfg.partitions; i++) {
    const info = await jsm.consumers.info(RAW_STREAM, `adi-classifier-p${i}`).catch(() => null);
    left += info ? info.num_pending + info.num_ack_pending : 1;
  }
  return left;
}

describe("adi classify killed with SIGKILL mid-traffic and restarted", () => {
  it("leaves live outputs equal to a replay of the same streams (map byte for byte, log lines as a set)", async () => {
    nats = await NatsServerFixture.start();
    pipe = await startPipeline(nats.url, { classifiers: 0 });
    const env = testEnv(nats.url, pipe.dir, { ADI_HOST: pipe.cfg.host, LOG_LEVEL: "info" });
    const classify = () => {
      const r = startAdi(ADI, ["classify"], env);
      runs.push(r);
      return r;
    };
    const first = classify();
    await first.waitForLog("classifier ready");

    const port = await freePort();
    const api = startBackground(process.execPath, [join(CLIENTS, "http-server.mjs"), String(port)], optedIn("api"));
    await waitForPort(port);
    const caller = spawn(process.execPath, [CALLS, "127.0.0.1", String(port), "4", "10"], { ...optedIn("caller"), stdio: ["pipe", "pipe", "inherit"] });
    let callerOut = "";
    caller.stdout!.on("data", (d: Buffer) => (callerOut += d));
    const callerDone = new Promise((r) => caller.once("exit", r));

    await sleep(3_000);
    first.child.kill("SIGKILL");
    expect((await first.exited).signal).toBe("SIGKILL");
    await sleep(1_000); // the traffic goes on meanwhile: raw batches wait in the stream
    const second = classify();
    const rewound = await second.waitForLog("classifier ready", 60_000).then(() => second.stdout());
    await sleep(3_000);
    caller.stdin!.end("stop\n");
    await callerDone;
    await stopBackground(api);
    const calls = Number(/calls (\d+)/.exec(callerOut)?.[1]);
    expect(calls).toBeGreaterThan(100);

    await pipe.capture!.stop(10_000);
    const deadline = Date.now() + 60_000;
    while ((await classifierBacklog(pipe)) > 0 && Date.now() < deadline) await sleep(200);
    // The mapper has what the classifier stored once its count stops moving; stopping it writes the final files.
    for (let last = -1; pipe.mappers[0]!.counters().observations !== last; await sleep(2_500)) last = pipe.mappers[0]!.counters().observations;
    second.child.kill("SIGTERM");
    expect((await second.exited).code).toBe(0);
    for (const m of pipe.mappers) await m.stop();
    pipe.mappers.length = 0;

    const out = mkdtempSync(join(tmpdir(), "adi-restart-replay-"));
    const replay = startAdi(ADI, ["replay", "--out", out], env);
    runs.push(replay);
    expect((await replay.exited).code, replay.stderr()).toBe(0);

    const liveMap = readFileSync(pipe.cfg.serviceMapPath!, "utf8");
    const liveLog = readFileSync(pipe.cfg.outputPath, "utf8");
    expect(readFileSync(join(out, "service-map.yaml"), "utf8")).toBe(liveMap);
    const sorted = (text: string) => text.trimEnd().split("\n").sort();
    expect(sorted(readFileSync(join(out, "traffic.log"), "utf8"))).toEqual(sorted(liveLog));
    // Every call, once, and no phantom caller.
    const map = parse(liveMap) as { services: { name: string }[] };
    expect(map.services.map((s) => s.name)).not.toContain("external");
    const targets = new Set(liveLog.trimEnd().split("\n").map((l) => /"\/items\/(\d+)"/.exec(l)?.[1]).filter((t) => t !== undefined));
    expect(targets.size).toBe(calls);
    // The restarted classifier rebuilt engines that had connections open (the caller's 4 sockets and the api's).
    const rewinds = rewound.split("\n").filter((l) => l.includes('"msg":"rewound ')).map((l) => JSON.parse(l) as { batches: number });
    expect(rewinds.reduce((n, r) => n + r.batches, 0)).toBeGreaterThan(0);
    console.log(JSON.stringify({ calls, rewound: rewinds.map((r) => [(r as { partition?: number }).partition, r.batches, (r as { ms?: number }).ms]) }));

  }, 240_000);
});
