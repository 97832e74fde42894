// CPU time and memory of processes, from /proc: what a benchmark charges to each process it watches.
import { readFileSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";

const TICKS_PER_SECOND = 100; // USER_HZ

export interface ProcUsage {
  /** user + system CPU of the process and its reaped children? No: of the process itself, in seconds. */
  cpuSeconds: number;
  /** Resident set size now, bytes. */
  rssBytes: number;
  /** Peak resident set size (VmHWM), bytes. */
  peakRssBytes: number;
}

export function procUsage(pid: number): ProcUsage {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  // fields[11] = utime, fields[12] = stime (stat fields 14 and 15)
  const cpuSeconds = (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND;
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, "m").exec(status)?.[1] ?? 0) * 1024;
  return { cpuSeconds, rssBytes: kb("VmRSS"), peakRssBytes: kb("VmHWM") };
}

/** CPU seconds a process used between two readings. */
export function cpuDelta(before: ProcUsage, after: ProcUsage): number {
  return after.cpuSeconds - before.cpuSeconds;
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
