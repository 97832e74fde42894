// Bad input on the raw stream (garbage, a truncated batch) goes to the dead-letter stream with its reason,
// is counted, and the classifier carries on with the next batch.
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { afterAll, describe, expect, it } from "vitest";
import { createLogger, loadConfig } from "@adi/shared";
import { connectNats } from "@adi/shared/nats";
import { encodeBatch, encodeRecord, decodeDerivedBatch, rawSubject } from "@adi/shared/wire";
import { NatsServerFixture } from "../../../test/support/nats-server.ts";
import { sleep } from "../../../test/support/capture.ts";
import { readStream } from "../../../test/support/stream.ts";
import { startClassifier } from "../src/main.ts";

const BOOT = "393a8351-01d1-4c4f-84ed-e7c686d9ae26";

/** One egress data record of pid 7 on 127.0.0.1:40000 -> 127.0.0.1:6379. */
function redisRecord(payload: string): Buffer {
  // Now: a record stamped far from its store time is dead-lettered (core/record-guard.ts).
  const tuple = { laddr: "127.0.0.1", lport: 40000, raddr: "127.0.0.1", rport: 6379 };
  return encodeRecord({ type: "data", tsNs: BigInt(Date.now()) * 1_000_000n, pid: 7, connId: 77n, tuple, direction: "egress", payload });
}

let nats: NatsServerFixture | undefined;
afterAll(async () => {
  await nats?.stop();
});

describe("malformed raw batches", () => {
  it("are dead-lettered with their reason and counted; the next batch is still classified", async () => {
    nats = await NatsServerFixture.start();
    const cfg = loadConfig({ NATS_URL: nats.url, LOG_LEVEL: "silent", ADI_PARTITIONS: "1" });
    const log = createLogger("deadletter-test", "silent");
    const nc = await connectNats({ servers: cfg.natsServers!, name: "test", log });
    const classifier = await startClassifier(cfg, nc, log);
    const js = jetstream(nc);
    const good = encodeBatch({ recordCount: 1, partition: 0, flags: 0, seq: 2n, bootId: BOOT }, [redisRecord("*1\r\n$4\r\nPING\r\n")]);
    await js.publish(rawSubject("hostx", 0), Buffer.from("this is not a batch, though it is long enough to have a header"));
    await js.publish(rawSubject("hostx", 0), good.subarray(0, good.length - 5));
    await js.publish(rawSubject("hostx", 0), good);
    const deadline = Date.now() + 10_000;
    while (classifier.counters().batches < 1 && Date.now() < deadline) await sleep(50);
    const counters = classifier.counters();
    await classifier.stop();
    expect(counters).toMatchObject({ deadLetters: 2, batches: 1, observations: 1 });
    const dead = await readStream(nc, "ADI_DEADLETTER");
    expect(dead.map((m) => m.subject)).toEqual(["adi.deadletter.v1.hostx.classifier", "adi.deadletter.v1.hostx.classifier"]);
    const stored = await readStream(nc, "ADI_DERIVED");
    expect(stored.map((m) => m.subject)).toEqual(["adi.derived.v2.hostx.connection"]);
    const batch = decodeDerivedBatch(stored[0]!.data);
    // The third raw message (stream seq 3) produced it; the first two went to the dead-letter stream.
    expect(batch).toMatchObject({ v: 2, kind: "connection", source: "ADI_RAW#3" });
    expect(batch.observations).toHaveLength(1);
    expect(batch.observations[0]).toMatchObject({ type: "connection", protocol: "redis", confidence: 90, host: "hostx", pid: 7 });
    const jsm = await jetstreamManager(nc);
    const m = await jsm.streams.getMessage("ADI_DEADLETTER", { seq: 1 });
    expect(m?.header.get("Adi-Error")).toMatch(/bad magic/);
    await nc.close();
  });
});
