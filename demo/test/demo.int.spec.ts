// The demo against this machine's real NATS, Redis and PostgreSQL: three processes that opt in to profiling,
// whose traffic lands where the Go demo's did (request events in Redis, visits in PostgreSQL).
import { setTimeout as sleep } from "node:timers/promises";
import { readFileSync } from "node:fs";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { Redis } from "ioredis";
import pg from "pg";
import { startDemo } from "../run.ts";
import type { DemoHandle, DemoOptions, GeneratorExit } from "../run.ts";
import { freePort } from "@adi/shared";

const NATS_URL = "nats://127.0.0.1:4222";
const REDIS_URL = "redis://127.0.0.1:6379";
const PG = { host: "127.0.0.1", port: 5432, user: "postgres", database: "postgres" };
const HEALTHZ_COUNT = "demo:count:/healthz";


function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: over ${ms} ms`)), ms)));
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function environ(pid: number): Record<string, string> {
  const entries = readFileSync(`/proc/${pid}/environ`, "utf8").split("\0").filter(Boolean);
  return Object.fromEntries(entries.map((e) => [e.slice(0, e.indexOf("=")), e.slice(e.indexOf("=") + 1)]));
}

describe("demo (real NATS, Redis, PostgreSQL)", () => {
  let redis: Redis;
  let db: pg.Client;
  let demo: DemoHandle | undefined;

  const healthzCount = async (): Promise<number> => Number((await redis.get(HEALTHZ_COUNT)) ?? 0);
  const visits = async (runId: string): Promise<number> => {
    const exists = await db.query("SELECT to_regclass('demo_visits') IS NOT NULL AS ok");
    if (!exists.rows[0].ok) return 0;
    const r = await db.query("SELECT count(*)::int AS n FROM demo_visits WHERE run_id = $1", [runId]);
    return r.rows[0].n as number;
  };
  const start = async (opts: Partial<DemoOptions>): Promise<DemoHandle> => {
    demo = await startDemo({ natsUrl: NATS_URL, redisUrl: REDIS_URL, pg: PG, httpPort: await freePort(), intervalMs: 100, ...opts });
    return demo;
  };

  beforeAll(async () => {
    // Fail with a clear message when the machine's services are not up (scripts/services.sh starts them).
    redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 1, lazyConnect: true });
    await redis.connect();
    db = new pg.Client({ ...PG, connectionTimeoutMillis: 5_000 });
    await db.connect();
  });

  afterEach(async () => {
    await demo?.stop();
    demo = undefined;
  });

  afterAll(async () => {
    await redis?.quit();
    await db?.end();
  });

  it("runs three iterations: HTTP 200s, request events counted in Redis, visits stored in PostgreSQL", async () => {
    const before = await healthzCount();
    const d = await start({ iterations: 3 });

    const exit: GeneratorExit = await within(d.exited, 30_000, "traffic-generator");
    expect(exit.code).toBe(0);
    expect(exit.summary).toEqual({
      iterations: 3,
      ok: 3,
      failed: 0,
      steps: { http: { ok: 12, failed: 0 }, postgres: { ok: 3, failed: 0 }, redis: { ok: 3, failed: 0 } },
    });

    // request-logger stores the events asynchronously: wait for them, then make sure no more arrive.
    await expect.poll(healthzCount, { timeout: 10_000, interval: 50 }).toBeGreaterThanOrEqual(before + 3);
    await sleep(200);
    expect(await healthzCount()).toBe(before + 3);
    expect(await visits(d.runId)).toBe(3);
    expect(JSON.parse((await redis.lindex("demo:requests", 0))!)).toMatchObject({ method: "GET", status: 200 });
  });

  it("runs the programs as separate opted-in processes until stopped, then all exit", async () => {
    const d = await start({});
    const names = ["http-service", "request-logger", "traffic-generator"] as const;
    expect(new Set(names.map((n) => d.pids[n])).size).toBe(3);
    for (const name of names) {
      expect(environ(d.pids[name])).toMatchObject({ ADI_PROFILE: "local", ADI_PROFILE_NAME: name });
    }
    await expect.poll(() => visits(d.runId), { timeout: 10_000, interval: 50 }).toBeGreaterThanOrEqual(1);

    await within(d.stop(), 20_000, "stop");
    const exit = await within(d.exited, 1_000, "generator exit after stop");
    expect(exit.code).toBe(0);
    expect(exit.summary?.iterations).toBeGreaterThanOrEqual(1);
    expect(exit.summary?.failed).toBe(0);
    for (const name of names) expect(alive(d.pids[name]), name).toBe(false);
  });

  it("keeps the HTTP traffic going when PostgreSQL is unreachable", async () => {
    const d = await start({ iterations: 2, pg: { ...PG, port: await freePort() } });
    const exit = await within(d.exited, 30_000, "traffic-generator");
    expect(exit.code).toBe(0);
    expect(exit.summary).toMatchObject({
      iterations: 2,
      failed: 2,
      steps: { http: { ok: 8, failed: 0 }, postgres: { ok: 0, failed: 2 }, redis: { ok: 2, failed: 0 } },
    });
  });
});
