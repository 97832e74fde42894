// The benchmarks' one repetition helper: runs compared variants interleaved (A B A B ...) so a drift of the
// machine (another tenant, thermal state, page cache) lands on every variant alike, and keeps an eye on CPU that
// none of the benchmark's processes spent (the machine may be shared) to note or re-run a disturbed repetition.
import { readFileSync, readdirSync } from "node:fs";
import { performance } from "node:perf_hooks";
import { procUsage } from "./proc.ts";
import type { Collector } from "./stats.ts";

/**
 * Runs `body` for each variant in turn, `reps` times: A B A B ... (rep 1..reps, variants in the given order in
 * each). Returns each variant's results in repetition order. An error in `body` stops the run (rethrown).
 */
export async function interleaved<V extends string, T>(reps: number, variants: readonly V[], body: (variant: V, rep: number) => Promise<T>): Promise<Record<V, T[]>> {
  const out = Object.fromEntries(variants.map((v) => [v, [] as T[]])) as Record<V, T[]>;
  for (let rep = 1; rep <= reps; rep++) for (const v of variants) out[v].push(await body(v, rep));
  return out;
}

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
