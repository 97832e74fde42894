// Load generators for the workload benchmarks, each in its own process:
// - saturation: `wrk` (keep-alive connections, --latency), its req/s, p50 and p99 parsed from its report;
// - fixed rate: this file run as `node bench/lib/load.ts --fixed-rate '<json>'`, a keep-alive client that sends
//   on a fixed timetable and measures each latency from the request's scheduled send time (not from when it
//   actually went out), so a slow server cannot hide its stalls by slowing the client (coordinated omission).
// Both can be held at the starting line (`beforeStart`) until the caller knows their pid, e.g. to trace it.
import { spawn, spawnSync } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { existsSync, readFileSync, readdirSync } from "node:fs";
import { Agent, request } from "node:http";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import { procUsage } from "./proc.ts";
import { childEnv } from "./servers.ts";
import { percentiles } from "./stats.ts";
import type { Collector } from "./stats.ts";

const SELF = fileURLToPath(import.meta.url);

/** Is `bin` an executable on PATH? */
export function onPath(bin: string): boolean {
  return (process.env.PATH ?? "").split(":").some((d) => d && existsSync(join(d, bin)));
}

/** Installs Debian package `pkg` when `bin` is not on PATH (the bench runs as root). */
export function ensureTool(bin: string, pkg: string, log: (msg: string) => void): void {
  if (onPath(bin)) return;
  log(`installing ${pkg} (apt-get) for ${bin}`);
  const r = spawnSync("apt-get", ["install", "-y", "--no-install-recommends", pkg], {
    env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" },
    stdio: ["ignore", "ignore", "pipe"],
    encoding: "utf8",
  });
  if (r.status !== 0 || !onPath(bin)) throw new Error(`could not install ${pkg}: ${(r.stderr ?? "").slice(-300)}`);
}

export interface LoadResult {
  /** Requests answered per second over the measured window. */
  rps: number;
  /** Requests answered in the measured window. */
  requests: number;
  /** Failed requests (socket errors, non-2xx, unanswered at the end). */
  errors: number;
  p50Ms: number;
  p99Ms: number;
  /** The load generator's pid (it has exited by now). */
  pid: number;
}

export interface LoadOptions {
  url: string;
  seconds: number;
  /** Keep-alive connections. */
  connections: number;
  /** The generator's whole environment besides PATH and HOME (e.g. ADI_PROFILE to opt it in). */
  env?: Record<string, string>;
  /** Called with the generator's pid before it starts (it waits at the starting line until this resolves). */
  beforeStart?: (pid: number) => Promise<void>;
}

/**
 * Spawns `cmd args` held at the starting line: a shell that reads one line from stdin and then execs the
 * command, so the pid the caller sees is the command's own (and an opt-in decided at exec applies to it).
 */
async function spawnGated(cmd: string, args: string[], env: Record<string, string> | undefined, beforeStart?: (pid: number) => Promise<void>): Promise<{ child: ChildProcess; done: Promise<{ code: number | null; stdout: string; stderr: string }> }> {
  const child = spawn("/bin/sh", ["-c", 'read _ && exec "$0" "$@"', cmd, ...args], { env: childEnv(env), stdio: ["pipe", "pipe", "pipe"] });
  let stdout = "", stderr = "";
  child.stdout!.on("data", (d: Buffer) => (stdout += d.toString("utf8")));
  child.stderr!.on("data", (d: Buffer) => (stderr += d.toString("utf8")));
  const done = new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve, reject) => {
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr })); // exited, and its output read to the end
  });
  try {
    await beforeStart?.(child.pid!);
  } catch (err) {
    child.kill("SIGKILL");
    await done.catch(() => undefined);
    throw err;
  }
  child.stdin!.end("go\n");
  return { child, done };
}

// ---------------------------------------------------------------------------------------------------------
// Somebody else's load: the machine is shared (2 cores), and a figure taken while another process was busy
// says little. CPU the whole machine spent that none of the known processes (nor this one and the children it
// reaped, e.g. the load generator) spent, and time the hypervisor took (steal), over a window. Kernel threads
// are left out: their work (writeback, softirq, io_uring teardown) may be done for us as well as for others.

const USER_HZ = 100;

function hostCpu(): { busy: number; steal: number } {
  const f = readFileSync("/proc/stat", "utf8").split("\n", 1)[0]!.trim().split(/\s+/).slice(1).map(Number);
  // user nice system idle iowait irq softirq steal: irq and softirq time is left out, as it is of per-process
  // times when the kernel accounts it separately (CONFIG_IRQ_TIME_ACCOUNTING)
  return { busy: (f[0]! + f[1]! + f[2]!) / USER_HZ, steal: (f[7] ?? 0) / USER_HZ };
}

const PF_KTHREAD = 0x00200000;

/** CPU seconds of each kernel thread. */
function kernelThreads(): Map<number, number> {
  const out = new Map<number, number>();
  for (const d of readdirSync("/proc")) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, "utf8");
      const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      if (Number(f[6]) & PF_KTHREAD) out.set(Number(d), (Number(f[11]) + Number(f[12])) / USER_HZ);
    } catch {
      // gone
    }
  }
  return out;
}

function selfAndReaped(): number {
  const stat = readFileSync("/proc/self/stat", "utf8");
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14])) / USER_HZ;
}

export interface ForeignCpu {
  /** Average cores busy with processes that are not ours, over the window (clamped at 0). */
  cores: number;
  /** Average cores the hypervisor took (steal). */
  stealCores: number;
}

/**
 * Starts a window; the returned function ends it. `known` lists the pids of every long-lived process of the
 * benchmark (server, tools, adi, nats-server) and is called at both ends; a pid gone by the end is left out.
 */
export function foreignCpuWindow(known: () => readonly number[]): () => ForeignCpu {
  const t0 = performance.now();
  const h0 = hostCpu();
  const s0 = selfAndReaped();
  const k0 = kernelThreads();
  const p0 = new Map<number, number>();
  for (const pid of known()) {
    try {
      p0.set(pid, procUsage(pid).cpuSeconds);
    } catch {
      // gone
    }
  }
  return () => {
    const h1 = hostCpu();
    let ours = selfAndReaped() - s0;
    for (const [pid, cpu] of kernelThreads()) ours += cpu - (k0.get(pid) ?? cpu);
    for (const pid of known()) {
      const before = p0.get(pid);
      if (before === undefined) continue;
      try {
        ours += procUsage(pid).cpuSeconds - before;
      } catch {
        // gone
      }
    }
    const wall = (performance.now() - t0) / 1000;
    return { cores: Math.max(0, h1.busy - h0.busy - ours) / wall, stealCores: (h1.steal - h0.steal) / wall };
  };
}

/** A note when the window saw another process (or the hypervisor) take more than `threshold` of a core. */
export function foreignNote(f: ForeignCpu, threshold = 0.05): string | undefined {
  const parts: string[] = [];
  if (f.cores > threshold) parts.push(`${(f.cores * 100).toFixed(0)}% of a core busy outside the benchmark's processes`);
  if (f.stealCores > threshold) parts.push(`steal ${(f.stealCores * 100).toFixed(0)}% of a core`);
  return parts.length ? parts.join(", ") : undefined;
}

/** Waits until a whole second passes with at most `threshold` of a core busy outside the benchmark (at most `maxMs`). */
export async function waitForQuiet(threshold: number, maxMs: number, log: (msg: string) => void): Promise<void> {
  const deadline = Date.now() + maxMs;
  let said = false;
  for (;;) {
    const window = foreignCpuWindow(() => []);
    await new Promise((r) => setTimeout(r, 1000));
    const f = window();
    if (Math.max(f.cores, f.stealCores) <= threshold) return;
    if (Date.now() > deadline) {
      log(`the machine is still busy (${(f.cores * 100).toFixed(0)}% of a core outside the benchmark): going on`);
      return;
    }
    if (!said) log(`waiting for the machine to be quiet (${(f.cores * 100).toFixed(0)}% of a core busy outside the benchmark)`);
    said = true;
  }
}

/**
 * Runs `reps` repetitions of `body` into `c`. The machine may be shared: each repetition first waits (up to a
 * minute) for a quiet second, and one in which some run saw more than `threshold` of a core busy outside the
 * benchmark's processes (body returns the worst it saw) is discarded and run again, at most `maxRetries` times
 * in all; after that, repetitions are kept as they are (their notes say how busy the machine was). Returns a
 * note on what was discarded, if anything.
 */
export async function cleanRepetitions(
  c: Collector,
  opts: { reps: number; maxRetries: number; threshold?: number; log: (msg: string) => void; name: string },
  body: (rep: number) => Promise<number>,
): Promise<string | undefined> {
  const threshold = opts.threshold ?? 0.1;
  let retries = 0;
  for (let rep = 1; rep <= opts.reps; rep++) {
    await waitForQuiet(threshold, 60_000, opts.log);
    c.stage();
    let worst: number;
    try {
      worst = await body(rep);
    } catch (err) {
      c.discard();
      throw err;
    }
    if (worst > threshold && retries < opts.maxRetries) {
      retries++;
      c.discard();
      opts.log(`${opts.name} rep ${rep}: ${(worst * 100).toFixed(0)}% of a core busy outside the benchmark: repetition discarded, running it again (${retries}/${opts.maxRetries})`);
      rep--;
      continue;
    }
    c.commit();
  }
  return retries > 0 ? `${retries} repetition(s) discarded and re-run: another load used more than ${(threshold * 100).toFixed(0)}% of a core` : undefined;
}

// ---------------------------------------------------------------------------------------------------------
// Saturation: wrk.

const UNIT_MS: Record<string, number> = { us: 0.001, ms: 1, s: 1000, m: 60_000 };

function durationMs(text: string): number {
  const m = /^([\d.]+)(us|ms|s|m)$/.exec(text.trim());
  if (!m) return NaN;
  return Number(m[1]) * UNIT_MS[m[2]!]!;
}

/** Parses wrk's report (run with --latency). */
export function parseWrk(out: string): { rps: number; requests: number; errors: number; p50Ms: number; p99Ms: number } {
  const rps = Number(/^Requests\/sec:\s+([\d.]+)/m.exec(out)?.[1] ?? NaN);
  const requests = Number(/^\s*(\d+) requests in /m.exec(out)?.[1] ?? NaN);
  const pct = (p: string) => durationMs(new RegExp(`^\\s+${p}%\\s+(\\S+)`, "m").exec(out)?.[1] ?? "");
  const sock = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  const non2xx = Number(/Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? 0);
  const errors = (sock ? sock.slice(1).reduce((n, v) => n + Number(v), 0) : 0) + non2xx;
  return { rps, requests, errors, p50Ms: pct("50"), p99Ms: pct("99") };
}

/** Saturates `url` with wrk (one thread, `connections` keep-alive connections) for `seconds`. */
export async function runWrk(opts: LoadOptions & { threads?: number }): Promise<LoadResult> {
  const args = [`-t${opts.threads ?? 1}`, `-c${opts.connections}`, `-d${opts.seconds}s`, "--latency", opts.url];
  let pid = 0;
  const { done } = await spawnGated("wrk", args, opts.env, async (p) => {
    pid = p;
    await opts.beforeStart?.(p);
  });
  const r = await done;
  if (r.code !== 0) throw new Error(`wrk exited ${r.code}: ${r.stderr.slice(-300)}`);
  const parsed = parseWrk(r.stdout);
  if (!Number.isFinite(parsed.rps) || !Number.isFinite(parsed.p99Ms)) throw new Error(`unexpected wrk output: ${r.stdout.slice(0, 500)}`);
  return { ...parsed, pid };
}

// ---------------------------------------------------------------------------------------------------------
// Fixed rate: a node client on a timetable.

export interface FixedRateOptions extends LoadOptions {
  /** Requests per second to send. */
  rate: number;
  /** Seconds at the same rate before the measured window (connections opened, JIT warm), not counted. */
  warmupSeconds?: number;
}

export interface FixedRateResult extends LoadResult {
  /** The rate asked for. */
  target: number;
}

interface FixedRateConfig {
  url: string;
  rate: number;
  seconds: number;
  warmupSeconds: number;
  connections: number;
}

/** Runs the fixed-rate client in its own process and returns its report. */
export async function runFixedRate(opts: FixedRateOptions): Promise<FixedRateResult> {
  const cfg: FixedRateConfig = { url: opts.url, rate: opts.rate, seconds: opts.seconds, warmupSeconds: opts.warmupSeconds ?? 0.5, connections: opts.connections };
  let pid = 0;
  const { done } = await spawnGated(process.execPath, ["--disable-warning=ExperimentalWarning", SELF, "--fixed-rate", JSON.stringify(cfg)], opts.env, async (p) => {
    pid = p;
    await opts.beforeStart?.(p);
  });
  const r = await done;
  if (r.code !== 0) throw new Error(`fixed-rate client exited ${r.code}: ${r.stderr.slice(-300)}`);
  const report = JSON.parse(r.stdout.trim().split("\n").at(-1)!) as Omit<FixedRateResult, "pid">;
  return { ...report, pid };
}

async function fixedRateMain(cfg: FixedRateConfig): Promise<void> {
  const url = new URL(cfg.url);
  const agent = new Agent({ keepAlive: true, maxSockets: cfg.connections, maxFreeSockets: cfg.connections, scheduling: "fifo" });
  const get = () =>
    new Promise<boolean>((resolve) => {
      const req = request({ agent, host: url.hostname, port: url.port, path: url.pathname, method: "GET" }, (res) => {
        res.on("data", () => undefined);
        res.on("end", () => resolve(res.statusCode === 200));
        res.on("error", () => resolve(false));
      });
      req.on("error", () => resolve(false));
      req.end();
    });
  // Open every connection first, so the timetable does not pay for connects.
  await Promise.all(Array.from({ length: cfg.connections }, get));

  const interval = 1000 / cfg.rate;
  const warmup = Math.round(cfg.warmupSeconds * cfg.rate);
  const total = warmup + Math.round(cfg.seconds * cfg.rate);
  const latencies = new Float64Array(total - warmup);
  let recorded = 0, errors = 0, outstanding = 0, lastDone = 0;
  const t0 = performance.now() + 5;
  const measuredFrom = t0 + warmup * interval;
  let next = 0;

  const send = (i: number) => {
    const scheduled = t0 + i * interval;
    outstanding++;
    void get().then((ok) => {
      outstanding--;
      const now = performance.now();
      if (i < warmup) return;
      lastDone = now;
      if (ok) latencies[recorded++] = now - scheduled;
      else errors++;
    });
  };
  await new Promise<void>((resolve) => {
    const tick = () => {
      const now = performance.now();
      while (next < total && t0 + next * interval <= now) send(next++);
      if (next >= total) return resolve();
      const wait = t0 + next * interval - performance.now();
      if (wait > 1) setTimeout(tick, Math.min(wait - 0.5, 50));
      else setImmediate(tick);
    };
    tick();
  });
  // Answers still due: up to 10 s, then they count as errors.
  const deadline = performance.now() + 10_000;
  while (outstanding > 0 && performance.now() < deadline) await new Promise((r) => setTimeout(r, 5));
  errors += outstanding;
  agent.destroy();
  const window = (Math.max(lastDone, measuredFrom + cfg.seconds * 1000) - measuredFrom) / 1000;
  const [p50, p99] = percentiles(latencies.subarray(0, recorded), [50, 99]);
  const report: Omit<FixedRateResult, "pid"> = { target: cfg.rate, rps: recorded / window, requests: recorded, errors, p50Ms: p50!, p99Ms: p99! };
  process.stdout.write(`${JSON.stringify(report)}\n`);
  process.exit(0);
}

if (process.argv[1] === SELF && process.argv[2] === "--fixed-rate") await fixedRateMain(JSON.parse(process.argv[3]!) as FixedRateConfig);
