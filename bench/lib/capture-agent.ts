// The capture agent alone, as it runs on a traced host (`adi capture`, consumers elsewhere), for benchmarks that
// charge its CPU by pid and need to know which kernel data path it loaded: a fresh nats-server of its own
// (JetStream store removed afterwards), the agent started through the package's `adi` launcher (whichever
// package.json names) with
// ADI_CAPTURE_HOOKS set, ready when it logs `ready` (whose `hooks` field says what was attached), and on stop
// its counters from its last log line ("capture stopped") and from its last agent_stats fact in ADI_FACTS.
// Also: which BPF programs of the tracing kinds are loaded on the host (another process's probes on the same
// paths would be measured with ours).
import { spawn, spawnSync } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ROOT, startBroker } from "./pipeline-procs.ts";
import { childEnv, childPids, sleep } from "./proc.ts";
import { onPath } from "./load.ts";
import { readAgentCounters } from "./servers.ts";
import type { AgentCounters } from "./servers.ts";

export type CaptureHooks = "socket" | "syscall";

/** What the agent says about its losses, cumulative over its life. */
export interface CaptureCounters {
  /** Records the kernel wrote to the ring buffer. */
  events: number;
  /** Kernel drops, all reasons. */
  kernelDrops: number;
  /** Kernel drops by reason, only the non-zero ones. */
  dropReasons: Record<string, number>;
  /** User-space records dropped (publish buffer or addon queue full). */
  eventsDropped: number;
  batchesDropped: number;
}

export interface CaptureAgent {
  /** The data path the agent reported in its ready line. */
  hooks: string;
  /** Its ready line's hooksDetail (what was attached). */
  hooksDetail: string;
  /** The node process that runs the agent (CPU charged to it). */
  pid: number;
  /** The process started (the launcher): the agent itself when the launcher exec'd node, else its parent. */
  wrapperPid: number;
  /** What was run, relative to the repository. */
  command: string;
  natsPid: number;
  natsUrl: string;
  host: string;
  /** SIGTERM; waits for the agent to exit, reads its counters, stops the nats-server. */
  stop(): Promise<{ log: CaptureCounters | undefined; fact: AgentCounters | undefined }>;
}

/**
 * How to start `adi capture` as a user would: the package's `adi` launcher (package.json `bin.adi`: bin/adi, a
 * shell script that execs node, or the older bin/adi.mjs, a node wrapper that spawns it); when neither is
 * there, the CLI directly with the node flag the launchers give `adi capture`.
 */
function launcher(): { cmd: string; args: string[] } {
  let rel: string | undefined;
  try {
    const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { bin?: Record<string, string> | string };
    rel = typeof pkg.bin === "string" ? pkg.bin : pkg.bin?.adi;
  } catch {
    // no package.json bin
  }
  for (const candidate of [rel, "bin/adi", "bin/adi.mjs"]) {
    if (!candidate || !existsSync(join(ROOT, candidate))) continue;
    const path = join(ROOT, candidate);
    return /\.[cm]?js$/.test(path) ? { cmd: process.execPath, args: [path] } : { cmd: path, args: [] };
  }
  return { cmd: process.execPath, args: ["--max-semi-space-size=2", "--disable-warning=ExperimentalWarning", join(ROOT, "cli", "main.ts")] };
}

/** The process that runs the CLI: `pid` itself once a launcher exec'd node, else its child (a node wrapper's). */
function cliPid(pid: number): number {
  const runsCli = (p: number) => {
    try {
      return readFileSync(`/proc/${p}/cmdline`, "utf8").split("\0").some((a) => a.endsWith(join("cli", "main.ts")));
    } catch {
      return false;
    }
  };
  if (runsCli(pid)) return pid;
  return childPids(pid).find(runsCli) ?? pid;
}

function logLines(path: string): Record<string, unknown>[] {
  let text = "";
  try {
    text = readFileSync(path, "utf8");
  } catch {
    return [];
  }
  const out: Record<string, unknown>[] = [];
  for (const line of text.split("\n")) {
    if (!line.startsWith("{")) continue;
    try {
      out.push(JSON.parse(line) as Record<string, unknown>);
    } catch {
      // a partial line
    }
  }
  return out;
}

const tailOf = (path: string) => {
  try {
    return readFileSync(path, "utf8").slice(-800);
  } catch {
    return "";
  }
};

/** The agent's counters from its "capture stopped" log line. */
function stoppedCounters(path: string): CaptureCounters | undefined {
  const line = logLines(path).findLast((l) => l.msg === "capture stopped");
  if (!line) return undefined;
  const kernel = line.kernel as { events?: number; drops?: Record<string, number> } | undefined;
  const user = line.user as { events_dropped?: number; batches_dropped?: number } | undefined;
  const drops = kernel?.drops ?? {};
  return {
    events: kernel?.events ?? NaN,
    kernelDrops: Object.values(drops).reduce((a, b) => a + b, 0),
    dropReasons: Object.fromEntries(Object.entries(drops).filter(([, v]) => v > 0)),
    eventsDropped: user?.events_dropped ?? NaN,
    batchesDropped: user?.batches_dropped ?? NaN,
  };
}

/**
 * Starts a nats-server and `adi capture` with ADI_CAPTURE_HOOKS=`hooks`, capturing only processes whose
 * ADI_PROFILE is `profile` (ADI_PROFILE_ALLOWED), and resolves once it logged `ready`. Throws when the agent
 * exits, is not ready in 60 s, or reports another data path than the one asked for.
 */
export async function startCaptureAgent(hooks: CaptureHooks, profile: string, extraEnv: Record<string, string> = {}): Promise<CaptureAgent> {
  const broker = await startBroker();
  const dir = mkdtempSync(join(tmpdir(), "adi-bench-capture-"));
  const host = `bench${randomBytes(4).toString("hex")}`;
  const logPath = join(dir, "capture.log");
  let child: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();
  const stopAgent = async () => {
    const c = child;
    child = undefined;
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    c.kill("SIGTERM"); // the launcher is the agent (exec) or passes the signal on
    const t = setTimeout(() => c.kill("SIGKILL"), 20_000);
    await exited;
    clearTimeout(t);
  };
  const cleanup = async () => {
    await stopAgent();
    await broker.stop();
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const { cmd, args } = launcher();
    const fd = openSync(logPath, "a");
    const env = childEnv({ NATS_URL: broker.url, ADI_HOST: host, LOG_LEVEL: "info", ADI_PROFILE_ALLOWED: profile, ADI_CAPTURE_HOOKS: hooks, ADI_DATA_DIR: join(dir, "data"), ...extraEnv });
    const c = spawn(cmd, [...args, "capture"], { cwd: ROOT, env, stdio: ["ignore", fd, fd] });
    closeSync(fd);
    child = c;
    exited = new Promise<void>((r) => (c.exitCode !== null || c.signalCode !== null ? r() : c.once("exit", () => r())));
    const deadline = Date.now() + 60_000;
    let ready: Record<string, unknown> | undefined;
    while (!(ready = logLines(logPath).find((l) => l.msg === "ready"))) {
      if (c.exitCode !== null || c.signalCode !== null) throw new Error(`adi capture (ADI_CAPTURE_HOOKS=${hooks}) exited (${c.exitCode ?? c.signalCode}) before it was ready: ${tailOf(logPath)}`);
      if (Date.now() > deadline) throw new Error(`adi capture (ADI_CAPTURE_HOOKS=${hooks}) not ready after 60 s: ${tailOf(logPath)}`);
      await sleep(50);
    }
    const got = String(ready.hooks ?? "(no hooks field)");
    if (got !== hooks) throw new Error(`adi capture asked for ADI_CAPTURE_HOOKS=${hooks} loaded ${got}: ${String(ready.hooksDetail ?? "")}`);
    return {
      hooks: got,
      hooksDetail: String(ready.hooksDetail ?? ""),
      pid: cliPid(c.pid!),
      wrapperPid: c.pid!,
      natsPid: broker.pid,
      natsUrl: broker.url,
      host,
      command: [cmd, ...args, "capture"].map((a) => a.replace(ROOT, "")).join(" "),
      async stop() {
        const stoppingAt = Date.now();
        await stopAgent();
        const log = stoppedCounters(logPath);
        const fact = await readAgentCounters(broker.url, host, stoppingAt - 1, 3000).catch(() => undefined);
        await cleanup();
        return { log, fact };
      },
    };
  } catch (err) {
    await cleanup().catch(() => undefined);
    throw err;
  }
}

// ---------------------------------------------------------------------------------------------------------
// BPF programs on the host.

/** Program types that run on syscall or socket paths (tracepoints, BTF tracepoints, fentry, kprobes). */
const TRACING_TYPES = new Set(["tracepoint", "raw_tracepoint", "raw_tracepoint_writable", "tracing", "kprobe", "perf_event"]);

/** A loaded BPF program as bpftool shows it; run_time_ns and run_cnt only count while kernel.bpf_stats_enabled = 1. */
export interface ProgInfo {
  id: number;
  type: string;
  name: string;
  runTimeNs: number;
  runCnt: number;
}

/** The BPF programs of the tracing kinds loaded now, by id; undefined when bpftool is missing or fails. */
export function tracingProgs(): Map<number, ProgInfo> | undefined {
  if (!onPath("bpftool") && !existsSync("/usr/sbin/bpftool")) return undefined;
  const r = spawnSync(onPath("bpftool") ? "bpftool" : "/usr/sbin/bpftool", ["prog", "show", "-j"], { encoding: "utf8", maxBuffer: 64 << 20 });
  if (r.status !== 0) return undefined;
  try {
    const progs = JSON.parse(r.stdout) as { id: number; type: string; name?: string; run_time_ns?: number; run_cnt?: number }[];
    return new Map(
      progs
        .filter((p) => TRACING_TYPES.has(p.type))
        .map((p) => [p.id, { id: p.id, type: p.type, name: p.name ?? "", runTimeNs: p.run_time_ns ?? 0, runCnt: p.run_cnt ?? 0 }]),
    );
  } catch {
    return undefined;
  }
}

/** Ids of the BPF programs of the tracing kinds loaded now; undefined when bpftool is missing or fails. */
export function tracingProgIds(): Set<number> | undefined {
  const progs = tracingProgs();
  return progs ? new Set(progs.keys()) : undefined;
}

const BPF_STATS = "/proc/sys/kernel/bpf_stats_enabled";

/**
 * Runs `body` with the kernel's BPF run-time statistics on (kernel.bpf_stats_enabled = 1: every program run
 * pays two clock reads), and sets the sysctl back to what it was afterwards.
 */
export async function withBpfStats<T>(body: () => Promise<T>): Promise<T> {
  const before = readFileSync(BPF_STATS, "utf8").trim();
  const restore = () => {
    try {
      writeFileSync(BPF_STATS, before);
    } catch {
      // nothing more to do
    }
  };
  // Killed meanwhile: set it back before dying of the signal.
  const onSignal = (signal: NodeJS.Signals) => {
    restore();
    process.kill(process.pid, signal);
  };
  const signals: NodeJS.Signals[] = ["SIGINT", "SIGTERM", "SIGHUP"];
  for (const sig of signals) process.once(sig, onSignal);
  process.once("exit", restore);
  writeFileSync(BPF_STATS, "1");
  try {
    return await body();
  } finally {
    restore();
    for (const sig of signals) process.off(sig, onSignal);
    process.off("exit", restore);
  }
}

/** Ids in `now` that are not in `mine`. */
export function foreignProgs(now: Set<number> | undefined, mine: Set<number> = new Set()): number[] {
  return now ? [...now].filter((id) => !mine.has(id)) : [];
}

/**
 * Waits, up to `maxMs`, until no BPF program of the tracing kinds is loaded (none of ours is at this point);
 * returns how many are still there (0: clean).
 */
export async function waitForNoTracingProgs(maxMs: number, log: (msg: string) => void): Promise<number> {
  const deadline = Date.now() + maxMs;
  let said = false;
  for (;;) {
    const n = foreignProgs(tracingProgIds()).length;
    if (n === 0) return 0;
    if (Date.now() > deadline) {
      log(`${n} BPF tracing program(s) of another process still loaded after ${Math.round(maxMs / 1000)} s: going on`);
      return n;
    }
    if (!said) log(`waiting for ${n} BPF tracing program(s) of another process to go (they would be measured with ours)`);
    said = true;
    await sleep(1000);
  }
}
