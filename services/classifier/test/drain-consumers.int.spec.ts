// After a hand-off, ADI_RAW holds only the classifiers' durable consumers, and once they have taken everything
// nothing on the stream is pending: the compose e2e's drain check (deploy/test/compose.e2e.spec.ts,
// classifiersDrained) sums num_pending + num_ack_pending over every consumer of ADI_RAW. The warm-up of a taken
// partition reads it through an ordered (ephemeral) consumer; nats.js gives those a 5 min inactive_threshold and
// closing the iterator does not delete them, so one left behind by a hand-off during traffic counted every later
// batch of its partition as pending for 5 min: the flaky "N classifier consumers still had P raw batches pending
// 60 s after capture stopped", with no classifier error and the durable consumers all drained.
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import type { ConsumerInfo } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import { afterAll, describe, expect, it } from "vitest";
import { createLogger, loadConfig } from "@adi/shared";
import { connectNats, ensureStreams } from "@adi/shared/nats";
import { RAW_STREAM } from "@adi/shared/wire";
import { NatsServerFixture } from "../../../test/support/nats-server.ts";
import { sleep } from "../../../test/support/capture.ts";
import { startClassifier } from "../src/main.ts";
import type { Classifier } from "../src/main.ts";
import { keepAliveTraffic } from "./support/raw-batches.ts";
import type { RawMessage } from "./support/raw-batches.ts";

const PARTITIONS = 4;

let nats: NatsServerFixture | undefined;
const running: Classifier[] = [];
const conns: NatsConnection[] = [];
afterAll(async () => {
  for (const c of running) await c.stop();
  for (const nc of conns) await nc.close();
  await nats?.stop();
});

async function publishAll(nc: NatsConnection, msgs: readonly RawMessage[]): Promise<void> {
  const js = jetstream(nc);
  for (const m of msgs) await js.publish(m.subject, m.data, { msgID: m.msgId });
}

async function consumersOfRaw(nc: NatsConnection): Promise<ConsumerInfo[]> {
  return (await jetstreamManager(nc)).consumers.list(RAW_STREAM).next();
}

/** Resolves once `pred` holds, polling every 100 ms; throws with `what` after `ms`. */
async function until(what: string, ms: number, pred: () => Promise<boolean> | boolean): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await pred())) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${ms} ms`);
    await sleep(100);
  }
}

/** The durable consumers' backlog (what the classifiers still have to take), by name. */
async function durableBacklog(nc: NatsConnection): Promise<number> {
  const durable = (await consumersOfRaw(nc)).filter((c) => c.name.startsWith("adi-classifier-p"));
  if (durable.length < PARTITIONS) return Infinity;
  return durable.reduce((n, c) => n + c.num_pending + c.num_ack_pending, 0);
}

describe("ADI_RAW's consumers after a partition hand-off during traffic", () => {
  it("are the durable ones only, and nothing is pending once the classifiers have taken everything", async () => {
    nats = await NatsServerFixture.start();
    const log = createLogger("drain-test", "silent");
    const nc = await connectNats({ servers: [nats.url], name: "test", log });
    conns.push(nc);
    await ensureStreams(nc, { maxAgeMs: 86_400_000, maxBytes: -1, replicas: 1, partitions: PARTITIONS });
    const cfg = loadConfig({ NATS_URL: nats.url, LOG_LEVEL: "silent", ADI_PARTITIONS: String(PARTITIONS) });
    // Keep-alive connections that stay open: the partition's checkpoint lies before its ack floor, so the instance
    // that takes it re-reads it (the warm-up), as one taking a partition of the compose stack's demo does.
    const all = keepAliveTraffic({ host: "hostd", partitions: PARTITIONS, conns: 8, exchanges: 20, t0Ns: BigInt(Date.now()) * 1_000_000n });
    const first = all.slice(0, Math.floor(all.length / 2));

    const ncA = await connectNats({ servers: [nats.url], name: "a", log });
    conns.push(ncA);
    const a = await startClassifier(cfg, ncA, log);
    running.push(a);
    expect(a.owned()).toEqual([0, 1, 2, 3]);
    await publishAll(nc, first);
    await until("A took the first half", 30_000, async () => (await durableBacklog(nc)) === 0);

    // B joins: A hands over half the partitions, B warms them up from their checkpoints.
    const ncB = await connectNats({ servers: [nats.url], name: "b", log });
    conns.push(ncB);
    const b = await startClassifier(cfg, ncB, log);
    running.push(b);
    await until("the partitions split between A and B", 30_000, () => a.owned().length === 2 && b.owned().length === 2);
    expect(b.counters().rewoundBatches).toBeGreaterThan(0);

    // Traffic goes on after the hand-off, then stops; the classifiers take all of it.
    await publishAll(nc, all.slice(first.length));
    await until("A and B took the second half", 30_000, async () => (await durableBacklog(nc)) === 0);

    // What the e2e's drain check sees: every consumer of the stream, summed.
    const consumers = await consumersOfRaw(nc);
    const left = consumers.map((c) => `${c.name}: ${c.num_pending + c.num_ack_pending}`).sort();
    expect(left).toEqual([0, 1, 2, 3].map((p) => `adi-classifier-p${p}: 0`));
  }, 90_000);
});
