// Scenario 1, "Traced workload": what adi costs the workload it watches. A keep-alive HTTP server (node:http,
// ~1 KiB JSON per GET /item) under a fixed 2,000 req/s and at saturation, in three variants interleaved within
// each repetition: untraced (no adi), adi running but the server not opted in, server and client opted in.
import { performance } from "node:perf_hooks";
import { NatsServerFixture } from "../../test/support/nats-server.ts";
import { ensureTool, runFixedRate, runWrk } from "../lib/load.ts";
import { procUsage, sleep } from "../lib/proc.ts";
import { cleanRepetitions, foreignCpuWindow, foreignNote } from "../lib/repeat.ts";
import { benchProfile, countersDelta, natsServerPid, optInEnv, readAgentCounters, startAdi, startWorkloadServer } from "../lib/servers.ts";
import type { AgentCounters, RunningAdi } from "../lib/servers.ts";
import { Collector } from "../lib/stats.ts";
import type { BenchOptions, ResultRow, Scenario } from "../lib/types.ts";

const NAME = "Traced workload";
const UNTRACED = "untraced";
const NOT_OPTED_IN = "adi up, not opted in";
const OPTED_IN = "adi up, opted in";
const VARIANTS = [UNTRACED, NOT_OPTED_IN, OPTED_IN] as const;

const RATE = 2000;
const FIXED_CONNECTIONS = 16;
const WRK_CONNECTIONS = 32;
/** After adi says it is ready: the classifier settles its partitions, the first stats go out. */
const SETTLE_MS = 3000;

const M = {
  fixedP50: "2,000 req/s: p50 latency",
  fixedP99: "2,000 req/s: p99 latency",
  fixedRate: "2,000 req/s: achieved",
  fixedCpu: "2,000 req/s: server CPU per 1,000 req",
  fixedAdiCpu: "2,000 req/s: adi up CPU",
  satRps: "saturation: throughput",
  satP50: "saturation: p50 latency",
  satP99: "saturation: p99 latency",
  satAdiCpu: "saturation: adi up CPU",
} as const;

/** adi's capture counters in a few words. */
export function describeCounters(c: AgentCounters | undefined): string {
  if (!c) return "no agent_stats fact";
  const reasons = Object.entries(c.dropReasons).map(([k, v]) => `${k} ${v}`).join(", ");
  return `${c.events} events, kernel drops ${c.kernelDrops}${reasons ? ` (${reasons})` : ""}, events_dropped ${c.eventsDropped}`;
}

/** CPU seconds of every adi process so far (0 when adi is not running). */
const adiCpu = (adi: RunningAdi | undefined) => (adi ? Object.values(adi.cpu()).reduce((a, b) => a + b, 0) : 0);

export const workloadOverhead: Scenario = {
  name: NAME,
  method:
    `node:http keep-alive server (GET /item, ~1 KiB JSON, own process, fresh per variant) loaded by a fixed-rate node client ` +
    `(${RATE} req/s on a timetable after a warm-up, ${FIXED_CONNECTIONS} keep-alive connections, latency from each request's scheduled send time) ` +
    `then by wrk -t1 -c${WRK_CONNECTIONS} --latency (saturation); variants ${VARIANTS.join(" / ")} interleaved in every repetition ` +
    `(A B C A B C ...); adi = \`bin/adi up\` (classify, map, enrich in one process, capture in its child; CPU of both) against a nats-server of its own, ` +
    `both fresh per repetition, started before B and stopped after C; opted in = ADI_PROFILE on server and client (adi restricted to that ` +
    `value with ADI_PROFILE_ALLOWED). Median/min/max over repetitions; ratio = median of per-repetition ratios to untraced. ` +
    `The machine's 2 cores are shared by the load generator, the server, adi and nats-server: saturation figures include contention for them. ` +
    `adi's capture counters (its agent_stats facts) are in the opted-in notes. CPU busy outside the benchmark's processes (the machine may be ` +
    `shared) is noted when over 5% of a core; a repetition that saw over 10% is re-run, at most as many times as there are repetitions.`,
  async run({ quick, log }: BenchOptions): Promise<ResultRow[]> {
    ensureTool("wrk", "wrk", log);
    const reps = quick ? 2 : 5;
    const seconds = quick ? 3 : 10;
    const warmupSeconds = quick ? 1 : 2;
    const profile = benchProfile();
    const c = new Collector(NAME, UNTRACED);
    c.target(NOT_OPTED_IN, M.satRps, "ratio >= 0.99", (r) => r >= 0.99);
    c.target(OPTED_IN, M.fixedP99, "ratio <= 1.05", (r) => r <= 1.05);
    c.target(OPTED_IN, M.satRps, "ratio >= 0.90", (r) => r >= 0.9);
    const fixedCountersMsg = `adi capture during the ${RATE} req/s run (from its start, incl. warm-up)`;
    const satCountersMsg = "adi capture during the saturation run";

    const discarded = await cleanRepetitions(c, { reps, maxRetries: reps, log, name: NAME }, async (rep) => {
      let worst = 0;
      const base: Record<string, number> = {};
      let nats: NatsServerFixture | undefined;
      let adi: RunningAdi | undefined;
      try {
        for (const variant of VARIANTS) {
          if (variant !== UNTRACED && !adi) {
            nats = await NatsServerFixture.start();
            adi = await startAdi(nats.url, "up", profile);
            await sleep(SETTLE_MS);
          }
          const natsPid = nats ? natsServerPid(nats.port) : undefined;
          const optedIn = variant === OPTED_IN;
          const server = await startWorkloadServer(optedIn ? optInEnv(profile, "bench-server") : {});
          const clientEnv = optedIn ? optInEnv(profile, "bench-client") : undefined;
          const known = () => [server.pid, ...(adi?.pids() ?? []), ...(natsPid ? [natsPid] : [])];
          try {
            // Fixed rate.
            const cpu0 = procUsage(server.pid).cpuSeconds;
            let adi0 = adiCpu(adi);
            let t0 = performance.now();
            let window = foreignCpuWindow(known);
            const fixed = await runFixedRate({ url: server.url, rate: RATE, seconds, warmupSeconds, connections: FIXED_CONNECTIONS, env: clientEnv });
            const fixedForeign = window();
            const fixedAdi = adi ? ((adiCpu(adi) - adi0) * 1e5) / (performance.now() - t0) : NaN;
            const cpuMs = ((procUsage(server.pid).cpuSeconds - cpu0) * 1000) / ((fixed.requests + RATE * warmupSeconds + FIXED_CONNECTIONS) / 1000);
            let before: AgentCounters | undefined;
            if (optedIn) {
              before = await readAgentCounters(nats!.url, adi!.host, Date.now());
              c.note(OPTED_IN, M.fixedP99, `rep ${rep}: ${fixedCountersMsg}: ${describeCounters(before)}`);
            }
            await sleep(500);

            // Saturation.
            adi0 = adiCpu(adi);
            t0 = performance.now();
            window = foreignCpuWindow(known);
            const sat = await runWrk({ url: server.url, seconds, connections: WRK_CONNECTIONS, env: clientEnv });
            const satForeign = window();
            const satAdi = adi ? ((adiCpu(adi) - adi0) * 1e5) / (performance.now() - t0) : NaN;
            if (optedIn) {
              const host = adi!.host;
              const stoppingAt = Date.now();
              await adi!.stop(); // its last agent_stats fact covers everything it captured
              adi = undefined;
              const after = await readAgentCounters(nats!.url, host, stoppingAt - 1);
              c.note(OPTED_IN, M.satRps, `rep ${rep}: ${satCountersMsg}: ${after ? describeCounters(countersDelta(before, after)) : "no agent_stats fact"}`);
            }

            const figures: [string, string, number][] = [
              [M.fixedP50, "ms", fixed.p50Ms],
              [M.fixedP99, "ms", fixed.p99Ms],
              [M.fixedRate, "req/s", fixed.rps],
              [M.fixedCpu, "ms", cpuMs],
              [M.fixedAdiCpu, "% of a core", fixedAdi],
              [M.satRps, "req/s", sat.rps],
              [M.satP50, "ms", sat.p50Ms],
              [M.satP99, "ms", sat.p99Ms],
              [M.satAdiCpu, "% of a core", satAdi],
            ];
            for (const [metric, unit, value] of figures) {
              if (!Number.isFinite(value)) continue;
              if (variant === UNTRACED) base[metric] = value;
              c.add(variant, metric, unit, value, base[metric]);
            }
            worst = Math.max(worst, fixedForeign.cores, fixedForeign.stealCores, satForeign.cores, satForeign.stealCores);
            const fn = foreignNote(fixedForeign);
            if (fn) c.note(variant, M.fixedP99, `rep ${rep}: ${fn}`);
            const sn = foreignNote(satForeign);
            if (sn) c.note(variant, M.satRps, `rep ${rep}: ${sn}`);
            if (fixed.errors + sat.errors > 0) c.note(variant, M.satRps, `rep ${rep}: errors ${fixed.errors} fixed-rate, ${sat.errors} wrk`);
            log(
              `${NAME} rep ${rep}/${reps} ${variant}: ${RATE} req/s p50 ${fixed.p50Ms.toFixed(3)} p99 ${fixed.p99Ms.toFixed(3)} ms; ` +
                `saturation ${sat.rps.toFixed(0)} req/s p99 ${sat.p99Ms.toFixed(3)} ms${fn || sn ? ` (other load: ${[fn, sn].filter(Boolean).join("; ")})` : ""}`,
            );
          } finally {
            await server.stop();
          }
        }
      } finally {
        await adi?.stop();
        await nats?.stop();
      }
      return worst;
    });
    if (discarded) c.note(UNTRACED, M.satRps, discarded);
    return c.rows();
  },
};
