// Issue 10, item 1: detection waits for enough bytes and matches incrementally, recognises protocols mid-connection,
// does not take another protocol's line for its own, reads a ClientHello to its end, and emits what stays unknown.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { DerivedSchema } from "@adi/shared/wire";
import type { ConnectionObservation, Derived, HttpExchange, ConnRecord, DataRecord, RawRecord, Tuple } from "@adi/shared/wire";
import { ClassifierEngine } from "../src/core/engine.ts";
import { assess, classifyConnection } from "../src/core/protocols/classify.ts";
import type { ClassifyInput } from "../src/core/protocols/classify.ts";
import { FirstBytes } from "../src/core/protocols/first-bytes.ts";
import { RULES } from "../src/core/protocols/rules.ts";
import * as ms from "./fixtures/midstream-bytes.ts";
import { clientHelloSniLast } from "./fixtures/tls-hello.ts";

const BOOT = "00000000-0000-0000-0000-00000000000a";
const T0 = 1_790_000_000_000_000_000n;
const head = { startTicks: 100, cgroupId: 0n, size: 0, kind: 0, cpu: 0, pid: 42, tid: 42 };
const b = (s: string): Buffer => Buffer.from(s, "latin1");

function tuple(serverPort: number, side: "client" | "server"): Tuple {
  return side === "client"
    ? { family: 4, protocol: "tcp", laddr: "127.0.0.1", lport: 41000, raddr: "127.0.0.1", rport: serverPort }
    : { family: 4, protocol: "tcp", laddr: "127.0.0.1", lport: serverPort, raddr: "127.0.0.1", rport: 41000 };
}
function open(id: bigint, t: Tuple, role: ConnRecord["role"]): ConnRecord {
  return { ...head, tsNs: T0, type: "conn_open", connId: id, tuple: t, fd: 3, ret: 0, syscall: role === "server" ? "accept" : "connect", role };
}
function data(id: bigint, t: Tuple, direction: "egress" | "ingress", payload: Buffer, ts: bigint, extra: Partial<DataRecord> = {}): DataRecord {
  return {
    ...head, tsNs: ts, type: "data", connId: id, tuple: t, totalLen: payload.length, offset: 0, fd: 3, syscall: "write",
    direction, truncated: false, lastChunk: true, readFailed: false, gap: false, payload, ...extra,
  };
}
function close(id: bigint, t: Tuple, ts: bigint): RawRecord {
  return { ...head, tsNs: ts, type: "conn_close", connId: id, tuple: t, fd: 3, ret: 0, syscall: "tcp_destroy", role: "client" };
}
/** Splits bytes into writes of `size` (the last shorter). */
function writes(bytes: Buffer, size: number): Buffer[] {
  const out: Buffer[] = [];
  for (let at = 0; at < bytes.length; at += size) out.push(bytes.subarray(at, at + size));
  return out;
}
const exchanges = (out: Derived[]) => out.filter((d): d is HttpExchange => d.type === "http_exchange");
const connections = (out: Derived[]) => out.filter((d): d is ConnectionObservation => d.type === "connection");

/** A client's request in `chunk`-byte writes, then the server's answer, then the close; everything emitted. */
function clientExchange(request: Buffer, chunk: number, answer = b("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"), port = 8080): Derived[] {
  const t = tuple(port, "client");
  const e = new ClassifierEngine();
  const recs: RawRecord[] = [open(1n, t, "client")];
  let ts = T0;
  for (const w of writes(request, chunk)) recs.push(data(1n, t, "egress", w, ++ts));
  recs.push(data(1n, t, "ingress", answer, ++ts), close(1n, t, ++ts));
  const out = e.onRecords("h", BOOT, recs);
  for (const d of out) DerivedSchema.parse(d);
  return out;
}

describe("HTTP is recognised whatever the length of the request line and however it was written", () => {
  it.each([244, 500, 2000, 7900])("a %i-character target in one write is HTTP, logged with the whole target", (n) => {
    const target = `/q/${"a".repeat(n - 3)}`;
    const out = clientExchange(b(`GET ${target} HTTP/1.1\r\nHost: svc\r\n\r\n`), 1 << 20);
    expect(connections(out)).toEqual([]);
    expect(exchanges(out).map((x) => [x.request.target.length, x.request.target === target, x.response?.status])).toEqual([[n, true, 200]]);
  });

  it.each([1, 2, 7, 100])("a 2,000-character target written %i bytes at a time is HTTP", (chunk) => {
    const target = `/search?q=${"z".repeat(1990)}`;
    const out = clientExchange(b(`POST ${target} HTTP/1.1\r\nHost: svc\r\nContent-Length: 4\r\n\r\nbody`), chunk);
    expect(exchanges(out).map((x) => [x.request.method, x.request.target, x.request.body, x.response?.status])).toEqual([["POST", target, "body", 200]]);
  });

  it("a first write of two bytes waits for the rest (the next write completes the request line)", () => {
    const t = tuple(8080, "client");
    const e = new ClassifierEngine();
    expect(e.onRecords("h", BOOT, [open(2n, t, "client"), data(2n, t, "egress", b("GE"), T0 + 1n)])).toEqual([]);
    expect(e.onRecords("h", BOOT, [data(2n, t, "egress", b("T /two HTTP/1.1\r\n\r\n"), T0 + 2n)])).toEqual([]);
    const out = e.onRecords("h", BOOT, [data(2n, t, "ingress", b("HTTP/1.1 204 No Content\r\n\r\n"), T0 + 3n)]);
    expect(exchanges(out).map((x) => [x.request.target, x.response?.status])).toEqual([["/two", 204]]);
  });

  it("a head split over many writes, the server's status line arriving between them, is still HTTP", () => {
    const t = tuple(9000, "server");
    const e = new ClassifierEngine();
    const req = b(`GET /${"x".repeat(600)} HTTP/1.1\r\nHost: a\r\n\r\n`);
    const recs: RawRecord[] = [open(3n, t, "server")];
    let ts = T0;
    for (const w of writes(req, 50)) recs.push(data(3n, t, "ingress", w, ++ts));
    recs.push(data(3n, t, "egress", b("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"), ++ts));
    const out = e.onRecords("h", BOOT, recs);
    expect(exchanges(out).map((x) => [x.side, x.request.target.length, x.response?.status])).toEqual([["server", 601, 200]]);
  });

  it("a server's status line decides when the request's start was not captured (both directions count)", () => {
    const t = tuple(8081, "client");
    const e = new ClassifierEngine();
    const out = e.onRecords("h", BOOT, [
      data(4n, t, "egress", b("tail of a body sent before the capture"), T0 + 1n),
      data(4n, t, "ingress", b("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"), T0 + 2n),
      data(4n, t, "egress", b("GET /next HTTP/1.1\r\n\r\n"), T0 + 3n),
      data(4n, t, "ingress", b("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"), T0 + 4n),
    ]);
    expect(connections(out)).toEqual([]);
    expect(exchanges(out).map((x) => x.request.target)).toEqual(["/next"]);
  });

  it("needs more bytes for each prefix of a long request line, and none once it is whole", () => {
    const line = b(`GET /${"p".repeat(3000)} HTTP/1.1\r\n`);
    for (const n of [1, 2, 3, 4, 5, 100, 2999, 3004, 3010, 3012]) {
      expect(assess({ clientFirstBytes: line.subarray(0, n), serverFirstBytes: null, serverPort: 40000 }).pending, `${n} bytes`).toBe(true);
    }
    expect(assess({ clientFirstBytes: line.subarray(0, 3015), serverFirstBytes: null, serverPort: 40000 })).toMatchObject({ pending: false, verdict: { protocol: "http" } });
  });
});

describe("a head larger than the capture's payload limit (item 2)", () => {
  /** What the kernel records for one write over ADI_PAYLOAD_LIMIT: the first `limit` bytes, flagged, its true length. */
  const cut = (id: bigint, t: Tuple, dir: "egress" | "ingress", bytes: Buffer, limit: number, ts: bigint) =>
    data(id, t, dir, bytes.subarray(0, limit), ts, { totalLen: bytes.length, truncated: true });

  it("is logged with the headers captured, marked truncated, and paired with its response", () => {
    const t = tuple(8080, "client");
    const e = new ClassifierEngine();
    const req = b(`GET /big HTTP/1.1\r\nHost: svc\r\nX-Big: ${"b".repeat(5000)}\r\nAccept: */*\r\n\r\n`);
    const out = e.onRecords("h", BOOT, [
      open(20n, t, "client"),
      cut(20n, t, "egress", req, 1024, T0 + 1n),
      data(20n, t, "ingress", b("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"), T0 + 2n),
    ]);
    const [x] = exchanges(out);
    expect([x?.request.target, x?.request.headers, x?.request.body_truncated, x?.response?.status]).toEqual(["/big", [["Host", "svc"]], true, 200]);
  });

  it("with a request line longer than the limit: HTTP from the status line, the target as captured", () => {
    const t = tuple(8080, "server");
    const e = new ClassifierEngine();
    const target = `/q/${"t".repeat(3000)}`;
    const out = e.onRecords("h", BOOT, [
      open(21n, t, "server"),
      cut(21n, t, "ingress", b(`GET ${target} HTTP/1.1\r\nHost: svc\r\n\r\n`), 1024, T0 + 1n),
      data(21n, t, "egress", b("HTTP/1.1 414 URI Too Long\r\nContent-Length: 0\r\n\r\n"), T0 + 2n),
    ]);
    const [x] = exchanges(out);
    expect([x?.side, x?.request.method, x?.request.target, x?.request.body_truncated, x?.response?.status]).toEqual(["server", "GET", target.slice(0, 1020), true, 414]);
  });
});

describe("a connection that stays unknown is emitted, with its first bytes", () => {
  it("a short first write answered by nothing and closed: unknown (0) with its bytes in hex", () => {
    const t = tuple(40123, "client");
    const e = new ClassifierEngine();
    const out = e.onRecords("h", BOOT, [open(5n, t, "client"), data(5n, t, "egress", b("GE"), T0 + 1n)]);
    expect(out).toEqual([]); // undecided, not unknown
    const [c] = connections(e.onRecords("h", BOOT, [close(5n, t, T0 + 2n)]));
    expect(c).toMatchObject({ protocol: "unknown", confidence: 0, evidence: { first_bytes_hex: "4745", from: "client" } });
  });

  it("binary garbage is unknown as soon as the server answered too (no rule can match), with at most 32 bytes of evidence", () => {
    const t = tuple(40124, "client");
    const e = new ClassifierEngine();
    const junk = Buffer.from(Array.from({ length: 100 }, (_, i) => (i * 37 + 11) & 0xff).map((x) => (x === 0x16 ? 0x99 : x)));
    expect(e.onRecords("h", BOOT, [open(6n, t, "client"), data(6n, t, "egress", junk, T0 + 1n)])).toEqual([]);
    const out = connections(e.onRecords("h", BOOT, [data(6n, t, "ingress", Buffer.from("fefefefe000000000000000000000000ffff", "hex"), T0 + 2n)]));
    expect(out).toHaveLength(1);
    expect(out[0]).toMatchObject({ protocol: "unknown", category: "unknown", confidence: 0, evidence: { rule: null, first_bytes_hex: junk.subarray(0, 32).toString("hex") } });
  });

  it("a line that never ends is decided at the detection budget, not held forever", () => {
    const t = tuple(40125, "client");
    const e = new ClassifierEngine({ maxDetectBytes: 4096 });
    const recs: RawRecord[] = [open(7n, t, "client")];
    for (let i = 0; i < 50; i++) recs.push(data(7n, t, "egress", b("word ".repeat(20)), T0 + BigInt(i)));
    const out = connections(e.onRecords("h", BOOT, recs));
    expect(out.map((c) => [c.protocol, c.confidence])).toEqual([["unknown", 0]]);
  });

  it("a connection that only sent a gap is still emitted at close", () => {
    const t = tuple(40126, "client");
    const e = new ClassifierEngine();
    const out = e.onRecords("h", BOOT, [
      open(8n, t, "client"),
      data(8n, t, "egress", Buffer.alloc(0), T0 + 1n, { totalLen: 5000, gap: true, syscall: "sendfile" }),
      close(8n, t, T0 + 2n),
    ]);
    expect(connections(out).map((c) => [c.protocol, c.evidence.first_bytes_hex])).toEqual([["unknown", ""]]);
  });
});

describe("TLS: a ClientHello is read to its end for the SNI", () => {
  const hello = clientHelloSniLast("api.payments.example", 584);

  it("builds a 584-byte hello whose server name sits past byte 256", () => {
    expect(hello.length).toBe(584);
    expect(hello.indexOf(b("api.payments.example"))).toBeGreaterThan(256);
  });

  it.each([584, 256, 100, 1])("finds the SNI in a 584-byte hello written %i bytes at a time", (chunk) => {
    const t = tuple(443, "client");
    const e = new ClassifierEngine();
    const recs: RawRecord[] = [open(9n, t, "client")];
    let ts = T0;
    for (const w of writes(hello, chunk)) recs.push(data(9n, t, "egress", w, ++ts));
    const out = connections(e.onRecords("h", BOOT, recs));
    expect(out.map((c) => [c.protocol, c.confidence, c.tls?.sni])).toEqual([["tls", 90, "api.payments.example"]]);
  });

  it("waits while the hello is incomplete and the name not seen, then decides without SNI at close", () => {
    const part = hello.subarray(0, 300);
    expect(assess({ clientFirstBytes: part, serverFirstBytes: null, serverPort: 443 }).pending).toBe(true);
    expect(assess({ clientFirstBytes: part, serverFirstBytes: null, serverPort: 443, clientDone: true })).toMatchObject({ pending: false, verdict: { protocol: "tls", tls: { sni: null } } });
  });
});

/** The verdict on these bytes away from every known port (so only the fingerprint can name it). */
function offPort(client: Buffer | null, server: Buffer | null = null, port = 40000): ReturnType<typeof classifyConnection> {
  return classifyConnection({ clientFirstBytes: client, serverFirstBytes: server, serverPort: port, clientDone: true, serverDone: true });
}

describe("protocols recognised mid-connection, from either side", () => {
  it.each([
    ["TDS SQL batch", () => offPort(ms.tdsSqlBatch()), "mssql", "mssql-tds-request", "TDS SQL batch packet"],
    ["TDS RPC", () => offPort(ms.tdsRpc()), "mssql", "mssql-tds-request", "TDS RPC packet"],
    ["TDS tabular result (server)", () => offPort(null, ms.tdsDoneResult()), "mssql", "mssql-tds-response", "TDS tabular result"],
    ["AMQP basic.publish", () => offPort(ms.amqpBasicPublish()), "amqp", "amqp-frame", "method 60.40"],
    ["AMQP content header + body", () => offPort(ms.amqpContent()), "amqp", "amqp-frame", "content header"],
    ["AMQP body frame followed by a method frame", () => offPort(ms.amqpBodyThenMethod()), "amqp", "amqp-frame", "content body"],
    ["AMQP heartbeat", () => offPort(ms.amqpHeartbeat), "amqp", "amqp-frame", "heartbeat"],
    ["AMQP basic.deliver (broker)", () => offPort(null, ms.amqpBasicDeliver()), "amqp", "amqp-frame-server", "method 60.60"],
    ["TLS application data", () => offPort(ms.tlsApplicationData()), "tls", "tls-record", "application data"],
    ["TLS two application data records", () => offPort(Buffer.concat([ms.tlsApplicationData(30), ms.tlsApplicationData(9000)])), "tls", "tls-record", "records"],
    ["TLS alert", () => offPort(ms.tlsAlert), "tls", "tls-record", "alert"],
    ["TLS change cipher spec + encrypted handshake", () => offPort(Buffer.concat([ms.tlsChangeCipherSpec, ms.tlsEncryptedHandshake])), "tls", "tls-record", "change cipher spec"],
    ["TLS application data (server)", () => offPort(null, ms.tlsApplicationData(500)), "tls", "tls-record-server", "application data"],
    ["Redis RESP HGETALL", () => offPort(ms.resp("HGETALL", "user:1")), "redis", "redis-resp", "redis RESP array"],
    ["Redis RESP module command JSON.GET", () => offPort(ms.resp("JSON.GET", "doc", "$")), "redis", "redis-resp", "redis RESP array"],
    ["Redis RESP XADD (not an opening command)", () => offPort(ms.resp("XADD", "s", "*", "f", "v")), "redis", "redis-resp", "redis RESP array"],
    ["Redis inline HGETALL answered with an array", () => offPort(b("HGETALL user:1\r\n"), b("*2\r\n$4\r\nname\r\n$3\r\nann\r\n")), "redis", "redis-inline", "HGETALL"],
    ["Redis inline KEYS answered with RESP3 set", () => offPort(b("KEYS *\r\n"), b("~1\r\n+a\r\n")), "redis", "redis-inline", "KEYS"],
    ["Redis inline PING answered +PONG", () => offPort(b("PING\r\n"), b("+PONG\r\n")), "redis", "redis-inline", "PING"],
    ["Redis inline SET answered +OK", () => offPort(b("SET k v\r\n"), b("+OK\r\n")), "redis", "redis-inline", "SET"],
    ["MongoDB OP_MSG with responseTo -1", () => offPort(ms.mongoOpMsg(-1)), "mongodb", "mongodb-wire-header", "OP_MSG"],
    ["MongoDB OP_MSG with responseTo 0", () => offPort(ms.mongoOpMsg(0)), "mongodb", "mongodb-wire-header", "OP_MSG"],
    ["MongoDB OP_MSG reply (server)", () => offPort(null, ms.mongoOpMsg(7, 99)), "mongodb", "mongodb-reply", "OP_MSG reply"],
  ])("%s", (_name, verdict, protocol, rule, detail) => {
    const v = verdict();
    expect(v).toMatchObject({ protocol, confidence: 90, evidence: { rule, fingerprint_match: true } });
    expect(v.reason).toContain(detail);
  });

  it("names TLS seen mid-connection after its port (60) on a known port, as a ClientHello would be", () => {
    const v = classifyConnection({ clientFirstBytes: ms.tlsApplicationData(), serverFirstBytes: null, serverPort: 5671 });
    expect(v).toMatchObject({ protocol: "amqp", confidence: 60, tls: { sni: null } });
    expect(v.reason).toBe("port 5671 (no payload fingerprint: TLS, TLS application data record)");
  });

  it.each([
    ["a TLS-looking header whose length does not fit", Buffer.concat([ms.tlsApplicationData(100).subarray(0, 50), b("GET / HTTP/1.1\r\n")])],
    ["a TLS record followed by garbage", Buffer.concat([ms.tlsApplicationData(10), b("xyz")])],
    ["a change cipher spec of 2 bytes", Buffer.from("140303000201ff", "hex")],
    ["an AMQP frame without its end octet", Buffer.concat([ms.amqpBasicPublish().subarray(0, -1), Buffer.from([0x00])])],
    ["an AMQP method of an unknown class", Buffer.from("010001000000040063000aCE", "hex")],
    ["a TDS batch with a broken ALL_HEADERS", Buffer.concat([ms.tdsSqlBatch().subarray(0, 8), Buffer.from("ffff0000", "hex"), ms.tdsSqlBatch().subarray(12)])],
    ["a TDS packet with the window set", Buffer.concat([ms.tdsSqlBatch().subarray(0, 7), Buffer.from([9]), ms.tdsSqlBatch().subarray(8)])],
    ["a RESP array whose bulk length does not fit", b("*1\r\n$5\r\nPING\r\n")],
    ["a RESP array of numbers", b("*2\r\n:1\r\n:2\r\n")],
    ["a MongoDB OP_MSG with responseTo 5 (a reply, read from the client)", ms.mongoOpMsg(5)],
  ])("does not take %s for anything", (_name, bytes) => {
    expect(offPort(bytes).protocol).toBe("unknown");
  });

  it("waits for the rest of a mid-connection message cut short, then decides", () => {
    const frame = ms.amqpBasicPublish();
    for (const n of [1, 6, 10, frame.length - 1]) {
      expect(assess({ clientFirstBytes: frame.subarray(0, n), serverFirstBytes: null, serverPort: 40000 }).pending, `${n} bytes`).toBe(true);
    }
    const batch = ms.tdsSqlBatch();
    expect(assess({ clientFirstBytes: batch.subarray(0, 12), serverFirstBytes: null, serverPort: 40000 }).pending).toBe(true);
    expect(assess({ clientFirstBytes: batch, serverFirstBytes: null, serverPort: 40000 }).pending).toBe(false);
  });
});

describe("mail protocols' lines are not Redis", () => {
  it.each([
    ["POP3 greeting, then a bare AUTH", "+OK POP3 server ready <1896.697170952@dbc.mtview.ca.us>\r\n", "AUTH\r\n", 40000, "pop3"],
    ["POP3 greeting (Dovecot), then AUTH PLAIN", "+OK Dovecot ready.\r\n", "AUTH PLAIN\r\n", 40000, "pop3"],
    ["POP3 on its port, a bare AUTH", "+OK hello\r\n", "AUTH\r\n", 110, "pop3"],
    ["IMAP greeting, then AUTHENTICATE", "* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] Dovecot ready.\r\n", "a001 AUTHENTICATE PLAIN\r\n", 40000, "imap"],
    ["SMTP greeting, then AUTH LOGIN", "220 mail.example.com ESMTP Postfix\r\n", "AUTH LOGIN\r\n", 40000, "smtp"],
    ["SMTP greeting, then EHLO", "220-mx.example.org ESMTP Exim 4.96\r\n", "EHLO client.example\r\n", 40000, "smtp"],
  ])("%s: %s", (_name, greeting, line, port, protocol) => {
    const v = offPort(b(line), b(greeting), port);
    expect(v).toMatchObject({ protocol, confidence: 90 });
  });

  it.each([
    ["a bare AUTH answered -ERR (Redis wants a password)", "AUTH\r\n", "-ERR unknown command\r\n"],
    ["POP3 AUTH answered with its mechanism list", "AUTH\r\n", "+OK\r\nPLAIN\r\nLOGIN\r\n.\r\n"],
    ["SMTP AUTH LOGIN answered 334", "AUTH LOGIN\r\n", "334 VXNlcm5hbWU6\r\n"],
    ["IMAP LOGIN answered with its tag", "a1 LOGIN bob secret\r\n", "a1 OK LOGIN completed\r\n"],
    ["POP3 USER answered +OK with text", "USER bob\r\n", "+OK bob is welcome here\r\n"],
    ["an inline line never answered", "AUTH s3cret\r\n", null],
  ])("%s is not redis", (_name, line, reply) => {
    const v = offPort(b(line), reply === null ? null : b(reply));
    expect(v.protocol).not.toBe("redis");
  });

  it("through the engine: a POP3 session on an unusual port is pop3, a Redis inline PING waits for +PONG and is redis", () => {
    const e = new ClassifierEngine();
    const pop: Tuple = tuple(11000, "client");
    const red: Tuple = tuple(12000, "client");
    const first = e.onRecords("h", BOOT, [
      open(30n, pop, "client"),
      data(30n, pop, "ingress", b("+OK POP3 ready\r\n"), T0 + 1n),
      data(30n, pop, "egress", b("AUTH\r\n"), T0 + 2n),
      open(31n, red, "client"),
      data(31n, red, "egress", b("PING\r\n"), T0 + 3n),
    ]);
    expect(connections(first).map((c) => [c.conn_id, c.protocol, c.confidence])).toEqual([["30", "pop3", 90]]);
    const second = connections(e.onRecords("h", BOOT, [data(31n, red, "ingress", b("+PONG\r\n"), T0 + 4n)]));
    expect(second.map((c) => [c.conn_id, c.protocol, c.confidence, c.evidence.rule])).toEqual([["31", "redis", 90, "redis-inline"]]);
  });

  it("an inline command waits for its reply while the server can still answer", () => {
    const input: ClassifyInput = { clientFirstBytes: b("AUTH s3cret\r\n"), serverFirstBytes: null, serverPort: 40000 };
    expect(assess(input).pending).toBe(true);
    expect(assess({ ...input, serverFirstBytes: b("$5\r\nhel") }).pending).toBe(true);
    expect(assess({ ...input, serverFirstBytes: b("+OK\r\n") })).toMatchObject({ pending: false, verdict: { protocol: "redis" } });
  });
});

describe("FirstBytes", () => {
  it("joins writes a byte at a time, stops at its cap, and stops at a gap", () => {
    const f = new FirstBytes(10);
    for (const c of "abcdefghijklmno") f.add(b(c));
    expect([f.bytes?.toString(), f.done]).toEqual(["abcdefghij", true]);
    const g = new FirstBytes(100);
    g.add(b("abc"), 500);
    g.add(b("def"));
    expect([g.bytes?.toString(), g.done]).toEqual(["abc", true]);
    expect(new FirstBytes().bytes).toBeNull();
  });
});

describe("every fingerprint never throws and says `more` only as documented", () => {
  it("on arbitrary bytes from both sides", () => {
    const bytes = fc.uint8Array({ maxLength: 200 }).map((a) => Buffer.from(a));
    fc.assert(
      fc.property(bytes, fc.option(bytes, { nil: null }), (mine, other) => {
        for (const rule of RULES) {
          const fp = rule.fingerprint(mine, other);
          expect([undefined, "bytes", "reply"]).toContain(fp.more);
          expect(typeof fp.match).toBe("boolean");
        }
      }),
      { seed: 10, numRuns: 500 },
    );
  });

  it("the engine never throws on any split of fixture bytes, and what it emits validates", () => {
    const seeds = [ms.tdsSqlBatch(), ms.amqpContent(), ms.tlsApplicationData(40), ms.resp("GET", "k"), b("GET /x HTTP/1.1\r\n\r\n"), clientHelloSniLast("a.example", 400)];
    fc.assert(
      fc.property(fc.constantFrom(...seeds), fc.integer({ min: 1, max: 64 }), fc.boolean(), (seed, chunk, closeIt) => {
        const t = tuple(40000, "client");
        const e = new ClassifierEngine();
        const recs: RawRecord[] = [open(1n, t, "client")];
        let ts = T0;
        for (const w of writes(seed, chunk)) recs.push(data(1n, t, "egress", w, ++ts));
        if (closeIt) recs.push(close(1n, t, ++ts));
        for (const d of e.onRecords("h", BOOT, recs)) DerivedSchema.parse(d);
      }),
      { seed: 10, numRuns: 300 },
    );
  });
});

describe("a connection one side of which never speaks is still decided (the compose stack's NATS subscriber)", () => {
  const msg = (subject: string, body: string) => b(`MSG ${subject} 1 ${body.length}\r\n${body}\r\n`);

  it("names a NATS subscriber seen mid-stream from the server's MSG deliveries alone, on any port", () => {
    for (const port of [4222, 40123]) {
      const t = tuple(port, "client");
      const out = new ClassifierEngine().onRecords("h", BOOT, [data(7n, t, "ingress", msg("demo.requests", '{"path":"/"}'), T0)]);
      const [c] = connections(out);
      expect(c).toMatchObject({ protocol: "nats", category: "message_bus", confidence: 90 });
      expect(c!.evidence.rule).toBe("nats-server-op");
    }
  });

  it("reads HMSG (headers) and refuses MSG lines whose byte count does not land on a CRLF", () => {
    const body = "NATS/1.0\r\nA: b\r\n\r\nhello";
    const hmsg = b(`HMSG s.x 9 _INBOX.1 18 ${body.length}\r\n${body}\r\n`);
    expect(offPort(null, hmsg)).toMatchObject({ protocol: "nats", confidence: 90 });
    expect(offPort(null, b("MSG s 1 3\r\nabcdef\r\n")).protocol).not.toBe("nats");
    expect(offPort(null, b("MSG from the operator: hello\r\n")).protocol).not.toBe("nats");
  });

  it("decides a connection undecided for 5 s of its own capture time on what it has, identically however it is fed", () => {
    // A server-first protocol nothing recognises, whose client stays silent: pending while the client may speak.
    const t = tuple(40999, "client");
    const recs: RawRecord[] = [open(9n, t, "client"), data(9n, t, "ingress", b("\x02\x05hello"), T0)];
    const early = new ClassifierEngine().onRecords("h", BOOT, recs);
    const late = data(9n, t, "ingress", b("\x02\x05again"), T0 + 5_000_000_000n);
    const e = new ClassifierEngine();
    expect(connections(early)).toEqual([]);
    e.onRecords("h", BOOT, recs);
    const decided = connections(e.onRecords("h", BOOT, [late]));
    expect(decided).toHaveLength(1);
    expect(decided[0]).toMatchObject({ protocol: "unknown", confidence: 0, ts: expect.stringMatching(/Z$/) });
    // One batch or two: the same observation.
    expect(connections(new ClassifierEngine().onRecords("h", BOOT, [...recs, late]))).toEqual(decided);
  });
});

describe("mid-connection text protocols through the engine (issue 10, faults 4 and 5)", () => {
  /** Records of one connection seen mid-stream (no open): each [direction, bytes] a write, then nothing more. */
  function midstream(id: bigint, port: number, writesSeen: ["egress" | "ingress", string | Buffer][]): ConnectionObservation[] {
    const t = tuple(port, "client");
    let ts = T0;
    const recs = writesSeen.map(([dir, bytes]) => data(id, t, dir, typeof bytes === "string" ? b(bytes) : bytes, ++ts));
    const out = new ClassifierEngine().onRecords("h", BOOT, recs);
    for (const d of out) DerivedSchema.parse(d);
    return connections(out);
  }

  it("a NATS subscriber whose server PINGs and whose client only answers PONG is nats, then its MSG lines change nothing", () => {
    for (const port of [4222, 40123]) {
      const [c] = midstream(40n, port, [["ingress", "PING\r\n"], ["egress", "PONG\r\n"], ["ingress", "MSG demo.requests 1 2\r\nhi\r\n"]]);
      expect(c).toMatchObject({ protocol: "nats", category: "message_bus", confidence: 90, evidence: { rule: "nats-server-op" } });
    }
  });

  it("a Redis subscriber receiving pushes, its client silent, is redis off 6379", () => {
    const push = ms.pubsubMessage("orders", '{"id":7}');
    for (const [port, raw] of [[40000, push], [6379, push], [40001, ms.resp3Push("message", "orders", "x")]] as const) {
      const [c] = midstream(41n, port, [["ingress", raw]]);
      expect(c).toMatchObject({ protocol: "redis", category: "cache", confidence: 90, evidence: { rule: "redis-push" } });
    }
  });

  it.each([
    [110, "AUTH PLAIN\r\n", "+ \r\n", "pop3"],
    [40000, "NOOP\r\n", "+OK\r\n", "pop3"],
    [143, "a1 AUTHENTICATE PLAIN\r\n", "+ \r\n", "imap"],
    [40000, "a1 NOOP\r\n", "a1 OK NOOP completed\r\n", "imap"],
  ])("port %i: %j answered %j is %s, not redis", (port, line, answer, protocol) => {
    const [c] = midstream(42n, port, [["egress", line], ["ingress", answer]]);
    expect(c).toMatchObject({ protocol, confidence: 90 });
  });
});
