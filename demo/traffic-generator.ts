// Demo traffic generator (the Go demo's cmd/traffic): each iteration calls the four endpoints of
// http-service, writes a row to PostgreSQL and sets/gets a key in Redis. Each step fails on its own: a
// missing database does not stop the HTTP traffic. On exit it prints one JSON summary line on stdout.
import { randomUUID } from "node:crypto";
import pg from "pg";
import { Redis } from "ioredis";
import { envInt, envString, errorText, log, onShutdown, repeatedErrors, sleep } from "./common.ts";
import type { GeneratorSummary, StepCounts } from "./common.ts";

const target = envString("DEMO_TARGET", "http://127.0.0.1:8080").replace(/\/+$/, "");
const intervalMs = envInt("DEMO_INTERVAL_MS", 500);
const iterations = envInt("DEMO_ITERATIONS", 0); // 0: until stopped
const runId = envString("DEMO_RUN_ID", randomUUID()); // tags this run's rows in demo_visits
const redisUrl = envString("REDIS_URL", "redis://127.0.0.1:6379");
const STEP_TIMEOUT_MS = 5_000;

const pool = new pg.Pool({
  host: envString("PGHOST", "127.0.0.1"),
  port: envInt("PGPORT", 5432),
  user: envString("PGUSER", "postgres"),
  password: process.env.PGPASSWORD ?? "",
  database: envString("PGDATABASE", "postgres"),
  max: 1,
  connectionTimeoutMillis: STEP_TIMEOUT_MS,
  query_timeout: STEP_TIMEOUT_MS,
});
pool.on("error", (err) => log(`postgres: ${err.message}`)); // an idle client lost its server: the pool replaces it

// Fail fast while Redis is away instead of queueing the whole loop behind it.
const redis = new Redis(redisUrl, { maxRetriesPerRequest: 1, connectTimeout: STEP_TIMEOUT_MS });
const redisErrors = repeatedErrors("redis");
redis.on("error", (err: Error) => redisErrors.report(err.message));
redis.on("ready", () => redisErrors.reset());

const counts = { http: { ok: 0, failed: 0 }, postgres: { ok: 0, failed: 0 }, redis: { ok: 0, failed: 0 } };
const summary: GeneratorSummary = { iterations: 0, ok: 0, failed: 0, steps: counts };
const stop = new AbortController();
let tableReady = false;

async function call(method: string, path: string, body?: unknown): Promise<void> {
  const res = await fetch(`${target}${path}`, {
    method,
    headers: body === undefined ? {} : { "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.any([stop.signal, AbortSignal.timeout(STEP_TIMEOUT_MS)]),
  });
  await res.arrayBuffer(); // read to the end so the connection is reused
  if (res.status !== 200) throw new Error(`${method} ${path}: HTTP ${res.status}`);
}

async function visit(n: number): Promise<void> {
  if (!tableReady) {
    await pool.query(`CREATE TABLE IF NOT EXISTS demo_visits (
      id bigserial PRIMARY KEY, run_id text NOT NULL, iteration integer NOT NULL, visited_at timestamptz NOT NULL DEFAULT now())`);
    tableReady = true;
  }
  await pool.query("INSERT INTO demo_visits (run_id, iteration) VALUES ($1, $2)", [runId, n]);
}

async function cache(n: number): Promise<void> {
  const value = JSON.stringify({ n, at: new Date().toISOString() });
  await redis.set("demo:last", value);
  if ((await redis.get("demo:last")) === null) throw new Error("demo:last vanished right after SET");
}

/** Runs one step, counts it, and reports whether it succeeded. */
async function step(name: string, counter: StepCounts, run: () => Promise<void>): Promise<boolean> {
  try {
    await run();
    counter.ok++;
    return true;
  } catch (err) {
    if (stop.signal.aborted) return false; // cut short by a stop request, not a failure of the target
    counter.failed++;
    log(`${name} failed: ${errorText(err)}`);
    if (name === "postgres") tableReady = false; // the table may be what went missing
    return false;
  }
}

/** One iteration; a stop request skips its remaining steps, and an unfinished iteration is not counted. */
async function iteration(n: number): Promise<void> {
  const steps: [string, StepCounts, () => Promise<void>][] = [
    ["GET /", counts.http, () => call("GET", "/")],
    ["GET /healthz", counts.http, () => call("GET", "/healthz")],
    ["POST /echo", counts.http, () => call("POST", "/echo", { message: "hello", n })],
    ["GET /slow", counts.http, () => call("GET", "/slow")],
    ["postgres", counts.postgres, () => visit(n)],
    ["redis", counts.redis, () => cache(n)],
  ];
  let allOk = true;
  for (const [name, counter, run] of steps) {
    if (stop.signal.aborted) return;
    if (!(await step(name, counter, run))) allOk = false;
  }
  summary.iterations++;
  if (allOk) summary.ok++;
  else summary.failed++;
}

let closed: Promise<void> | undefined;
function close(): Promise<void> {
  closed ??= (async () => {
    process.stdout.write(`${JSON.stringify(summary)}\n`);
    await pool.end();
    if (redis.status === "ready") await redis.quit();
    else redis.disconnect();
  })();
  return closed;
}

let loop: Promise<void> = Promise.resolve();
onShutdown(async () => {
  stop.abort();
  await loop; // the step under way ends (HTTP calls are aborted; others are bounded by STEP_TIMEOUT_MS)
  await close();
}, 2 * STEP_TIMEOUT_MS + 1_000);

log(`target ${target}, every ${intervalMs} ms, ${iterations || "unlimited"} iterations, run ${runId}`);
loop = (async () => {
  for (let n = 1; !stop.signal.aborted && (iterations === 0 || n <= iterations); n++) {
    await iteration(n);
    if (iterations === 0 || n < iterations) await sleep(intervalMs, stop.signal);
  }
})();
await loop;
if (!stop.signal.aborted) {
  await close();
  process.exit(0); // failures are in the summary; the run itself went as asked
}
