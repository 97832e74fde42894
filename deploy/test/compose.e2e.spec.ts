// The compose stack on a real Docker engine (images built offline): capture in a container watching the demo
// containers, and the outputs naming the compose services with their images and exactly the Go tool's edges.
// Then the stack is stopped and a replay (in a container on the stack's network) rebuilds the three outputs.
// The stack runs as testcontainers containers (test/support/compose-stack.ts reads deploy/compose.yaml). When
// anything fails, every container's whole output, its state and the NATS data directory stay in the run's
// directory (printed), and the end of each output is printed with the failure.
import { chownSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { Wait } from "testcontainers";
import { parse, parseAllDocuments } from "yaml";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { ADI_TEST_IMAGE, buildAdiImage, ComposeStack, ensureInfraImage } from "../../test/support/compose-stack.ts";
import { sleep } from "../../test/support/capture.ts";
import { RAW_STREAM } from "@adi/shared/wire";

type Entry = Record<string, unknown>;
type Service = { name: string; image: string | null; endpoints?: Entry[]; connections?: Entry[] };

// ADI_TEST_ARTIFACTS: where a failed run's directory is kept (CI can collect it); the system's tmp by default.
const artifacts = process.env.ADI_TEST_ARTIFACTS ?? tmpdir();
mkdirSync(artifacts, { recursive: true });
const run = mkdtempSync(join(artifacts, "adi-compose-"));
const out = join(run, "output");
mkdirSync(out);
// The consumers run as uid 10001 (compose.yaml's ADI_UID default): the output directory is made theirs, as the
// compose file's header tells a user to; the enricher joins the Docker socket's group (DOCKER_GID), as told too.
const CONSUMER_UID = 10001;
chownSync(out, CONSUMER_UID, CONSUMER_UID);
const DOCKER_GID = String(statSync("/var/run/docker.sock").gid);
// LOG_LEVEL info: the services' start-up lines (connected, consumers created, ready) are what a failure is read from.
const stack = new ComposeStack(`adie2e${process.pid}`, { ADI_OUTPUT_DIR: out, ADI_HOST: "composetest", LOG_LEVEL: "info", CLASSIFIER_REPLICAS: "2", DOCKER_GID }, { dir: run });
let failed = false;
let map: { services: Service[] };
let lines: Entry[];
let replayDir: string;

const readMap = () => parse(readFileSync(join(out, "ebpf_service_map.yaml"), "utf8")) as { services: Service[] };
const edges = (m: { services: Service[] }, name: string) =>
  (m.services.find((s) => s.name === name)?.connections ?? []).map((c) => `${c.destination}:${c.protocol}:${c.port}`).sort();

const EXPECTED = {
  "traffic-generator": ["postgres:postgres:5432", "redis:redis:6379"],
  "http-service": ["nats:nats:4222"],
  "request-logger": ["nats:nats:4222", "redis:redis:6379"],
};

/** What the map shows of the expected edges now (for the failure message): edges per service, or why none. */
function seen(): string {
  try {
    const m = readMap();
    const endpoints = m.services.find((s) => s.name === "traffic-generator")?.endpoints ?? [];
    return `${JSON.stringify(Object.fromEntries(m.services.map((s) => [s.name, edges(m, s.name)])))}; traffic-generator endpoints: ${endpoints.length}`;
  } catch (err) {
    return `no map: ${(err as Error).message}`;
  }
}

/**
 * Resolves once every consumer of ADI_RAW (the classifiers' durable ones) has nothing pending or unacknowledged (a
 * batch is acknowledged after its observations are stored), asking the stack's NATS on its published port; throws
 * after `timeoutMs` with what is left.
 */
async function classifiersDrained(timeoutMs: number): Promise<void> {
  const nc = await connect({ servers: `127.0.0.1:${stack.mappedPort("nats", 4222)}` });
  try {
    const jsm = await jetstreamManager(nc);
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      // The classifiers' own durable consumers only: a warm-up's ordered consumer is not theirs to drain.
      const consumers = (await jsm.consumers.list(RAW_STREAM).next()).filter((c) => c.name.startsWith("adi-classifier-p"));
      const pending = consumers.reduce((n, c) => n + c.num_pending + c.num_ack_pending, 0);
      if (consumers.length > 0 && pending === 0) return;
      if (Date.now() > deadline) {
        const each = consumers.map((c) => `${c.name} ${c.num_pending}+${c.num_ack_pending}`).join(", ");
        throw new Error(`${consumers.length} classifier consumers still had ${pending} raw batches pending ${timeoutMs / 1000} s after capture stopped (${each})`);
      }
      await sleep(250);
    }
  } finally {
    await nc.close();
  }
}

/**
 * Resolves once none of the output files changed (size, mtime) for `quietMs`, longer than the writers' 2 s
 * debounce: the mapper and the enricher have written what they took. Throws after `timeoutMs`.
 */
async function outputsQuiet(quietMs: number, timeoutMs: number): Promise<void> {
  const files = ["ebpf_http_profiler.log", "ebpf_service_map.yaml", "ebpf_http_env.yaml"].map((f) => join(out, f));
  const look = () => files.map((f) => { try { const st = statSync(f); return `${st.size}@${st.mtimeMs}`; } catch { return "none"; } }).join(" ");
  const deadline = Date.now() + timeoutMs;
  let last = look();
  let since = Date.now();
  while (Date.now() - since < quietMs) {
    if (Date.now() > deadline) throw new Error(`the outputs were still changing ${timeoutMs / 1000} s after the classifiers drained`);
    await sleep(250);
    const now = look();
    if (now !== last) [last, since] = [now, Date.now()];
  }
}

async function startAndQuiesce(): Promise<void> {
  await ensureInfraImage();
  await buildAdiImage();
  // The pipeline first, the workload once capture is attached. Started together (compose up), the workload raced
  // the agent's BPF load: connections opened before it were seen mid-stream, and one on which the client never
  // speaks (request-logger's NATS subscription only receives MSG) was never classified, so the map lacked the
  // edge for the whole run; which side won depended on the host's load (the flaky "never showed the expected
  // edges", reproduced here: capture ready 6 s after request-logger connected). What a connection older than the
  // agent yields is the classifier's business (issue 10, item 1: a server's bytes decide too); this suite checks
  // the stack as deployed, from the start of each connection.
  const t0 = Date.now();
  await stack.up(["capture", "classifier", "mapper", "enricher"], { wait: { capture: Wait.forLogMessage(/"msg":"ready"/) } });
  const t1 = Date.now();
  await stack.up();
  const deadline = Date.now() + 120_000;
  for (;;) {
    try {
      const m = readMap();
      const endpoints = m.services.find((s) => s.name === "traffic-generator")?.endpoints ?? [];
      if (Object.entries(EXPECTED).every(([n, e]) => JSON.stringify(edges(m, n)) === JSON.stringify(e)) && endpoints.length >= 4) break;
    } catch {
      // not written yet
    }
    if (Date.now() > deadline) throw new Error(`the map never showed the expected edges within 120 s; it shows ${seen()}`);
    await sleep(1000);
  }
  console.info(`compose e2e: capture ready after ${Math.round((t1 - t0) / 1000)} s, the expected map ${Math.round((Date.now() - t1) / 1000)} s after the workload's start`);
  // Quiesce in pipeline order, so the live files hold everything the streams hold: workload, capture (it flushes
  // on the way out), then the consumers once they have taken everything. Asked of JetStream and of the files, not
  // slept on: a fixed 5 s was too short on a loaded host, and a classifier stopped early leaves the live outputs
  // short of what replay rebuilds.
  await stack.stop("traffic-generator", "request-logger", "http-service");
  await sleep(2000);
  await stack.stop("capture");
  const t2 = Date.now();
  await classifiersDrained(60_000);
  const t3 = Date.now();
  await outputsQuiet(4000, 60_000);
  console.info(`compose e2e: classifiers drained ${t3 - t2} ms after capture stopped, outputs quiet ${Date.now() - t3} ms later`);
  await stack.stop("classifier");
  await stack.stop("enricher", "mapper");
  map = readMap();
  lines = readFileSync(join(out, "ebpf_http_profiler.log"), "utf8").trim().split("\n").map((l) => JSON.parse(l) as Entry);
  await stack.run("mapper", ["replay", "--out", "/output/replay"]);
  replayDir = join(out, "replay");
}

beforeAll(async () => {
  try {
    await startAndQuiesce();
  } catch (err) {
    failed = true;
    // The whole story with the failure: each container's state and last lines (all of it kept in `run`).
    throw new Error(`${(err as Error).message}\n${await stack.report().catch((e: Error) => `no report: ${e.message}`)}`, { cause: err });
  }
}, 600_000);

afterEach((ctx) => {
  if (ctx.task.result?.state === "fail") failed = true;
});

afterAll(async () => {
  if (failed) await stack.saveLogs().catch(() => undefined);
  await stack.down().catch(() => undefined);
  if (failed) console.error(`compose e2e failed: containers' logs, the outputs and NATS's data kept in ${run}`);
  else rmSync(run, { recursive: true, force: true });
}, 120_000);

describe("the compose stack", () => {
  it("has the unprivileged consumers write the outputs as their uid, and the enricher read the socket (containers named)", () => {
    for (const f of ["ebpf_http_profiler.log", "ebpf_service_map.yaml", "ebpf_http_env.yaml"]) expect({ f, uid: statSync(join(out, f)).uid }).toEqual({ f, uid: CONSUMER_UID });
    expect(statSync(replayDir).uid).toBe(CONSUMER_UID);
  });

  it("has capture, root in its container, keep only SYS_PTRACE and DAC_READ_SEARCH once attached, its bounding set too", () => {
    const log = readFileSync(join(run, "logs", `${stack.project}-capture-1.stream.log`), "utf8");
    const dropped = log.split("\n").filter((l) => l.startsWith("{")).map((l) => JSON.parse(l) as Entry).find((l) => l.msg === "capabilities dropped to those still needed");
    expect(Object.keys((dropped?.kept ?? {}) as Entry)).toEqual(["CAP_DAC_READ_SEARCH", "CAP_SYS_PTRACE"]);
    // dropped: SYS_ADMIN and SETPCAP, all the container had besides (cap_drop: [ALL]); no warning about the bounding set
    expect(dropped).toMatchObject({ dropped: 2, bounding: true, noNewPrivs: true });
  });

  it("names the compose services with their images", () => {
    for (const name of ["traffic-generator", "http-service", "request-logger"]) {
      expect(map.services.find((s) => s.name === name), name).toMatchObject({ image: ADI_TEST_IMAGE });
    }
  });

  it("has the traffic generator calling the HTTP service's four endpoints, container to container, with schemas", () => {
    const endpoints = map.services.find((s) => s.name === "traffic-generator")!.endpoints!.filter((e) => e.response_schema !== null);
    const find = (method: string, path: string) => endpoints.find((e) => e.method === method && e.path === path);
    for (const [m, p] of [["GET", "/"], ["GET", "/healthz"], ["POST", "/echo"], ["GET", "/slow"]] as const) {
      expect(find(m, p), `${m} ${p}`).toMatchObject({ destination: "http-service", destination_type: "container" });
    }
    expect(find("POST", "/echo")!.request_schema).toMatchObject({ message: "string" });
    expect(find("GET", "/slow")!.response_schema).toMatchObject({ slow: "boolean" });
    expect(new Set(endpoints.map((e) => e.destination))).toEqual(new Set(["http-service"]));
  });

  it("has exactly the Go tool's non-HTTP edges, to the compose services", () => {
    for (const [name, expected] of Object.entries(EXPECTED)) expect(edges(map, name), name).toEqual(expected);
    const names = map.services.map((s) => s.name).sort();
    expect(names).toEqual(["http-service", "request-logger", "traffic-generator"]);
  });

  it("logs source and destination containers on the HTTP events", () => {
    const send = lines.find((l) => l.direction === "send" && l.url === "/healthz");
    expect(send).toMatchObject({
      source_container: { service: "traffic-generator", image: ADI_TEST_IMAGE },
      destination_container: { service: "http-service", image: ADI_TEST_IMAGE },
      destination_type: "container",
    });
  });

  it("writes the environment inventory of the three demo containers", () => {
    const docs = parseAllDocuments(readFileSync(join(out, "ebpf_http_env.yaml"), "utf8")).map((d) => d.toJS() as Entry);
    const cmdlines = docs.map((d) => String(d.adi_profile_cmdline)).sort();
    expect(cmdlines).toEqual(expect.arrayContaining([expect.stringMatching(/http-service\.ts$/), expect.stringMatching(/request-logger\.ts$/), expect.stringMatching(/traffic-generator\.ts$/)]));
    for (const d of docs) expect(d).toMatchObject({ adi_profile_match: "local" });
  });

  it("is rebuilt by a replay: the environment YAML and the container-enriched map identical to the live ones, the log line for line", () => {
    expect(readdirSync(replayDir).sort()).toEqual(["ebpf_http_env.yaml", "ebpf_http_profiler.log", "ebpf_service_map.yaml"]);
    for (const f of ["ebpf_http_env.yaml", "ebpf_service_map.yaml"]) expect(readFileSync(join(replayDir, f), "utf8"), f).toBe(readFileSync(join(out, f), "utf8"));
    // The same lines, names and containers included; the order may differ only for a line that reached the live
    // mapper later than the log's 1 s window (appended where it arrived, see README), so compare them sorted.
    const sortedLines = (f: string) => readFileSync(f, "utf8").trimEnd().split("\n").sort();
    const rebuilt = sortedLines(join(replayDir, "ebpf_http_profiler.log"));
    expect(rebuilt.length).toBeGreaterThan(10);
    expect(rebuilt).toEqual(sortedLines(join(out, "ebpf_http_profiler.log")));
  });
});
