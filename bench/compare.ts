// `node bench/compare.ts BEFORE_DIR AFTER_DIR [--quick] [--profile]`: two checkouts of adi (each set up with
// scripts/setup.sh) measured side by side in one run, interleaved A B A B on the same machine, brokers and
// synthetic streams, against the targets of issue 12. Only this checkout's bench code runs; of each tree only its
// `bin/adi` is started (its own launcher, its own Node choice, its own services):
//   (a) `adi replay --out DIR` on a synthetic ADI_RAW stream: events/s (wall time of the process) and peak RSS;
//   (b) one live `adi classify`: raw events per classifier CPU-second, same stream;
//   (c) the whole pipeline as separate processes (nats-server, capture, classify, map) with an opted-in HTTP server:
//       CPU ms per 1,000 exchanges at 1,000/s and at saturation (wrk), per process and in all;
//   (d) `adi map` fed a synthetic ADI_DERIVED load at 10,000 exchanges/s (observations the AFTER tree's
//       classifier derived from a synthetic raw stream, published on a timetable, to each tree in the message
//       version it writes: as stored for AFTER, re-encoded as v2 JSON, the previous version's, for BEFORE): peak RSS;
//   (e) with --profile: replay and the live classifier of each tree under node --cpu-prof, top 10 self-time
//       functions before/after.
// Prints a markdown table (medians, each run, after/before, verdict vs the targets) and writes
// bench/results/compare-latest.{md,json}. Environment: REPS (default 3; --quick 1), EVENTS (raw events of the
// replay/classifier stream, default 1,000,000; --quick 200,000), SECONDS (each pipeline load, default 10; --quick
// 3), MAPPER_SECONDS (the 10,000/s mapper load, default 15; --quick 3), ONLY (before|after: one tree alone). Run it
// as root on an otherwise idle machine.
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { cpus, tmpdir, totalmem } from "node:os";
import { join, resolve } from "node:path";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import { jetstream } from "@nats-io/jetstream";
import type { MsgHdrs } from "@nats-io/transport-node";
import { ensureStreams, readToEnd } from "@adi/shared/nats";
import { decodeDerivedBatch, DERIVED_STREAM, DERIVED_SUBJECT_PREFIX, FACTS_STREAM, factsFilter } from "@adi/shared/wire";
import { ensureTool } from "./lib/load.ts";
import { AdiProcess, exchangesIn, mapperBacklog, startBroker, waitFor } from "./lib/pipeline-procs.ts";
import type { BrokerHandle } from "./lib/pipeline-procs.ts";
import { childEnv, procUsage, resetPeakRss, sleep } from "./lib/proc.ts";
import { interleaved, waitForQuiet } from "./lib/repeat.ts";
import { summarise } from "./lib/stats.ts";
import { publishSyntheticStream } from "../test/support/synthetic-stream.ts";
import { ROLES, step } from "./scenarios/pipeline-cost.ts";
import type { Load } from "./scenarios/pipeline-cost.ts";
import { PARTITIONS, readProfile, runLive, runReplay, summariseProfile } from "./scenarios/replay-throughput.ts";
import type { Ctx } from "./scenarios/replay-throughput.ts";

/**
 * A derived batch as the version before v3 wrote it (JSON text {v: 2, kind, source, observations}, no body_schema,
 * no redaction id): what a BEFORE tree's mapper reads.
 */
function asV2(data: Uint8Array): Uint8Array {
  const batch = decodeDerivedBatch(data);
  const strip = <M extends { body_schema?: string }>({ body_schema: _, ...m }: M) => m;
  const observations = batch.observations.map((d) => (d.type === "http_exchange" ? { ...d, request: strip(d.request), response: d.response && strip(d.response) } : d));
  return Buffer.from(JSON.stringify({ v: 2, kind: batch.kind, source: batch.source, observations }));
}

/** The issue's targets (issue 12), as the bench reports them. */
const TARGET = { pipelineCpuMs: 40, classifierPerCpuS: 150_000, replayPerS: 100_000, mapperRssMb: 300, mapperRate: 10_000 } as const;

const args = process.argv.slice(2);
const [beforeDir, afterDir] = args.filter((a) => !a.startsWith("--"));
if (!beforeDir || !afterDir) {
  console.error("usage: node bench/compare.ts BEFORE_DIR AFTER_DIR [--quick] [--profile]");
  process.exit(2);
}
const quick = args.includes("--quick");
const profile = args.includes("--profile");
const TREES = { before: resolve(beforeDir), after: resolve(afterDir) } as const;
type Tree = keyof typeof TREES;
/**
 * ONLY=after (or before): measure one tree alone, e.g. the after tree's mapper at a load the before tree cannot
 * catch up with. The table then has figures for that tree only.
 */
const ONLY = process.env.ONLY;
if (ONLY !== undefined && ONLY !== "before" && ONLY !== "after") {
  console.error(`ONLY must be "before" or "after", not ${JSON.stringify(ONLY)}`);
  process.exit(2);
}
const ORDER: readonly Tree[] = ONLY ? [ONLY] : ["before", "after"];
const num = (name: string, full: number, short: number) => Number(process.env[name] ?? (quick ? short : full));
const REPS = num("REPS", 3, 1);
const EVENTS = num("EVENTS", 1_000_000, 200_000);
const SECONDS = num("SECONDS", 10, 3);
const MAPPER_SECONDS = num("MAPPER_SECONDS", 15, 3);
/** Which parts to run (SECTIONS=cd: the pipeline and the mapper only); default all. (e) runs with (a)/(b). */
const SECTIONS = new Set((process.env.SECTIONS ?? "abcde").split(""));
const log = (msg: string) => process.stderr.write(`compare: ${msg}\n`);

/** What a tree is: its commit, and whether its working tree differs from it. */
function describeTree(dir: string): string {
  const git = (...a: string[]) => spawnSync("git", ["-C", dir, ...a], { encoding: "utf8" }).stdout.trim();
  const commit = git("rev-parse", "--short", "HEAD") || "not a git checkout";
  return `${dir} @ ${commit}${git("status", "--porcelain", "--untracked-files=no") ? " (+ uncommitted changes)" : ""}`;
}

// ---------------------------------------------------------------------------------------------------------
// Figures: per tree, one value per run, a unit, a target.

interface Figure {
  name: string;
  unit: string;
  /** The issue's target, as text, and whether a median meets it; none for context figures. */
  target?: { text: string; met: (v: number) => boolean };
  before: number[];
  after: number[];
}
const figures = new Map<string, Figure>();
function record(name: string, unit: string, tree: Tree, value: number, target?: Figure["target"]): void {
  let f = figures.get(name);
  if (!f) figures.set(name, (f = { name, unit, target, before: [], after: [] }));
  f[tree].push(value);
  log(`${name} ${tree}: ${value.toFixed(2)} ${unit}`);
}
const atMost = (t: number, unit: string) => ({ text: `≤ ${t.toLocaleString("en")} ${unit}`, met: (v: number) => v <= t });
const atLeast = (t: number, unit: string) => ({ text: `≥ ${t.toLocaleString("en")} ${unit}`, met: (v: number) => v >= t });

/** Every measured run waits (up to 30 s) for a quiet machine first: the 2 cores may be shared. */
const quiet = () => waitForQuiet(0.1, 30_000, log);

const work = mkdtempSync(join(tmpdir(), "adi-compare-"));
const brokers: BrokerHandle[] = [];
const notes: string[] = [];
const profiles: { what: string; before: { name: string; pct: number }[]; after: { name: string; pct: number }[] }[] = [];
const started = new Date();
log(`before = ${describeTree(TREES.before)}; after = ${describeTree(TREES.after)}; REPS=${REPS} EVENTS=${EVENTS} SECONDS=${SECONDS} MAPPER_SECONDS=${MAPPER_SECONDS}`);

try {
  // (a), (b), (e): replay and one live classifier on the same synthetic stream.
  let eventsPerExchange = 2.2; // the synthetic stream's, when (a)/(b) do not run to measure it
  if (SECTIONS.has("a") || SECTIONS.has("b") || SECTIONS.has("e")) {
    const broker = await startBroker();
    brokers.push(broker);
    const t0 = performance.now();
    const stats = await publishSyntheticStream(broker.nc, { events: EVENTS, partitions: PARTITIONS });
    log(`synthetic stream: ${stats.events} events, ${stats.exchanges} exchanges, ${stats.batches} batches, published in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    notes.push(`(a), (b): one synthetic ADI_RAW stream of ${stats.events.toLocaleString("en")} events (${stats.exchanges.toLocaleString("en")} HTTP exchanges, ${stats.batches.toLocaleString("en")} batches, ${PARTITIONS} partitions)`);
    eventsPerExchange = stats.events / Math.max(1, stats.exchanges);
    const ctx: Ctx = { broker, dir: work, stats, log };
    await interleaved(REPS, ORDER, async (tree, rep) => {
      log(`rep ${rep}/${REPS} ${tree}: replay, live classifier`);
      await quiet();
      const r = await runReplay(ctx, { root: TREES[tree] });
      if (r.failed) notes.push(`${tree} replay rep ${rep} failed: ${r.failed}`);
      else {
        record("(a) `adi replay`: events/s", "events/s", tree, r.eventsPerS, atLeast(TARGET.replayPerS, "events/s"));
        record("(a) `adi replay`: peak RSS", "MB", tree, r.peakRssBytes / 2 ** 20);
      }
      await quiet();
      const l = await runLive(ctx, 1, { root: TREES[tree] });
      record("(b) live classifier: raw events per classifier CPU-second", "events/CPU-s", tree, stats.events / l.classifierCpuS, atLeast(TARGET.classifierPerCpuS, "events/CPU-s"));
      record("(b) live classifier: events/s (wall)", "events/s", tree, l.eventsPerS);
      if (l.exchanges !== stats.exchanges) notes.push(`${tree} live classifier rep ${rep} stored ${l.exchanges} of ${stats.exchanges} exchanges`);
    });
    if (profile) {
      for (const [what, go] of [
        ["`adi replay`", (root: string, nodeOptions: string[]) => runReplay(ctx, { root, nodeOptions })],
        ["live classifier", (root: string, nodeOptions: string[]) => runLive(ctx, 1, { root, nodeOptions })],
      ] as const) {
        const top: Partial<Record<Tree, { name: string; pct: number }[]>> = {};
        for (const tree of ORDER) {
          const dir = mkdtempSync(join(work, `prof-${tree}-`));
          await quiet();
          await go(TREES[tree], ["--cpu-prof", `--cpu-prof-dir=${dir}`]);
          top[tree] = summariseProfile(readProfile(dir), [], TREES[tree]).functions;
        }
        profiles.push({ what, before: top.before!, after: top.after! });
      }
    }
    await broker.stop();
    brokers.splice(brokers.indexOf(broker), 1);
  }

  // (c) the whole pipeline, separate processes, at 1,000/s and at saturation.
  if (SECTIONS.has("c")) ensureTool("wrk", "wrk", log);
  for (const load of SECTIONS.has("c") ? ([{ kind: "rate", rate: 1000 }, { kind: "wrk" }] as Load[]) : []) {
    const label = load.kind === "rate" ? `${load.rate.toLocaleString("en")}/s` : "saturation";
    await interleaved(REPS, ORDER, async (tree, rep) => {
      log(`rep ${rep}/${REPS} ${tree}: pipeline at ${label}`);
      await quiet();
      const s = await step(load, SECONDS, quick ? 1 : 2, log, TREES[tree]);
      let total = 0;
      for (const role of ROLES) {
        total += s.cpuMs[role];
        record(`(c) ${label}: CPU per 1,000 exchanges, ${role}`, "ms", tree, s.cpuMs[role]);
      }
      record(`(c) ${label}: CPU per 1,000 exchanges, whole pipeline`, "ms", tree, total, atMost(TARGET.pipelineCpuMs, "ms"));
      record(`(c) ${label}: exchanges served`, "exchanges/s", tree, s.rate);
      if (s.drops > 0) notes.push(`${tree} pipeline at ${label} rep ${rep}: ${s.dropDetail}`);
    });
  }

  // (d) the mapper at 10,000 exchanges/s: observations derived once by the AFTER tree's classifier.
  if (SECTIONS.has("d")) {
    const source = await startBroker();
    brokers.push(source);
    const needed = TARGET.mapperRate * MAPPER_SECONDS;
    const mapperEvents = Math.ceil(needed * eventsPerExchange * 1.05);
    const sourceStats = await publishSyntheticStream(source.nc, { events: mapperEvents, partitions: PARTITIONS, seed: 11 });
    await runLive({ broker: source, dir: work, stats: sourceStats, log }, 1, { root: TREES.after });
    const derived: { subject: string; data: Uint8Array; v2: Uint8Array; headers?: MsgHdrs; exchanges: number }[] = [];
    await readToEnd(source.nc, DERIVED_STREAM, `${DERIVED_SUBJECT_PREFIX}.>`, (m) => {
      derived.push({ subject: m.subject, data: m.data.slice(), v2: asV2(m.data), headers: m.headers, exchanges: exchangesIn(m.data) });
    });
    const facts: { subject: string; data: Uint8Array }[] = [];
    await readToEnd(source.nc, FACTS_STREAM, factsFilter(), (m) => {
      facts.push({ subject: m.subject, data: m.data.slice() });
    });
    await source.stop();
    brokers.splice(brokers.indexOf(source), 1);
    const derivedExchanges = derived.reduce((n, d) => n + d.exchanges, 0);
    notes.push(
      `(d): ${derivedExchanges.toLocaleString("en")} exchanges in ${derived.length.toLocaleString("en")} ADI_DERIVED messages, derived by the AFTER tree's classifier from a synthetic ` +
        `stream of ${sourceStats.events.toLocaleString("en")} raw events, published to a fresh nats-server at ${TARGET.mapperRate.toLocaleString("en")} exchanges/s while \`adi map\` follows it`,
    );
    await interleaved(REPS, ORDER, async (tree, rep) => {
      log(`rep ${rep}/${REPS} ${tree}: mapper at ${TARGET.mapperRate}/s`);
      await quiet();
      const b = await startBroker();
      brokers.push(b);
      const out = mkdtempSync(join(work, `map-${tree}-`));
      let mapper: AdiProcess | undefined;
      try {
        await ensureStreams(b.nc, { maxAgeMs: 0, maxBytes: -1, replicas: 1 });
        const js = jetstream(b.nc);
        for (const f of facts) await js.publish(f.subject, f.data);
        const env = childEnv({ NATS_URL: b.url, LOG_LEVEL: "warn", ADI_PARTITIONS: String(PARTITIONS), ADI_DATA_DIR: join(out, "data"), OUTPUT_PATH: join(out, "traffic.log"), SERVICE_MAP_PATH: join(out, "service-map.yaml"), ENV_OUTPUT_PATH: join(out, "env.yaml") });
        // MAPPER_NODE_OPTIONS: V8 flags for both trees' mappers (e.g. a heap cap), to see what they do to RSS and CPU.
        const nodeOptions = process.env.MAPPER_NODE_OPTIONS?.split(" ").filter(Boolean);
        const m = await AdiProcess.start(["map"], env, join(out, "map.log"), { root: TREES[tree], nodeOptions });
        mapper = m;
        await waitFor("the mapper's consumer", async () => {
          if (!m.running) throw new Error(`${tree} adi map exited`);
          return (await mapperBacklog(b.jsm)).consumers > 0;
        }, 30_000, 100);
        await sleep(500);
        resetPeakRss(m.pid);
        const cpu0 = procUsage(m.pid).cpuSeconds;
        // The timetable: message i goes out once the exchanges before it are due at 10,000/s.
        const t0 = performance.now();
        const inflight = new Set<Promise<unknown>>();
        let sent = 0;
        for (const d of derived) {
          const dueMs = (sent * 1000) / TARGET.mapperRate;
          const wait = t0 + dueMs - performance.now();
          if (wait > 1) await sleep(wait);
          const p = js.publish(d.subject, tree === "after" ? d.data : d.v2, d.headers ? { headers: d.headers } : undefined).finally(() => inflight.delete(p));
          inflight.add(p);
          if (inflight.size >= 256) await Promise.race(inflight);
          sent += d.exchanges;
        }
        await Promise.all(inflight);
        const seconds = (performance.now() - t0) / 1000;
        // A mapper that lags (the before tree needed ~2.7 cores at 10,000/s) catches up after the load: at least 2 min,
        // and 4x the load's length for a long one (MAPPER_SECONDS=75 reaches the 60 s pairing window's steady state).
        await waitFor("the mapper to catch up", async () => (await mapperBacklog(b.jsm)).pending === 0, Math.max(120_000, 4000 * MAPPER_SECONDS), 100);
        await sleep(2500); // its debounced write of the outputs
        const u = procUsage(m.pid);
        record(`(d) \`adi map\` at ${TARGET.mapperRate.toLocaleString("en")} exchanges/s: peak RSS`, "MB", tree, u.peakRssBytes / 2 ** 20, atMost(TARGET.mapperRssMb, "MB"));
        record(`(d) \`adi map\`: exchanges/s offered`, "exchanges/s", tree, sent / seconds);
        record(`(d) \`adi map\`: CPU per 1,000 exchanges`, "ms", tree, ((u.cpuSeconds - cpu0) * 1e6) / Math.max(1, sent));
      } finally {
        await mapper?.stop();
        await b.stop();
        brokers.splice(brokers.indexOf(b), 1);
        rmSync(out, { recursive: true, force: true });
      }
    });
  }
} catch (err) {
  // What was measured so far is still reported.
  log(`stopped: ${(err as Error).stack ?? String(err)}`);
  notes.push(`the run stopped early: ${(err as Error).message.slice(0, 300)}`);
  process.exitCode = 1;
} finally {
  for (const b of brokers) await b.stop().catch(() => undefined);
  rmSync(work, { recursive: true, force: true });
}

// ---------------------------------------------------------------------------------------------------------
// Report.

const fmt = (n: number) => (!Number.isFinite(n) ? "-" : Math.abs(n) >= 1000 ? Math.round(n).toLocaleString("en") : Math.abs(n) >= 100 ? n.toFixed(0) : Math.abs(n) >= 10 ? n.toFixed(1) : n.toFixed(2));
const cell = (xs: number[]) => (xs.length ? `${fmt(summarise(xs).median)} (${xs.map(fmt).join(", ")})` : "-");
const verdict = (f: Figure, tree: Tree) => (!f.target || !f[tree].length ? "" : f.target.met(summarise(f[tree]).median) ? "met" : "NOT met");
const rows = [...figures.values()].map((f) => {
  const [b, a] = [summarise(f.before).median, summarise(f.after).median];
  return { ...f, target: f.target?.text, beforeMedian: b, afterMedian: a, ratio: a / b, verdictBefore: verdict(f, "before"), verdictAfter: verdict(f, "after") };
});
const machine = `${cpus().length} x ${cpus()[0]?.model ?? "cpu"}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, bench Node ${process.versions.node}`;
const lines = [
  `# adi: before / after (${quick ? "quick" : "full"} run, ${started.toISOString()})`,
  "",
  `- before: ${describeTree(TREES.before)}`,
  `- after: ${describeTree(TREES.after)}`,
  `- machine: ${machine}; REPS=${REPS}, interleaved before/after in every repetition`,
  ...notes.map((n) => `- ${n}`),
  "",
  "Median (each run, in run order); after / before of the medians; verdict of the medians vs the issue's targets.",
  "",
  "| figure | unit | target | before | after | after / before | verdict (after; before) |",
  "| --- | --- | --- | --- | --- | --- | --- |",
  ...rows.map((r) => `| ${r.name} | ${r.unit} | ${r.target ?? ""} | ${cell(r.before)} | ${cell(r.after)} | ${Number.isFinite(r.ratio) ? r.ratio.toFixed(2) : "-"} | ${r.verdictAfter ? `${r.verdictAfter}; ${r.verdictBefore}` : ""} |`),
];
for (const p of profiles) {
  lines.push("", `Profile of ${p.what} (node --cpu-prof, one run each): top 10 self-time functions, % of non-idle samples (native code charged to its JavaScript caller).`, "");
  lines.push("| # | before | % | after | % |", "| --- | --- | --- | --- | --- |");
  // A native RegExp is named by its source, which can be hundreds of characters.
  const short = (name: string) => `\`${name.length > 100 ? `${name.slice(0, 97)}...` : name}\``;
  for (let i = 0; i < 10; i++) {
    const [b, a] = [p.before[i], p.after[i]];
    lines.push(`| ${i + 1} | ${b ? short(b.name) : ""} | ${b ? b.pct.toFixed(1) : ""} | ${a ? short(a.name) : ""} | ${a ? a.pct.toFixed(1) : ""} |`);
  }
}
const md = `${lines.join("\n")}\n`;
process.stdout.write(md);
const dir = join(fileURLToPath(new URL(".", import.meta.url)), "results");
mkdirSync(dir, { recursive: true });
writeFileSync(join(dir, "compare-latest.md"), md);
writeFileSync(
  join(dir, "compare-latest.json"),
  JSON.stringify({ started, quick, machine, trees: { before: describeTree(TREES.before), after: describeTree(TREES.after) }, params: { REPS, EVENTS, SECONDS, MAPPER_SECONDS }, notes, rows, profiles: profiles.map((p) => ({ ...p, before: p.before.slice(0, 10), after: p.after.slice(0, 10) })) }, null, 2),
);
