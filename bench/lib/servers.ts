// The processes a workload benchmark runs besides the load generator: the one workload HTTP server (this file is
// also its program: `node bench/lib/servers.ts --serve`), and adi itself as `bin/adi up`, or capture / classify /
// map / enrich one process each, so their CPU can be charged by pid.
import { spawn } from "node:child_process";
import type { ChildProcess, SpawnOptions } from "node:child_process";
import { mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { createServer } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { randomBytes } from "node:crypto";
import { childEnv, childPids, procUsage } from "./proc.ts";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const SELF = fileURLToPath(import.meta.url);

/**
 * An ADI_PROFILE value of its own for one benchmark run: adi is started with ADI_PROFILE_ALLOWED set to it, so
 * it captures only this run's processes even if other opted-in processes run on the host at the same time.
 */
export function benchProfile(): string {
  return `bench${randomBytes(4).toString("hex")}`;
}

/** The variables that opt a process in (the "opted in": ADI_PROFILE on the server and the client). */
export function optInEnv(profile: string, name: string): Record<string, string> {
  return { ADI_PROFILE: profile, ADI_PROFILE_NAME: name };
}

const closedOf = new WeakMap<ChildProcess, Promise<void>>();

/** Spawns like child_process.spawn and remembers when the child is gone and its output read to the end. */
export function spawnTracked(cmd: string, args: readonly string[], opts: SpawnOptions): ChildProcess {
  const child = spawn(cmd, args, opts);
  closedOf.set(child, new Promise<void>((r) => child.once("close", () => r())));
  return child;
}

/** Sends `signal` and waits until `child` (from spawnTracked) is gone and its output read; SIGKILL after `graceMs`. */
export async function stopChild(child: ChildProcess, signal: NodeJS.Signals = "SIGTERM", graceMs = 15_000): Promise<void> {
  const closed = closedOf.get(child) ?? new Promise<void>((r) => (child.exitCode !== null || child.signalCode !== null ? r() : child.once("exit", () => r())));
  if (child.exitCode === null && child.signalCode === null) child.kill(signal);
  const timer = setTimeout(() => child.kill("SIGKILL"), graceMs);
  await closed;
  clearTimeout(timer);
}

/** Resolves with the first stdout line for which `match` returns true; rejects if the child exits first. */
function waitForLine(child: ChildProcess, what: string, match: (line: string) => boolean, timeoutMs: number, stderr: () => string): Promise<string> {
  return new Promise((resolve, reject) => {
    let buf = "";
    const onData = (d: Buffer) => {
      buf += d.toString("utf8");
      let nl: number;
      while ((nl = buf.indexOf("\n")) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        if (match(line)) {
          done();
          resolve(line);
          return;
        }
      }
    };
    const onExit = (code: number | null, signal: string | null) => {
      done();
      reject(new Error(`${what} exited (${code ?? signal}) before it was ready: ${stderr().slice(-400)}`));
    };
    const timer = setTimeout(() => {
      done();
      reject(new Error(`${what} not ready after ${timeoutMs} ms: ${stderr().slice(-400)}`));
    }, timeoutMs);
    const done = () => {
      clearTimeout(timer);
      child.stdout!.off("data", onData);
      child.off("exit", onExit);
    };
    child.stdout!.on("data", onData);
    child.on("exit", onExit);
  });
}

// ---------------------------------------------------------------------------------------------------------
// The workload server.

export interface WorkloadServer {
  pid: number;
  port: number;
  /** The URL the load generators request. */
  url: string;
  /** Responses the server finished so far (its own count, asked over its IPC channel). */
  count(): Promise<number>;
  stop(): Promise<void>;
}

/**
 * Starts the workload HTTP server in its own process (node:http, keep-alive, every GET answered with ~1 KiB of
 * JSON serialised per request, `url` = GET /item) on a free loopback port. `env` is its whole environment
 * besides PATH and HOME (see childEnv): ADI_PROFILE there opts it in. Rejects when it exits before listening.
 */
export async function startWorkloadServer(env: Record<string, string> = {}): Promise<WorkloadServer> {
  const child = spawnTracked(process.execPath, ["--disable-warning=ExperimentalWarning", SELF, "--serve"], {
    env: childEnv(env),
    stdio: ["ignore", "ignore", "pipe", "ipc"],
  });
  let stderr = "";
  child.stderr!.on("data", (d: Buffer) => (stderr = (stderr + d.toString("utf8")).slice(-2000)));
  const port = await new Promise<number>((resolve, reject) => {
    child.once("message", (m) => resolve((m as { port: number }).port));
    child.once("exit", (code) => reject(new Error(`workload server exited (${code}) before it listened: ${stderr}`)));
  });
  return {
    pid: child.pid!,
    port,
    url: `http://127.0.0.1:${port}/item`,
    // Bounded: a (c) step of bench/compare.ts once waited 10 minutes with every process idle, at a wait with no
    // timeout; an answer that never comes (the server gone, the IPC channel closed) is now an error.
    count: () =>
      new Promise((resolve, reject) => {
        const timer = setTimeout(() => done(new Error(`workload server ${child.pid} did not answer "count" within 10 s: ${stderr}`)), 10_000);
        const onMessage = (m: unknown) => done(null, (m as { count: number }).count);
        const onExit = (code: number | null) => done(new Error(`workload server exited (${code}) before it answered "count": ${stderr}`));
        const done = (err: Error | null, count?: number) => {
          clearTimeout(timer);
          child.off("message", onMessage);
          child.off("exit", onExit);
          if (err) reject(err);
          else resolve(count!);
        };
        if (!child.connected) return done(new Error(`workload server ${child.pid} is gone (exit ${child.exitCode ?? child.signalCode}): ${stderr}`));
        child.once("message", onMessage);
        child.once("exit", onExit);
        child.send("count", (err) => err && done(err));
      }),
    stop: () => stopChild(child, "SIGTERM", 5000),
  };
}

/** The body of one `GET /item`: a plausible record of about 1 KiB, serialised per request as a real handler would. */
function item(n: number): Record<string, unknown> {
  return {
    id: n,
    sku: `SKU-${String(n % 100000).padStart(6, "0")}`,
    name: "Stainless steel insulated water bottle, 750 ml",
    description:
      "Double-walled vacuum insulation keeps drinks cold for 24 hours and hot for 12. Leak-proof lid, powder-coated finish, dishwasher safe. " +
      "Fits most cup holders. BPA free.",
    price: { amount: 2499 + (n % 7), currency: "EUR" },
    stock: { warehouse: "eu-west-1", available: 100 + (n % 50), reserved: n % 5 },
    tags: ["outdoor", "kitchen", "travel", "insulated", "steel", "gift"],
    dimensions: { heightMm: 265, diameterMm: 73, weightG: 390 },
    ratings: { average: 4.6, count: 1873, distribution: [12, 31, 88, 402, 1340] },
    seller: { id: "s-4821", name: "Example Outdoor Supplies GmbH", country: "DE", verified: true },
    shipping: { days: 2, free: true, methods: ["standard", "express", "pickup"] },
    variants: [
      { sku: "SKU-BLK-750", colour: "black", inStock: true },
      { sku: "SKU-WHT-750", colour: "white", inStock: true },
      { sku: "SKU-GRN-750", colour: "forest green", inStock: false },
    ],
    warranty: { months: 24, provider: "manufacturer" },
    updatedAt: "2026-03-14T09:26:53.000Z",
  };
}

function serve(): void {
  let n = 0;
  let served = 0;
  const server = createServer({ keepAlive: true, keepAliveTimeout: 120_000, requestTimeout: 0 }, (req, res) => {
    req.resume();
    if (req.method === "GET") {
      const body = JSON.stringify(item(n++));
      res.writeHead(200, { "content-type": "application/json", "content-length": Buffer.byteLength(body) });
      res.end(body);
    } else {
      res.writeHead(405, { "content-length": 0 });
      res.end();
    }
    res.on("finish", () => served++);
  });
  server.keepAliveTimeout = 120_000;
  server.headersTimeout = 130_000;
  server.listen(0, "127.0.0.1", () => process.send!({ port: (server.address() as { port: number }).port }));
  process.on("message", () => process.send!({ count: served }));
  const quit = () => {
    server.closeAllConnections();
    server.close(() => process.exit(0));
  };
  process.on("SIGTERM", quit);
  process.on("SIGINT", quit);
  process.on("disconnect", () => process.exit(0));
}

// ---------------------------------------------------------------------------------------------------------
// adi, as a user runs it.

/**
 * What `startAdi` runs: `adi up` (the consumers in one process, its capture agent in a child of it), `adi capture`
 * alone (what has to run on the traced host; the consumers can run anywhere that reaches NATS), or the four
 * services one process each.
 */
export type AdiLayout = "up" | "capture" | "split";

const READY_LINES: Record<string, string> = { capture: "ready", classify: "classifier ready", map: "mapper ready", enrich: "enricher ready" };

export interface AdiProcess {
  /** The adi command (capture, up, ...); `up:capture` for the capture agent `adi up` runs as its child. */
  command: string;
  /** The node process that runs the services (bin/adi execs it: the pid spawned), whose CPU is adi's. */
  pid: number;
}

export interface RunningAdi {
  /** ADI_HOST of this run: the subject token its facts are published under. */
  host: string;
  dir: string;
  processes: AdiProcess[];
  /** Every pid of this adi: the services' node processes (`adi up`'s capture child included). */
  pids(): number[];
  /** CPU seconds of every adi node process so far, by command. */
  cpu(): Record<string, number>;
  /** SIGTERM to each adi process (`adi up` stops its capture child first), capture first; waits for them to exit. */
  stop(): Promise<void>;
}

/** The capture agent `adi up` (pid) started as its child, found by its command line. */
function captureChildOf(pid: number): number {
  for (const c of childPids(pid)) {
    try {
      if (readFileSync(`/proc/${c}/cmdline`, "utf8").split("\0").includes("capture")) return c;
    } catch {
      // gone
    }
  }
  throw new Error(`adi up (pid ${pid}) has no capture child`);
}

/**
 * Runs adi against `natsUrl` with its outputs in a fresh temporary directory, capturing only processes whose
 * ADI_PROFILE is `profile`, and resolves once every service logged that it is ready (LOG_LEVEL=info: the ready
 * lines are info lines; nothing is logged per event at that level).
 */
export async function startAdi(natsUrl: string, layout: AdiLayout, profile: string, env: Record<string, string> = {}): Promise<RunningAdi> {
  const dir = mkdtempSync(join(tmpdir(), "adi-bench-"));
  const host = `bench${randomBytes(4).toString("hex")}`;
  const vars: Record<string, string> = {
    NATS_URL: natsUrl,
    ADI_HOST: host,
    LOG_LEVEL: "info",
    OUTPUT_PATH: join(dir, "traffic.log"),
    SERVICE_MAP_PATH: join(dir, "service-map.yaml"),
    ENV_OUTPUT_PATH: join(dir, "env.yaml"),
    ADI_PROFILE_ALLOWED: profile,
    ...env,
  };
  const all = ["capture", "classify", "map", "enrich"] as const;
  const commands: (readonly [string, readonly string[]])[] =
    layout === "up" ? [["up", all]] : layout === "capture" ? [["capture", ["capture"]]] : all.map((c) => [c, [c]] as const);
  const children: { command: string; child: ChildProcess; pid: number }[] = [];
  const stopAll = async () => {
    for (const child of new Set(children.map((c) => c.child))) await stopChild(child, "SIGTERM", 30_000);
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    for (const [command, services] of commands) {
      // bin/adi execs the node that runs the command: the pid spawned is the measured process.
      const child = spawnTracked(join(ROOT, "bin", "adi"), [command], { cwd: ROOT, env: childEnv(vars), stdio: ["ignore", "pipe", "pipe"] });
      let stderr = "";
      child.stderr!.on("data", (d: Buffer) => (stderr = (stderr + d.toString("utf8")).slice(-4000)));
      const waiting = new Set(services.map((s) => READY_LINES[s]!));
      const ready = waitForLine(
        child,
        `adi ${command}`,
        (line) => {
          try {
            const msg = (JSON.parse(line) as { msg?: string }).msg;
            if (msg !== undefined) waiting.delete(msg);
          } catch {
            // not a log line
          }
          return waiting.size === 0;
        },
        90_000,
        () => stderr,
      );
      await ready.catch(async (err: unknown) => {
        await stopChild(child, "SIGTERM", 10_000); // a capture child of `adi up` dies with it
        throw err;
      });
      children.push({ command, child, pid: child.pid! });
      if (command === "up") children.push({ command: "up:capture", child, pid: captureChildOf(child.pid!) });
      child.stdout!.resume(); // keep draining its logs
    }
  } catch (err) {
    await stopAll();
    throw err;
  }
  return {
    host,
    dir,
    processes: children.map((c) => ({ command: c.command, pid: c.pid })),
    pids: () => children.map((c) => c.pid),
    cpu() {
      const out: Record<string, number> = {};
      for (const c of children) {
        try {
          out[c.command] = procUsage(c.pid).cpuSeconds;
        } catch {
          out[c.command] = NaN;
        }
      }
      return out;
    },
    stop: stopAll,
  };
}

/** The nats-server listening on `port` (the one a NatsServerFixture started), by its command line. */
export function natsServerPid(port: number): number | undefined {
  for (const pid of readdirSync("/proc").filter((d) => /^\d+$/.test(d)).map(Number)) {
    try {
      const argv = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0");
      if (argv[0]?.endsWith("nats-server") && argv.includes(String(port))) return pid;
    } catch {
      // gone
    }
  }
  return undefined;
}

/** The counters of adi's capture agent that say whether it lost anything (cumulative since it started). */
export interface AgentCounters {
  /** When the agent took them (the fact's ts), ms since the epoch. */
  at: number;
  events: number;
  kernelDrops: number;
  eventsDropped: number;
  batchesDropped: number;
  /** kernel.drops by reason, only the non-zero ones. */
  dropReasons: Record<string, number>;
}

/** The difference of two readings of the same agent (what happened between them). */
export function countersDelta(before: AgentCounters | undefined, after: AgentCounters): AgentCounters {
  if (!before) return after;
  const dropReasons: Record<string, number> = {};
  for (const [k, v] of Object.entries(after.dropReasons)) if (v - (before.dropReasons[k] ?? 0) > 0) dropReasons[k] = v - (before.dropReasons[k] ?? 0);
  return {
    at: after.at,
    events: after.events - before.events,
    kernelDrops: after.kernelDrops - before.kernelDrops,
    eventsDropped: after.eventsDropped - before.eventsDropped,
    batchesDropped: after.batchesDropped - before.batchesDropped,
    dropReasons,
  };
}

/**
 * The capture agent's last agent_stats fact for `host` in ADI_FACTS. The agent publishes one every 5 s and a
 * last one when it stops; with `newerThan` (ms since the epoch) this waits, up to `timeoutMs`, for one taken
 * after that time.
 */
export async function readAgentCounters(natsUrl: string, host: string, newerThan = 0, timeoutMs = 8000): Promise<AgentCounters | undefined> {
  const { connect } = await import("@nats-io/transport-node");
  const { jetstreamManager } = await import("@nats-io/jetstream");
  const { decodeFact } = await import("@adi/shared/wire");
  const { FACTS_STREAM, factSubject } = await import("@adi/shared/wire");
  const { natsClientOptions } = await import("@adi/shared/nats");
  // As adi reads NATS_URL: a user:password@ or token@ in it authenticates (auth.ts), it is not dialled as is.
  const nc = await connect({ ...natsClientOptions([natsUrl], {}), name: "adi-bench" });
  try {
    const jsm = await jetstreamManager(nc);
    const deadline = Date.now() + timeoutMs;
    let last: AgentCounters | undefined;
    for (;;) {
      const m = await jsm.streams.getMessage(FACTS_STREAM, { last_by_subj: factSubject(host, "agent") }).catch(() => null);
      const fact = m ? decodeFact(m.data) : undefined;
      if (fact?.type === "agent_stats") {
        const drops = fact.kernel.drops;
        last = {
          at: Date.parse(fact.ts),
          events: fact.kernel.events,
          kernelDrops: Object.values(drops).reduce((a, b) => a + b, 0),
          eventsDropped: fact.user.events_dropped,
          batchesDropped: fact.user.batches_dropped,
          dropReasons: Object.fromEntries(Object.entries(drops).filter(([, v]) => v > 0)),
        };
        if (last.at > newerThan) return last;
      }
      if (Date.now() > deadline) return last;
      await new Promise((r) => setTimeout(r, 250));
    }
  } finally {
    await nc.close();
  }
}

if (process.argv[1] === SELF && process.argv.includes("--serve")) serve();
