// The mapper's start against a real nats-server that stalls (SIGSTOP/SIGCONT), has no JetStream, or restarts:
// it is `ready` only once it follows both streams, it then holds every exchange sent, and it fails in one line
// after ADI_START_TIMEOUT rather than running empty (issue 10: one JetStream timeout at start left the live log
// and map empty for a whole run, with `mapper ready` logged and `adi up` exiting 0).
import { mkdtempSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { jetstream } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import { pino } from "pino";
import { describe, expect, it } from "vitest";
import { loadConfig, AdiError, formatFatal } from "@adi/shared";
import type { AdiConfig } from "@adi/shared";
import { connectNats, ensureStreams } from "@adi/shared/nats";
import { derivedSubject, encodeDerivedBatches, HttpExchangeSchema, nsToIso } from "@adi/shared/wire";
import type { HttpExchange } from "@adi/shared/wire";
import { sleep } from "../../../test/support/capture.ts";
import { testEnv } from "../../../test/support/pipeline.ts";
import { brokerPerTest, brokerWithoutJetStream, recordingLogger } from "../../../test/support/start-up.ts";
import type { LogLine } from "../../../test/support/start-up.ts";
import { startMapper } from "../src/main.ts";
import type { Mapper } from "../src/main.ts";

const BOOT = "11111111-2222-4333-8444-555555555555";

/** One client-side exchange, `GET /stall/<n>`, stamped now. */
function exchange(host: string, n: number): HttpExchange {
  const ns = BigInt(Date.now()) * 1_000_000n + BigInt(n) * 1000n;
  const message = (t: bigint) => ({ ts: nsToIso(t), end_ts: nsToIso(t + 1000n), version: "1.1", headers: [["Host", "api"]] as [string, string][], body: null, body_size: 0, body_truncated: false, body_binary: false, raw: "" });
  const client = { ip: "10.0.0.1", port: 40_000 + n };
  const server = { ip: "10.0.0.2", port: 80 };
  return HttpExchangeSchema.parse({
    v: 1, type: "http_exchange", host, boot_id: BOOT, conn_id: String(1000 + n), side: "client", pid: 10, start_ticks: 1,
    local: client, remote: server, family: 4, transport: "tcp", seq: 0, client, server,
    request: { ...message(ns), method: "GET", target: `/stall/${n}` },
    response: { ...message(ns + 2_000_000n), status: 200, reason: "OK" },
    latency_ns: 2_000_000,
  });
}

/** Publishes `count` derived batches of one exchange each (as the classifier would), acknowledged by the stream. */
async function publishExchanges(url: string, host: string, from: number, count: number): Promise<void> {
  const nc = await connectNats({ servers: [url], name: "test-publisher", log: pino({ level: "silent" }) });
  const js = jetstream(nc);
  for (let n = from; n < from + count; n++) {
    for (const b of encodeDerivedBatches(`ADI_RAW#${n}`, [exchange(host, n)])) await js.publish(derivedSubject(host, b.kind), b.data, { msgID: `test.${host}.${n}` });
  }
  await nc.drain();
}

/** The targets of the request lines in the traffic log. */
function loggedTargets(cfg: AdiConfig): string[] {
  return readFileSync(cfg.outputPath, "utf8")
    .split("\n")
    .filter(Boolean)
    .map((l) => JSON.parse(l) as { url?: string })
    .flatMap((l) => (l.url ? [l.url] : []));
}

// A broker of its own per test: the mapper reads every host's observations, so tests must not see each other's.
const broker = brokerPerTest("adi-mapper-start-");

const config = (env: Record<string, string> = {}) => loadConfig(testEnv(broker.nats.url, mkdtempSync(join(broker.dir, "run-")), { ADI_START_TIMEOUT: "60s", ...env }));

/** Stops the mapper and its connection; then the log holds `/stall/0` to `/stall/<count - 1>`, and no ERROR line was logged. */
async function expectEveryExchangeLogged(mapper: Mapper, nc: NatsConnection, cfg: AdiConfig, count: number, errors: () => LogLine[]): Promise<void> {
  await mapper.stop();
  await nc.drain();
  expect(loggedTargets(cfg).sort()).toEqual(Array.from({ length: count }, (_, n) => `/stall/${n}`).sort());
  expect(errors()).toEqual([]);
}

describe("a broker that stalls 7 s", () => {
  it("right after it started (before the mapper connects): ready once it resumes, then every exchange is in the log", async () => {
    const cfg = config();
    const { log, lines, errors } = recordingLogger();
    broker.nats.pause();
    const pausedAt = Date.now();
    let ready = false;
    const starting = (async () => {
      const nc = await connectNats({ servers: cfg.natsServers!, name: "mapper-test", log, retryForMs: cfg.startTimeoutMs });
      const mapper = await startMapper(cfg, nc, log);
      ready = true;
      return { nc, mapper };
    })();
    starting.catch(() => undefined);
    await sleep(7000);
    expect(ready).toBe(false);
    expect(lines.some((l) => l.msg === "mapper ready")).toBe(false);
    broker.nats.resume();
    const resumedAt = Date.now();
    const { nc, mapper } = await starting;
    const readyLine = lines.find((l) => l.msg === "mapper ready")!;
    expect(readyLine.time).toBeGreaterThanOrEqual(resumedAt);
    expect(resumedAt - pausedAt).toBeGreaterThanOrEqual(7000);

    await publishExchanges(broker.nats.url, cfg.host, 0, 40);
    await waitFor(() => mapper.counters().batches >= 40, 15_000);
    await expectEveryExchangeLogged(mapper, nc, cfg, 40, errors);
  });

  it("while the mapper creates its consumers (connected, streams there): the timeouts are retried, nothing is lost", async () => {
    const cfg = config();
    const { log, lines, errors } = recordingLogger();
    const nc = await connectNats({ servers: cfg.natsServers!, name: "mapper-test", log });
    await ensureStreams(nc, { maxAgeMs: cfg.streamMaxAgeMs, maxBytes: cfg.streamMaxBytes, replicas: cfg.streamReplicas });
    await publishExchanges(broker.nats.url, cfg.host, 0, 10); // stored before the mapper starts: read from the first
    broker.nats.pause();
    const starting = startMapper(cfg, nc, log);
    starting.catch(() => undefined);
    await sleep(7000);
    expect(lines.some((l) => l.msg === "mapper ready")).toBe(false);
    broker.nats.resume();
    const mapper = await starting;
    // The JetStream requests that timed out during the stall were retried (warnings, not errors).
    expect(lines.filter((l) => l.level === 40 && /will retry/.test(l.msg)).length).toBeGreaterThan(0);
    await publishExchanges(broker.nats.url, cfg.host, 10, 30);
    await waitFor(() => mapper.counters().batches >= 40, 15_000);
    await expectEveryExchangeLogged(mapper, nc, cfg, 40, errors);
  });
});

describe("keeps following", () => {
  it("a broker restarted mid-run (ordered consumers gone with it): the consumers are re-created and nothing is missed or doubled", async () => {
    const cfg = config();
    const { log, errors } = recordingLogger();
    const nc = await connectNats({ servers: cfg.natsServers!, name: "mapper-test", log });
    const mapper = await startMapper(cfg, nc, log);
    await publishExchanges(broker.nats.url, cfg.host, 0, 10);
    await waitFor(() => mapper.counters().batches >= 10, 15_000);
    await broker.nats.kill();
    await broker.nats.restart();
    await publishExchanges(broker.nats.url, cfg.host, 10, 20);
    // Well within the client's own recovery (two missed idle heartbeats, 30 s): the consumers are renewed at once.
    await waitFor(() => mapper.counters().batches >= 30, 10_000);
    await sleep(500);
    expect(mapper.counters().batches).toBe(30);
    await expectEveryExchangeLogged(mapper, nc, cfg, 30, errors);
  });
});

describe("a broker that never lets it follow", () => {
  const bare = brokerWithoutJetStream();

  it("fails after ADI_START_TIMEOUT with one ADI_ERR_NOT_FOLLOWING line (exit 5), never logging ready", async () => {
    const cfg = loadConfig(testEnv(bare.url, mkdtempSync(join(broker.dir, "bare-")), { ADI_START_TIMEOUT: "2s" }));
    const { log, lines } = recordingLogger();
    const nc = await connectNats({ servers: [bare.url], name: "mapper-test", log });
    const started = performance.now();
    const err = await startMapper(cfg, nc, log).then(
      () => new Error("started"),
      (e: unknown) => e,
    );
    const took = performance.now() - started;
    await nc.close();
    expect(err).toBeInstanceOf(AdiError);
    const { line, exitCode } = formatFatal(err);
    expect(exitCode).toBe(5);
    expect(line).toMatch(/^adi: ADI_ERR_NOT_FOLLOWING: create the streams: not done within 2 s: jetstream is not enabled \(check that the broker/);
    expect(took).toBeGreaterThanOrEqual(1900);
    expect(took).toBeLessThan(8000);
    expect(lines.some((l) => l.msg === "mapper ready")).toBe(false);
  });

  it("a stop requested during the wait ends the start at once, cleanly", async () => {
    const cfg = loadConfig(testEnv(bare.url, mkdtempSync(join(broker.dir, "bare-")), { ADI_START_TIMEOUT: "60s" }));
    const { log, errors } = recordingLogger();
    const nc = await connectNats({ servers: [bare.url], name: "mapper-test", log });
    const abort = new AbortController();
    const starting = startMapper(cfg, nc, log, { signal: abort.signal });
    await sleep(1500);
    const reason = new Error("SIGTERM");
    const stoppedAt = performance.now();
    abort.abort(reason);
    await expect(starting).rejects.toBe(reason);
    expect(performance.now() - stoppedAt).toBeLessThan(1000);
    await nc.close();
    expect(errors()).toEqual([]);
  });
});

async function waitFor(cond: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`condition not met in ${timeoutMs} ms`);
    await sleep(50);
  }
}
