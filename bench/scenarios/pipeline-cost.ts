// Scenario 2, "Pipeline cost": what each pipeline process costs per HTTP exchange it handles, at rising rates.
// Each step runs a fresh pipeline as separate processes (nats-server, `adi capture`, `adi classify`, `adi map`),
// an opted-in node:http server, and a load client that is not opted in (each exchange is captured once, on the
// server side). CPU is charged from just before the load starts until the outputs are caught up and the mapper
// has written its files; exchanges are the requests the server served. Lag is how long after the load stopped
// the classifier and mapper consumers had everything; drops come from the agent's last agent_stats fact.
import { randomBytes } from "node:crypto";
import { performance } from "node:perf_hooks";
import { ensureTool, runFixedRate, runWrk } from "../lib/load.ts";
import { classifierBacklog, derivedExchanges, derivedMessages, mapperBacklog, mtimeMs, startPipeline } from "../lib/pipeline-procs.ts";
import type { AgentStats, Pipeline } from "../lib/pipeline-procs.ts";
import { machineBusyPct, machineJiffies, resetPeakRss, rssKinds, sleep, usage } from "../lib/proc.ts";
import { startWorkloadServer } from "../lib/servers.ts";
import type { WorkloadServer } from "../lib/servers.ts";
import { interleaved } from "../lib/repeat.ts";
import { summarise } from "../lib/stats.ts";
import type { BenchOptions, ResultRow, Scenario } from "../lib/types.ts";

const NAME = "Pipeline cost";
/** The pipeline's processes, each charged its own CPU and memory. */
export const ROLES = ["capture", "nats-server", "classifier", "mapper"] as const;
export type Role = (typeof ROLES)[number];

/** Targets (issue): whole pipeline ≤ 20 ms CPU per 1,000 exchanges, no drops at 10,000/s, capture RSS < 150 MB. */
const TARGET_CPU_MS = 20;
const TARGET_RSS_MB = 150;
const TARGET_RATE = 10_000;

/**
 * A step is sustained when nothing was dropped and the consumers caught up within this long after the load: a
 * pipeline that keeps up lags by a flush and a batch whatever the step's length; one that processes a fraction f
 * slower than the input lags f/(1-f) of the step (2 s of a 10 s step: ~17% behind).
 */
const lagLimitS = (stepSeconds: number) => Math.max(2, 0.2 * stepSeconds);
export const CONNECTIONS = 16;
const WARMUP_RATE = 1000;

/** A step's load: a fixed rate (requests/s) or saturation (wrk). */
export type Load = { kind: "rate"; rate: number } | { kind: "wrk" };
export const label = (l: Load) => (l.kind === "rate" ? `${l.rate} req/s` : `saturation (wrk -t1 -c${CONNECTIONS})`);

export interface StepResult {
  load: Load;
  exchanges: number;
  seconds: number;
  rate: number;
  cpuMs: Record<Role, number>;
  peakRssMb: Record<Role, number>;
  /** The capture agent's resident memory at the end of the load, by kind (/proc status RssAnon, RssFile), MB. */
  captureRss: { anon: number; file: number };
  /** CPU of each process while idle (after the warm-up), ms per second: the part of the cost that is not per exchange. */
  idleMsPerS: Record<Role, number>;
  /** During the load: the whole machine (all cores) busy, %, and the pipeline's part of it. */
  machineBusyPct: number;
  pipelinePct: number;
  drops: number;
  dropDetail: string;
  /** Seconds from the end of the load until the consumers had everything; NaN: not within the timeout. */
  lagS: number;
  /** Most raw messages waiting for the classifier during the load. */
  maxBacklog: number;
  /** http_exchange observations stored / exchanges served. */
  coverage: number;
}

function dropsOf(s: AgentStats | undefined): { total: number; detail: string } {
  if (!s) return { total: NaN, detail: "no agent_stats fact" };
  const kernel = Object.values(s.kernel.drops).reduce((a, b) => a + b, 0);
  const reasons = Object.entries(s.kernel.drops).filter(([, v]) => v > 0).map(([k, v]) => `${k} ${v}`);
  return {
    total: kernel + s.user.events_dropped,
    detail: `kernel ${kernel}${reasons.length ? ` (${reasons.join(", ")})` : ""}, user events_dropped ${s.user.events_dropped}`,
  };
}

const sum = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0);

interface CatchUp {
  /** performance.now() when everything was consumed; NaN: not within the timeout. */
  at: number;
}

/**
 * Waits until nothing waits for the classifier or the mapper and no derived message was stored for 1 s (the
 * capture agent's last batches are in); caught up at the last new message. Derived messages are counted from
 * stream info (cheap); the exchanges in them are counted after the CPU figures are taken.
 */
async function waitCaughtUp(p: Pipeline, timeoutMs: number): Promise<CatchUp> {
  const started = performance.now();
  let messages = -1;
  let lastChange = started;
  while (performance.now() - started < timeoutMs) {
    const [b, m, d] = await Promise.all([classifierBacklog(p.broker.jsm), mapperBacklog(p.broker.jsm), derivedMessages(p.broker.jsm, "http", p.host)]);
    const now = performance.now();
    if (d !== messages) {
      messages = d;
      lastChange = now;
    }
    const empty = b.pending === 0 && b.ackPending === 0 && m.pending === 0;
    if (empty && now - lastChange > 1000) return { at: lastChange };
    await sleep(50);
  }
  return { at: NaN };
}

/** The mapper writes its files 2 s after the last update (at least every 10 s): waits for the write after `at`. */
async function waitMapperWrite(p: Pipeline, at: number): Promise<void> {
  const epoch = Date.now() - (performance.now() - (Number.isNaN(at) ? performance.now() : at)) - 50;
  const deadline = performance.now() + 15_000;
  while (mtimeMs(p.outputPath) < epoch && performance.now() < deadline) await sleep(50);
}

/**
 * One step: a fresh pipeline (the `bin/adi` of checkout `root`, default this one) and workload server, a warm-up
 * of `warmupSeconds` at 1,000 req/s, then `load` for `seconds`; CPU and peak RSS charged per process from the
 * load's start until the outputs are caught up and written. Throws when the pipeline does not start.
 */
export async function step(load: Load, seconds: number, warmupSeconds: number, log: (m: string) => void, root?: string): Promise<StepResult> {
  // Only our server is captured: other opted-in processes on the host (another benchmark) are not allowed.
  const profile = `bench-pipeline-${randomBytes(4).toString("hex")}`;
  const p: Pipeline = await startPipeline({ classifiers: 1, env: { ADI_PROFILE_ALLOWED: profile }, root });
  let server: WorkloadServer | undefined;
  try {
    server = await startWorkloadServer({ ADI_PROFILE: profile, ADI_PROFILE_NAME: "bench-http" });
    await sleep(500); // the server's exec fact, the listeners rescan
    const pids = p.pids();
    const pidsOf = (r: Role) => pids[r] ?? [];
    const cpu = (r: Role) => sum(pidsOf(r).map((pid) => usage(pid).cpuSeconds));
    const cpuAll = () => Object.fromEntries(ROLES.map((r) => [r, cpu(r)])) as Record<Role, number>;

    // Warm-up (JIT, connections, consumers), caught up and written, then one idle second for reference.
    await runFixedRate({ url: server.url, rate: WARMUP_RATE, seconds: warmupSeconds, warmupSeconds: 0, connections: CONNECTIONS });
    const warm = await server.count();
    const warmed = await waitCaughtUp(p, 30_000);
    await waitMapperWrite(p, warmed.at);
    const idle0 = cpuAll();
    await sleep(1000);
    const idle1 = cpuAll();
    const idleMsPerS = Object.fromEntries(ROLES.map((r) => [r, (idle1[r] - idle0[r]) * 1000])) as Record<Role, number>;

    for (const r of ROLES) for (const pid of pidsOf(r)) resetPeakRss(pid);
    const before = cpuAll();
    const peak: Record<Role, number> = { capture: 0, "nats-server": 0, classifier: 0, mapper: 0 };
    const samplePeaks = () => {
      for (const r of ROLES) peak[r] = Math.max(peak[r], sum(pidsOf(r).map((pid) => usage(pid).peakRssBytes)));
    };
    let maxBacklog = 0;
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        const b = await classifierBacklog(p.broker.jsm);
        maxBacklog = Math.max(maxBacklog, b.pending + b.ackPending);
        await sleep(250);
      }
    })();

    const t0 = performance.now();
    const machine0 = machineJiffies();
    let loadSeconds: number;
    if (load.kind === "rate") {
      const r = await runFixedRate({ url: server.url, rate: load.rate, seconds, warmupSeconds: 0, connections: CONNECTIONS });
      loadSeconds = r.seconds;
      if (r.errors) log(`${label(load)}: ${r.errors} client errors`);
    } else {
      loadSeconds = (await runWrk({ url: server.url, seconds, threads: 1, connections: CONNECTIONS })).seconds;
    }
    const loadEnd = performance.now();
    const machine1 = machineJiffies();
    const captureRss = rssKinds(pidsOf("capture")[0] ?? 0);
    const atLoadEnd = cpuAll();
    const pipelinePct = (100 * sum(ROLES.map((r) => atLoadEnd[r] - before[r]))) / ((machine1.total - machine0.total) / 100);
    loadSeconds ||= (loadEnd - t0) / 1000;
    const exchanges = (await server.count()) - warm;
    sampling = false;
    await sampler;

    const caught = await waitCaughtUp(p, Math.max(30_000, seconds * 4000));
    const lagS = Number.isNaN(caught.at) ? NaN : Math.max(0, (caught.at - loadEnd) / 1000);
    // Charge the mapper its render and write of the files too.
    await waitMapperWrite(p, caught.at);
    samplePeaks();
    const after = cpuAll();
    // Counted now, not while CPU is measured: it reads every derived message.
    const coverage = (await derivedExchanges(p.broker.nc, p.host)) / Math.max(1, await server.count());
    const cpuMs = Object.fromEntries(ROLES.map((r) => [r, ((after[r] - before[r]) * 1e6) / Math.max(1, exchanges)])) as Record<Role, number>;
    const peakRssMb = Object.fromEntries(ROLES.map((r) => [r, peak[r] / 2 ** 20])) as Record<Role, number>;
    await server.stop();
    server = undefined;
    await p.stop();
    const drops = dropsOf(p.agentStats());
    const res: StepResult = {
      load,
      exchanges,
      seconds: loadSeconds,
      rate: exchanges / loadSeconds,
      cpuMs,
      peakRssMb,
      idleMsPerS,
      captureRss,
      machineBusyPct: machineBusyPct(machine0, machine1),
      pipelinePct,
      drops: drops.total,
      dropDetail: drops.detail,
      lagS,
      maxBacklog,
      coverage,
    };
    log(
      `${label(load)}: ${exchanges} exchanges (${res.rate.toFixed(0)}/s), CPU ms/1000: ${ROLES.map((r) => `${r} ${cpuMs[r].toFixed(2)}`).join(", ")}; ` +
        `idle CPU ms/s: ${ROLES.map((r) => `${r} ${idleMsPerS[r].toFixed(0)}`).join(", ")}; ` +
        `peak RSS MB: ${ROLES.map((r) => `${r} ${peakRssMb[r].toFixed(0)}`).join(", ")}; drops ${drops.detail}; lag ${lagS.toFixed(2)} s; ` +
        `max backlog ${maxBacklog}; coverage ${(res.coverage * 100).toFixed(1)}%; machine ${res.machineBusyPct.toFixed(0)}% busy, pipeline ${pipelinePct.toFixed(0)}%`,
    );
    return res;
  } finally {
    await server?.stop();
    await p.stop().catch(() => undefined);
  }
}

/** Medians over the repetitions: one noisy repetition on a shared machine does not make a knee. */
const sustained = (rs: StepResult[], stepSeconds: number) =>
  summarise(rs.map((r) => r.drops)).median === 0 && summarise(rs.map((r) => (Number.isNaN(r.lagS) ? Infinity : r.lagS))).median <= lagLimitS(stepSeconds);

export const pipelineCost: Scenario = {
  name: NAME,
  method:
    `per step a fresh pipeline of separate processes (nats-server, \`bin/adi capture|classify|map\`, measured in their node process), ` +
    `an opted-in node:http keep-alive server (~1 KiB JSON; the agent's ADI_PROFILE_ALLOWED admits only it) and a load client NOT opted in (each exchange captured once, server side): ` +
    `fixed-rate raw-socket keep-alive client (${CONNECTIONS} connections) at rising rates, then wrk -t1 -c${CONNECTIONS}; ` +
    `after a warm-up (${WARMUP_RATE} req/s, caught up), CPU (/proc utime+stime) from load start until the consumers caught up and the mapper wrote its files, per 1,000 exchanges served; ` +
    `peak RSS = VmHWM reset at load start; lag = load end until classifier consumers adi-classifier-p* and the mapper's ADI_DERIVED consumer have 0 pending ` +
    `and every exchange is stored; drops = kernel drops + user events_dropped of the agent's last agent_stats; knee = first step whose median drops > 0 or median lag > max(2 s, 20% of the step). ` +
    `Ratio = vs the lowest rate.`,
  async run({ quick, log }: BenchOptions): Promise<ResultRow[]> {
    ensureTool("wrk", "wrk", log);
    const loads: Load[] = quick
      ? [{ kind: "rate", rate: 1000 }, { kind: "wrk" }]
      : [{ kind: "rate", rate: 500 }, { kind: "rate", rate: 1000 }, { kind: "rate", rate: 2000 }, { kind: "rate", rate: 5000 }, { kind: "rate", rate: 10_000 }, { kind: "wrk" }];
    const seconds = quick ? 3 : 10;
    const reps = quick ? 1 : 3;
    const warmupSeconds = quick ? 1 : 2;
    const byLabel = new Map(loads.map((l) => [label(l), l]));
    const runs = await interleaved(reps, [...byLabel.keys()], (l, rep) => {
      log(`${NAME}: repetition ${rep}/${reps}, ${l}, ${seconds} s`);
      return step(byLabel.get(l)!, seconds, warmupSeconds, log);
    });
    const results = new Map<string, StepResult[]>(Object.entries(runs));

    const rows: ResultRow[] = [];
    const baseLabel = label(loads[0]!);
    const median = (l: string, f: (r: StepResult) => number) => summarise(results.get(l)!.map(f)).median;
    // The knee: the first step (in rising order) that dropped events or did not keep up in any repetition.
    const kneeIdx = loads.findIndex((l) => !sustained(results.get(label(l))!, seconds));
    const knee =
      kneeIdx === -1
        ? `no knee: every step sustained (highest ${median(label(loads.at(-1)!), (r) => r.rate).toFixed(0)} exchanges/s)`
        : `knee at ${label(loads[kneeIdx]!)} (${median(label(loads[kneeIdx]!), (r) => r.rate).toFixed(0)} exchanges/s)` +
          (kneeIdx > 0 ? `; last sustained ${label(loads[kneeIdx - 1]!)} (${median(label(loads[kneeIdx - 1]!), (r) => r.rate).toFixed(0)}/s)` : "");
    for (const load of loads) {
      const l = label(load);
      const rs = results.get(l)!;
      const row = (metric: string, unit: string, f: (r: StepResult) => number, note?: string, ratio?: boolean): ResultRow => {
        const s = summarise(rs.map(f));
        const base = median(baseLabel, f);
        return { scenario: NAME, variant: l, metric, unit, ...s, ...(ratio ? { ratio: s.median / base } : {}), ...(note ? { note } : {}) };
      };
      const rateNote = load.kind === "rate" ? `target ${load.rate}/s` : `reaches ${TARGET_RATE}/s: ${median(l, (r) => r.rate) >= TARGET_RATE ? "yes" : "no"}`;
      const machineNote = `; during the load the machine (all cores) was ${median(l, (r) => r.machineBusyPct).toFixed(0)}% busy, the pipeline ${median(l, (r) => r.pipelinePct).toFixed(0)}% of it`;
      rows.push(row("exchanges served", "exchanges/s", (r) => r.rate, rateNote + machineNote));
      for (const role of ROLES) {
        rows.push(row(`CPU per 1,000 exchanges: ${role}`, "ms", (r) => r.cpuMs[role], `idle ${median(l, (r) => r.idleMsPerS[role]).toFixed(1)} ms/s`, true));
      }
      const total = (r: StepResult) => sum(ROLES.map((role) => r.cpuMs[role]));
      rows.push(row("CPU per 1,000 exchanges: whole pipeline", "ms", total, `target <= ${TARGET_CPU_MS} ms: ${median(l, total) <= TARGET_CPU_MS ? "met" : "missed"}`, true));
      for (const role of ROLES) {
        const note =
          role === "capture"
            ? `target < ${TARGET_RSS_MB} MB: ${median(l, (r) => r.peakRssMb.capture) < TARGET_RSS_MB ? "met" : "missed"}; at the end of the load ` +
              `RssAnon ${median(l, (r) => r.captureRss.anon).toFixed(0)} MB, RssFile ${median(l, (r) => r.captureRss.file).toFixed(0)} MB ` +
              `(file-backed: the node binary, and the BPF ring buffer, whose data pages libbpf maps twice: 2 x ADI_RINGBUF_BYTES, 32 MiB by default)`
            : undefined;
        rows.push(row(`peak RSS: ${role}`, "MB", (r) => r.peakRssMb[role], note));
      }
      rows.push(row("events dropped", "events", (r) => r.drops, [...new Set(rs.map((r) => r.dropDetail))].join(" | ")));
      const lagNote =
        `max classifier backlog ${Math.max(...rs.map((r) => r.maxBacklog))} msgs; observations/exchanges ${rs.map((r) => `${(r.coverage * 100).toFixed(1)}%`).join(", ")}` +
        (rs.some((r) => Number.isNaN(r.lagS)) ? "; not caught up within the timeout (lag unbounded)" : "") +
        (load === loads.at(-1) ? `; ${knee}` : "");
      rows.push(row("catch-up lag after load", "s", (r) => r.lagS, lagNote));
    }
    return rows;
  },
};
