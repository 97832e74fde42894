// The enricher's start against a real nats-server that stalls 7 s (SIGSTOP/SIGCONT) or restarts: `enricher ready`
// only once it follows the process facts, and ENV_OUTPUT_PATH then holds every process fact sent after (issue 10:
// the enricher started the way the mapper did, consumers created once, a timeout leaving it empty for the run).
import { mkdtempSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { jetstream } from "@nats-io/jetstream";
import { pino } from "pino";
import { parseAllDocuments } from "yaml";
import { describe, expect, it } from "vitest";
import { loadConfig } from "@adi/shared";
import { connectNats } from "@adi/shared/nats";
import { encodeFact, factSubject } from "@adi/shared/wire";
import type { ProcessFact } from "@adi/shared/wire";
import { sleep } from "../../../test/support/capture.ts";
import { testEnv } from "../../../test/support/pipeline.ts";
import { brokerPerTest, recordingLogger } from "../../../test/support/start-up.ts";
import { startEnricher } from "../src/main.ts";

const BOOT = "393a8351-01d1-4c4f-84ed-e7c686d9ae26";
function processFact(host: string, pid: number): ProcessFact {
  return {
    v: 1, type: "process", event: "exec", ts: new Date().toISOString().replace("Z", "000000Z"), host, boot_id: BOOT, pid, start_ticks: 5,
    ppid: 1, comm: "svc", exe: "/usr/bin/svc", cmdline: `/usr/bin/svc --id ${pid}`, cgroup: null, container_id: null,
    adi_profile_match: "local", adi_profile_name: null, optin: "yes", env: {}, env_redacted: true, error: null, exit_code: null,
  } as ProcessFact;
}

async function publishFacts(url: string, host: string, pids: number[]): Promise<void> {
  const nc = await connectNats({ servers: [url], name: "test-publisher", log: pino({ level: "silent" }) });
  const js = jetstream(nc);
  for (const pid of pids) await js.publish(factSubject(host, "process"), encodeFact(processFact(host, pid)));
  await nc.drain();
}

const documentedPids = (path: string) =>
  parseAllDocuments(readFileSync(path, "utf8"))
    .map((d) => (d.toJS() as { adi_profile_pid: number }).adi_profile_pid)
    .sort((a, b) => a - b);

const broker = brokerPerTest("adi-enricher-start-");

describe("the enricher's start", () => {
  it("a broker that stalls 7 s right after it started: ready once it resumes, then every process fact is in ENV_OUTPUT_PATH", async () => {
    const cfg = loadConfig(testEnv(broker.nats.url, mkdtempSync(join(broker.dir, "run-")), { ENV_OUTPUT_PATH: join(broker.dir, `env-${Date.now()}.yaml`), ENV_OUTPUT_ALL: "true" }));
    const { log, lines, errors } = recordingLogger();
    broker.nats.pause();
    const starting = (async () => {
      const nc = await connectNats({ servers: cfg.natsServers!, name: "enricher-test", log, retryForMs: cfg.startTimeoutMs });
      return { nc, enricher: await startEnricher(cfg, nc, log) };
    })();
    starting.catch(() => undefined);
    await sleep(7000);
    expect(lines.some((l) => l.msg === "enricher ready")).toBe(false);
    const resumedAt = Date.now();
    broker.nats.resume();
    const { nc, enricher } = await starting;
    expect(lines.find((l) => l.msg === "enricher ready")!.time).toBeGreaterThanOrEqual(resumedAt);
    const pids = Array.from({ length: 12 }, (_, i) => 1000 + i);
    await publishFacts(broker.nats.url, cfg.host, pids);
    const deadline = Date.now() + 10_000;
    while (enricher.inventory.version < pids.length && Date.now() < deadline) await sleep(50);
    await enricher.stop();
    await nc.drain();
    expect(documentedPids(cfg.envOutputPath)).toEqual(pids);
    expect(errors()).toEqual([]);
  });

  it("a broker restarted after ready: it keeps following (the facts sent after the restart are in the file)", async () => {
    const cfg = loadConfig(testEnv(broker.nats.url, mkdtempSync(join(broker.dir, "run-")), { ENV_OUTPUT_PATH: join(broker.dir, `env-r-${Date.now()}.yaml`), ENV_OUTPUT_ALL: "true" }));
    const { log, errors } = recordingLogger();
    const nc = await connectNats({ servers: cfg.natsServers!, name: "enricher-test", log });
    const enricher = await startEnricher(cfg, nc, log);
    await publishFacts(broker.nats.url, cfg.host, [1, 2, 3]);
    await broker.nats.kill();
    await broker.nats.restart();
    await publishFacts(broker.nats.url, cfg.host, [4, 5, 6]);
    const deadline = Date.now() + 10_000;
    while (enricher.inventory.version < 6 && Date.now() < deadline) await sleep(50);
    await enricher.stop();
    await nc.drain();
    expect(documentedPids(cfg.envOutputPath)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(errors()).toEqual([]);
  });
});
