// The benchmarks' one pair of load generators, each in its own process:
// - saturation: `wrk` (keep-alive connections, --latency), its req/s, p50 and p99 parsed from its report;
// - fixed rate: this file run as `node bench/lib/load.ts --fixed-rate '<json>'`, a keep-alive client on raw
//   sockets (cheap enough to send 10,000 requests/s from one core) that sends on a fixed timetable and measures
//   each latency from the request's scheduled send time (not from when it actually went out), so a slow server
//   cannot hide its stalls by slowing the client (coordinated omission).
// Both can be held at the starting line (`beforeStart`) until the caller knows their pid, e.g. to trace it, and
// both run with a clean environment (childEnv) plus `env` (e.g. ADI_PROFILE to opt the client in).
import { spawn, spawnSync } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { connect } from "node:net";
import type { Socket } from "node:net";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import { childEnv } from "./proc.ts";
import { percentiles } from "./stats.ts";

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
  /** The measured window, seconds (wall time of the load, start-up of the generator left out). */
  seconds: number;
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
  return { ...parsed, seconds: parsed.requests / parsed.rps, pid };
}

// ---------------------------------------------------------------------------------------------------------
// Fixed rate: a node client on a timetable.

export interface FixedRateOptions extends LoadOptions {
  /** Requests per second to send. */
  rate: number;
  /** Seconds at the same rate before the measured window (JIT warm), not counted. Default 0.5. */
  warmupSeconds?: number;
}

export interface FixedRateResult extends LoadResult {
  /** The rate asked for. */
  target: number;
  /** Requests sent, warm-up included. */
  sent: number;
  /** Most requests that were due but waiting for a free connection at once (the server fell behind). */
  maxBehind: number;
}

interface FixedRateConfig {
  url: string;
  rate: number;
  seconds: number;
  warmupSeconds: number;
  connections: number;
}

/**
 * Sends GET `url` at `rate` requests/s for `warmupSeconds` + `seconds` over `connections` keep-alive connections
 * (opened before the timetable starts), in its own process, and returns its report: latency percentiles and rate
 * of the measured window, errors (socket errors, non-2xx, unanswered 10 s after the last send). Throws when the
 * client fails.
 */
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

interface Conn {
  socket: Socket;
  /** Scheduled send time (performance.now()) and index of the request in flight; undefined when idle. */
  inFlight: { scheduled: number; i: number } | undefined;
  buf: Buffer | null;
}

async function fixedRateMain(cfg: FixedRateConfig): Promise<void> {
  const url = new URL(cfg.url);
  const port = Number(url.port || 80);
  const head = Buffer.from(`GET ${url.pathname}${url.search} HTTP/1.1\r\nHost: ${url.host}\r\nUser-Agent: adi-bench\r\nAccept: application/json\r\n\r\n`, "latin1");
  const interval = 1000 / cfg.rate;
  const warmup = Math.round(cfg.warmupSeconds * cfg.rate);
  const total = warmup + Math.round(cfg.seconds * cfg.rate);
  const latencies = new Float64Array(total - warmup);
  let recorded = 0, errors = 0, sent = 0, maxBehind = 0, lastDone = 0;
  let t0 = 0;
  const idle: Conn[] = [];
  const conns: Conn[] = [];
  /** Requests due while every connection was busy: sent, in order, as connections come free. */
  const behind: number[] = [];
  const send = (c: Conn, i: number) => {
    c.inFlight = { scheduled: t0 + i * interval, i };
    sent++;
    c.socket.write(head);
  };
  const finished = (c: Conn, ok: boolean) => {
    const now = performance.now();
    const f = c.inFlight;
    c.inFlight = undefined;
    if (f && f.i >= warmup) {
      lastDone = now;
      if (ok) latencies[recorded++] = now - f.scheduled;
      else errors++;
    }
    const next = behind.shift();
    if (next !== undefined) send(c, next);
    else idle.push(c);
  };
  await Promise.all(
    Array.from({ length: cfg.connections }, () => new Promise<void>((resolve, reject) => {
      const socket = connect({ host: url.hostname, port, noDelay: true }, () => resolve());
      const c: Conn = { socket, inFlight: undefined, buf: null };
      socket.on("error", (err) => {
        if (c.inFlight) finished(c, false);
        reject(err);
      });
      socket.on("data", (d: Buffer) => {
        let buf: Buffer = c.buf ? Buffer.concat([c.buf, d]) : d;
        for (;;) {
          const headEnd = buf.indexOf("\r\n\r\n");
          if (headEnd < 0) break;
          const m = /content-length:\s*(\d+)/i.exec(buf.toString("latin1", 0, headEnd));
          const length = headEnd + 4 + Number(m?.[1] ?? 0);
          if (buf.length < length) break;
          const ok = buf[9] === 0x32; // "HTTP/1.1 2xx"
          buf = buf.subarray(length);
          finished(c, ok);
        }
        c.buf = buf.length ? buf : null;
      });
      conns.push(c);
      idle.push(c);
    })),
  );

  t0 = performance.now() + 5;
  let next = 0;
  await new Promise<void>((resolve) => {
    const tick = () => {
      const now = performance.now();
      while (next < total && t0 + next * interval <= now) {
        const c = idle.pop();
        if (c) send(c, next);
        else behind.push(next);
        next++;
      }
      maxBehind = Math.max(maxBehind, behind.length);
      if (next >= total) return resolve();
      const wait = t0 + next * interval - performance.now();
      if (wait > 1) setTimeout(tick, Math.min(wait - 0.5, 50));
      else setImmediate(tick);
    };
    tick();
  });
  // Answers still due: up to 10 s, then they count as errors.
  const deadline = performance.now() + 10_000;
  while ((behind.length > 0 || conns.some((c) => c.inFlight)) && performance.now() < deadline) await new Promise((r) => setTimeout(r, 5));
  errors += behind.length + conns.filter((c) => c.inFlight && c.inFlight.i >= warmup).length;
  for (const c of conns) c.socket.destroy();
  const measuredFrom = t0 + warmup * interval;
  const seconds = (Math.max(lastDone, measuredFrom + cfg.seconds * 1000) - measuredFrom) / 1000;
  const [p50, p99] = percentiles(latencies.subarray(0, recorded), [50, 99]);
  const report: Omit<FixedRateResult, "pid"> = { target: cfg.rate, rps: recorded / seconds, requests: recorded, errors, p50Ms: p50!, p99Ms: p99!, seconds, sent, maxBehind };
  process.stdout.write(`${JSON.stringify(report)}\n`);
  process.exit(0);
}

if (process.argv[1] === SELF && process.argv[2] === "--fixed-rate") await fixedRateMain(JSON.parse(process.argv[3]!) as FixedRateConfig);
