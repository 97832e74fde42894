// Partitions are part of the contract, and bad data does not poison outputs (issue 10, items 7 and 8), against a
// real nats-server: the capture agent refuses a count that differs from the stream's; classifiers use the stream's
// count, not their own ADI_PARTITIONS; a batch forged onto partition 40 of 16, a batch whose header names another
// partition than its subject, and a record stamped 2^64-1 ns are dead-lettered with their reason and counted live,
// and `adi replay` leaves them out the same way (its map's generated_at stays now, not the year 2554).
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { afterEach, describe, expect, it } from "vitest";
import { loadConfig, isAdiError, createLogger } from "@adi/shared";
import { connectNats, ensureStreams, rawStreamContract } from "@adi/shared/nats";
import { decodeDerivedBatch, encodeBatch, partitionOf, rawPartitionSubjects, rawSubject, RAW_STREAM } from "@adi/shared/wire";
import { startCaptureAgent } from "@adi/capture";
import { runReplay } from "../../../cli/commands/replay.ts";
import { NatsServerFixture } from "../../../test/support/nats-server.ts";
import { sleep } from "../../../test/support/capture.ts";
import { readStream } from "../../../test/support/stream.ts";
import { startClassifier } from "../src/main.ts";
import { BOOT, dataRecord } from "./support/raw-batches.ts";

const LIMITS = { maxAgeMs: 86_400_000, maxBytes: -1, replicas: 1 };
const MAX_U64 = (1n << 64n) - 1n;
const log = createLogger("partition-test", "silent");

let nats: NatsServerFixture | undefined;
let dir: string | undefined;
afterEach(async () => {
  await nats?.stop();
  nats = undefined;
  if (dir) rmSync(dir, { recursive: true, force: true });
});

async function server() {
  nats = await NatsServerFixture.start();
  const nc = await connectNats({ servers: [nats.url], name: "test", log });
  return { nc, env: { NATS_URL: nats.url, LOG_LEVEL: "silent", ADI_HOST: "hostp" } };
}

/** One client GET `target` and its 200 on connection `conn`, both stamped `ts` (or `respTs`). */
function call(conn: bigint, target: string, ts: bigint, respTs = ts): Buffer[] {
  return [
    dataRecord(conn, 8080, "egress", `GET ${target} HTTP/1.1\r\nHost: svc\r\n\r\n`, ts),
    dataRecord(conn, 8080, "ingress", "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", respTs),
  ];
}
const batch = (partition: number, records: Buffer[]) => encodeBatch({ recordCount: records.length, partition, flags: 0, seq: 1n, bootId: BOOT }, records);

describe("the partition count travels with ADI_RAW", () => {
  it("refuses a capture agent whose ADI_PARTITIONS differs from the stream's, in one line; the stream stores only its partitions", async () => {
    const { nc, env } = await server();
    await ensureStreams(nc, { ...LIMITS, partitions: 16 });
    const err = await startCaptureAgent(loadConfig({ ...env, ADI_PARTITIONS: "32" }), nc, log).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(isAdiError(err) && err.code).toBe("ADI_ERR_CONFIG");
    expect((err as Error).message).toMatch(/^ADI_PARTITIONS=32 but stream ADI_RAW holds 16 partitions: set ADI_PARTITIONS=16, or delete the stream/);
    expect((err as Error).message).not.toContain("\n");
    const jsm = await jetstreamManager(nc);
    expect((await jsm.streams.info(RAW_STREAM)).config.subjects).toEqual(rawPartitionSubjects(16));
    // Nothing outside the count can be stored: a publish to partition 40 is refused by the broker.
    await expect(jetstream(nc).publish(rawSubject("hostp", 40), batch(40, []))).rejects.toThrow();
    // The same count is accepted; a stream made by a consumer first (no count yet) takes the agent's.
    await ensureStreams(nc, { ...LIMITS, partitions: 16 });
    await jsm.streams.update(RAW_STREAM, { subjects: ["adi.raw.v1.>"] });
    expect((await rawStreamContract(nc)).partitions).toBeUndefined();
    await ensureStreams(nc, LIMITS); // a consumer never sets or changes it
    expect((await rawStreamContract(nc)).partitions).toBeUndefined();
    await ensureStreams(nc, { ...LIMITS, partitions: 8 });
    expect((await rawStreamContract(nc)).partitions).toBe(8);
    await nc.close();
  });

  it("classifiers configured with 16 consume all 32 partitions of a stream an agent made with 32", async () => {
    const { nc, env } = await server();
    await ensureStreams(nc, { ...LIMITS, partitions: 32 });
    const c = await startClassifier(loadConfig({ ...env, ADI_PARTITIONS: "16" }), nc, log);
    expect(c.partitions()).toBe(32);
    expect(c.owned()).toEqual(Array.from({ length: 32 }, (_, p) => p));
    // A batch on partition 31 (never consumed before) is classified.
    const conn = [...Array(500).keys()].map(BigInt).find((id) => partitionOf(id, 32) === 31)!;
    const now = BigInt(Date.now()) * 1_000_000n;
    await jetstream(nc).publish(rawSubject("hostp", 31), batch(31, call(conn, "/p31", now)));
    const deadline = Date.now() + 10_000;
    while (c.counters().batches < 1 && Date.now() < deadline) await sleep(50);
    expect(c.counters()).toMatchObject({ batches: 1, exchanges: 1 });
    await c.stop();
    await nc.close();
  });

  it("a classifier started before any agent (stream without a count) takes the count the agent sets later", async () => {
    const { nc, env } = await server();
    const c = await startClassifier(loadConfig({ ...env, ADI_PARTITIONS: "4" }), nc, log);
    expect(c.partitions()).toBe(4);
    expect(c.owned()).toEqual([0, 1, 2, 3]);
    await ensureStreams(nc, { ...LIMITS, partitions: 6 }); // as `adi up` does: consumers first, capture last
    const deadline = Date.now() + 15_000;
    while (c.owned().length !== 6 && Date.now() < deadline) await sleep(100);
    expect(c.partitions()).toBe(6);
    expect(c.owned()).toEqual([0, 1, 2, 3, 4, 5]);
    await c.stop();
    await nc.close();
  }, 30_000);

  it("dead-letters a forged partition, a mismatched header and a record stamped 2^64-1 ns, with reasons and counters; replay alike", async () => {
    const { nc, env } = await server();
    // A stream from before the count was part of it (subjects adi.raw.v1.>): anything could be stored.
    await ensureStreams(nc, LIMITS);
    const js = jetstream(nc);
    const now = BigInt(Date.now()) * 1_000_000n;
    const on = (p: number) => [...Array(1000).keys()].map((i) => BigInt(i + 1)).find((id) => partitionOf(id, 16) === p)!;
    const good = on(2);
    const future = on(5);
    await js.publish(rawSubject("hostp", 2), batch(2, call(good, "/good", now)), { msgID: "a.1" });
    await js.publish(rawSubject("hostp", 40), batch(40, call(on(8), "/forged", now)), { msgID: "a.2" });
    await js.publish(rawSubject("hostp", 3), batch(5, call(on(3), "/mismatch", now)), { msgID: "a.3" });
    // One connection's call at a sane time and another's request stamped 2^64-1 ns, in one batch.
    await js.publish(rawSubject("hostp", 5), batch(5, [...call(future, "/beside-future", now + 1000n), ...call(on(9) + 100000n, "/year-2554", MAX_U64)]), { msgID: "a.4" });

    // Replay first (the forged subject is still in ADI_RAW), into files.
    dir = mkdtempSync(join(tmpdir(), "adi-partition-"));
    const saved = { ...process.env };
    Object.assign(process.env, env, { OUTPUT_PATH: join(dir, "live.log"), SERVICE_MAP_PATH: join(dir, "live.yaml"), ENV_OUTPUT_PATH: join(dir, "live.env.yaml"), ADI_DATA_DIR: dir });
    try {
      await runReplay({ out: join(dir, "replay") });
    } finally {
      process.env = saved;
    }
    const replayLog = readFileSync(join(dir, "replay", "live.log"), "utf8");
    const replayMap = readFileSync(join(dir, "replay", "live.yaml"), "utf8");
    expect(replayLog).toContain("/good");
    expect(replayLog).toContain("/beside-future");
    for (const t of ["/forged", "/mismatch", "/year-2554"]) expect(replayLog).not.toContain(t);
    const generated = /generated_at: "?([0-9TZ:.-]+)"?/.exec(replayMap)?.[1];
    expect(generated).toBeDefined();
    expect(Math.abs(new Date(generated!).getTime() - Date.now())).toBeLessThan(3_600_000);

    const c = await startClassifier(loadConfig({ ...env, ADI_PARTITIONS: "16" }), nc, log);
    const deadline = Date.now() + 15_000;
    while ((c.counters().deadLetters < 3 || c.counters().batches < 2) && Date.now() < deadline) await sleep(50);
    const counters = c.counters();
    await c.stop();
    expect(counters).toMatchObject({ batches: 2, exchanges: 2, deadLetters: 3 });
    // Whole batches count one each; removed records count one each (the request and the response at 2^64-1).
    expect(counters.deadLetterReasons).toMatchObject({ partition_out_of_range: 1, partition_mismatch: 1, timestamp_future: 2, timestamp_past: 0, malformed: 0 });
    const jsm = await jetstreamManager(nc);
    const dead = await readStream(nc, "ADI_DEADLETTER");
    const reasons = await Promise.all(dead.map(async (m) => (await jsm.streams.getMessage("ADI_DEADLETTER", { seq: m.seq }))!.header.get("Adi-Reason")));
    expect(reasons.sort()).toEqual(["partition_mismatch", "partition_out_of_range", "timestamp_future"]);
    // The forged batch was moved: ADI_RAW no longer holds partition 40, so a later replay does not see it either.
    expect((await readStream(nc, RAW_STREAM)).map((m) => m.subject)).not.toContain("adi.raw.v1.hostp.40");
    const targets = (await readStream(nc, "ADI_DERIVED"))
      .flatMap((m) => decodeDerivedBatch(m.data).observations)
      .map((d) => (d.type === "http_exchange" ? d.request.target : d.type));
    expect(targets.sort()).toEqual(["/beside-future", "/good"]);
    await nc.close();
  }, 60_000);
});
