// Scenario 3, "Replay": how fast the outputs are rebuilt from a stored raw stream. A synthetic stream (bench/lib/
// synthetic.ts: realistic HTTP keep-alive traffic, Redis and Postgres, encoded exactly as capture does) is
// published once to a fresh nats-server; then, interleaved per repetition: (a) `adi replay --out DIR` (one
// engine, ordered consumers), wall time; (b) N = 1, 2, 4 `adi classify` processes consuming it from the start
// through their durable per-partition consumers, from the first consumer's creation until every consumer has
// nothing pending or unacknowledged. Both read the same stream: 1 million events in a full run, 200,000 quick.
// Finally one replay and one live classifier run under `node --cpu-prof`, whose top self-time functions and
// areas are reported.
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { performance } from "node:perf_hooks";
import { AdiProcess, CLASSIFIER_CONSUMER, classifierBacklog, derivedExchanges, ROOT, startBroker } from "../lib/pipeline-procs.ts";
import type { BrokerHandle } from "../lib/pipeline-procs.ts";
import { childEnv, machineBusyPct, machineJiffies, procUsage, sleep, usage } from "../lib/proc.ts";
import { publishSyntheticStream } from "../../test/support/synthetic-stream.ts";
import type { SyntheticStats } from "../../test/support/synthetic-stream.ts";
import { interleaved } from "../lib/repeat.ts";
import { summarise } from "../lib/stats.ts";
import type { BenchOptions, ResultRow, Scenario } from "../lib/types.ts";
import { DEADLETTER_STREAM, DERIVED_STREAM, RAW_STREAM } from "@adi/shared/wire";

const NAME = "Replay";
export const PARTITIONS = 16;
const INSTANCES = [1, 2, 4] as const;
const TARGET_PER_INSTANCE = 200_000;
const REPLAY = "adi replay --out DIR (1 engine)";
const live = (n: number) => `live: ${n} \`adi classify\` process${n > 1 ? "es" : ""}`;
const MEMBERS_KV_STREAM = "KV_adi_classifiers";

/** A broker holding the synthetic stream, a work directory, the stream's figures. */
export interface Ctx {
  broker: BrokerHandle;
  dir: string;
  stats: SyntheticStats;
  log: (m: string) => void;
}

/** Which checkout's `bin/adi` runs (default this one) and the node options it gets (NODE_OPTIONS). */
export interface RunAs {
  root?: string;
  nodeOptions?: string[];
}

function envFor(ctx: Ctx, out: string, logLevel = "warn"): NodeJS.ProcessEnv {
  return childEnv({
    NATS_URL: ctx.broker.url,
    LOG_LEVEL: logLevel,
    ADI_PARTITIONS: String(PARTITIONS),
    ADI_DATA_DIR: join(out, "data"),
    OUTPUT_PATH: join(out, "traffic.log"),
    SERVICE_MAP_PATH: join(out, "service-map.yaml"),
    ENV_OUTPUT_PATH: join(out, "env.yaml"),
  });
}

export interface ReplayRun {
  seconds: number;
  eventsPerS: number;
  exchanges: number;
  /** Size of the traffic log it wrote. */
  logBytes: number;
  peakRssBytes: number;
  /** Why the replay did not finish (out of memory, a string too long to render, …); undefined when it did. */
  failed?: string;
}

/**
 * `bin/adi replay --out DIR` over the stream in `ctx`: events / wall time of the process, its peak RSS (VmHWM),
 * the exchanges it reports. A replay that fails or times out is returned with `failed` set, not thrown.
 */
export async function runReplay(ctx: Ctx, as: RunAs = {}, timeoutMs = 900_000): Promise<ReplayRun> {
  const out = mkdtempSync(join(ctx.dir, "replay-"));
  const logPath = join(out, "replay.log");
  const t0 = performance.now();
  const p = await AdiProcess.start(["replay", "--out", out], envFor(ctx, out, "info"), logPath, as);
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    void p.stop(5000);
  }, timeoutMs);
  // VmHWM only grows: the last reading before the process exits is its peak.
  let peakRssBytes = 0;
  const sampler = setInterval(() => {
    try {
      peakRssBytes = Math.max(peakRssBytes, procUsage(p.pid).peakRssBytes);
    } catch {
      // exited
    }
  }, 100);
  const code = await p.exited();
  clearTimeout(timer);
  clearInterval(sampler);
  const seconds = (performance.now() - t0) / 1000;
  const logText = readFileSync(logPath, "utf8");
  let logBytes = NaN;
  try {
    logBytes = statSync(join(out, "traffic.log")).size;
  } catch {
    // not written
  }
  rmSync(out, { recursive: true, force: true });
  if (code !== 0) {
    const lines = logText.split("\n").filter((l) => l && !l.includes('"replay progress"'));
    const why = timedOut
      ? `not done after ${timeoutMs / 1000} s`
      : /heap out of memory/.test(logText)
        ? "JavaScript heap out of memory"
        : /Invalid string length/.test(logText)
          ? "RangeError: Invalid string length (an output larger than V8's largest string)"
          : `exit ${code}: ${lines.slice(-3).join(" ").slice(0, 200)}`;
    return { seconds, eventsPerS: NaN, exchanges: NaN, logBytes, peakRssBytes, failed: `${why} after ${seconds.toFixed(0)} s` };
  }
  const done = logText.split("\n").filter((l) => l.includes('"replay done"')).map((l) => JSON.parse(l) as { exchanges?: number })[0];
  return { seconds, eventsPerS: ctx.stats.events / seconds, exchanges: done?.exchanges ?? NaN, logBytes, peakRssBytes };
}

/** Forgets what the previous live run did: its consumers, its observations, its members. */
async function resetLive(ctx: Ctx): Promise<void> {
  const { jsm } = ctx.broker;
  for (const c of await jsm.consumers.list(RAW_STREAM).next()) if (CLASSIFIER_CONSUMER.test(c.name)) await jsm.consumers.delete(RAW_STREAM, c.name);
  // Deleted, not purged: a purge would keep the duplicate window, and the next run's observations (same ids)
  // would be dropped as repeats instead of stored. The classifiers create them again.
  for (const s of [DERIVED_STREAM, DEADLETTER_STREAM, MEMBERS_KV_STREAM]) await jsm.streams.delete(s).catch(() => false);
}

export interface LiveRun {
  seconds: number;
  eventsPerS: number;
  /** Classifier CPU seconds (all instances) over the run. */
  classifierCpuS: number;
  natsCpuS: number;
  exchanges: number;
  /** How busy the whole machine (all cores) was, %, and the part of it that was neither classifier nor nats-server. */
  machineBusyPct: number;
  othersPct: number;
}

/**
 * N `bin/adi classify` processes started together on the stream in `ctx` (consumers, ADI_DERIVED and the members
 * bucket deleted first): events / (first consumer created .. every consumer drained), and their CPU. Throws when
 * a classifier exits or the stream is not drained in 10 minutes.
 */
export async function runLive(ctx: Ctx, n: number, as: RunAs = {}): Promise<LiveRun> {
  await resetLive(ctx);
  const out = mkdtempSync(join(ctx.dir, `live${n}-`));
  const env = envFor(ctx, out);
  const procs = await Promise.all(Array.from({ length: n }, (_, i) => AdiProcess.start(["classify"], env, join(out, `classify-${i}.log`), as)));
  try {
    const cpu = () => procs.reduce((s, p) => s + usage(p.pid).cpuSeconds, 0);
    let cpu0: number | undefined, nats0 = 0, machine0 = machineJiffies();
    const timeoutMs = 600_000;
    const started = performance.now();
    for (;;) {
      for (const p of procs) if (!p.running) throw new Error(`adi classify exited: ${readFileSync(p.logPath, "utf8").slice(-800)}`);
      const b = await classifierBacklog(ctx.broker.jsm);
      if (b.consumers > 0 && cpu0 === undefined) {
        cpu0 = cpu();
        nats0 = usage(ctx.broker.pid).cpuSeconds;
        machine0 = machineJiffies();
      }
      if (b.consumers === PARTITIONS && b.pending === 0 && b.ackPending === 0) {
        const end = Date.now();
        const classifierCpuS = cpu() - cpu0!;
        const natsCpuS = usage(ctx.broker.pid).cpuSeconds - nats0;
        const seconds = (end - b.firstCreatedMs) / 1000;
        const machine = machineJiffies();
        const busy = machineBusyPct(machine0, machine);
        const othersPct = busy - (100 * (classifierCpuS + natsCpuS)) / ((machine.total - machine0.total) / 100);
        const exchanges = await derivedExchanges(ctx.broker.nc);
        return { seconds, eventsPerS: ctx.stats.events / seconds, classifierCpuS, natsCpuS, exchanges, machineBusyPct: busy, othersPct };
      }
      if (performance.now() - started > timeoutMs) throw new Error(`${n} classifiers did not finish in ${timeoutMs / 1000} s (${b.pending} pending)`);
      await sleep(cpu0 === undefined ? 20 : 100);
    }
  } finally {
    await Promise.all(procs.map((p) => p.stop()));
    rmSync(out, { recursive: true, force: true });
  }
}

export interface CpuProfile {
  nodes: { id: number; callFrame: { functionName: string; url: string; lineNumber: number }; children?: number[] }[];
  samples: number[];
  timeDeltas: number[];
}

export interface ProfileSummary {
  /** Self time by function ("file:line function"; native code is charged to its nearest JavaScript caller). */
  functions: { name: string; pct: number }[];
  /** Self time by area: a source directory of the repository, an npm package, node internals, GC. */
  areas: { name: string; pct: number }[];
  /** Time with the function on the stack (inclusive), for the functions asked for. */
  inclusive: { name: string; pct: number }[];
}

/**
 * Summarises a V8 .cpuprofile; percentages are of the non-idle samples. Files are named relative to `root` (the
 * checkout that ran, default this one), so two trees' profiles name the same function alike.
 */
export function summariseProfile(profile: CpuProfile, inclusiveOf: readonly string[] = [], root = ROOT): ProfileSummary {
  const byId = new Map(profile.nodes.map((x) => [x.id, x]));
  const parent = new Map<number, number>();
  for (const x of profile.nodes) for (const c of x.children ?? []) parent.set(c, x.id);
  const fileOf = (url: string) => {
    const f = url.replace(/^file:\/\//, "");
    return f.startsWith("/") ? relative(root, f) : f;
  };
  const areaOf = (file: string) => {
    if (file.startsWith("node:")) return "node internals";
    const npm = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(file);
    if (npm) return `npm ${npm[1]}`;
    return file.includes("/") ? file.slice(0, file.lastIndexOf("/")) : file;
  };
  const self = new Map<string, number>();
  const areas = new Map<string, number>();
  const inclusive = new Map<string, number>();
  const add = (m: Map<string, number>, k: string, dt: number) => m.set(k, (m.get(k) ?? 0) + dt);
  let busy = 0;
  profile.samples.forEach((id, i) => {
    const node = byId.get(id);
    const dt = profile.timeDeltas[i] ?? 0;
    if (!node || node.callFrame.functionName === "(idle)") return;
    busy += dt;
    const f = node.callFrame;
    if (f.functionName.startsWith("(") && f.functionName !== "(anonymous)" && !f.url) {
      add(self, f.functionName, dt); // (garbage collector), (program)
      add(areas, f.functionName, dt);
    } else {
      // Native code (no url) is charged to the nearest caller that has a source.
      let at: number | undefined = id;
      while (at !== undefined && !byId.get(at)!.callFrame.url) at = parent.get(at);
      const src = at === undefined ? f : byId.get(at)!.callFrame;
      const file = fileOf(src.url);
      const fn = `${file}:${src.lineNumber + 1} ${src.functionName || "(anonymous)"}`;
      add(self, at === id ? fn : `${fn} > native ${f.functionName || "code"}`, dt);
      add(areas, file ? areaOf(file) : "native", dt);
    }
    if (inclusiveOf.length) {
      const seen = new Set<string>();
      for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
        const name = byId.get(at)!.callFrame.functionName;
        if (inclusiveOf.includes(name) && !seen.has(name)) {
          seen.add(name);
          add(inclusive, name, dt);
        }
      }
    }
  });
  const top = (m: Map<string, number>) => [...m.entries()].sort((a, b) => b[1] - a[1]).map(([name, t]) => ({ name, pct: (100 * t) / busy }));
  return { functions: top(self), areas: top(areas), inclusive: top(inclusive) };
}

/** Functions whose inclusive time tells where a batch's time goes (logged with each profile). */
const INCLUSIVE_OF = ["decodeBatch", "onRecords", "publishDerived", "encodeDerivedBatches", "publish", "addDerived", "decodeDerivedBatch", "takeLogLines", "decodeFact", "renderLog", "renderMap", "writeFile"];

/** The .cpuprofile node --cpu-prof wrote into `dir` (the first one). Throws when there is none. */
export function readProfile(dir: string): CpuProfile {
  const file = readdirSync(dir).find((f) => f.endsWith(".cpuprofile"));
  if (!file) throw new Error(`no .cpuprofile written in ${dir}`);
  return JSON.parse(readFileSync(join(dir, file), "utf8")) as CpuProfile;
}

export const replayThroughput: Scenario = {
  name: NAME,
  method:
    `synthetic ADI_RAW stream (bench/lib/synthetic.ts: kernel records encoded with raw-events.ts layouts, ~20 exchanges per keep-alive HTTP connection ` +
    `server and client side, Content-Length/chunked/gzip/>16 KiB bodies, 8% Redis/Postgres, 512 connections open at once, batches per partition ` +
    `of ~64 records as capture makes them, ${PARTITIONS} partitions) published once to a fresh nats-server; events = raw records; quick: 200,000 events, full: 1,000,000. ` +
    `(a) \`bin/adi replay --out DIR\`: events / wall time of the process (start-up and output rendering included), on the same stream (peak RSS of the replay process reported: memory is bounded by a window of traffic, not the stream); ` +
    `(b) N = ${INSTANCES.join(", ")} \`bin/adi classify\` processes started together: events / (from the first adi-classifier-p* consumer's creation ` +
    `to every consumer having 0 pending and 0 unacknowledged), consumers, ADI_DERIVED and the members bucket deleted between runs. Interleaved repetitions; ` +
    `ratio = vs live N=1. Then one replay and one live N=1 classifier under node --cpu-prof: top 5 self-time functions and areas (% of non-idle samples; native code charged to its JavaScript caller).`,
  async run({ quick, log }: BenchOptions): Promise<ResultRow[]> {
    const events = quick ? 200_000 : 1_000_000;
    const reps = quick ? 1 : 3;
    const dir = mkdtempSync(join(tmpdir(), "adi-bench-replay-"));
    const brokers: BrokerHandle[] = [];
    const stream = async (n: number): Promise<Ctx> => {
      const broker = await startBroker();
      brokers.push(broker);
      const t0 = performance.now();
      const stats = await publishSyntheticStream(broker.nc, { events: n, partitions: PARTITIONS });
      log(
        `${NAME}: stream of ${stats.events} events (${stats.dataRecords} data records, ${stats.connections} connections, ${stats.exchanges} HTTP exchanges, ` +
          `${stats.batches} batches, ${(stats.bytes / 2 ** 20).toFixed(0)} MiB) published in ${((performance.now() - t0) / 1000).toFixed(1)} s`,
      );
      return { broker, dir, stats, log };
    };
    try {
      const ctx = await stream(events);
      const replays: ReplayRun[] = [];
      const lives = new Map<number, LiveRun[]>(INSTANCES.map((n) => [n, []]));
      await interleaved(reps, ["replay", ...INSTANCES.map((n) => `live ${n}`)], async (variant, rep) => {
        if (variant === "replay") {
          const r = await runReplay(ctx);
          if (r.failed) throw new Error(`adi replay of ${ctx.stats.events} events failed: ${r.failed}`);
          replays.push(r);
          log(`${NAME} ${rep}/${reps}: replay of ${ctx.stats.events} events ${r.seconds.toFixed(2)} s, ${r.eventsPerS.toFixed(0)} events/s, ${r.exchanges} exchanges, peak RSS ${(r.peakRssBytes / 2 ** 20).toFixed(0)} MB`);
          return;
        }
        const n = Number(variant.slice("live ".length));
        const l = await runLive(ctx, n);
        lives.get(n)!.push(l);
        log(
          `${NAME} ${rep}/${reps}: ${n} classifier(s) ${l.seconds.toFixed(2)} s, ${l.eventsPerS.toFixed(0)} events/s, classifier CPU ${l.classifierCpuS.toFixed(1)} s, ` +
            `nats-server CPU ${l.natsCpuS.toFixed(1)} s, machine ${l.machineBusyPct.toFixed(0)}% busy (others ${l.othersPct.toFixed(0)}%), ${l.exchanges} exchanges stored`,
        );
      });
      // Profiles: where the time goes.
      const profiles: { variant: string; summary: ProfileSummary }[] = [];
      for (const [variant, go] of [
        ["profile: adi replay", (nodeOptions: string[]) => runReplay(ctx, { nodeOptions })],
        ["profile: live, 1 classifier", (nodeOptions: string[]) => runLive(ctx, 1, { nodeOptions })],
      ] as const) {
        const profDir = join(dir, `prof-${profiles.length}`);
        mkdirSync(profDir);
        await go(["--cpu-prof", `--cpu-prof-dir=${profDir}`]);
        const summary = summariseProfile(readProfile(profDir), INCLUSIVE_OF);
        const list = (xs: { name: string; pct: number }[], n: number) => xs.slice(0, n).map((t) => `  ${t.pct.toFixed(1).padStart(5)}%  ${t.name}`).join("\n");
        log(`${variant}: self time by function:\n${list(summary.functions, 12)}`);
        log(`${variant}: self time by area:\n${list(summary.areas, 10)}`);
        log(`${variant}: inclusive time:\n${list(summary.inclusive, 12)}`);
        profiles.push({ variant, summary });
      }

      const rows: ResultRow[] = [];
      const { stats } = ctx;
      const base = summarise(lives.get(1)!.map((l) => l.eventsPerS)).median;
      const streamNote = (st: SyntheticStats) => `${st.events} events, ${st.exchanges} exchanges, ${st.batches} batches, ${(st.bytes / 2 ** 20).toFixed(0)} MiB`;
      const rs = summarise(replays.map((r) => r.eventsPerS));
      rows.push({
        scenario: NAME, variant: `${REPLAY}, ${ctx.stats.events} events`, metric: "events per second", unit: "events/s", ...rs, ratio: rs.median / base,
        note: `${streamNote(ctx.stats)}; exchanges rebuilt ${replays.map((r) => r.exchanges).join(", ")}; traffic log ${(replays[0]!.logBytes / 1e6).toFixed(0)} MB; peak RSS ${replays.map((r) => (r.peakRssBytes / 2 ** 20).toFixed(0)).join(", ")} MB; wall ${replays.map((r) => r.seconds.toFixed(1)).join(", ")} s incl. node start-up and rendering`,
      });
      for (const n of INSTANCES) {
        const ls = lives.get(n)!;
        const s = summarise(ls.map((l) => l.eventsPerS));
        const perInstance = s.median / n;
        const complete = ls.every((l) => l.exchanges === stats.exchanges);
        const busy = summarise(ls.map((l) => (100 * l.classifierCpuS) / (l.seconds * n))).median;
        const machine = summarise(ls.map((l) => l.machineBusyPct)).median;
        const others = summarise(ls.map((l) => l.othersPct)).median;
        rows.push({
          scenario: NAME, variant: live(n), metric: "events per second (all instances)", unit: "events/s", ...s, ratio: s.median / base,
          note:
            `per instance ${perInstance.toFixed(0)}/s, target >= ${TARGET_PER_INSTANCE}/s: ${perInstance >= TARGET_PER_INSTANCE ? "met" : "missed"}; ` +
            `${summarise(ls.map((l) => stats.batches / l.seconds)).median.toFixed(0)} batches/s over ${PARTITIONS} partitions; ` +
            `exchanges stored ${complete ? "all" : ls.map((l) => l.exchanges).join(", ")} of ${stats.exchanges}; ` +
            `classifier CPU ${busy.toFixed(0)}% of a core per instance; machine (all cores) ${machine.toFixed(0)}% busy, of which ${others.toFixed(0)}% neither classifier nor nats-server: ` +
            (busy >= 85 || machine >= 90
              ? "CPU-bound"
              : "CPU left idle: waiting on round trips (each partition consumer holds 1 batch at a time, max_ack_pending 1, and awaits the publish acks of its observations)"),
        });
        const perCpu = summarise(ls.map((l) => stats.events / l.classifierCpuS));
        rows.push({
          scenario: NAME, variant: live(n), metric: "events per classifier CPU-second", unit: "events/CPU-s", ...perCpu,
          ratio: perCpu.median / summarise(lives.get(1)!.map((l) => stats.events / l.classifierCpuS)).median,
          note: `what one fully busy instance would do; nats-server CPU ${summarise(ls.map((l) => l.natsCpuS)).median.toFixed(1)} s over the run`,
        });
      }
      for (const p of profiles) {
        const row = (metric: string, pct: number): ResultRow => ({ scenario: NAME, variant: p.variant, metric, unit: "% of busy samples", median: pct, min: pct, max: pct, runs: 1 });
        for (const t of p.summary.functions.slice(0, 5)) rows.push(row(`self time: ${t.name}`, t.pct));
        for (const t of p.summary.areas.slice(0, 5)) rows.push(row(`self time in ${t.name}`, t.pct));
      }
      return rows;
    } finally {
      for (const b of brokers) await b.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  },
};
