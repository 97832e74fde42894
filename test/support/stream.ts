// Reads back what a test published: every message of a stream, in stream order, decoded.
import { jetstreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import { decodeFact, decodeBatch, FACTS_STREAM, RAW_STREAM } from "@adi/shared/wire";
import type { Fact, ProcessFact, BatchHeader, DataRecord, RawRecord } from "@adi/shared/wire";

export interface StoredMessage {
  seq: number;
  subject: string;
  data: Uint8Array;
  msgId: string | undefined;
}

export async function readStream(nc: NatsConnection, stream: string): Promise<StoredMessage[]> {
  const jsm = await jetstreamManager(nc);
  const info = await jsm.streams.info(stream);
  const out: StoredMessage[] = [];
  for (let seq = info.state.first_seq; seq <= info.state.last_seq && info.state.messages > 0; seq++) {
    const m = await jsm.streams.getMessage(stream, { seq }).catch(() => null);
    if (!m) continue;
    out.push({ seq, subject: m.subject, data: m.data, msgId: m.header?.get("Nats-Msg-Id") || undefined });
  }
  return out;
}

export interface RawContents {
  messages: StoredMessage[];
  batches: { subject: string; header: BatchHeader; records: RawRecord[] }[];
  records: RawRecord[];
  data: DataRecord[];
}

export async function readRaw(nc: NatsConnection): Promise<RawContents> {
  const messages = await readStream(nc, RAW_STREAM);
  const batches = messages.map((m) => ({ subject: m.subject, ...decodeBatch(Buffer.from(m.data)) }));
  const records = batches.flatMap((b) => b.records);
  return { messages, batches, records, data: records.filter((r): r is DataRecord => r.type === "data") };
}

export async function readFacts(nc: NatsConnection): Promise<Fact[]> {
  return (await readStream(nc, FACTS_STREAM)).map((m) => decodeFact(m.data));
}

/** The bytes one process moved in one direction on one connection, in capture order. */
export function byteStream(data: readonly DataRecord[], pid: number, direction: "egress" | "ingress", connId?: bigint): Buffer {
  return Buffer.concat(
    data.filter((d) => d.pid === pid && d.direction === direction && (connId === undefined || d.connId === connId)).map((d) => d.payload),
  );
}

/** Everything a test run left in the streams, read once capture has stopped; closes the connection. */
export async function readAllAndClose(nc: NatsConnection): Promise<{ raw: RawContents; facts: ProcessFact[] }> {
  const raw = await readRaw(nc);
  const facts = (await readFacts(nc)).filter((f): f is ProcessFact => f.type === "process");
  await nc.close();
  return { raw, facts };
}
