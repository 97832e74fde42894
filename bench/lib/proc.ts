// Processes as the benchmarks see them, from /proc: CPU time and memory of a pid, the whole machine's CPU, a
// process's children, and the clean environment every child of the bench is started with.
import { readFileSync, readdirSync, writeFileSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";

export { sleep };

const TICKS_PER_SECOND = 100; // USER_HZ

export interface ProcUsage {
  /** user + system CPU of the process itself (not its children), seconds. */
  cpuSeconds: number;
  /** Resident set size now, bytes. */
  rssBytes: number;
  /** Peak resident set size (VmHWM), bytes. */
  peakRssBytes: number;
}

/** CPU and memory of `pid` (/proc/<pid>/stat fields 14-15, /proc/<pid>/status). Throws when the process is gone. */
export function procUsage(pid: number): ProcUsage {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  // fields[11] = utime, fields[12] = stime (stat fields 14 and 15)
  const cpuSeconds = (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND;
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, "m").exec(status)?.[1] ?? 0) * 1024;
  return { cpuSeconds, rssBytes: kb("VmRSS"), peakRssBytes: kb("VmHWM") };
}

/** procUsage, with NaN figures for a process that is gone (a reading taken after it exited). */
export function usage(pid: number): ProcUsage {
  try {
    return procUsage(pid);
  } catch {
    return { cpuSeconds: NaN, rssBytes: NaN, peakRssBytes: NaN };
  }
}

/** CPU seconds (user + system) the processes `pids` used so far; a process already gone counts 0. */
export function cpuSecondsOf(pids: readonly number[]): number {
  return pids.reduce((n, pid) => {
    try {
      return n + procUsage(pid).cpuSeconds;
    } catch {
      return n;
    }
  }, 0);
}

/**
 * Waits until the processes `pids()` (read again at each look: they may come and go) stop using CPU (at most one
 * tick in 300 ms), at most `maxMs`: an agent or a tool may lag the load it watched. No process: no wait.
 */
export async function settleCpu(pids: () => readonly number[], maxMs = 15_000): Promise<void> {
  if (pids().length === 0) return;
  const deadline = Date.now() + maxMs;
  let last = cpuSecondsOf(pids());
  while (Date.now() < deadline) {
    await sleep(300);
    const now = cpuSecondsOf(pids());
    if (now - last <= 0.011) return;
    last = now;
  }
}

/** Resets a process's peak RSS (VmHWM) to its current RSS (`echo 5 > clear_refs`, proc(5); root). */
export function resetPeakRss(pid: number): void {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, "5");
  } catch {
    // not ours or gone: the peak then covers the process's whole life
  }
}

/** Resident memory of a process by kind (RssAnon, RssFile + RssShmem), MB; NaN when unreadable. */
export function rssKinds(pid: number): { anon: number; file: number } {
  try {
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    const mb = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, "m").exec(status)?.[1] ?? NaN) / 1024;
    return { anon: mb("RssAnon"), file: mb("RssFile") + mb("RssShmem") };
  } catch {
    return { anon: NaN, file: NaN };
  }
}

/** Jiffies (USER_HZ) of all CPUs from /proc/stat: busy (not idle or iowait) and total. */
export function machineJiffies(): { busy: number; total: number } {
  const f = readFileSync("/proc/stat", "utf8").split("\n")[0]!.trim().split(/\s+/).slice(1, 9).map(Number);
  const total = f.reduce((a, b) => a + b, 0);
  return { busy: total - f[3]! - f[4]!, total };
}

/** Share of the whole machine (all cores) that was busy between two readings, %. */
export function machineBusyPct(a: { busy: number; total: number }, b: { busy: number; total: number }): number {
  return (100 * (b.busy - a.busy)) / Math.max(1, b.total - a.total);
}

/** Direct children of a process (/proc/<pid>/task/<pid>/children); none when it is gone. */
export function childPids(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8").trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

/** The pid of a process whose command line has every one of `parts` as an argument. */
export function findPid(parts: readonly string[]): number | undefined {
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const argv = readFileSync(`/proc/${entry}/cmdline`, "utf8").split("\0");
      if (parts.every((p) => argv.includes(p))) return Number(entry);
    } catch {
      // gone
    }
  }
  return undefined;
}

/**
 * A clean environment for a child: PATH and HOME plus the given variables, so nothing of the bench's own
 * environment (an ADI_PROFILE in particular) leaks in: a child is opted in only when `vars` says so.
 */
export function childEnv(vars: Record<string, string> = {}): NodeJS.ProcessEnv {
  return { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: process.env.HOME ?? "/root", ...vars };
}
