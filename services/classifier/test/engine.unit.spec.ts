// The engine on hand-made records: detection, HTTP pairing, one observation per classified connection,
// gaps, eviction, and no throw on arbitrary record sequences.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { DerivedSchema } from "@adi/shared/wire";
import type { ConnRecord, DataRecord, RawRecord, Tuple } from "@adi/shared/wire";
import { ClassifierEngine, headText } from "../src/core/engine.ts";

const BOOT = "00000000-0000-0000-0000-000000000001";
const T0 = 1_790_000_000_000_000_000n;
const clientTuple: Tuple = { family: 4, protocol: "tcp", laddr: "127.0.0.1", lport: 40000, raddr: "127.0.0.1", rport: 5432 };
const head = { startTicks: 100, cgroupId: 0n, size: 0, kind: 0, cpu: 0, pid: 42, tid: 42 };

function open(connId: bigint, tuple: Tuple, role: ConnRecord["role"], ts = T0): ConnRecord {
  return { ...head, tsNs: ts, type: "conn_open", connId, tuple, fd: 3, ret: 0, syscall: "connect", role };
}
function data(connId: bigint, tuple: Tuple, direction: "egress" | "ingress", payload: Buffer, ts: bigint, extra: Partial<DataRecord> = {}): DataRecord {
  return {
    ...head, tsNs: ts, type: "data", connId, tuple, totalLen: payload.length, offset: 0, fd: 3, syscall: "write",
    direction, truncated: false, lastChunk: true, readFailed: false, gap: false, payload, ...extra,
  };
}
function close(connId: bigint, tuple: Tuple, ts: bigint): RawRecord {
  return { ...head, tsNs: ts, type: "conn_close", connId, tuple, fd: 3, ret: 0, syscall: "close", role: "client" };
}

const STARTUP = Buffer.from("0000000804d2162f", "hex"); // SSLRequest

describe("ClassifierEngine", () => {
  it("classifies a postgres client connection once, from its first bytes", () => {
    const e = new ClassifierEngine();
    const out = e.onRecords("h", BOOT, [open(1n, clientTuple, "client"), data(1n, clientTuple, "egress", STARTUP, T0 + 1n), data(1n, clientTuple, "egress", STARTUP, T0 + 2n)]);
    expect(out).toHaveLength(1);
    expect(out[0]).toMatchObject({ type: "connection", protocol: "postgres", confidence: 90, side: "client", client: { port: 40000 }, server: { port: 5432 } });
    expect(DerivedSchema.parse(out[0])).toBeTruthy();
    expect(e.onRecords("h", BOOT, [close(1n, clientTuple, T0 + 3n)])).toEqual([]);
  });

  it("pairs HTTP requests and responses of one connection, with latency", () => {
    const t: Tuple = { ...clientTuple, rport: 8080 };
    const e = new ClassifierEngine();
    const req = Buffer.from("GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\n");
    const res = (body: string) => `HTTP/1.1 200 OK\r\nContent-Length: ${body.length}\r\n\r\n${body}`;
    const out = e.onRecords("h", BOOT, [
      open(2n, t, "client"),
      data(2n, t, "egress", req, T0 + 10n),
      data(2n, t, "ingress", Buffer.from(res('{"a":1}') + res('{"b":2}')), T0 + 50n),
    ]);
    expect(out.map((d) => d.type === "http_exchange" && [d.seq, d.request.target, d.response?.body])).toEqual([
      [0, "/a", '{"a":1}'],
      [1, "/b", '{"b":2}'],
    ]);
    expect(out[0]).toMatchObject({ latency_ns: 40, side: "client" });
    for (const d of out) DerivedSchema.parse(d);
  });

  it("decodes raw UTF-8 in targets, header names and values and reason phrases; keeps latin1 bytes that are not UTF-8; raw stays latin1", () => {
    const t: Tuple = { ...clientTuple, rport: 8080 };
    const e = new ClassifierEngine();
    const req = Buffer.concat([
      Buffer.from("GET /café/日本?q=ü HTTP/1.1\r\nHost: x\r\nX-Name: Zoë 😀\r\nX-Old: ", "utf8"),
      Buffer.from([0x63, 0x61, 0x66, 0xe9]), // "café" in latin1: 0xE9 alone is not UTF-8
      Buffer.from("\r\n\r\n"),
    ]);
    const res = Buffer.from("HTTP/1.1 200 Très bien\r\nContent-Length: 0\r\n\r\n", "utf8");
    const out = e.onRecords("h", BOOT, [open(3n, t, "client"), data(3n, t, "egress", req, T0 + 10n), data(3n, t, "ingress", res, T0 + 50n)]);
    expect(out).toHaveLength(1);
    const x = out[0]!;
    if (x.type !== "http_exchange") throw new Error(x.type);
    expect(x.request.target).toBe("/café/日本?q=ü");
    expect(x.request.headers).toEqual([["Host", "x"], ["X-Name", "Zoë 😀"], ["X-Old", "caf\u00e9"]]);
    expect(x.response?.reason).toBe("Très bien");
    expect(x.request.raw).toBe(req.toString("latin1")); // one character per byte: the mapper counts bytes by it
    DerivedSchema.parse(x);
  });

  it("headText: UTF-8 when the bytes are valid UTF-8, else latin1 as read, ASCII unchanged", () => {
    const latin1Of = (s: string) => Buffer.from(s, "utf8").toString("latin1");
    expect(headText("/plain/ascii?x=1")).toBe("/plain/ascii?x=1");
    expect(headText(latin1Of("/café/日本"))).toBe("/café/日本");
    expect(headText(latin1Of("/emoji/😀"))).toBe("/emoji/😀");
    expect(headText("/caf\u00e9")).toBe("/caf\u00e9"); // a lone 0xE9: latin1 é kept
    expect(headText(latin1Of("/日本").slice(0, -1))).toBe(latin1Of("/日本").slice(0, -1)); // cut inside a character
    expect(headText("\u00c0\u00af")).toBe("\u00c0\u00af"); // overlong encoding of "/": not valid UTF-8
    expect(headText("")).toBe("");
  });

  it("guesses the side of a connection first seen mid-life from its ports", () => {
    const server: Tuple = { family: 4, protocol: "tcp", laddr: "127.0.0.1", lport: 6379, raddr: "127.0.0.1", rport: 51000 };
    const e = new ClassifierEngine();
    const out = e.onRecords("h", BOOT, [data(3n, server, "ingress", Buffer.from("*1\r\n$4\r\nPING\r\n"), T0)]);
    expect(out[0]).toMatchObject({ protocol: "redis", side: "unknown", client: { port: 51000 }, server: { port: 6379 } });
  });

  it("marks a body cut by the capture limit as truncated", () => {
    const t: Tuple = { ...clientTuple, rport: 8080 };
    const e = new ClassifierEngine();
    const head = "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n";
    const out = e.onRecords("h", BOOT, [
      open(4n, t, "client"),
      data(4n, t, "egress", Buffer.from("GET / HTTP/1.1\r\nHost: x\r\n\r\n"), T0),
      data(4n, t, "ingress", Buffer.from(`${head}{"x":`), T0 + 5n, { totalLen: head.length + 100, truncated: true }),
    ]);
    expect(out).toHaveLength(1);
    expect(out[0]).toMatchObject({ response: { status: 200, body_truncated: true, body_size: 100 } });
  });

  it("frames a response whose body was sent without a user buffer (sendfile): a gap record of its true length", () => {
    const t: Tuple = { family: 4, protocol: "tcp", laddr: "127.0.0.1", lport: 8080, raddr: "127.0.0.1", rport: 40100 };
    const e = new ClassifierEngine();
    const head = Buffer.from("HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: 100000\r\n\r\n");
    const gapRecord = (ts: bigint, total: number) =>
      data(9n, t, "egress", Buffer.alloc(0), ts, { totalLen: total, offset: 0, syscall: "sendfile", gap: true, lastChunk: true });
    const out = e.onRecords("h", BOOT, [
      open(9n, t, "server"),
      data(9n, t, "ingress", Buffer.from("GET /f HTTP/1.1\r\nHost: x\r\n\r\n"), T0 + 1n),
      data(9n, t, "egress", head, T0 + 2n),
      gapRecord(T0 + 3n, 65536),
      gapRecord(T0 + 4n, 34464),
      data(9n, t, "ingress", Buffer.from("GET /g HTTP/1.1\r\nHost: x\r\n\r\n"), T0 + 5n),
      data(9n, t, "egress", Buffer.from("HTTP/1.1 204 No Content\r\n\r\n"), T0 + 6n),
    ]);
    const x = out.filter((d) => d.type === "http_exchange");
    expect(x.map((d) => [d.request.target, d.response?.status, d.response?.body_size])).toEqual([
      ["/f", 200, 100000],
      ["/g", 204, 0],
    ]);
    expect(x[0]).toMatchObject({ side: "server", response: { body_truncated: true } });
  });

  it("keeps a TCP connection's first tuple: a later record with port 0 (a reset socket, older agents) changes nothing", () => {
    const t: Tuple = { ...clientTuple, rport: 8080 };
    const zero: Tuple = { ...t, lport: 0 };
    const e = new ClassifierEngine();
    const out = e.onRecords("h", BOOT, [
      open(10n, t, "client"),
      data(10n, t, "egress", Buffer.from("GET /slow HTTP/1.1\r\nHost: x\r\n\r\n"), T0 + 1n),
      data(10n, zero, "ingress", Buffer.from("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"), T0 + 2n),
    ]);
    expect(out).toHaveLength(1);
    expect(out[0]).toMatchObject({ local: { port: 40000 }, remote: { port: 8080 }, client: { port: 40000 }, server: { port: 8080 } });
  });

  it("names the process that moved the bytes: a socket accepted by one process and used by another (inetd)", () => {
    const t: Tuple = { family: 4, protocol: "tcp", laddr: "127.0.0.1", lport: 8080, raddr: "127.0.0.1", rport: 40200 };
    const e = new ClassifierEngine();
    const handler = { pid: 777, tid: 777, startTicks: 555 };
    const out = e.onRecords("h", BOOT, [
      open(11n, t, "server"), // by the acceptor, pid 42
      { ...data(11n, t, "ingress", Buffer.from("GET / HTTP/1.1\r\nHost: x\r\n\r\n"), T0 + 1n), ...handler, fd: 0 },
      { ...data(11n, t, "egress", Buffer.from("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"), T0 + 2n), ...handler, fd: 1 },
    ]);
    expect(out).toHaveLength(1);
    expect(out[0]).toMatchObject({ pid: 777, start_ticks: 555, side: "server" });
  });

  it("fingerprints a request read a byte at a time (a shell handler behind socat): its first bytes accumulate", () => {
    const t: Tuple = { family: 4, protocol: "tcp", laddr: "127.0.0.1", lport: 8099, raddr: "127.0.0.1", rport: 40300 };
    const e = new ClassifierEngine();
    const req = Buffer.from("POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nhi");
    const records: RawRecord[] = [open(12n, t, "server")];
    for (let i = 0; i < req.length; i++) records.push(data(12n, t, "ingress", req.subarray(i, i + 1), T0 + BigInt(i)));
    records.push(data(12n, t, "egress", Buffer.from("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"), T0 + 1000n));
    const out = e.onRecords("h", BOOT, records);
    expect(out).toHaveLength(1);
    expect(out[0]).toMatchObject({ type: "http_exchange", side: "server", request: { method: "POST", target: "/x", body: "hi" }, response: { status: 200 } });
  });

  it("takes a UDP socket's side from its first datagram, not from port numbers", () => {
    // a DNS-like server on a high port, asked from a lower one: the server received first
    const t: Tuple = { family: 4, protocol: "udp", laddr: "127.0.0.1", lport: 50053, raddr: "127.0.0.1", rport: 40000 };
    const e = new ClassifierEngine();
    const query = Buffer.from("12340100000100000000000003777777076578616d706c6503636f6d0000010001", "hex");
    const out = e.onRecords("h", BOOT, [open(13n, t, "unknown"), data(13n, t, "ingress", query, T0 + 1n), close(13n, t, T0 + 2n)]);
    expect(out).toHaveLength(1);
    expect(out[0]).toMatchObject({ type: "connection", server: { port: 50053 }, client: { port: 40000 } });
  });

  it("finishes the oldest connection when over its limit, and counts it", () => {
    const e = new ClassifierEngine({ maxConnections: 2 });
    const recs: RawRecord[] = [1n, 2n, 3n].map((id) => open(id, { ...clientTuple, lport: 40000 + Number(id) }, "client"));
    e.onRecords("h", BOOT, recs);
    expect(e.stats()).toMatchObject({ connections: 3, evicted: 1 });
  });

  it("never throws on arbitrary record sequences, and emits only valid observations", () => {
    const tuple = fc.record({
      family: fc.constantFrom(4 as const, 6 as const),
      protocol: fc.constantFrom("tcp" as const, "udp" as const),
      laddr: fc.constantFrom("127.0.0.1", "::1", "10.0.0.1"),
      lport: fc.integer({ min: 0, max: 65535 }),
      raddr: fc.constantFrom("127.0.0.1", "::1", "10.0.0.2"),
      rport: fc.integer({ min: 0, max: 65535 }),
    });
    const record = fc.record({
      kind: fc.constantFrom("open", "data", "close"),
      connId: fc.bigInt({ min: 1n, max: 4n }),
      tuple,
      direction: fc.constantFrom("egress" as const, "ingress" as const),
      payload: fc.oneof(fc.uint8Array({ maxLength: 200 }), fc.constantFrom(...["GET / HTTP/1.1\r\n\r\n", "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}", "*1\r\n$4\r\nPING\r\n", "INFO {}\r\n"].map((s) => new TextEncoder().encode(s)))),
      truncated: fc.boolean(),
      role: fc.constantFrom("client" as const, "server" as const, "unknown" as const),
    });
    fc.assert(
      fc.property(fc.array(record, { maxLength: 40 }), (specs) => {
        const e = new ClassifierEngine({ maxConnections: 3 });
        const recs: RawRecord[] = specs.map((s, i) => {
          const ts = T0 + BigInt(i);
          if (s.kind === "open") return open(s.connId, s.tuple, s.role, ts);
          if (s.kind === "close") return close(s.connId, s.tuple, ts);
          const payload = Buffer.from(s.payload);
          return data(s.connId, s.tuple, s.direction, payload, ts, { truncated: s.truncated, totalLen: payload.length + (s.truncated ? 7 : 0) });
        });
        for (const d of e.onRecords("h", BOOT, recs)) DerivedSchema.parse(d);
      }),
      { seed: 20261127, numRuns: 1000 },
    );
  });
});
