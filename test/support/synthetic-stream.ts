// A kernel-free synthetic raw stream, built fast, for the benchmark and for tests that need no root and no BPF:
// kernel records made by the shared record encoder (encodeRecord, from the layouts generated from the BPF
// object's BTF: exactly what the capture agent publishes), batched per partition as the agent does, and published
// to ADI_RAW. The traffic looks like a busy host's: many connections open at once, most of them HTTP/1.1 keep-alive
// (server side and client side; GET and POST; Content-Length, chunked and gzip bodies; some responses larger
// than one 16 KiB capture chunk), and some Redis and Postgres connections. Deterministic (seeded).
import { gzipSync } from "node:zlib";
import { jetstream } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import { ensureStreams } from "@adi/shared/nats";
import { encodeFact, nsToIso, encodeBatch, encodeRecord, HEADER_LAYOUT, RecordKind, factSubject, partitionOf, rawSubject } from "@adi/shared/wire";
import type { SyscallName, TupleInit } from "@adi/shared/wire";

export interface SyntheticOptions {
  /** Raw records (events) to write, at least. */
  events: number;
  host?: string;
  bootId?: string;
  /** ADI_PARTITIONS of the consumers. Default 16. */
  partitions?: number;
  /** Connections open at once. Default 512. */
  concurrent?: number;
  /** Records per capture flush window, split into one batch per partition (≈ 50 ms at ~10,000 exchanges/s). */
  windowRecords?: number;
  /** Largest batch, as ADI_BATCH_MAX_BYTES. Default 256 KiB. */
  batchMaxBytes?: number;
  seed?: number;
}

export interface SyntheticStats {
  events: number;
  dataRecords: number;
  batches: number;
  bytes: number;
  connections: number;
  httpConnections: number;
  /** Complete HTTP exchanges in the stream (request and response both captured). */
  exchanges: number;
  /** Non-HTTP connections (Redis, Postgres): one connection observation each. */
  otherConnections: number;
}

export interface SyntheticBatch {
  subject: string;
  data: Buffer;
  records: number;
}

const CHUNK_MAX = 16 * 1024; // ADI_CHUNK_MAX
/** Small, fast, seeded PRNG (mulberry32). */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface ConnSpec {
  connId: bigint;
  pid: number;
  startTicks: number;
  fd: number;
  tuple: TupleInit;
}

/** One data record (struct adi_data_event + payload), padded to 8 bytes as the agent does. */
export function dataRecord(c: ConnSpec, tsNs: bigint, direction: "egress" | "ingress", syscall: SyscallName, payload: Buffer, totalLen: number, offset: number, lastChunk: boolean): Buffer {
  return encodeRecord({ type: "data", tsNs, startTicks: c.startTicks, cpu: c.pid & 1, pid: c.pid, connId: c.connId, tuple: c.tuple, fd: c.fd, syscall, direction, payload, totalLen, offset, lastChunk });
}

/** A conn_open or conn_close record (struct adi_conn_event). */
export function connRecord(c: ConnSpec, tsNs: bigint, type: "conn_open" | "conn_close", syscall: SyscallName, role: "client" | "server"): Buffer {
  const ret = type === "conn_open" ? c.fd : 0; // accept4() and connect() as the agent saw them
  return encodeRecord({ type, tsNs, startTicks: c.startTicks, cpu: c.pid & 1, pid: c.pid, connId: c.connId, tuple: c.tuple, fd: c.fd, ret, syscall, role });
}

/** Records of one syscall moving `bytes`: cut into 16 KiB chunks as the kernel program does. */
function syscallRecords(c: ConnSpec, tsNs: bigint, direction: "egress" | "ingress", syscall: SyscallName, bytes: Buffer): Buffer[] {
  const out: Buffer[] = [];
  for (let off = 0; off < bytes.length || off === 0; off += CHUNK_MAX) {
    const chunk = bytes.subarray(off, Math.min(bytes.length, off + CHUNK_MAX));
    const last = off + CHUNK_MAX >= bytes.length;
    out.push(dataRecord(c, tsNs, direction, syscall, chunk, bytes.length, off, last));
    if (last) break;
  }
  return out;
}

// ---- payloads: a fixed vocabulary, varied by ids, built once ----

const PATHS = ["/api/orders", "/api/users", "/api/items", "/api/cart", "/v1/payments", "/v1/inventory/stock", "/health", "/api/search"];
const HOSTS = ["orders.internal:8080", "users.internal:8080", "api.example.com", "inventory:3000", "payments.svc.cluster.local"];
const AGENTS = ["node", "Go-http-client/1.1", "curl/8.5.0", "python-requests/2.31.0", "okhttp/4.12.0"];

function jsonBody(r: () => number, approxBytes: number): string {
  const items: unknown[] = [];
  let len = 20;
  let i = 0;
  while (len < approxBytes) {
    const item = { id: Math.floor(r() * 1e6), sku: `SKU-${Math.floor(r() * 1e5)}`, name: `item ${i++}`, price: Math.round(r() * 10000) / 100, qty: Math.floor(r() * 10), tags: ["a", "b"] };
    const s = JSON.stringify(item);
    len += s.length + 1;
    items.push(item);
  }
  return JSON.stringify({ ok: true, total: items.length, items });
}

interface Exchange {
  request: Buffer;
  response: Buffer;
}

function buildExchanges(r: () => number, n: number): Exchange[] {
  const out: Exchange[] = [];
  const date = "Tue, 01 Dec 2026 10:00:00 GMT";
  for (let i = 0; i < n; i++) {
    const path = `${PATHS[i % PATHS.length]}/${Math.floor(r() * 100000)}`;
    const host = HOSTS[i % HOSTS.length]!;
    const ua = AGENTS[i % AGENTS.length]!;
    const post = r() < 0.25;
    let request: string;
    if (post) {
      const body = jsonBody(r, 150 + Math.floor(r() * 300));
      request = `POST ${path} HTTP/1.1\r\nHost: ${host}\r\nUser-Agent: ${ua}\r\nContent-Type: application/json\r\nAccept: application/json\r\nX-Request-Id: ${Math.floor(r() * 1e12).toString(16)}\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
    } else {
      request = `GET ${path}?page=${i % 7}&limit=20 HTTP/1.1\r\nHost: ${host}\r\nUser-Agent: ${ua}\r\nAccept: application/json\r\nAccept-Encoding: gzip\r\nX-Request-Id: ${Math.floor(r() * 1e12).toString(16)}\r\n\r\n`;
    }
    const kind = r();
    let response: Buffer;
    const head = (status: string, extra: string) => `HTTP/1.1 ${status}\r\nDate: ${date}\r\nContent-Type: application/json; charset=utf-8\r\nConnection: keep-alive\r\nKeep-Alive: timeout=5\r\n${extra}\r\n`;
    if (kind < 0.08) {
      const body = '{"error":"not found"}';
      response = Buffer.from(head("404 Not Found", `Content-Length: ${body.length}\r\n`) + body);
    } else if (kind < 0.18) {
      // chunked, in two chunks
      const body = jsonBody(r, 600 + Math.floor(r() * 800));
      const half = Math.floor(body.length / 2);
      const chunk = (s: string) => `${Buffer.byteLength(s).toString(16)}\r\n${s}\r\n`;
      response = Buffer.from(head("200 OK", "Transfer-Encoding: chunked\r\n") + chunk(body.slice(0, half)) + chunk(body.slice(half)) + "0\r\n\r\n");
    } else if (kind < 0.26) {
      const body = gzipSync(jsonBody(r, 2000 + Math.floor(r() * 3000)));
      response = Buffer.concat([Buffer.from(head("200 OK", `Content-Encoding: gzip\r\nContent-Length: ${body.length}\r\n`)), body]);
    } else if (kind < 0.27) {
      // larger than one capture chunk: two records for one syscall
      const body = jsonBody(r, 20_000 + Math.floor(r() * 10_000));
      response = Buffer.from(head("200 OK", `Content-Length: ${Buffer.byteLength(body)}\r\n`) + body);
    } else {
      const body = jsonBody(r, 500 + Math.floor(r() * 900));
      response = Buffer.from(head("200 OK", `Content-Length: ${Buffer.byteLength(body)}\r\n`) + body);
    }
    out.push({ request: Buffer.from(request), response });
  }
  return out;
}

const REDIS = [
  { req: Buffer.from("*2\r\n$3\r\nGET\r\n$12\r\nsession:4242\r\n"), res: Buffer.from("$25\r\n{\"user\":42,\"cart\":[1,2]}\r\n") },
  { req: Buffer.from("*3\r\n$3\r\nSET\r\n$7\r\ncounter\r\n$2\r\n17\r\n"), res: Buffer.from("+OK\r\n") },
];

function postgresStartup(): Buffer {
  const params = Buffer.from("user\0app\0database\0orders\0application_name\0bench\0\0");
  const b = Buffer.alloc(8 + params.length);
  b.writeUInt32BE(b.length, 0);
  b.writeUInt32BE(196608, 4);
  params.copy(b, 8);
  return b;
}
const PG_STARTUP = postgresStartup();
const PG_AUTH_OK = Buffer.from([0x52, 0, 0, 0, 8, 0, 0, 0, 0, 0x5a, 0, 0, 0, 5, 0x49]);
const PG_QUERY = (() => {
  const sql = Buffer.from("SELECT id, status FROM orders WHERE id = 42\0");
  const b = Buffer.alloc(5 + sql.length);
  b[0] = 0x51;
  b.writeUInt32BE(4 + sql.length, 1);
  sql.copy(b, 5);
  return b;
})();

// ---- the traffic ----

interface Slot {
  conn: ConnSpec;
  partition: number;
  kind: "http-server" | "http-client" | "redis" | "postgres";
  /** Records still to emit for this connection, in order. */
  queue: (() => Buffer[])[];
}

/**
 * Yields the stream's batches in capture order: records of `concurrent` connections interleaved, every
 * `windowRecords` records split into one batch per partition (at most `batchMaxBytes` each).
 */
export function* syntheticBatches(opts: SyntheticOptions, stats: SyntheticStats = emptyStats()): Generator<SyntheticBatch> {
  const host = opts.host ?? "benchhost";
  const bootId = opts.bootId ?? "6f1d7c3e-2a4b-4c5d-8e9f-0a1b2c3d4e5f";
  const partitions = opts.partitions ?? 16;
  const concurrent = opts.concurrent ?? 512;
  const windowRecords = opts.windowRecords ?? 1024;
  const batchMaxBytes = opts.batchMaxBytes ?? 256 * 1024;
  const r = rng(opts.seed ?? 42);
  const exchanges = buildExchanges(r, 512);
  let tsNs = BigInt(Date.now() - 3_600_000) * 1_000_000n;
  let nextConnId = (BigInt(Math.floor(Date.now() / 1000)) << 24n) + 1n;
  let nextPort = 32768;
  let nextFd = 20;
  const pids = [
    { pid: 4101, startTicks: 123456, lport: 8080, laddr: "10.0.0.11" },
    { pid: 4102, startTicks: 123789, lport: 3000, laddr: "10.0.0.12" },
    { pid: 4103, startTicks: 124001, lport: 9090, laddr: "10.0.0.13" },
  ];

  const newSlot = (): Slot => {
    const who = pids[Math.floor(r() * pids.length)]!;
    const connId = nextConnId++;
    const port = (nextPort = nextPort >= 60999 ? 32768 : nextPort + 1);
    const fd = (nextFd = nextFd >= 1000 ? 20 : nextFd + 1);
    const k = r();
    const kind: Slot["kind"] = k < 0.68 ? "http-server" : k < 0.92 ? "http-client" : k < 0.97 ? "redis" : "postgres";
    const remote = `10.1.${Math.floor(r() * 256)}.${1 + Math.floor(r() * 254)}`;
    const tuple: TupleInit =
      kind === "http-server"
        ? { laddr: who.laddr, lport: who.lport, raddr: remote, rport: port }
        : { laddr: who.laddr, lport: port, raddr: remote, rport: kind === "redis" ? 6379 : kind === "postgres" ? 5432 : [80, 8080, 3000, 8443][Math.floor(r() * 4)]! };
    const conn: ConnSpec = { connId, pid: who.pid, startTicks: who.startTicks, fd, tuple };
    const server = kind === "http-server";
    const queue: (() => Buffer[])[] = [];
    queue.push(() => [connRecord(conn, tsNs, "conn_open", server ? "accept4" : "connect", server ? "server" : "client")]);
    stats.connections++;
    if (kind === "http-server" || kind === "http-client") {
      stats.httpConnections++;
      const n = 1 + Math.floor(r() * 40); // keep-alive: 1..40 exchanges, ~20 on average
      for (let i = 0; i < n; i++) {
        const x = exchanges[Math.floor(r() * exchanges.length)]!;
        // server: reads the request, writes the response; client: the reverse
        queue.push(() => syscallRecords(conn, tsNs, server ? "ingress" : "egress", server ? "read" : "write", x.request));
        queue.push(() => {
          stats.exchanges++;
          return syscallRecords(conn, tsNs, server ? "egress" : "ingress", server ? "writev" : "read", x.response);
        });
      }
    } else {
      stats.otherConnections++;
      if (kind === "postgres") {
        queue.push(() => syscallRecords(conn, tsNs, "egress", "sendto", PG_STARTUP));
        queue.push(() => syscallRecords(conn, tsNs, "ingress", "recvfrom", PG_AUTH_OK));
      }
      const n = 2 + Math.floor(r() * 30);
      for (let i = 0; i < n; i++) {
        const [req, res] = kind === "redis" ? [REDIS[i % 2]!.req, REDIS[i % 2]!.res] : [PG_QUERY, PG_AUTH_OK];
        queue.push(() => syscallRecords(conn, tsNs, "egress", "sendto", req));
        queue.push(() => syscallRecords(conn, tsNs, "ingress", "recvfrom", res));
      }
    }
    queue.push(() => [connRecord(conn, tsNs, "conn_close", "close", server ? "server" : "client")]);
    return { conn, partition: partitionOf(connId, partitions), kind, queue };
  };

  const slots: Slot[] = Array.from({ length: concurrent }, newSlot);
  let seq = 0n;
  let emitted = 0;
  // Every connection is finished (closed) once the target is reached, so every exchange in it is complete.
  let draining = false;
  while (true) {
    const window = new Map<number, { records: Buffer[]; bytes: number }>();
    let inWindow = 0;
    const flush = function* (p: number, w: { records: Buffer[]; bytes: number }): Generator<SyntheticBatch> {
      seq++;
      const data = encodeBatch({ recordCount: w.records.length, partition: p, flags: 0, seq, bootId }, w.records);
      stats.batches++;
      stats.bytes += data.length;
      yield { subject: rawSubject(host, p), data, records: w.records.length };
      w.records = [];
      w.bytes = 0;
    };
    while (inWindow < windowRecords && slots.length > 0) {
      const i = Math.floor(r() * slots.length);
      const slot = slots[i]!;
      const next = slot.queue.shift()!;
      tsNs += BigInt(20_000 + Math.floor(r() * 60_000));
      const records = next();
      let w = window.get(slot.partition);
      if (!w) window.set(slot.partition, (w = { records: [], bytes: 0 }));
      for (const rec of records) {
        if (w.bytes + rec.length + 40 > batchMaxBytes && w.records.length > 0) yield* flush(slot.partition, w);
        w.records.push(rec);
        w.bytes += rec.length;
        if (rec.readUInt16LE(HEADER_LAYOUT.kind) === RecordKind.data) stats.dataRecords++;
      }
      inWindow += records.length;
      emitted += records.length;
      if (slot.queue.length === 0) {
        if (emitted >= opts.events) draining = true;
        if (draining) slots.splice(i, 1);
        else slots[i] = newSlot();
      }
    }
    for (const [p, w] of window) if (w.records.length > 0) yield* flush(p, w);
    if (slots.length === 0) break;
  }
  stats.events = emitted;
}

export function emptyStats(): SyntheticStats {
  return { events: 0, dataRecords: 0, batches: 0, bytes: 0, connections: 0, httpConnections: 0, exchanges: 0, otherConnections: 0 };
}

/**
 * Creates the streams (as capture would) and publishes a synthetic raw stream of at least `opts.events`
 * records, plus a listeners fact naming the synthetic servers. Resolves when every batch is stored.
 */
export async function publishSyntheticStream(nc: NatsConnection, opts: SyntheticOptions): Promise<SyntheticStats> {
  await ensureStreams(nc, { maxAgeMs: 0, maxBytes: -1, replicas: 1 });
  const js = jetstream(nc);
  const host = opts.host ?? "benchhost";
  const bootId = opts.bootId ?? "6f1d7c3e-2a4b-4c5d-8e9f-0a1b2c3d4e5f";
  const listeners = encodeFact({
    v: 1,
    type: "listeners",
    ts: nsToIso(BigInt(Date.now() - 3_600_000) * 1_000_000n),
    host,
    boot_id: bootId,
    listeners: [
      { ip: "10.0.0.11", port: 8080, pid: 4101, start_ticks: 123456, comm: "node", adi_profile_name: "orders" },
      { ip: "10.0.0.12", port: 3000, pid: 4102, start_ticks: 123789, comm: "node", adi_profile_name: "users" },
      { ip: "10.0.0.13", port: 9090, pid: 4103, start_ticks: 124001, comm: "app", adi_profile_name: "inventory" },
    ],
  });
  await js.publish(factSubject(host, "listeners"), listeners);
  const stats = emptyStats();
  const inflight = new Set<Promise<unknown>>();
  for (const b of syntheticBatches({ ...opts, host, bootId }, stats)) {
    const p = js.publish(b.subject, b.data).finally(() => inflight.delete(p));
    inflight.add(p);
    if (inflight.size >= 256) await Promise.race(inflight);
  }
  await Promise.all(inflight);
  return stats;
}
