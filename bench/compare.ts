// `node bench/compare.ts BEFORE_DIR AFTER_DIR`: two checkouts of adi (each set up with scripts/setup.sh) measured
// side by side in one run, interleaved A B A B on the same machine, broker and synthetic stream: `adi replay`,
// one live classifier, and the whole pipeline (separate processes) at 1,000 and 5,000 req/s. Prints a markdown
// table of medians (each run in brackets) and after/before ratios. REPS (default 3) and EVENTS (default 200,000)
// from the environment. Run it as root, on an otherwise idle machine.
import { mkdtempSync, rmSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
const [beforeDir, afterDir] = process.argv.slice(2);
if (!beforeDir || !afterDir) {
  console.error("usage: node bench/compare.ts BEFORE_DIR AFTER_DIR");
  process.exit(2);
}
const TREES = { before: resolve(beforeDir), after: resolve(afterDir) } as const;
type Tree = keyof typeof TREES;
const lib = { before: await import(`${TREES.before}/bench/lib/pipeline-procs.ts`), after: await import(`${TREES.after}/bench/lib/pipeline-procs.ts`) };
const { publishSyntheticStream } = await import(`${TREES.after}/bench/lib/synthetic.ts`);
const REPS = Number(process.env.REPS ?? 3);
const EVENTS = Number(process.env.EVENTS ?? 200_000);
const med = (xs: number[]) => { const s = [...xs].sort((a, b) => a - b); const m = Math.floor(s.length / 2); return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2; };
const results: Record<string, Record<Tree, number[]>> = {};
const note = (metric: string, tree: Tree, v: number) => { ((results[metric] ??= { before: [], after: [] })[tree]).push(v); console.error(`${metric} ${tree}: ${v.toFixed(2)}`); };

// 1. Replay and one live classifier on the same synthetic stream.
const broker = await lib.after.startBroker();
const stats = await publishSyntheticStream(broker.nc, { events: EVENTS, partitions: 16 });
const work = mkdtempSync(join(tmpdir(), "adi-compare-"));
const env = (out: string) => lib.after.baseEnv({ NATS_URL: broker.url, LOG_LEVEL: "warn", ADI_PARTITIONS: "16", ADI_HOST: "benchhost", OUTPUT_PATH: join(out, "traffic.log"), SERVICE_MAP_PATH: join(out, "map.yaml"), ENV_OUTPUT_PATH: join(out, "env.yaml"), ADI_DATA_DIR: join(out, "data") });
async function replay(tree: Tree) {
  const out = mkdtempSync(join(work, "replay-"));
  const t0 = performance.now();
  const p = await lib[tree].AdiProcess.start(["replay", "--out", out], env(out), join(out, "replay.log"));
  let peak = 0;
  const t = setInterval(() => { try { peak = Math.max(peak, lib.after.usage(p.pid).peakRssBytes); } catch { /* exited */ } }, 100);
  const code = await p.exited();
  clearInterval(t);
  const s = (performance.now() - t0) / 1000;
  if (code !== 0) console.error(`${tree} replay exit ${code}: ${readFileSync(join(out, "replay.log"), "utf8").slice(-300)}`);
  else { note("replay events/s", tree, stats.events / s); note("replay peak RSS MB", tree, peak / 2 ** 20); }
  rmSync(out, { recursive: true, force: true });
}
async function live(tree: Tree) {
  for (const c of await broker.jsm.consumers.list("ADI_RAW").next()) await broker.jsm.consumers.delete("ADI_RAW", c.name);
  for (const s of ["ADI_DERIVED", "ADI_DEADLETTER", "KV_adi_classifiers"]) await broker.jsm.streams.delete(s).catch(() => false);
  const out = mkdtempSync(join(work, "live-"));
  const p = await lib[tree].AdiProcess.start(["classify"], env(out), join(out, "classify.log"));
  let cpu0: number | undefined, t0 = 0;
  for (;;) {
    const b = await lib.after.classifierBacklog(broker.jsm);
    if (b.consumers > 0 && cpu0 === undefined) { cpu0 = lib.after.usage(p.pid).cpuSeconds; t0 = b.firstCreatedMs; }
    if (b.consumers === 16 && b.pending === 0 && b.ackPending === 0) break;
    await lib.after.sleep(50);
  }
  const cpu = lib.after.usage(p.pid).cpuSeconds - cpu0!;
  const s = (Date.now() - t0) / 1000;
  note("live classifier events/s", tree, stats.events / s);
  note("live classifier events per CPU-s", tree, stats.events / cpu);
  await p.stop();
  rmSync(out, { recursive: true, force: true });
}
for (let rep = 0; rep < REPS; rep++) for (const tree of ["before", "after"] as Tree[]) { await replay(tree); await live(tree); }
await broker.stop();

// 2. The whole pipeline (capture, nats-server, classifier, mapper as separate processes) at fixed rates.
const ROLES = ["capture", "nats-server", "classifier", "mapper"] as const;
async function pipeline(tree: Tree, rate: number) {
  const L = lib[tree];
  const profile = `ab-${tree}-${rate}`;
  const p = await L.startPipeline({ classifiers: 1, env: { ADI_PROFILE_ALLOWED: profile } });
  const server = await L.WorkloadServer.start(profile);
  try {
    await L.sleep(500);
    await L.runFixedRate({ port: server.port, rate: 500, seconds: 2, connections: 16 });
    const pids = p.pids();
    const cpu = () => Object.fromEntries(ROLES.map((r) => [r, (pids[r] ?? []).reduce((s: number, pid: number) => s + L.usage(pid).cpuSeconds, 0)]));
    const waitIdle = async () => {
      let quiet = 0;
      while (quiet < 20) {
        const [b, m] = await Promise.all([L.classifierBacklog(p.broker.jsm), L.mapperBacklog(p.broker.jsm)]);
        quiet = b.pending === 0 && b.ackPending === 0 && m.pending === 0 ? quiet + 1 : 0;
        await L.sleep(100);
      }
    };
    await waitIdle();
    for (const r of ROLES) for (const pid of pids[r] ?? []) L.resetPeakRss(pid);
    const n0 = await server.count();
    const c0 = cpu();
    await L.runFixedRate({ port: server.port, rate, seconds: 10, connections: 16 });
    const n = (await server.count()) - n0;
    await waitIdle();
    await L.sleep(2500); // the mapper's debounced write
    const c1 = cpu();
    let total = 0;
    for (const r of ROLES) { const v = ((c1[r] - c0[r]) * 1e6) / n; total += v; note(`${rate}/s CPU ms per 1000: ${r}`, tree, v); }
    note(`${rate}/s CPU ms per 1000: whole pipeline`, tree, total);
    for (const r of ["capture", "mapper"] as const) note(`${rate}/s peak RSS MB: ${r}`, tree, Math.max(...(pids[r] ?? []).map((pid: number) => L.usage(pid).peakRssBytes)) / 2 ** 20);
  } finally {
    await server.stop();
    await p.stop();
  }
}
for (const rate of [1000, 5000]) for (let rep = 0; rep < REPS; rep++) for (const tree of ["before", "after"] as Tree[]) await pipeline(tree, rate);
rmSync(work, { recursive: true, force: true });

console.log(`| metric | before | after | after / before |\n| --- | --- | --- | --- |`);
for (const [metric, v] of Object.entries(results)) {
  const [b, a] = [med(v.before), med(v.after)];
  console.log(`| ${metric} | ${b.toFixed(1)} (${v.before.map((x) => x.toFixed(1)).join(", ")}) | ${a.toFixed(1)} (${v.after.map((x) => x.toFixed(1)).join(", ")}) | ${(a / b).toFixed(2)} |`);
}
