// Exchange identity survives a restart (issue 10, item 6): a classifier SIGKILLed mid-stream over keep-alive
// connections that stay open across the kill, then restarted, leaves in ADI_DERIVED exactly the observations one
// fresh engine computes over the whole raw stream (what `adi replay` computes): none missing, none extra, same seq
// numbers and ids. Before the warm-up, `seq` restarted at 0 on every open connection.
import { spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import { afterAll, describe, expect, it } from "vitest";
import { createLogger } from "@adi/shared";
import { connectNats, ensureStreams } from "@adi/shared/nats";
import { decodeDerivedBatch, observationId, RAW_STREAM } from "@adi/shared/wire";
import type { Derived } from "@adi/shared/wire";
import { NatsServerFixture } from "../../../test/support/nats-server.ts";
import { sleep } from "../../../test/support/capture.ts";
import { readStream } from "../../../test/support/stream.ts";
import { ClassifierEngine } from "../src/core/engine.ts";
import { screenBatch, timestampWindow } from "../src/core/record-guard.ts";
import { hostOfSubject } from "../src/adapters/partition-worker.ts";
import { keepAliveTraffic } from "./support/raw-batches.ts";
import type { RawMessage } from "./support/raw-batches.ts";

const PARTITIONS = 4;
const CHILD = new URL("./support/classifier-child.ts", import.meta.url).pathname;

let nats: NatsServerFixture | undefined;
const children: ChildProcess[] = [];
afterAll(async () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
  await nats?.stop();
});

interface Child {
  proc: ChildProcess;
  lines: Record<string, unknown>[];
  ready: Promise<void>;
  exited: Promise<number | null>;
}

function startChild(url: string): Child {
  const proc = spawn(process.execPath, [CHILD], {
    env: { ...process.env, NATS_URL: url, ADI_PARTITIONS: String(PARTITIONS), LOG_LEVEL: "info", ADI_HOST: "hostk" },
    stdio: ["ignore", "pipe", "inherit"],
  });
  children.push(proc);
  const lines: Record<string, unknown>[] = [];
  let resolveReady!: () => void;
  const ready = new Promise<void>((r) => (resolveReady = r));
  let buf = "";
  proc.stdout!.on("data", (d: Buffer) => {
    buf += d.toString();
    for (let i = buf.indexOf("\n"); i >= 0; i = buf.indexOf("\n")) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 1);
      try {
        const o = JSON.parse(line) as Record<string, unknown>;
        lines.push(o);
        if (o.msg === "classifier ready") resolveReady();
      } catch {
        // not a log line
      }
    }
  });
  const exited = new Promise<number | null>((r) => proc.once("exit", (code) => r(code)));
  return { proc, lines, ready, exited };
}

async function publishAll(nc: NatsConnection, msgs: readonly RawMessage[]): Promise<void> {
  const js = jetstream(nc);
  for (const m of msgs) await js.publish(m.subject, m.data, { msgID: m.msgId });
}

/** Raw batches acknowledged by the classifier consumers so far, and whether they hold nothing pending. */
async function progress(nc: NatsConnection): Promise<{ acked: number; idle: boolean }> {
  const jsm = await jetstreamManager(nc);
  let acked = 0;
  let idle = true;
  for (let p = 0; p < PARTITIONS; p++) {
    const info = await jsm.consumers.info(RAW_STREAM, `adi-classifier-p${p}`).catch(() => null);
    if (!info) return { acked, idle: false };
    acked += info.ack_floor.consumer_seq;
    if (info.num_pending > 0 || info.num_ack_pending > 0) idle = false;
  }
  return { acked, idle };
}

/** What replay computes (one fresh engine over the whole raw stream, screened the same way), and what is stored. */
async function computedAndStored(nc: NatsConnection, expectRaw: number): Promise<{ want: Derived[]; got: Derived[] }> {
  const raw = await readStream(nc, RAW_STREAM);
  expect(raw).toHaveLength(expectRaw);
  const jsm = await jetstreamManager(nc);
  const engine = new ClassifierEngine();
  const want: Derived[] = [];
  for (const m of raw) {
    const stored = await jsm.streams.getMessage(RAW_STREAM, { seq: m.seq });
    const s = screenBatch(m.subject, Buffer.from(m.data), BigInt(stored!.time.getTime()) * 1_000_000n, PARTITIONS, timestampWindow(86_400_000));
    if (s.kind === "ok") want.push(...engine.onRecords(hostOfSubject(m.subject), s.header.bootId, s.records, m.seq));
  }
  const got = (await readStream(nc, "ADI_DERIVED")).flatMap((m) => decodeDerivedBatch(m.data).observations);
  return { want, got };
}

/** Keys sorted at every level: the stored (decoded) and the computed observation differ only in key order. */
const sorted = (_key: string, v: unknown) => (v && typeof v === "object" && !Array.isArray(v) ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : 1))) : v);
const canon = (d: Derived) => `${observationId(d)} ${JSON.stringify(d, sorted)}`;

describe("a classifier killed with SIGKILL mid-stream and restarted", () => {
  it("stores exactly the observations a fresh engine computes over the whole raw stream", async () => {
    nats = await NatsServerFixture.start();
    const log = createLogger("restart-test", "silent");
    const nc = await connectNats({ servers: [nats.url], name: "test", log });
    await ensureStreams(nc, { maxAgeMs: 86_400_000, maxBytes: -1, replicas: 1, partitions: PARTITIONS });
    // 12 keep-alive connections, 60 calls each; half of them close after 45 calls, the others stay open to the end.
    const t0 = BigInt(Date.now()) * 1_000_000n;
    const all = keepAliveTraffic({ host: "hostk", partitions: PARTITIONS, conns: 12, exchanges: 60, closeAfter: 45, t0Ns: t0 });
    const first = all.slice(0, Math.floor(all.length / 2));
    const second = all.slice(first.length);
    await publishAll(nc, first);

    const a = startChild(nats.url);
    await a.ready;
    // Killed while it works through the first half: some batches acknowledged, many not.
    const deadline = Date.now() + 60_000;
    while ((await progress(nc)).acked < first.length / 3 && Date.now() < deadline) await sleep(5);
    a.proc.kill("SIGKILL");
    await a.exited;
    const atKill = (await progress(nc)).acked;
    expect(atKill).toBeGreaterThan(0);
    expect(atKill).toBeLessThan(first.length);

    const b = startChild(nats.url);
    await publishAll(nc, second);
    await b.ready;
    while (!(await progress(nc)).idle && Date.now() < deadline) await sleep(50);
    b.proc.kill("SIGTERM");
    expect(await b.exited).toBe(0);

    const { want, got } = await computedAndStored(nc, all.length);
    // 6 connections x 45 exchanges then closed, 6 x 60 still open at the end.
    expect(want.filter((d) => d.type === "http_exchange")).toHaveLength(6 * 45 + 6 * 60);
    expect(got.map(canon).sort()).toEqual(want.map(canon).sort());
    // The named fault: on every connection, seq runs 0..n-1 once each.
    const seqs = new Map<string, number[]>();
    for (const d of got) if (d.type === "http_exchange") seqs.set(d.conn_id, [...(seqs.get(d.conn_id) ?? []), d.seq]);
    expect(seqs.size).toBe(12);
    for (const s of seqs.values()) expect(s.sort((x, y) => x - y)).toEqual(Array.from({ length: s.length === 45 ? 45 : 60 }, (_, i) => i));
    // The restarted instance rebuilt its engines from the checkpoints (each partition had connections open).
    const rewound = b.lines.filter((l) => typeof l.msg === "string" && /^rewound \d+ batches in \d+ ms$/.test(l.msg));
    expect(rewound.length).toBe(PARTITIONS);
    expect(rewound.reduce((n, l) => n + (l.batches as number), 0)).toBeGreaterThan(0);
    console.log(JSON.stringify({ batches: all.length, ackedAtKill: atKill, rewound: rewound.map((l) => [l.partition, l.batches, l.ms]) }));
    await nc.close();
  }, 120_000);

  it("hands partitions over to a second instance mid-stream without changing a single observation", async () => {
    await nats?.stop();
    nats = await NatsServerFixture.start();
    const log = createLogger("handoff-test", "silent");
    const nc = await connectNats({ servers: [nats.url], name: "test", log });
    await ensureStreams(nc, { maxAgeMs: 86_400_000, maxBytes: -1, replicas: 1, partitions: PARTITIONS });
    const all = keepAliveTraffic({ host: "hostk", partitions: PARTITIONS, conns: 8, exchanges: 40, closeAfter: 30, t0Ns: BigInt(Date.now()) * 1_000_000n });
    const first = all.slice(0, Math.floor(all.length / 2));
    await publishAll(nc, first);
    const a = startChild(nats.url);
    await a.ready;
    const deadline = Date.now() + 60_000;
    while ((await progress(nc)).acked < first.length / 3 && Date.now() < deadline) await sleep(5);
    // A second instance joins: half of the partitions move from a (stopped workers write their checkpoints) to b.
    const b = startChild(nats.url);
    await b.ready;
    await publishAll(nc, all.slice(first.length));
    while (!(await progress(nc)).idle && Date.now() < deadline) await sleep(50);
    for (const c of [a, b]) c.proc.kill("SIGTERM");
    expect(await a.exited).toBe(0);
    expect(await b.exited).toBe(0);
    const { want, got } = await computedAndStored(nc, all.length);
    expect(want.filter((d) => d.type === "http_exchange")).toHaveLength(4 * 30 + 4 * 40);
    expect(got.map(canon).sort()).toEqual(want.map(canon).sort());
    const owns = (c: Child) => c.lines.filter((l) => l.msg === "classifier owns partitions").at(-1)?.partitions as number[];
    expect([...owns(a), ...owns(b)].sort()).toEqual([0, 1, 2, 3]);
    expect(owns(b).length).toBe(2);
    await nc.close();
  }, 120_000);
});
