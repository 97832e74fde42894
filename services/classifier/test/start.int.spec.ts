// The classifier starts and keeps following (issue 10, item 5) against a real nats-server that stalls (SIGSTOP):
// `ready` only once every owned partition's consumer exists and is followed; a stall of 7 s right after start is
// waited out; a broker that never answers fails the start with one ADI_ERR_NOT_FOLLOWING line after the bound; and a
// stop during a slow start is clean: no ERROR line, each member listed once.
import { Writable } from "node:stream";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { pino } from "pino";
import { afterEach, describe, expect, it } from "vitest";
import { loadConfig, isAdiError, createLogger } from "@adi/shared";
import { connectNats, ensureStreams } from "@adi/shared/nats";
import { encodeBatch, partitionOf, rawSubject, RAW_STREAM } from "@adi/shared/wire";
import { NatsServerFixture } from "../../../test/support/nats-server.ts";
import { sleep } from "../../../test/support/capture.ts";
import { startClassifier } from "../src/main.ts";
import { BOOT, dataRecord } from "./support/raw-batches.ts";

const PARTITIONS = 4;

let nats: NatsServerFixture | undefined;
afterEach(async () => {
  await nats?.stop();
  nats = undefined;
});

/** A pino logger whose lines the test reads. */
function capturingLogger() {
  const lines: { level: number; msg: string; [k: string]: unknown }[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const l of chunk.toString().split("\n")) if (l) lines.push(JSON.parse(l));
      cb();
    },
  });
  return { log: pino({ level: "info" }, sink), lines };
}

async function setup(env: Record<string, string> = {}) {
  nats = await NatsServerFixture.start();
  const quiet = createLogger("start-test", "silent");
  const nc = await connectNats({ servers: [nats.url], name: "test", log: quiet });
  await ensureStreams(nc, { maxAgeMs: 86_400_000, maxBytes: -1, replicas: 1, partitions: PARTITIONS });
  const cfg = loadConfig({ NATS_URL: nats.url, LOG_LEVEL: "info", ADI_PARTITIONS: String(PARTITIONS), ...env });
  return { nc, cfg };
}

describe("classifier start-up against a stalling broker", () => {
  it("waits out a 7 s stall right after start, is ready only with every partition followed, and classifies what comes after", async () => {
    const { nc, cfg } = await setup();
    const { log, lines } = capturingLogger();
    const starting = startClassifier(cfg, nc, log);
    await sleep(300);
    nats!.pause();
    await sleep(7_000);
    nats!.resume();
    const c = await starting;
    // At `ready`, each partition's durable consumer exists.
    const jsm = await jetstreamManager(nc);
    expect(c.owned()).toEqual([0, 1, 2, 3]);
    for (const p of c.owned()) expect((await jsm.consumers.info(RAW_STREAM, `adi-classifier-p${p}`)).config.max_ack_pending).toBe(1);
    expect(lines.filter((l) => l.msg === "classifier ready")).toHaveLength(1);
    // Every partition is followed: one call per partition is classified.
    const js = jetstream(nc);
    const now = BigInt(Date.now()) * 1_000_000n;
    for (let p = 0; p < PARTITIONS; p++) {
      const conn = [...Array(200).keys()].map(BigInt).find((id) => partitionOf(id, PARTITIONS) === p)!;
      const recs = [dataRecord(conn, 8080, "egress", `GET /p${p} HTTP/1.1\r\nHost: a\r\n\r\n`, now), dataRecord(conn, 8080, "ingress", "HTTP/1.1 204 No Content\r\n\r\n", now + 1n)];
      await js.publish(rawSubject("hosts", p), encodeBatch({ recordCount: 2, partition: p, flags: 0, seq: 1n, bootId: BOOT }, recs));
    }
    const deadline = Date.now() + 15_000;
    while (c.counters().batches < PARTITIONS && Date.now() < deadline) await sleep(50);
    expect(c.counters()).toMatchObject({ batches: PARTITIONS, exchanges: PARTITIONS });
    await c.stop();
    expect(lines.filter((l) => l.level >= 50)).toEqual([]);
    await nc.close();
  }, 60_000);

  it("fails the start with one ADI_ERR_NOT_FOLLOWING line when the broker never answers within ADI_START_TIMEOUT", async () => {
    const { nc, cfg } = await setup({ ADI_START_TIMEOUT: "3s" });
    const { log } = capturingLogger();
    nats!.pause();
    const began = Date.now();
    const err = await startClassifier(cfg, nc, log).then(() => undefined, (e: unknown) => e);
    const took = Date.now() - began;
    nats!.resume();
    expect(isAdiError(err) && err.code).toBe("ADI_ERR_NOT_FOLLOWING");
    expect((err as Error).message).toMatch(/^create the streams: not done within 3 s/);
    expect((err as Error).message).not.toContain("\n");
    // The bound, plus at most one JetStream request in flight when it ran out.
    expect(took).toBeGreaterThanOrEqual(3_000);
    expect(took).toBeLessThan(12_000);
    await nc.close();
  }, 60_000);

  it("stops cleanly during a slow start: the start rejects with the stop, no ERROR line, each member listed once", async () => {
    const { nc, cfg } = await setup();
    const { log, lines } = capturingLogger();
    const stop = new AbortController();
    const starting = startClassifier(cfg, nc, log, { signal: stop.signal }).then(() => "started", (e: unknown) => e);
    await sleep(2_000); // joined, settling (4 s); the broker stalls before the partitions are taken
    nats!.pause();
    await sleep(3_500);
    stop.abort(new DOMException("stop", "AbortError"));
    nats!.resume();
    const result = await starting;
    expect(result).toBeInstanceOf(DOMException);
    expect(lines.filter((l) => l.level >= 50)).toEqual([]);
    for (const l of lines.filter((x) => x.msg === "classifier members changed")) {
      const members = l.members as string[];
      expect(new Set(members).size).toBe(members.length);
    }
    // Nothing keeps running: no heartbeat puts the key back, no consumer is created after the stop.
    await sleep(2_500);
    const { Kvm } = await import("@nats-io/kv");
    const kv = await new Kvm(nc).open("adi_classifiers");
    const keys: string[] = [];
    for await (const k of await kv.keys()) keys.push(k);
    expect(keys).toEqual([]);
    await nc.close();
  }, 60_000);

  it("re-creates a partition's consumer deleted while running, and follows on from where it was", async () => {
    const { nc, cfg } = await setup();
    const { log, lines } = capturingLogger();
    const c = await startClassifier(cfg, nc, log);
    const js = jetstream(nc);
    const conn = [...Array(200).keys()].map(BigInt).find((id) => partitionOf(id, PARTITIONS) === 1)!;
    const send = async (path: string) => {
      const now = BigInt(Date.now()) * 1_000_000n;
      const recs = [dataRecord(conn, 8080, "egress", `GET ${path} HTTP/1.1\r\nHost: a\r\n\r\n`, now), dataRecord(conn, 8080, "ingress", "HTTP/1.1 204 No Content\r\n\r\n", now + 1n)];
      await js.publish(rawSubject("hosts", 1), encodeBatch({ recordCount: 2, partition: 1, flags: 0, seq: 1n, bootId: BOOT }, recs));
    };
    const waitFor = async (batches: number) => {
      const deadline = Date.now() + 20_000;
      while (c.counters().batches < batches && Date.now() < deadline) await sleep(50);
    };
    await send("/before");
    await waitFor(1);
    await (await jetstreamManager(nc)).consumers.delete(RAW_STREAM, "adi-classifier-p1");
    await sleep(500);
    await send("/after");
    await waitFor(2);
    // Both calls, each fed to the engine once (the first was not fed again by the new consumer).
    expect(c.counters()).toMatchObject({ batches: 2, exchanges: 2 });
    expect(lines.some((l) => l.msg === "partition consumer lost: re-creating it" && l.partition === 1)).toBe(true);
    await c.stop();
    await nc.close();
  }, 60_000);
});
