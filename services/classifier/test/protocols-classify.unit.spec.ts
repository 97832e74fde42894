import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ConnectionObservationSchema } from "@adi/shared/wire";
import { classifyConnection, needsMoreBytes } from "../src/core/protocols/classify.ts";
import type { ClassifyInput } from "../src/core/protocols/classify.ts";
import * as fx from "./fixtures/protocol-bytes.ts";
import { clientHello } from "./fixtures/tls-hello.ts";

const VerdictSchema = ConnectionObservationSchema.pick({ protocol: true, category: true, confidence: true, reason: true, evidence: true, tls: true });
const UNRELATED_PORT = 40000;

const client = (bytes: Buffer | null, serverPort: number): ClassifyInput => ({ clientFirstBytes: bytes, serverFirstBytes: null, serverPort });
const server = (bytes: Buffer | null, serverPort: number): ClassifyInput => ({ clientFirstBytes: null, serverFirstBytes: bytes, serverPort });

/** What each protocol's client sends first, on the protocol's first default port. */
const CLIENT_FIRST: [string, string, number, Buffer, string][] = [
  ["postgres", "database", 5432, fx.postgresStartup(), "valid Postgres startup/SSLRequest header"],
  ["mongodb", "database", 27017, fx.recorded("mongodb-client-connect.bin"), "MongoDB OP_QUERY header"],
  ["mssql", "database", 1433, fx.recorded("tedious-connect.bin"), "TDS PRELOGIN packet"],
  ["redis", "cache", 6379, fx.redisPingArray, "redis RESP array"],
  ["memcached", "cache", 11211, fx.memcachedSet, "memcached text command set"],
  ["memcached", "cache", 11211, fx.memcachedBinaryGet, "memcached binary request (opcode 0x00)"],
  ["kafka", "message_bus", 9092, fx.recorded("kafkajs-producer-connect.bin"), "Kafka request header (ApiVersions v2)"],
  ["amqp", "message_bus", 5672, fx.amqp091Header, "AMQP 0-9-1 protocol header"],
  ["nats", "message_bus", 4222, fx.natsConnect, "NATS CONNECT"],
];

/** Every input the fuzzers mutate: all fixtures, on both sides. */
const SEEDS: Buffer[] = [
  ...CLIENT_FIRST.map((c) => c[3]), fx.mysqlGreeting(), fx.recorded("mariadb-server-greeting.bin"), fx.natsInfo, fx.httpGet,
  fx.httpResponse, fx.mongodbOpMsg(), fx.mssqlPrelogin(), fx.kafkaMetadataRequest(), fx.recorded("tls-client-hello-sni.bin"),
  clientHello("a.example", { fragment: 40 }), fx.postgresSslRequest, fx.postgresCancelRequest, fx.redisInlinePing,
];

describe("classifyConnection: a fingerprint on the protocol's own port", () => {
  it.each(CLIENT_FIRST)("%s (%s) on port %i: confidence 90, Go-style reason", (protocol, category, port, bytes, detail) => {
    const verdict = classifyConnection(client(bytes, port));
    expect(verdict).toMatchObject({ protocol, category, confidence: 90, reason: `port ${port}, ${detail}`, tls: null });
    expect(verdict.evidence).toMatchObject({ port_match: true, fingerprint_match: true, from: "client" });
  });

  it("gives the Go tool's Postgres reason word for word", () => {
    expect(classifyConnection(client(fx.postgresSslRequest, 5432)).reason).toBe("port 5432, valid Postgres startup/SSLRequest header");
  });

  it("recognises every default port of a protocol", () => {
    for (const port of [9092, 19092, 29092, 9093]) expect(classifyConnection(client(fx.kafkaMetadataRequest(), port)).evidence.port_match).toBe(true);
    expect(classifyConnection(client(fx.redisSetArray, 26379)).reason).toBe("port 26379, redis RESP array");
  });
});

describe("classifyConnection: a fingerprint on another port", () => {
  it.each(CLIENT_FIRST)("%s (%s) away from port %i: still 90, and the reason says so", (protocol, category, _port, bytes, detail) => {
    const verdict = classifyConnection(client(bytes, UNRELATED_PORT));
    expect(verdict).toMatchObject({ protocol, category, confidence: 90 });
    expect(verdict.reason).toBe(`fingerprint ${detail} on non-standard port ${UNRELATED_PORT}`);
    expect(verdict.evidence).toMatchObject({ port_match: false, fingerprint_match: true, from: "client" });
  });

  it("recognises Postgres bytes sent to the Redis port as Postgres", () => {
    expect(classifyConnection(client(fx.postgresStartup(), 6379))).toMatchObject({ protocol: "postgres", confidence: 90 });
  });

  it("names HTTP on any port, with category web", () => {
    const verdict = classifyConnection(client(fx.httpGet, 8080));
    expect(verdict).toMatchObject({ protocol: "http", category: "web", confidence: 90, reason: "HTTP/1.x request line (GET) on port 8080" });
    expect(classifyConnection(server(fx.httpResponse, 8080))).toMatchObject({ protocol: "http", evidence: { from: "server" } });
  });
});

describe("classifyConnection: server-first protocols, from the server's greeting", () => {
  const mariadb = fx.recorded("mariadb-server-greeting.bin");

  it.each([
    ["MySQL 8 greeting", fx.mysqlGreeting(), 3306, "mysql"],
    ["MariaDB greeting (recorded)", mariadb, 3306, "mysql"],
    ["NATS INFO", fx.natsInfo, 4222, "nats"],
    ["NATS INFO (recorded)", fx.recorded("nats-server-info.bin"), 6222, "nats"],
  ])("%s on port %i", (_name, bytes, port, protocol) => {
    const verdict = classifyConnection(server(bytes, port));
    expect(verdict).toMatchObject({ protocol, confidence: 90, evidence: { from: "server", port_match: true, fingerprint_match: true } });
    expect(verdict.reason).toMatch(new RegExp(`^port ${port}, `));
  });

  it("reads the greeting even when the client's answer to it is there too", () => {
    const verdict = classifyConnection({ clientFirstBytes: fx.mysqlClientHandshakeResponse, serverFirstBytes: mariadb, serverPort: 3306 });
    expect(verdict).toMatchObject({ protocol: "mysql", confidence: 90, evidence: { rule: "mysql-handshake-v10", from: "server" } });
    expect(verdict.reason).toContain("MariaDB");
  });

  it("recognises a MySQL greeting on a non-standard port", () => {
    const verdict = classifyConnection(server(fx.mysqlGreeting(), 33060));
    expect(verdict).toMatchObject({ protocol: "mysql", category: "database", confidence: 90 });
    expect(verdict.reason).toBe("fingerprint MySQL HandshakeV10 server greeting (version 8.0.36) on non-standard port 33060");
  });
});

describe("classifyConnection: port only, TLS, nothing", () => {
  it("gives 60 for a known port without payload", () => {
    const verdict = classifyConnection(client(null, 5432));
    expect(verdict).toMatchObject({ protocol: "postgres", category: "database", confidence: 60, reason: "port 5432 (no payload fingerprint)" });
    expect(verdict.evidence).toEqual({ rule: "postgres-startup", port_match: true, fingerprint_match: false, from: "port", first_bytes_hex: "" });
  });

  it("gives 60 for a known port whose bytes match nothing", () => {
    const verdict = classifyConnection(client(Buffer.from("good morning\r\n"), 6379));
    expect(verdict).toMatchObject({ protocol: "redis", confidence: 60, evidence: { first_bytes_hex: Buffer.from("good morning\r\n").toString("hex") } });
  });

  it.each([
    [5671, "amqp", "message_bus"],
    [9093, "kafka", "message_bus"],
    [6379, "redis", "cache"],
    [1433, "mssql", "database"],
  ])("TLS on port %i is %s (60), with the SNI", (port, protocol, category) => {
    const verdict = classifyConnection(client(fx.recorded("tls-client-hello-sni.bin"), port));
    expect(verdict).toMatchObject({ protocol, category, confidence: 60, tls: { sni: "db.example.internal" } });
    expect(verdict.reason).toBe(`port ${port} (no payload fingerprint: TLS, SNI db.example.internal)`);
    expect(verdict.evidence).toMatchObject({ port_match: true, fingerprint_match: false, from: "port" });
  });

  it("calls TLS on an unknown port tls, category unknown", () => {
    const verdict = classifyConnection(client(clientHello(null), 443));
    expect(verdict).toMatchObject({ protocol: "tls", category: "unknown", confidence: 90, tls: { sni: null } });
    expect(verdict.evidence.rule).toBe("tls-client-hello");
  });

  it("calls unknown bytes on an unknown port unknown (0)", () => {
    const verdict = classifyConnection(client(Buffer.from("SSH-2.0-OpenSSH_9.6\r\n"), 2222));
    expect(verdict).toMatchObject({ protocol: "unknown", category: "unknown", confidence: 0, tls: null });
    expect(verdict.evidence).toMatchObject({ rule: null, port_match: false, fingerprint_match: false, from: "client" });
  });

  it("calls a connection with no bytes on an unknown port unknown, decided by nothing but the port", () => {
    expect(classifyConnection(client(null, 2222)).evidence).toMatchObject({ from: "port", first_bytes_hex: "" });
    expect(classifyConnection(client(Buffer.alloc(0), 2222)).confidence).toBe(0);
  });

  it("keeps at most 32 bytes of evidence, from the bytes that decided", () => {
    const mongo = fx.recorded("mongodb-client-connect.bin");
    expect(classifyConnection(client(mongo, 27017)).evidence.first_bytes_hex).toBe(mongo.subarray(0, 32).toString("hex"));
  });

  it("takes plain Uint8Arrays as well as Buffers", () => {
    const bytes = new Uint8Array(fx.redisPingArray);
    expect(classifyConnection({ clientFirstBytes: bytes, serverFirstBytes: null, serverPort: 6379 }).confidence).toBe(90);
  });
});

describe("needsMoreBytes", () => {
  it.each([
    ["nothing seen on a Postgres port", client(null, 5432), true],
    ["nothing seen on an unknown port", client(null, 2222), true],
    ["a Postgres startup", client(fx.postgresStartup(), 5432), false],
    ["a MySQL client's bytes before its greeting was captured", client(fx.mysqlClientHandshakeResponse, 3306), true],
    ["a MySQL greeting", server(fx.mysqlGreeting(), 3306), false],
    ["a server banner without the client's bytes", server(Buffer.from("SSH-2.0-x\r\n"), 2222), true],
    ["a line on the Redis port: an inline command waits for its RESP reply", client(Buffer.from("hello\r\n"), 6379), true],
    ["unrecognised client bytes on a client-first port: the server's answer may still decide", client(Buffer.from("\x01\x02 hello\r\n"), 6379), true],
    ["unrecognised client bytes, the server done", { ...client(Buffer.from("\x01\x02 hello\r\n"), 6379), serverDone: true }, false],
    ["unrecognised bytes from both sides", { ...client(Buffer.from("\x01\x02 hello\r\n"), 6379), serverFirstBytes: Buffer.from("unknown command, try again\r\n") }, false],
    ["a TLS ClientHello", client(clientHello("x.example"), 5671), false],
    ["the first byte of a request written a byte at a time", client(Buffer.from("P"), 8099), true],
    ["the start of a request line written a few bytes at a time", client(Buffer.from("GET /bytewise/1 HT"), 8099), true],
    ["an unrecognised line, ended, answered", { ...client(Buffer.from("0123456789abcdef\r\n"), 8099), serverFirstBytes: Buffer.from("?? what ??\r\n") }, false],
    ["256 unrecognised bytes without a line end, the server done", { ...client(Buffer.alloc(256, 0x41), 8099), serverDone: true }, false],
    ["a request line prefix cut by a gap, the server done", { ...client(Buffer.from("GET /abc"), 8099), clientDone: true, serverDone: true }, false],
    ["a request line prefix cut by a gap: the status line may still decide", { ...client(Buffer.from("GET /abc"), 8099), clientDone: true }, true],
  ])("%s: %s", (_name, input, expected) => {
    expect(needsMoreBytes(input)).toBe(expected);
  });
});

describe("classifyConnection never throws and stays within its contract", () => {
  const port = fc.oneof(fc.constantFrom(5432, 3306, 27017, 1433, 6379, 11211, 9092, 5672, 4222, 443, 0, 65535), fc.integer({ min: -5, max: 70_000 }));
  const bytes = fc.option(fc.uint8Array({ maxLength: 300 }).map((a) => Buffer.from(a)), { nil: null });

  /** A fixture cut short, with some bytes flipped and some garbage inserted: what a broken capture looks like. */
  const mutated = fc
    .record({
      seed: fc.constantFrom(...SEEDS),
      cut: fc.nat(),
      flips: fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 4 }),
      insert: fc.uint8Array({ maxLength: 8 }),
      at: fc.nat(),
    })
    .map(({ seed, cut, flips, insert, at }) => {
      const b = Buffer.from(seed.subarray(0, seed.length === 0 ? 0 : cut % (seed.length + 1)));
      for (const [i, v] of flips) if (b.length > 0) b[i % b.length] = v;
      const where = b.length === 0 ? 0 : at % b.length;
      return Buffer.concat([b.subarray(0, where), Buffer.from(insert), b.subarray(where)]);
    });

  function holdsContract(input: ClassifyInput): void {
    const verdict = classifyConnection(input);
    expect([0, 60, 90]).toContain(verdict.confidence);
    VerdictSchema.parse(verdict);
    expect(verdict.evidence.first_bytes_hex.length).toBeLessThanOrEqual(64);
    expect(typeof needsMoreBytes(input)).toBe("boolean");
  }

  it("on arbitrary bytes", () => {
    fc.assert(
      fc.property(bytes, bytes, port, (c, s, p) => holdsContract({ clientFirstBytes: c, serverFirstBytes: s, serverPort: p })),
      { seed: 11, numRuns: 2000 },
    );
  });

  it("on mutated fixtures, from either side", () => {
    fc.assert(
      fc.property(mutated, fc.boolean(), port, (b, fromServer, p) => holdsContract(fromServer ? server(b, p) : client(b, p))),
      { seed: 11, numRuns: 2000 },
    );
  });

  it("on inputs a JavaScript caller might pass by mistake", () => {
    const odd = [undefined, null, "GET / HTTP/1.1", 42, {}, [1, 2, 3]] as unknown as Buffer[];
    for (const value of odd) holdsContract({ clientFirstBytes: value, serverFirstBytes: value, serverPort: Number.NaN });
    holdsContract(null as unknown as ClassifyInput);
  });
});
