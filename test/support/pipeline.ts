// The whole pipeline in the test process (capture, classifiers, mappers) against a NatsServerFixture,
// configured through environment variables as a user would.
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import type { NatsConnection } from "@nats-io/transport-node";
import { startCaptureAgent } from "@adi/capture";
import type { CaptureAgent } from "@adi/capture";
import { startClassifier } from "@adi/classifier";
import type { Classifier } from "@adi/classifier";
import { startMapper } from "@adi/mapper";
import type { Mapper } from "@adi/mapper";
import { loadConfig, createLogger } from "@adi/shared";
import type { AdiConfig } from "@adi/shared";
import { connectNats } from "@adi/shared/nats";
import { sleep } from "./capture.ts";
import type { NatsServerFixture } from "./nats-server.ts";

export interface Pipeline {
  cfg: AdiConfig;
  dir: string;
  nc: NatsConnection;
  capture: CaptureAgent | undefined;
  classifiers: Classifier[];
  mappers: Mapper[];
  /** Waits until every mapper has seen at least `observations` derived observations. */
  waitForObservations(observations: number, timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

export function testEnv(natsUrl: string, dir: string, env: Record<string, string> = {}): Record<string, string> {
  return {
    NATS_URL: natsUrl,
    ADI_HOST: `t${randomBytes(4).toString("hex")}`,
    LOG_LEVEL: "warn",
    ADI_FLUSH_INTERVAL_MS: "20",
    OUTPUT_PATH: join(dir, "traffic.log"),
    SERVICE_MAP_PATH: join(dir, "service-map.yaml"),
    // The e2e-syscall vitest project runs capture e2e files again on the syscall-tracepoint path.
    ...(process.env.ADI_TEST_CAPTURE_HOOKS ? { ADI_CAPTURE_HOOKS: process.env.ADI_TEST_CAPTURE_HOOKS } : {}),
    ...env,
  };
}

export async function startPipeline(
  natsUrl: string,
  opts: { env?: Record<string, string>; capture?: boolean; classifiers?: number; mappers?: number } = {},
): Promise<Pipeline> {
  const dir = mkdtempSync(join(tmpdir(), "adi-pipeline-"));
  const cfg = loadConfig(testEnv(natsUrl, dir, opts.env));
  const log = createLogger("pipeline-test", cfg.logLevel);
  const nc = await connectNats({ servers: cfg.natsServers!, auth: cfg.natsAuth, name: "adi-test", log });
  const capture = opts.capture === false ? undefined : await startCaptureAgent(cfg, nc, log);
  // Started together, as a stack would: they settle on a split before taking partitions.
  const classifiers: Classifier[] = await Promise.all(Array.from({ length: opts.classifiers ?? 1 }, () => startClassifier(cfg, nc, log)));
  const mappers: Mapper[] = [];
  for (let i = 0; i < (opts.mappers ?? 1); i++) {
    // Each extra mapper writes its own files, so the test can compare them.
    const own = i === 0 ? cfg : loadConfig(testEnv(natsUrl, dir, { ...opts.env, ADI_HOST: cfg.host, OUTPUT_PATH: join(dir, `traffic.${i}.log`), SERVICE_MAP_PATH: join(dir, `service-map.${i}.yaml`) }));
    mappers.push(await startMapper(own, nc, log));
  }
  // Members see each other after a heartbeat; partitions settle then.
  if (classifiers.length > 1) {
    const deadline = Date.now() + 15_000;
    while (classifiers.reduce((n, c) => n + c.owned().length, 0) !== cfg.partitions || classifiers.some((c) => c.owned().length === 0)) {
      if (Date.now() > deadline) throw new Error(`partitions not split: ${classifiers.map((c) => c.owned().join(",")).join(" | ")}`);
      await sleep(100);
    }
  }
  return {
    cfg,
    dir,
    nc,
    capture,
    classifiers,
    mappers,
    async waitForObservations(observations, timeoutMs = 20_000) {
      const deadline = Date.now() + timeoutMs;
      while (mappers.some((m) => m.counters().observations < observations)) {
        if (Date.now() > deadline) throw new Error(`mappers saw ${mappers.map((m) => m.counters().observations).join(",")} of ${observations} observations`);
        await sleep(100);
      }
    },
    async stop() {
      await capture?.stop(10_000);
      for (const c of classifiers) await c.stop();
      for (const m of mappers) await m.stop();
    },
  };
}

/** Waits 3 s for the traffic log's lines to settle (it is written once they do), stops the pipeline, and returns the log's lines. */
export async function stopAndReadLog(pipe: Pipeline): Promise<Record<string, unknown>[]> {
  await sleep(3_000);
  await pipe.stop();
  return readFileSync(pipe.cfg.outputPath, "utf8").trim().split("\n").filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
}

/**
 * A pipeline spec's afterAll (either may be undefined if its beforeAll failed early): the pipeline's services stopped
 * when `stop` is set (a spec whose beforeAll left them running), its connection closed, then the broker stopped.
 */
export async function tearDown(pipe: Pipeline | undefined, nats: NatsServerFixture | undefined, opts: { stop?: boolean } = {}): Promise<void> {
  if (opts.stop) await pipe?.stop();
  await pipe?.nc.close();
  await nats?.stop();
}
