// Starts the three demo programs as separate, profiled processes (ADI_PROFILE=local, one ADI_PROFILE_NAME
// each), in an order that loses no traffic: request-logger subscribed and http-service connected to NATS and
// listening before traffic-generator starts. Their stderr comes out on ours, prefixed with the program name.
import { spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { randomUUID } from "node:crypto";
import { waitForPort } from "@adi/shared";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { MARKERS } from "./common.ts";
import type { GeneratorSummary } from "./common.ts";

export type DemoProgram = "http-service" | "request-logger" | "traffic-generator";

export interface PgSettings {
  host: string;
  port: number;
  user: string;
  password?: string;
  database: string;
}

export interface DemoOptions {
  natsUrl: string;
  redisUrl: string;
  pg: PgSettings;
  httpPort: number;
  intervalMs?: number;
  /** Generator iterations; unset: it runs until stop(). */
  iterations?: number;
  /** Tags the generator's rows in demo_visits (DEMO_RUN_ID); random when unset. */
  runId?: string;
  /** Extra variables for all three programs; they win over the ones set here. */
  env?: Record<string, string>;
  /** How long each program may take to become ready. */
  readyTimeoutMs?: number;
}

export interface GeneratorExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** The summary line the generator printed, if it printed one. */
  summary: GeneratorSummary | undefined;
}

export interface DemoHandle {
  pids: Record<DemoProgram, number>;
  runId: string;
  /** Resolves when traffic-generator exits: after its iterations, or after stop(). */
  exited: Promise<GeneratorExit>;
  /** SIGTERM to every program still running (generator first, so nothing calls a stopped service); waits for their exit. */
  stop(): Promise<void>;
}

const STOP_GRACE_MS = 15_000;

interface Running {
  name: DemoProgram;
  child: ChildProcess;
  exit: Promise<void>;
  /** Everything the program wrote on stdout so far. */
  stdout(): string;
  /** Resolves when the program writes a stderr line containing `marker`. */
  waitFor(marker: string, timeoutMs: number): Promise<void>;
}

function launch(name: DemoProgram, env: Record<string, string>): Running {
  const script = fileURLToPath(new URL(`./${name}.ts`, import.meta.url));
  const child = spawn(process.execPath, [script], { env, stdio: ["ignore", "pipe", "pipe"] });
  child.on("error", (err) => process.stderr.write(`[${name}] ${err.message}\n`));
  const watchers = new Set<{ marker: string; resolve: () => void }>();
  createInterface({ input: child.stderr! }).on("line", (line) => {
    process.stderr.write(`[${name}] ${line}\n`);
    for (const w of watchers) if (line.includes(w.marker)) w.resolve();
  });
  let stdout = "";
  createInterface({ input: child.stdout! }).on("line", (line) => {
    stdout += `${line}\n`;
    process.stderr.write(`[${name}] ${line}\n`);
  });
  const exit = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  return {
    name,
    child,
    exit,
    stdout: () => stdout,
    waitFor(marker, timeoutMs) {
      return new Promise<void>((resolve, reject) => {
        const w = { marker, resolve: () => settle() };
        const timer = setTimeout(() => settle(new Error(`${name}: no "${marker}" within ${timeoutMs} ms`)), timeoutMs);
        void exit.then(() => settle(new Error(`${name} exited (code ${child.exitCode}) before "${marker}"`)));
        watchers.add(w);
        function settle(err?: Error): void {
          clearTimeout(timer);
          watchers.delete(w);
          if (err) reject(err);
          else resolve();
        }
      });
    },
  };
}

async function terminate(p: Running): Promise<void> {
  if (p.child.exitCode !== null || p.child.signalCode !== null) return;
  p.child.kill("SIGTERM");
  const timer = setTimeout(() => p.child.kill("SIGKILL"), STOP_GRACE_MS);
  await p.exit;
  clearTimeout(timer);
}

function lastJsonLine(text: string): GeneratorSummary | undefined {
  const line = text.trim().split("\n").pop();
  try {
    return line ? (JSON.parse(line) as GeneratorSummary) : undefined;
  } catch {
    return undefined;
  }
}

export async function startDemo(opts: DemoOptions): Promise<DemoHandle> {
  const readyMs = opts.readyTimeoutMs ?? 15_000;
  const runId = opts.runId ?? randomUUID();
  const base = (name: DemoProgram, settings: Record<string, string>): Record<string, string> => ({
    PATH: process.env.PATH ?? "/usr/bin:/bin",
    ADI_PROFILE: "local",
    ADI_PROFILE_NAME: name,
    ...settings,
    ...opts.env,
  });
  const started: Running[] = [];
  try {
    const logger = launch("request-logger", base("request-logger", { NATS_URL: opts.natsUrl, REDIS_URL: opts.redisUrl }));
    started.push(logger);
    const http = launch("http-service", base("http-service", {
      NATS_URL: opts.natsUrl,
      DEMO_HTTP_HOST: "127.0.0.1",
      DEMO_HTTP_PORT: String(opts.httpPort),
    }));
    started.push(http);
    await Promise.all([
      logger.waitFor(MARKERS.subscribed, readyMs),
      http.waitFor(MARKERS.natsConnected, readyMs),
      waitForPort(opts.httpPort, "127.0.0.1", readyMs),
    ]);

    const generator = launch("traffic-generator", base("traffic-generator", {
      DEMO_TARGET: `http://127.0.0.1:${opts.httpPort}`,
      DEMO_INTERVAL_MS: String(opts.intervalMs ?? 500),
      ...(opts.iterations === undefined ? {} : { DEMO_ITERATIONS: String(opts.iterations) }),
      DEMO_RUN_ID: runId,
      REDIS_URL: opts.redisUrl,
      PGHOST: opts.pg.host,
      PGPORT: String(opts.pg.port),
      PGUSER: opts.pg.user,
      PGPASSWORD: opts.pg.password ?? "",
      PGDATABASE: opts.pg.database,
    }));
    started.push(generator);
    const exited = new Promise<GeneratorExit>((resolve) => {
      // "close", not "exit": stdout has been read to the end by then.
      generator.child.once("close", (code, signal) => resolve({ code, signal, summary: lastJsonLine(generator.stdout()) }));
    });
    let stopping: Promise<void> | undefined;
    return {
      pids: { "http-service": http.child.pid!, "request-logger": logger.child.pid!, "traffic-generator": generator.child.pid! },
      runId,
      exited,
      stop() {
        stopping ??= (async () => {
          await terminate(generator);
          await Promise.all([terminate(http), terminate(logger)]);
        })();
        return stopping;
      },
    };
  } catch (err) {
    await Promise.all(started.map(terminate));
    throw err;
  }
}

// `node demo/run.ts`: the whole demo with the same settings the programs read, until SIGTERM/SIGINT.
if (import.meta.main) {
  const env = process.env;
  const int = (v: string | undefined, d: number): number => (v ? Number(v) : d);
  const demo = await startDemo({
    natsUrl: env.NATS_URL ?? "nats://127.0.0.1:4222",
    redisUrl: env.REDIS_URL ?? "redis://127.0.0.1:6379",
    pg: {
      host: env.PGHOST ?? "127.0.0.1",
      port: int(env.PGPORT, 5432),
      user: env.PGUSER ?? "postgres",
      password: env.PGPASSWORD ?? "",
      database: env.PGDATABASE ?? "postgres",
    },
    httpPort: int(env.DEMO_HTTP_PORT, 8080),
    intervalMs: int(env.DEMO_INTERVAL_MS, 500),
    iterations: env.DEMO_ITERATIONS ? Number(env.DEMO_ITERATIONS) : undefined,
  });
  process.stderr.write(`demo running: ${JSON.stringify(demo.pids)}\n`);
  const stop = (): void => void demo.stop().then(() => process.exit(0));
  process.once("SIGTERM", stop);
  process.once("SIGINT", stop);
  // With DEMO_ITERATIONS, the demo ends with the generator.
  if (env.DEMO_ITERATIONS) void demo.exited.then(stop);
}
