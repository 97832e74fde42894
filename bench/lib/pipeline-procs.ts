// The pipeline as separate processes, for benchmarks that charge CPU and memory to each: a nats-server
// (NatsServerFixture), `adi capture`, `adi classify` (N of them) and `adi map`, each started as a user would
// (`bin/adi <cmd>`, configured by environment variables), measured through its real process (bin/adi execs the
// node that runs the command: the pid spawned is the one measured), from this checkout or another one (`root`:
// bench/compare.ts runs an older tree's `bin/adi` with this tree's bench code). The workload and its load come
// from servers.ts and load.ts.
//
// Backlog probes read JetStream's own consumer state: the classifiers' durable consumers (adi-classifier-p<p>
// on ADI_RAW) and the mapper's ordered consumers on ADI_DERIVED.
import { spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { jetstreamManager } from "@nats-io/jetstream";
import type { ConsumerInfo, JetStreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import type { NatsConnection, Subscription } from "@nats-io/transport-node";
import { NatsServerFixture } from "../../test/support/nats-server.ts";
import { decodeDerivedBatch, DERIVED_STREAM, DERIVED_SUBJECT_PREFIX, RAW_STREAM } from "@adi/shared/wire";
import { readToEnd } from "@adi/shared/nats";
import { childEnv, findPid, sleep } from "./proc.ts";

/** This checkout (the tree whose bench code runs): the default tree whose `bin/adi` is started. */
export const ROOT = fileURLToPath(new URL("../../", import.meta.url));
export const ADI_BIN = join(ROOT, "bin", "adi");

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

  /**
   * Starts `<root>/bin/adi <args>` (e.g. ["classify"] or ["replay", "--out", dir]) with `env` as its whole
   * environment, its output appended to `logPath`. `root` is the checkout whose adi runs (default: this one;
   * bench/compare.ts runs another tree's). `nodeOptions` (e.g. ["--cpu-prof", "--cpu-prof-dir=D"]) reach the
   * node that bin/adi execs through NODE_OPTIONS, so every tree is started through its own launcher.
   */
  static async start(args: string[], env: NodeJS.ProcessEnv, logPath: string, opts: { root?: string; nodeOptions?: string[] } = {}): Promise<AdiProcess> {
    const root = resolve(opts.root ?? ROOT);
    const fd = openSync(logPath, "a");
    const vars = opts.nodeOptions?.length ? { ...env, NODE_OPTIONS: opts.nodeOptions.join(" ") } : env;
    const wrapper = spawn(join(root, "bin", "adi"), args, { cwd: root, env: vars, stdio: ["ignore", fd, fd] });
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


/** HTTP exchanges in one ADI_DERIVED message (any readable version); 0 for what does not decode. */
export function exchangesIn(bytes: Uint8Array): number {
  // Decoded (v3 MessagePack or v2 JSON): a count of bytes would depend on the version.
  try {
    const batch = decodeDerivedBatch(bytes);
    return batch.kind === "http" ? batch.observations.length : 0;
  } catch {
    return 0;
  }
}

/** HTTP exchanges stored in ADI_DERIVED: reads every message (call it after the CPU figures are taken). */
export async function derivedExchanges(nc: NatsConnection, host = "*"): Promise<number> {
  let n = 0;
  await readToEnd(nc, DERIVED_STREAM, `${DERIVED_SUBJECT_PREFIX}.${host}.http`, (m) => {
    n += exchangesIn(m.data);
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
  /** Node options per service (NODE_OPTIONS), e.g. { mapper: ["--cpu-prof", "--cpu-prof-dir=/tmp/p"] }. */
  nodeOptions?: Partial<Record<"capture" | "classifier" | "mapper", string[]>>;
  /** The checkout whose `bin/adi` runs the services (default: this one). */
  root?: string;
}

/** Starts a broker and the services as separate processes, and waits until each is ready. */
export async function startPipeline(opts: PipelineOptions = {}): Promise<Pipeline> {
  const broker = await startBroker();
  const dir = mkdtempSync(join(tmpdir(), "adi-bench-"));
  const host = `bench${randomBytes(3).toString("hex")}`;
  const partitions = opts.partitions ?? 16;
  const outputPath = join(dir, "traffic.log");
  const env = childEnv({
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
      capture = await AdiProcess.start(["capture"], env, join(dir, "capture.log"), { root: opts.root, nodeOptions: opts.nodeOptions?.capture });
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
    for (let i = 0; i < nClassifiers; i++) classifiers.push(await AdiProcess.start(["classify"], env, join(dir, `classify-${i}.log`), { root: opts.root, nodeOptions: opts.nodeOptions?.classifier }));
    if (opts.mapper !== false) mapper = await AdiProcess.start(["map"], env, join(dir, "map.log"), { root: opts.root, nodeOptions: opts.nodeOptions?.mapper });
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
