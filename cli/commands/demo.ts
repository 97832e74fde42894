// `adi demo`: the whole pipeline plus the Go tool's demo workload (an HTTP service that publishes to NATS,
// a request logger that stores in Redis, a traffic generator that also uses PostgreSQL), as host processes
// that opt in. It runs until Ctrl-C (or --duration), then stops everything and says where the outputs are.
import { setTimeout as sleep } from "node:timers/promises";
import { mkdirSync } from "node:fs";
import { join, resolve } from "node:path";
import { startDemo } from "../../demo/run.ts";
import { listenForStop } from "../runtime.ts";
import { ALL_SERVICES, startServices } from "./services.ts";
import { demoSummary } from "./demo-summary.ts";

export interface DemoOptions {
  out: string;
  duration?: string;
  port: string;
}

export async function runDemo(opts: DemoOptions): Promise<void> {
  const out = resolve(opts.out);
  mkdirSync(out, { recursive: true, mode: 0o700 });
  // The demo writes all three outputs, into --out unless the variables say otherwise.
  process.env.OUTPUT_PATH ||= join(out, "ebpf_http_profiler.log");
  process.env.ENV_OUTPUT_PATH ||= join(out, "ebpf_http_env.yaml");
  process.env.SERVICE_MAP_PATH ||= join(out, "ebpf_service_map.yaml");
  const signals = listenForStop();
  const services = await startServices("demo", ALL_SERVICES);
  const { rt } = services;
  const env = process.env;
  let demo;
  try {
    demo = await startDemo({
      natsUrl: env.DEMO_NATS_URL || "nats://127.0.0.1:4222",
      redisUrl: env.REDIS_URL || "redis://127.0.0.1:6379",
      pg: {
        host: env.PGHOST || "127.0.0.1",
        port: Number(env.PGPORT || 5432),
        user: env.PGUSER || "postgres",
        password: env.PGPASSWORD || "",
        database: env.PGDATABASE || "postgres",
      },
      httpPort: Number(opts.port),
      intervalMs: Number(env.DEMO_INTERVAL_MS || 500),
    });
  } catch (err) {
    await services.stop();
    throw err;
  }
  rt.log.info({ pids: demo.pids, outputs: { log: rt.cfg.outputPath, env: rt.cfg.envOutputPath, map: rt.cfg.serviceMapPath }, view: services.view?.url ?? null, metrics: services.metricsUrl }, "demo running: Ctrl-C to stop");
  const stop = async () => {
    await demo.stop();
    await sleep(500); // the last exchanges reach the stream
    await services.stop();
    const files = [rt.cfg.outputPath, rt.cfg.envOutputPath, rt.cfg.serviceMapPath].filter((f): f is string => f !== undefined);
    const map = services.serviceMap() ?? { generated_at: null, services: [] };
    process.stderr.write(`\n${demoSummary({ map, files, viewUrl: services.view?.url ?? null, metricsUrl: services.metricsUrl })}\n`);
  };
  if (opts.duration) {
    const seconds = Number(opts.duration);
    const timer = setTimeout(() => process.kill(process.pid, "SIGTERM"), seconds * 1000);
    timer.unref();
  }
  await signals.untilStopped(rt.log, stop, services.failed);
}
