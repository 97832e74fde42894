// Scenario 4, "Side by side": the same workload as "Traced workload", watched in turn by tools a user could pick
// instead of adi, in the same run: tshark dissecting HTTP on loopback, and a bpftrace script on the same
// syscall tracepoints as adi (the kernel-side floor: it copies 16 bytes per call and only counts them). For
// each: the workload's throughput and latency, and the tool's own CPU per 1,000 exchanges, next to adi's.
import type { ChildProcess } from "node:child_process";
import { NatsServerFixture } from "../../test/support/nats-server.ts";
import { ensureTool, runFixedRate, runWrk } from "../lib/load.ts";
import { cleanRepetitions, foreignCpuWindow, foreignNote } from "../lib/repeat.ts";
import type { LoadResult } from "../lib/load.ts";
import { childPids, cpuSecondsOf, settleCpu, sleep } from "../lib/proc.ts";
import { benchProfile, countersDelta, natsServerPid, optInEnv, readAgentCounters, spawnTracked, startAdi, startWorkloadServer, stopChild } from "../lib/servers.ts";
import type { AgentCounters, RunningAdi } from "../lib/servers.ts";
import { Collector } from "../lib/stats.ts";
import type { BenchOptions, ResultRow, Scenario } from "../lib/types.ts";
import { describeCounters } from "./workload-overhead.ts";

const NAME = "Side by side";
const UNTRACED = "untraced";
const TSHARK = "tshark -Y http";
const BPFTRACE = "bpftrace, same syscalls";
const ADI = "adi capture, opted in";
const VARIANTS = [UNTRACED, TSHARK, BPFTRACE, ADI] as const;
type Variant = (typeof VARIANTS)[number];

const RATE = 2000;
const FIXED_CONNECTIONS = 16;
const WRK_CONNECTIONS = 32;
const SETTLE_MS = 3000;

const M = {
  satRps: "saturation: workload throughput",
  fixedP99: "2,000 req/s: workload p99 latency",
  fixedServerCpu: "2,000 req/s: server CPU per 1,000 exchanges",
  fixedTool: "2,000 req/s: tool CPU per 1,000 exchanges",
  satTool: "saturation: tool CPU per 1,000 exchanges",
  fixedNats: "2,000 req/s: nats-server CPU per 1,000 exchanges",
  satNats: "saturation: nats-server CPU per 1,000 exchanges",
} as const;

/**
 * The bpftrace program: the eight syscalls adi hooks, enter and exit, for two pids ($1 server, $2 client);
 * at exit, when bytes moved, the first 16 bytes are copied and counted by content (in a kernel map, so the
 * bpftrace process does next to nothing per event).
 */
export const BPF_SCRIPT = `
BEGIN { printf("tracing\\n"); }
tracepoint:syscalls:sys_enter_read, tracepoint:syscalls:sys_enter_write /pid == $1 || pid == $2/ { @ptr[tid] = args->buf; }
tracepoint:syscalls:sys_enter_sendto /pid == $1 || pid == $2/ { @ptr[tid] = args->buff; }
tracepoint:syscalls:sys_enter_recvfrom /pid == $1 || pid == $2/ { @ptr[tid] = args->ubuf; }
tracepoint:syscalls:sys_enter_readv, tracepoint:syscalls:sys_enter_writev /pid == $1 || pid == $2/ { @ptr[tid] = uptr(((struct iovec *)args->vec)->iov_base); }
tracepoint:syscalls:sys_enter_sendmsg, tracepoint:syscalls:sys_enter_recvmsg /pid == $1 || pid == $2/ { @ptr[tid] = uptr(((struct iovec *)((struct user_msghdr *)args->msg)->msg_iov)->iov_base); }
tracepoint:syscalls:sys_exit_read, tracepoint:syscalls:sys_exit_write, tracepoint:syscalls:sys_exit_sendto, tracepoint:syscalls:sys_exit_recvfrom,
tracepoint:syscalls:sys_exit_readv, tracepoint:syscalls:sys_exit_writev, tracepoint:syscalls:sys_exit_sendmsg, tracepoint:syscalls:sys_exit_recvmsg
/@ptr[tid]/ {
  if (args->ret > 0) { @head[buf(@ptr[tid], 16)] = count(); @calls = count(); @bytes = sum(args->ret); }
  delete(@ptr[tid]);
}
`;

/** A tool watching the workload: its pids (CPU charged to it) and how to stop it (returns a note). */
export interface Tool {
  pids(): number[];
  stop(): Promise<string>;
}

/** Spawns a tool and resolves once `ready` matches its output (stdout or stderr). */
function spawnTool(cmd: string, args: string[], ready: RegExp, timeoutMs = 30_000): Promise<{ child: ChildProcess; out: () => string }> {
  return new Promise((resolve, reject) => {
    const child = spawnTracked(cmd, args, { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    const onData = (d: Buffer) => {
      out += d.toString("utf8");
      if (ready.test(out)) {
        clearTimeout(timer);
        child.off("exit", onExit);
        resolve({ child, out: () => out });
      }
    };
    const onExit = (code: number | null) => {
      clearTimeout(timer);
      reject(new Error(`${cmd} exited (${code}) before it was ready: ${out.slice(-400)}`));
    };
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`${cmd} not ready after ${timeoutMs} ms: ${out.slice(-400)}`));
    }, timeoutMs);
    child.stdout!.on("data", onData);
    child.stderr!.on("data", onData);
    child.on("exit", onExit);
  });
}

async function startTshark(port: number): Promise<Tool> {
  const { child, out } = await spawnTool("tshark", ["-i", "lo", "-n", "-f", `tcp port ${port}`, "-q", "-Y", "http", "-z", "io,stat,0,http.request,http.response"], /Capturing on/);
  await sleep(500);
  return {
    // tshark and the dumpcap it reads packets from
    pids: () => [child.pid!, ...childPids(child.pid!)],
    async stop() {
      await stopChild(child, "SIGINT", 20_000);
      const row = /\|\s*[\d.]+ <> [\d.]+\s*\|\s*(\d+)\s*\|\s*\d+\s*\|\s*(\d+)\s*\|/.exec(out());
      const captured = /(\d+) packets? captured/.exec(out())?.[1];
      const dropped = /(\d+) packets? dropped/.exec(out())?.[1];
      return `${row ? `${row[1]} requests / ${row[2]} responses dissected` : "no io,stat table"}, ${captured ?? "?"} packets captured${dropped ? `, ${dropped} dropped` : ""}`;
    },
  };
}

export async function startBpftrace(serverPid: number, clientPid: number): Promise<Tool> {
  const { child, out } = await spawnTool("bpftrace", ["-e", BPF_SCRIPT, String(serverPid), String(clientPid)], /^tracing$/m);
  return {
    pids: () => [child.pid!],
    async stop() {
      await stopChild(child, "SIGINT", 20_000);
      const calls = /^@calls: (\d+)/m.exec(out())?.[1];
      return calls ? `${calls} syscalls with data traced` : `bpftrace printed no count (exit ${child.exitCode ?? child.signalCode}): ${out().replace(/^@head.*\n/gm, "").trim().slice(-200)}`;
    },
  };
}

export const alternatives: Scenario = {
  name: NAME,
  method:
    `the "Traced workload" server and load (${RATE} req/s fixed-rate node client with ${FIXED_CONNECTIONS} connections after a warm-up, then ` +
    `wrk -t1 -c${WRK_CONNECTIONS} at saturation), watched in turn, interleaved within every repetition, by: nothing; ` +
    `tshark -i lo -f "tcp port N" -Y http -q -z io,stat (CPU of tshark + its dumpcap); bpftrace on sys_enter/exit of ` +
    `read/write/sendto/recvfrom/readv/writev/sendmsg/recvmsg filtered to the server and client pids, copying 16 bytes per call into a ` +
    `kernel map (the kernel-side floor); adi's capture agent (\`bin/adi capture\`, the part that must run on the traced host; ` +
    `consumers can run elsewhere) publishing to a nats-server of its own, server and client opted in. Tool CPU is read from /proc from ` +
    `the start of the load until the tool is idle again, per 1,000 exchanges completed (incl. warm-up). In-kernel probe time is charged ` +
    `to the traced processes, not to the tool: see server CPU per 1,000 exchanges. 2 cores shared by load generator, server and tool. ` +
    `Median/min/max over repetitions; ratio = median of per-repetition ratios to untraced. CPU busy outside the benchmark's processes ` +
    `(the machine may be shared) is noted when over 5% of a core; a repetition that saw over 10% is re-run, at most as many times as there are repetitions.`,
  async run({ quick, log }: BenchOptions): Promise<ResultRow[]> {
    ensureTool("wrk", "wrk", log);
    ensureTool("tshark", "tshark", log);
    ensureTool("bpftrace", "bpftrace", log);
    const reps = quick ? 2 : 5;
    const seconds = quick ? 3 : 10;
    const warmupSeconds = quick ? 1 : 2;
    const profile = benchProfile();
    const c = new Collector(NAME, UNTRACED);

    const discarded = await cleanRepetitions(c, { reps, maxRetries: reps, log, name: NAME }, async (rep) => {
      let worst = 0;
      const base: Record<string, number> = {};
      for (const variant of VARIANTS as readonly Variant[]) {
        let nats: NatsServerFixture | undefined;
        let adi: RunningAdi | undefined;
        const isAdi = variant === ADI;
        try {
          if (isAdi) {
            nats = await NatsServerFixture.start();
            adi = await startAdi(nats.url, "capture", profile);
            await sleep(SETTLE_MS);
          }
          const natsPid = nats ? natsServerPid(nats.port) : undefined;
          const server = await startWorkloadServer(isAdi ? optInEnv(profile, "bench-server") : {});
          const clientEnv = isAdi ? optInEnv(profile, "bench-client") : undefined;
          try {
            /** One load run watched by the variant's tool; CPU figures per 1,000 exchanges. */
            const watched = async (load: (beforeStart: (pid: number) => Promise<void>) => Promise<LoadResult>, exchanges: (r: LoadResult) => number) => {
              let tool: Tool | undefined;
              const adiPids = () => adi?.processes.map((p) => p.pid) ?? [];
              const toolPids = () => (tool ? tool.pids() : adiPids());
              const natsPids = () => (natsPid ? [natsPid] : []);
              const read = () => ({ tool: cpuSecondsOf(toolPids()), nats: cpuSecondsOf(natsPids()), server: cpuSecondsOf([server.pid]) });
              let cpu0 = read();
              let window = foreignCpuWindow(() => []);
              let result: LoadResult;
              let note = "";
              let cpu1 = cpu0;
              try {
                result = await load(async (clientPid) => {
                  if (variant === TSHARK) tool = await startTshark(server.port);
                  if (variant === BPFTRACE) tool = await startBpftrace(server.pid, clientPid);
                  cpu0 = read();
                  window = foreignCpuWindow(() => [server.pid, ...toolPids(), ...(adi?.pids() ?? []), ...natsPids()]);
                });
                await settleCpu(() => [...toolPids(), ...natsPids()]);
              } finally {
                cpu1 = read(); // before the tool stops: an exited process has no /proc entry
                if (tool) note = await tool.stop();
              }
              const f = window();
              const foreign = foreignNote(f);
              const per1000 = (s: number) => (s * 1000) / (exchanges(result) / 1000);
              return {
                result,
                note,
                foreign,
                worst: Math.max(f.cores, f.stealCores),
                tool: variant === UNTRACED ? NaN : per1000(cpu1.tool - cpu0.tool),
                nats: isAdi ? per1000(cpu1.nats - cpu0.nats) : NaN,
                server: per1000(cpu1.server - cpu0.server),
              };
            };

            const fixed = await watched(
              (beforeStart) => runFixedRate({ url: server.url, rate: RATE, seconds, warmupSeconds, connections: FIXED_CONNECTIONS, env: clientEnv, beforeStart }),
              (r) => r.requests + RATE * warmupSeconds + FIXED_CONNECTIONS,
            );
            let counters0: AgentCounters | undefined;
            if (isAdi) counters0 = await readAgentCounters(nats!.url, adi!.host, Date.now());
            await sleep(500);
            const sat = await watched((beforeStart) => runWrk({ url: server.url, seconds, connections: WRK_CONNECTIONS, env: clientEnv, beforeStart }), (r) => r.requests);
            let counters1: AgentCounters | undefined;
            if (isAdi) {
              const host = adi!.host;
              const stoppingAt = Date.now();
              await adi!.stop(); // its last agent_stats fact covers everything it captured
              adi = undefined;
              counters1 = await readAgentCounters(nats!.url, host, stoppingAt - 1);
            }

            worst = Math.max(worst, fixed.worst, sat.worst);
            const figures: [string, string, number][] = [
              [M.satRps, "req/s", sat.result.rps],
              [M.fixedP99, "ms", fixed.result.p99Ms],
              [M.fixedServerCpu, "ms", fixed.server],
              [M.fixedTool, "ms", fixed.tool],
              [M.satTool, "ms", sat.tool],
              [M.fixedNats, "ms", fixed.nats],
              [M.satNats, "ms", sat.nats],
            ];
            for (const [metric, unit, value] of figures) {
              if (!Number.isFinite(value)) continue;
              if (variant === UNTRACED) base[metric] = value;
              c.add(variant, metric, unit, value, base[metric]);
            }
            if (fixed.note) c.note(variant, M.fixedTool, `rep ${rep}: ${fixed.note}`);
            if (sat.note) c.note(variant, M.satTool, `rep ${rep}: ${sat.note}`);
            if (isAdi) {
              c.note(variant, M.fixedTool, `rep ${rep}: ${describeCounters(counters0)}`);
              c.note(variant, M.satTool, `rep ${rep}: ${counters1 ? describeCounters(countersDelta(counters0, counters1)) : "no agent_stats fact"}`);
            }
            if (fixed.foreign) c.note(variant, M.fixedP99, `rep ${rep}: ${fixed.foreign}`);
            if (sat.foreign) c.note(variant, M.satRps, `rep ${rep}: ${sat.foreign}`);
            if (fixed.result.errors + sat.result.errors > 0) c.note(variant, M.satRps, `rep ${rep}: errors ${fixed.result.errors} fixed-rate, ${sat.result.errors} wrk`);
            log(
              `${NAME} rep ${rep}/${reps} ${variant}: saturation ${sat.result.rps.toFixed(0)} req/s, ${RATE} req/s p99 ${fixed.result.p99Ms.toFixed(3)} ms; ` +
                `tool CPU per 1000 exchanges ${fixed.tool.toFixed(1)} ms (${RATE} req/s), ${sat.tool.toFixed(1)} ms (saturation)` +
                `${fixed.foreign || sat.foreign ? ` (other load: ${[fixed.foreign, sat.foreign].filter(Boolean).join("; ")})` : ""}`,
            );
          } finally {
            await server.stop();
          }
        } finally {
          await adi?.stop();
          await nats?.stop();
        }
      }
      return worst;
    });
    if (discarded) c.note(UNTRACED, M.satRps, discarded);
    return c.rows();
  },
};
