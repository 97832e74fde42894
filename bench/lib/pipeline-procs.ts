// The pipeline as separate processes, for benchmarks that charge CPU and memory to each: a nats-server
// (NatsServerFixture), `adi capture`, `adi classify` (N of them) and `adi map`, each started as a user would
// (`bin/adi <cmd>`, configured by environment variables), measured through its real process (bin/adi execs the
// node that runs the command: the pid spawned is the one measured). Also the workload: an opted-in HTTP server
// (node:http, keep-alive, ~1 KiB JSON, counting what it serves) and a fixed-rate keep-alive client, both run
// as `node bench/lib/pipeline-procs.ts serve|client`, and wrk for saturation.
//
// Backlog probes read JetStream's own consumer state: the classifiers' durable consumers (adi-classifier-p<p>
// on ADI_RAW) and the mapper's ordered consumers on ADI_DERIVED.
import { spawn, spawnSync } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { closeSync, existsSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import { connect as netConnect } from "node:net";
import type { Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import { jetstreamManager } from "@nats-io/jetstream";
import type { ConsumerInfo, JetStreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import type { NatsConnection, Subscription } from "@nats-io/transport-node";
import { NatsServerFixture } from "../../test/support/nats-server.ts";
import { DERIVED_STREAM, DERIVED_SUBJECT_PREFIX, RAW_STREAM } from "@adi/shared/wire";
import { readToEnd } from "@adi/shared/nats";
import { procUsage } from "./proc.ts";
import type { ProcUsage } from "./proc.ts";

const SELF = fileURLToPath(import.meta.url);
export const ROOT = fileURLToPath(new URL("../../", import.meta.url));
export const ADI_BIN = join(ROOT, "bin", "adi");

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** PATH and HOME only: nothing of the bench's own environment (an ADI_PROFILE above all) leaks into a child. */
export function baseEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: process.env.HOME ?? "/root", ...extra };
}

/** Direct children of a process (/proc/<pid>/task/<pid>/children). */
export function childrenOf(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8").trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

/** The pid of the process whose command line contains every one of `parts`. */
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

/** Resets a process's peak RSS (VmHWM) to its current RSS (`echo 5 > clear_refs`, root). */
export function resetPeakRss(pid: number): void {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, "5");
  } catch {
    // not ours or gone: the peak then covers the process's whole life
  }
}

export function usage(pid: number): ProcUsage {
  try {
    return procUsage(pid);
  } catch {
    return { cpuSeconds: NaN, rssBytes: NaN, peakRssBytes: NaN };
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

function tail(path: string, bytes = 1500): string {
  try {
    const s = readFileSync(path, "utf8");
    return s.slice(-bytes);
  } catch {
    return "";
  }
}

/** One `bin/adi <cmd>` process; `pid` is the measured process (the one spawned: bin/adi execs node). */
export class AdiProcess {
  readonly cmd: string;
  /** The process spawned (bin/adi execs node in it, so its pid is `pid`). */
  readonly wrapper: ChildProcess;
  readonly logPath: string;
  pid = 0;
  #exited: Promise<number | null>;

  private constructor(cmd: string, wrapper: ChildProcess, logPath: string) {
    this.cmd = cmd;
    this.wrapper = wrapper;
    this.logPath = logPath;
    this.#exited = new Promise((resolve) => wrapper.once("exit", (code) => resolve(code)));
  }

  /** `args` after bin/adi, e.g. ["classify"] or ["replay", "--out", dir]. `nodeArgs` go to the real process. */
  static async start(args: string[], env: NodeJS.ProcessEnv, logPath: string, nodeArgs: string[] = []): Promise<AdiProcess> {
    const fd = openSync(logPath, "a");
    // With node arguments (e.g. --cpu-prof) the CLI is run directly, as bin/adi would run it.
    const wrapper = nodeArgs.length
      ? spawn(process.execPath, [...nodeArgs, "--disable-warning=ExperimentalWarning", join(ROOT, "cli", "main.ts"), ...args], { cwd: ROOT, env, stdio: ["ignore", fd, fd] })
      : spawn(ADI_BIN, args, { cwd: ROOT, env, stdio: ["ignore", fd, fd] });
    closeSync(fd);
    const p = new AdiProcess(args[0]!, wrapper, logPath);
    p.pid = wrapper.pid!;
    return p;
  }

  get running(): boolean {
    return this.wrapper.exitCode === null && this.wrapper.signalCode === null;
  }

  exited(): Promise<number | null> {
    return this.#exited;
  }

  /** SIGTERM, then SIGKILL after `timeoutMs`. */
  async stop(timeoutMs = 20_000): Promise<void> {
    if (!this.running) return;
    this.wrapper.kill("SIGTERM");
    const t = setTimeout(() => this.wrapper.kill("SIGKILL"), timeoutMs);
    await this.#exited;
    clearTimeout(t);
  }
}

export interface BrokerHandle {
  fixture: NatsServerFixture;
  pid: number;
  nc: NatsConnection;
  jsm: JetStreamManager;
  url: string;
  stop(): Promise<void>;
}

/** A fresh nats-server with JetStream (its own port and store), and a connection to it. */
export async function startBroker(): Promise<BrokerHandle> {
  const fixture = await NatsServerFixture.start();
  const pid = findPid(["-sd", fixture.storeDir]);
  if (!pid) throw new Error("nats-server started but its pid was not found in /proc");
  const nc = await connect({ servers: fixture.url, name: "adi-bench" });
  const jsm = await jetstreamManager(nc);
  return {
    fixture,
    pid,
    nc,
    jsm,
    url: fixture.url,
    async stop() {
      await nc.close().catch(() => undefined);
      await fixture.stop();
    },
  };
}

export const CLASSIFIER_CONSUMER = /^adi-classifier-p(\d+)$/;

export interface Backlog {
  /** Classifier durable consumers found. */
  consumers: number;
  /** Messages not yet delivered, summed over the classifier consumers. */
  pending: number;
  /** Delivered, not yet acknowledged. */
  ackPending: number;
  /** Earliest creation time of a classifier consumer (ms since the epoch), NaN if none. */
  firstCreatedMs: number;
}

export async function classifierBacklog(jsm: JetStreamManager): Promise<Backlog> {
  const out: Backlog = { consumers: 0, pending: 0, ackPending: 0, firstCreatedMs: NaN };
  let infos: ConsumerInfo[];
  try {
    infos = await jsm.consumers.list(RAW_STREAM).next();
  } catch {
    return out;
  }
  for (const c of infos) {
    if (!CLASSIFIER_CONSUMER.test(c.name)) continue;
    out.consumers++;
    out.pending += c.num_pending;
    out.ackPending += c.num_ack_pending;
    const created = Date.parse(c.created);
    if (!(created >= out.firstCreatedMs)) out.firstCreatedMs = created;
  }
  return out;
}

/** The mapper's ordered consumers on ADI_DERIVED: how many, and what they have not been delivered yet. */
export async function mapperBacklog(jsm: JetStreamManager): Promise<{ consumers: number; pending: number }> {
  try {
    const infos = await jsm.consumers.list(DERIVED_STREAM).next();
    return { consumers: infos.length, pending: infos.reduce((n, c) => n + c.num_pending, 0) };
  } catch {
    return { consumers: 0, pending: 0 };
  }
}

/** Messages stored in ADI_DERIVED under `adi.derived.v2.<host|*>.<kind>` (one per raw batch and kind): cheap, from stream info. */
export async function derivedMessages(jsm: JetStreamManager, kind: "http" | "connection", host = "*"): Promise<number> {
  try {
    const info = await jsm.streams.info(DERIVED_STREAM, { subjects_filter: `${DERIVED_SUBJECT_PREFIX}.${host}.${kind}` });
    return Object.values(info.state.subjects ?? {}).reduce((n, c) => n + c, 0);
  } catch {
    return 0;
  }
}

const EXCHANGE_MARK = Buffer.from('"type":"http_exchange"');

/**
 * HTTP exchanges stored in ADI_DERIVED: reads every message (call it after the CPU figures are taken) and counts
 * the marker JSON.stringify writes for each exchange (inside a body it would be escaped, so it cannot match there).
 */
export async function derivedExchanges(nc: NatsConnection, host = "*"): Promise<number> {
  let n = 0;
  await readToEnd(nc, DERIVED_STREAM, `${DERIVED_SUBJECT_PREFIX}.${host}.http`, (m) => {
    const data = Buffer.from(m.data.buffer, m.data.byteOffset, m.data.byteLength);
    for (let at = data.indexOf(EXCHANGE_MARK); at >= 0; at = data.indexOf(EXCHANGE_MARK, at + EXCHANGE_MARK.length)) n++;
  });
  return n;
}

export async function waitFor(what: string, check: () => Promise<boolean> | boolean, timeoutMs: number, everyMs = 50): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(everyMs);
  }
}

export interface AgentStats {
  kernel: { events: number; drops: Record<string, number> };
  user: { events_published: number; events_dropped: number; batches_dropped: number };
}

export interface Pipeline {
  broker: BrokerHandle;
  host: string;
  dir: string;
  env: NodeJS.ProcessEnv;
  capture: AdiProcess | undefined;
  classifiers: AdiProcess[];
  mapper: AdiProcess | undefined;
  /** The measured processes by role (nats-server, capture, classifier, mapper). */
  pids(): Record<string, number[]>;
  /** The latest agent_stats fact the capture agent published (the last one once it has stopped). */
  agentStats(): AgentStats | undefined;
  outputPath: string;
  /** Stops the services (capture first, as `adi up` does), then the broker, and removes the temp dir. */
  stop(): Promise<void>;
}

export interface PipelineOptions {
  capture?: boolean;
  classifiers?: number;
  mapper?: boolean;
  env?: Record<string, string>;
  /** Partitions (ADI_PARTITIONS). Default 16. */
  partitions?: number;
  /** Node arguments per service, e.g. { mapper: ["--cpu-prof", "--cpu-prof-dir=/tmp/p"] }. */
  nodeArgs?: Partial<Record<"capture" | "classifier" | "mapper", string[]>>;
}

/** Starts a broker and the services as separate processes, and waits until each is ready. */
export async function startPipeline(opts: PipelineOptions = {}): Promise<Pipeline> {
  const broker = await startBroker();
  const dir = mkdtempSync(join(tmpdir(), "adi-bench-"));
  const host = `bench${randomBytes(3).toString("hex")}`;
  const partitions = opts.partitions ?? 16;
  const outputPath = join(dir, "traffic.log");
  const env = baseEnv({
    NATS_URL: broker.url,
    ADI_HOST: host,
    LOG_LEVEL: "warn",
    ADI_PARTITIONS: String(partitions),
    ADI_DATA_DIR: join(dir, "data"),
    OUTPUT_PATH: outputPath,
    SERVICE_MAP_PATH: join(dir, "service-map.yaml"),
    ENV_OUTPUT_PATH: join(dir, "env.yaml"),
    ...opts.env,
  });
  let stats: AgentStats | undefined;
  let firstFact: () => void = () => undefined;
  const factSeen = new Promise<void>((r) => (firstFact = r));
  const sub: Subscription = broker.nc.subscribe(`adi.facts.v1.${host}.>`, {
    callback: (_err, m) => {
      firstFact();
      if (m.subject.endsWith(".agent")) stats = m.json<AgentStats>();
    },
  });
  let capture: AdiProcess | undefined;
  const classifiers: AdiProcess[] = [];
  let mapper: AdiProcess | undefined;
  let stopping: Promise<void> | undefined;
  const stop = () => (stopping ??= stopAll());
  const stopAll = async () => {
    await capture?.stop();
    await broker.nc.flush().catch(() => undefined);
    await sleep(200); // the last agent_stats fact
    await Promise.all(classifiers.map((c) => c.stop()));
    await mapper?.stop();
    sub.unsubscribe();
    await broker.stop();
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    // Capture first: it creates the streams before the consumers bind.
    if (opts.capture !== false) {
      capture = await AdiProcess.start(["capture"], env, join(dir, "capture.log"), opts.nodeArgs?.capture);
      await Promise.race([
        factSeen,
        capture.exited().then((code) => {
          throw new Error(`adi capture exited (${code}): ${tail(join(dir, "capture.log"))}`);
        }),
        sleep(30_000).then(() => {
          throw new Error(`adi capture not ready after 30 s: ${tail(join(dir, "capture.log"))}`);
        }),
      ]);
    }
    const nClassifiers = opts.classifiers ?? 1;
    for (let i = 0; i < nClassifiers; i++) classifiers.push(await AdiProcess.start(["classify"], env, join(dir, `classify-${i}.log`), opts.nodeArgs?.classifier));
    if (opts.mapper !== false) mapper = await AdiProcess.start(["map"], env, join(dir, "map.log"), opts.nodeArgs?.mapper);
    if (nClassifiers > 0) {
      await waitFor("the classifiers' consumers", async () => {
        for (const c of classifiers) if (!c.running) throw new Error(`adi classify exited: ${tail(c.logPath)}`);
        return (await classifierBacklog(broker.jsm)).consumers === partitions;
      }, 30_000, 100);
    }
    if (mapper) {
      await waitFor("the mapper's consumer", async () => {
        if (!mapper!.running) throw new Error(`adi map exited: ${tail(mapper!.logPath)}`);
        return (await mapperBacklog(broker.jsm)).consumers > 0;
      }, 30_000, 100);
    }
  } catch (err) {
    await stop().catch(() => undefined);
    throw err;
  }
  return {
    broker,
    host,
    dir,
    env,
    capture,
    classifiers,
    mapper,
    outputPath,
    pids: () => ({
      "nats-server": [broker.pid],
      ...(capture ? { capture: [capture.pid] } : {}),
      ...(classifiers.length ? { classifier: classifiers.map((c) => c.pid) } : {}),
      ...(mapper ? { mapper: [mapper.pid] } : {}),
    }),
    agentStats: () => stats,
    stop,
  };
}

/** Modification time of a file in ms, 0 when missing. */
export function mtimeMs(path: string): number {
  try {
    return statSync(path).mtimeMs;
  } catch {
    return 0;
  }
}

// ---------------------------------------------------------------------------------------------------------
// The workload

/**
 * An HTTP server in its own process, opted in with ADI_PROFILE=`profile` when given. Give the capture agent
 * ADI_PROFILE_ALLOWED=`profile` too: the agent is host-wide, and other opted-in processes on the machine (another
 * benchmark, a demo) must not land in the figures.
 */
export class WorkloadServer {
  readonly child: ChildProcess;
  readonly port: number;

  private constructor(child: ChildProcess, port: number) {
    this.child = child;
    this.port = port;
  }

  static async start(profile: string | undefined): Promise<WorkloadServer> {
    const env = baseEnv(profile ? { ADI_PROFILE: profile, ADI_PROFILE_NAME: "bench-http" } : {});
    const child = spawn(process.execPath, [SELF, "serve"], { cwd: ROOT, env, stdio: ["ignore", "ignore", "inherit", "ipc"] });
    const port = await new Promise<number>((resolve, reject) => {
      child.once("message", (m) => resolve((m as { port: number }).port));
      child.once("exit", (code) => reject(new Error(`workload server exited (${code})`)));
    });
    return new WorkloadServer(child, port);
  }

  get pid(): number {
    return this.child.pid!;
  }

  /** Requests served (responses finished) so far. */
  count(): Promise<number> {
    return new Promise((resolve) => {
      this.child.once("message", (m) => resolve((m as { count: number }).count));
      this.child.send("count");
    });
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const gone = new Promise((r) => this.child.once("exit", r));
    this.child.kill("SIGTERM");
    await gone;
  }
}

export interface ClientResult {
  sent: number;
  completed: number;
  errors: number;
  /** Seconds from the first send to the last response. */
  seconds: number;
  /** Most requests that were due but waiting for a free connection at once. */
  maxBehind: number;
}

/** A fixed-rate keep-alive client (not opted in) in its own process. */
export function runFixedRate(o: { port: number; rate: number; seconds: number; connections: number }): Promise<ClientResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [SELF, "client", JSON.stringify(o)], { cwd: ROOT, env: baseEnv(), stdio: ["ignore", "pipe", "inherit"] });
    let out = "";
    child.stdout!.on("data", (d) => (out += d));
    child.on("exit", (code) => {
      try {
        resolve(JSON.parse(out) as ClientResult);
      } catch {
        reject(new Error(`load client exited (${code}) without a result: ${out.slice(0, 300)}`));
      }
    });
  });
}

function onPath(bin: string): boolean {
  return (process.env.PATH ?? "/usr/bin:/bin").split(":").some((d) => d && existsSync(join(d, bin)));
}

/** wrk, installed from Debian's packages when missing (the bench runs as root). */
export function ensureWrk(log: (m: string) => void): void {
  if (onPath("wrk")) return;
  log("installing wrk (apt-get)");
  const r = spawnSync("apt-get", ["install", "-y", "--no-install-recommends", "wrk"], { env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" }, stdio: "ignore" });
  if (r.status !== 0 || !onPath("wrk")) throw new Error("wrk is missing and could not be installed (apt-get install -y wrk)");
}

/** Saturation: `wrk -t<threads> -c<connections>` (not opted in) against the server. */
export function runWrk(o: { port: number; seconds: number; threads: number; connections: number }): Promise<{ requests: number; rps: number; seconds: number }> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn("wrk", [`-t${o.threads}`, `-c${o.connections}`, `-d${o.seconds}s`, `http://127.0.0.1:${o.port}/api/items`], { env: baseEnv(), stdio: ["ignore", "pipe", "inherit"] });
    let out = "";
    child.stdout!.on("data", (d) => (out += d));
    child.on("error", reject);
    child.on("exit", (code) => {
      const requests = Number(/(\d+) requests in/.exec(out)?.[1]);
      const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1]);
      if (code !== 0 || !Number.isFinite(requests)) reject(new Error(`wrk failed (${code}): ${out.slice(0, 300)}`));
      else resolve({ requests, rps, seconds: (performance.now() - started) / 1000 });
    });
  });
}

// ---------------------------------------------------------------------------------------------------------
// The workload's own processes (this file run as a script)

function serveMain(): void {
  let served = 0;
  const items = Array.from({ length: 9 }, (_, i) => ({ id: 1000 + i, sku: `SKU-${4000 + i}`, name: `item number ${i}`, price: 9.99 + i, qty: i, tags: ["bench", "json"] }));
  const server = createServer({ keepAliveTimeout: 60_000 }, (req, res) => {
    req.resume();
    req.on("end", () => {
      const body = JSON.stringify({ ok: true, path: req.url, at: Date.now(), n: served, items });
      res.writeHead(200, { "content-type": "application/json", "content-length": Buffer.byteLength(body) });
      res.end(body);
    });
    res.on("finish", () => served++);
  });
  server.listen(0, "127.0.0.1", () => process.send!({ port: (server.address() as { port: number }).port }));
  process.on("message", () => process.send!({ count: served }));
  process.on("SIGTERM", () => process.exit(0));
  process.on("disconnect", () => process.exit(0));
}

async function clientMain(o: { port: number; rate: number; seconds: number; connections: number }): Promise<void> {
  let sent = 0, completed = 0, errors = 0, behind = 0, maxBehind = 0, n = 0;
  interface Conn { socket: Socket; busy: boolean; buf: Buffer | null }
  const conns: Conn[] = [];
  const send = (c: Conn) => {
    c.busy = true;
    sent++;
    c.socket.write(`GET /api/items/${n++ % 10000} HTTP/1.1\r\nHost: 127.0.0.1:${o.port}\r\nUser-Agent: adi-bench\r\nAccept: application/json\r\n\r\n`);
  };
  const idle: Conn[] = [];
  const release = (c: Conn) => {
    c.busy = false;
    if (behind > 0) {
      behind--;
      send(c);
    } else idle.push(c);
  };
  await Promise.all(
    Array.from({ length: o.connections }, () => new Promise<void>((resolve, reject) => {
      const socket = netConnect({ host: "127.0.0.1", port: o.port, noDelay: true }, () => resolve());
      const c: Conn = { socket, busy: false, buf: null };
      socket.on("error", (err) => {
        errors++;
        reject(err);
      });
      socket.on("data", (d: Buffer) => {
        let buf: Buffer = c.buf ? Buffer.concat([c.buf, d]) : d;
        c.buf = buf;
        for (;;) {
          const headEnd: number = buf.indexOf("\r\n\r\n");
          if (headEnd < 0) return;
          const m = /content-length:\s*(\d+)/i.exec(buf.toString("latin1", 0, headEnd));
          const total: number = headEnd + 4 + Number(m?.[1] ?? 0);
          if (buf.length < total) return;
          if (buf[9] !== 0x32) errors++; // "HTTP/1.1 2xx"
          completed++;
          buf = buf.subarray(total);
          c.buf = buf.length === 0 ? null : buf;
          release(c);
          if (!c.buf) return;
        }
      });
      conns.push(c);
      idle.push(c);
    })),
  );
  const started = performance.now();
  const endAt = started + o.seconds * 1000;
  let scheduled = 0;
  await new Promise<void>((resolve) => {
    const tick = () => {
      const now = performance.now();
      const due = Math.floor((Math.min(now, endAt) - started) * o.rate / 1000);
      for (; scheduled < due; scheduled++) {
        const c = idle.pop();
        if (c) send(c);
        else behind++;
      }
      maxBehind = Math.max(maxBehind, behind);
      if (now >= endAt) resolve();
      else setTimeout(tick, 1);
    };
    tick();
  });
  // What was due but never sent is not sent; what is in flight gets up to 5 s.
  behind = 0;
  const deadline = performance.now() + 5000;
  while (conns.some((c) => c.busy) && performance.now() < deadline) await sleep(5);
  const seconds = (performance.now() - started) / 1000;
  errors += conns.filter((c) => c.busy).length;
  for (const c of conns) c.socket.destroy();
  process.stdout.write(JSON.stringify({ sent, completed, errors, seconds, maxBehind } satisfies ClientResult));
}

if (process.argv[1] === SELF) {
  const [mode, arg] = process.argv.slice(2);
  if (mode === "serve") serveMain();
  else if (mode === "client") await clientMain(JSON.parse(arg!) as { port: number; rate: number; seconds: number; connections: number });
  else {
    process.stderr.write("usage: node bench/lib/pipeline-procs.ts serve | client '<json>'\n");
    process.exit(2);
  }
}
