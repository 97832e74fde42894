import { describe, expect, it } from "vitest";
import { RULES, ruleByName, rulesForPort } from "../src/core/protocols/rules.ts";
import * as fx from "./fixtures/protocol-bytes.ts";
import { clientHello } from "./fixtures/tls-hello.ts";

/** The Go tool's "Supported Protocols and Ports", the compatibility contract. */
const GO_PROTOCOLS = {
  postgres: { category: "database", ports: [5432] },
  mysql: { category: "database", ports: [3306] },
  mongodb: { category: "database", ports: [27017] },
  mssql: { category: "database", ports: [1433] },
  redis: { category: "cache", ports: [6379, 26379] },
  memcached: { category: "cache", ports: [11211] },
  kafka: { category: "message_bus", ports: [9092, 19092, 29092, 9093] },
  amqp: { category: "message_bus", ports: [5672, 5671] },
  nats: { category: "message_bus", ports: [4222, 6222] },
} as const;

/** Positive fixtures, each with the rule that must recognise it and (part of) the detail it gives. */
const POSITIVES: [string, string, Buffer, string][] = [
  ["postgres StartupMessage 3.0", "postgres-startup", fx.postgresStartup(), "valid Postgres startup/SSLRequest header"],
  ["postgres StartupMessage 3.2", "postgres-startup", fx.postgresStartup({ user: "app" }, 0x00030002), "valid Postgres startup/SSLRequest header"],
  ["postgres SSLRequest", "postgres-startup", fx.postgresSslRequest, "valid Postgres startup/SSLRequest header"],
  ["postgres GSSENCRequest", "postgres-startup", fx.postgresGssencRequest, "GSSENCRequest"],
  ["postgres CancelRequest", "postgres-startup", fx.postgresCancelRequest, "CancelRequest"],
  ["MySQL 8 greeting", "mysql-handshake-v10", fx.mysqlGreeting(), "HandshakeV10 server greeting (version 8.0.36)"],
  ["MariaDB greeting (recorded)", "mysql-handshake-v10", fx.recorded("mariadb-server-greeting.bin"), "MariaDB"],
  ["MongoDB OP_MSG hello", "mongodb-wire-header", fx.mongodbOpMsg(), "OP_MSG"],
  ["MongoDB driver handshake (recorded)", "mongodb-wire-header", fx.recorded("mongodb-client-connect.bin"), "MongoDB"],
  ["TDS PRELOGIN", "mssql-tds-prelogin", fx.mssqlPrelogin(), "TDS PRELOGIN packet"],
  ["tedious PRELOGIN (recorded)", "mssql-tds-prelogin", fx.recorded("tedious-connect.bin"), "TDS PRELOGIN packet"],
  ["redis RESP PING", "redis-resp", fx.redisPingArray, "redis RESP array"],
  ["redis RESP SET", "redis-resp", fx.redisSetArray, "redis RESP array"],
  ["memcached get", "memcached-text", fx.memcachedGet, "memcached text command get"],
  ["memcached set", "memcached-text", fx.memcachedSet, "memcached text command set"],
  ["memcached version", "memcached-text", fx.memcachedVersion, "memcached text command version"],
  ["memcached meta get", "memcached-text", fx.memcachedMetaGet, "memcached text command mg"],
  ["memcached binary get", "memcached-binary", fx.memcachedBinaryGet, "memcached binary request (opcode 0x00)"],
  ["Kafka Metadata v1", "kafka-request-header", fx.kafkaMetadataRequest(), "Kafka request header (Metadata v1)"],
  ["kafkajs ApiVersions (recorded)", "kafka-request-header", fx.recorded("kafkajs-producer-connect.bin"), "ApiVersions"],
  ["AMQP 0-9-1 header", "amqp-protocol-header", fx.amqp091Header, "AMQP 0-9-1 protocol header"],
  ["AMQP 1.0 header", "amqp-protocol-header", fx.amqp10Header, "AMQP 1.0 protocol header"],
  ["AMQP 1.0 SASL header", "amqp-protocol-header", fx.amqp10SaslHeader, "AMQP 1.0 protocol header"],
  ["NATS INFO", "nats-info", fx.natsInfo, "NATS INFO server greeting"],
  ["NATS INFO (recorded)", "nats-info", fx.recorded("nats-server-info.bin"), "NATS INFO server greeting"],
  ["NATS CONNECT", "nats-connect", fx.natsConnect, "NATS CONNECT"],
  ["HTTP GET", "http-request", fx.httpGet, "HTTP/1.x request line (GET)"],
  ["HTTP POST", "http-request", fx.httpPost, "HTTP/1.x request line (POST)"],
  ["HTTP/2 preface", "http-request", fx.http2Preface, "HTTP/2 connection preface"],
  ["HTTP response", "http-response", fx.httpResponse, "HTTP/1.x status line (200)"],
  ["TLS ClientHello (hand-built)", "tls-client-hello", clientHello("api.example.com"), "TLS ClientHello (SNI api.example.com)"],
  ["TLS ClientHello (recorded)", "tls-client-hello", fx.recorded("tls-client-hello-sni.bin"), "SNI db.example.internal"],
];

/** A copy of `bytes` with the bytes at `at` replaced by `hex`. */
function patched(bytes: Buffer, at: number, hex: string): Buffer {
  const copy = Buffer.from(bytes);
  Buffer.from(hex, "hex").copy(copy, at);
  return copy;
}

/** Near misses: bytes that look like the protocol but break its specification. */
const NEGATIVES: [string, string, Buffer][] = [
  ["postgres protocol 2.0", "postgres-startup", fx.postgresStartup({ user: "app" }, 0x00020000)],
  ["postgres SSLRequest with length 16", "postgres-startup", patched(fx.postgresSslRequest, 0, "00000010")],
  ["postgres startup over 10000 bytes", "postgres-startup", Buffer.from("0000ffff00030000", "hex")],
  ["postgres, 7 bytes", "postgres-startup", fx.postgresSslRequest.subarray(0, 7)],
  ["MySQL greeting with sequence 1", "mysql-handshake-v10", patched(fx.mysqlGreeting(), 3, "01")],
  ["MySQL protocol 9", "mysql-handshake-v10", patched(fx.mysqlGreeting(), 4, "09")],
  ["MySQL version not a number", "mysql-handshake-v10", fx.mysqlGreeting("beta")],
  ["MongoDB reply (responseTo set)", "mongodb-wire-header", patched(fx.mongodbOpMsg(), 8, "01000000")],
  ["MongoDB OP_REPLY opcode 1", "mongodb-wire-header", patched(fx.mongodbOpMsg(), 12, "01000000")],
  ["TDS LOGIN7 packet (0x10)", "mssql-tds-prelogin", patched(fx.mssqlPrelogin(), 0, "10")],
  ["TDS window not 0", "mssql-tds-prelogin", patched(fx.mssqlPrelogin(), 7, "05")],
  ["RESP empty array", "redis-resp", Buffer.from("*0\r\n")],
  ["RESP array without bulk string", "redis-resp", Buffer.from("*2\r\n:1\r\n")],
  ["memcached upper case", "memcached-text", Buffer.from("GET user:42\r\n")],
  ["memcached set without numbers", "memcached-text", Buffer.from("set user:42\r\n")],
  ["memcached bare LF", "memcached-text", Buffer.from("get user:42\n")],
  ["memcached binary response magic", "memcached-binary", patched(fx.memcachedBinaryGet, 0, "81")],
  ["Kafka api key 500", "kafka-request-header", patched(fx.kafkaMetadataRequest(), 4, "01f4")],
  ["Kafka negative correlation id", "kafka-request-header", patched(fx.kafkaMetadataRequest(), 8, "ffffffff")],
  ["Kafka client id longer than the request", "kafka-request-header", Buffer.from("0000000c000300010000000700ff61", "hex")],
  ["AMQP header cut at 7 bytes", "amqp-protocol-header", fx.amqp091Header.subarray(0, 7)],
  ["AMQP unknown version", "amqp-protocol-header", Buffer.from("AMQP\x00\x00\x0a\x00", "latin1")],
  ["NATS INFO without JSON", "nats-info", Buffer.from("INFO\r\n")],
  ["NATS CONNECT without JSON", "nats-connect", Buffer.from("CONNECT example.com:443 HTTP/1.1\r\n")],
  ["HTTP request line without version", "http-request", Buffer.from("GET /\r\n")],
  ["HTTP/2 status", "http-response", Buffer.from("HTTP/2 200\r\n")],
  ["TLS application data record", "tls-client-hello", patched(clientHello("a.example"), 0, "17")],
];

describe("the rule table", () => {
  it("has unique rule names", () => {
    expect(new Set(RULES.map((r) => r.name)).size).toBe(RULES.length);
  });

  it("holds the Go tool's protocols with its categories and default ports", () => {
    for (const [protocol, { category, ports }] of Object.entries(GO_PROTOCOLS)) {
      const rules = RULES.filter((r) => r.protocol === protocol);
      expect(rules.length, protocol).toBeGreaterThan(0);
      for (const rule of rules) expect({ category: rule.category, ports: rule.ports }, rule.name).toEqual({ category, ports });
    }
  });

  it("adds http (web) and tls (category from the port), with no default ports", () => {
    for (const rule of RULES.filter((r) => r.protocol === "http")) expect(rule).toMatchObject({ category: "web", ports: [] });
    expect(ruleByName("tls-client-hello")).toMatchObject({ protocol: "tls", category: "unknown", ports: [] });
  });

  it("marks MySQL and NATS as server-first, read from the server's greeting", () => {
    expect(RULES.filter((r) => r.speaks === "server-first").map((r) => r.protocol)).toEqual(["mysql", "nats", "nats", "nats", "nats", "pop3", "imap", "smtp", "smtp", "pop3", "imap"]);
    expect(ruleByName("mysql-handshake-v10")?.reads).toBe("server");
    expect(ruleByName("nats-info")?.reads).toBe("server");
  });

  it("describes every rule", () => {
    for (const rule of RULES) expect(rule.description.length, rule.name).toBeGreaterThan(20);
  });

  it("finds a port's rules in table order", () => {
    expect(rulesForPort(11211).map((r) => r.name)).toEqual(["memcached-text", "memcached-binary"]);
    expect(rulesForPort(26379).map((r) => r.name)).toEqual(["redis-resp", "redis-push", "redis-inline"]);
    expect(rulesForPort(110).map((r) => r.name)).toEqual(["pop3-greeting", "pop3-command"]);
    expect(rulesForPort(143).map((r) => r.name)).toEqual(["imap-greeting", "imap-command"]);
    expect(rulesForPort(1433).map((r) => r.name)).toEqual(["mongodb-reply", "mssql-tds-request", "mssql-tds-response", "mssql-tds-prelogin"].filter((n) => n.startsWith("mssql")));
    expect(rulesForPort(443)).toEqual([]);
  });
});

describe("fingerprints, rule by rule", () => {
  it.each(POSITIVES)("%s matches %s", (_name, ruleName, bytes, detail) => {
    const fp = ruleByName(ruleName)!.fingerprint(bytes);
    expect(fp.match).toBe(true);
    expect(fp.detail).toContain(detail);
  });

  it.each(NEGATIVES)("%s does not match %s", (_name, ruleName, bytes) => {
    expect(ruleByName(ruleName)!.fingerprint(bytes).match).toBe(false);
  });

  it.each(POSITIVES)("%s matches no other protocol's rule", (_name, ruleName, bytes) => {
    const own = ruleByName(ruleName)!;
    const others = RULES.filter((r) => r.protocol !== own.protocol && r.fingerprint(bytes).match).map((r) => r.name);
    expect(others).toEqual([]);
  });

  it.each(RULES.map((r) => [r.name, r] as const))("%s rejects empty and one-byte input", (_name, rule) => {
    expect(rule.fingerprint(Buffer.alloc(0)).match).toBe(false);
    expect(rule.fingerprint(Buffer.from([0x16])).match).toBe(false);
  });
});

describe("mid-connection fingerprints (capture started after the handshake)", () => {
  it("recognise a NATS client's PUB, HPUB and SUB lines, and nothing else", () => {
    const rule = ruleByName("nats-client-op")!;
    for (const line of ["PUB demo.requests 57\r\n{...}", "PUB a.b _INBOX.x 0\r\n\r\n", "HPUB a 12 20\r\n", "SUB demo.requests 1\r\n", "sub q.x workers 7\r\n"]) {
      expect(rule.fingerprint(Buffer.from(line)).match, line).toBe(true);
    }
    for (const line of ["PING\r\n", "*1\r\n$4\r\nPING\r\n", "PUBLISH x\r\n", "SUB\r\n", "GET / HTTP/1.1\r\n"]) {
      expect(rule.fingerprint(Buffer.from(line)).match, line).toBe(false);
    }
  });

  it("recognise a whole Postgres simple Query message, and nothing else", () => {
    const rule = ruleByName("postgres-query")!;
    const query = (sql: string, extra = 0) => {
      const body = Buffer.from(`${sql}\0`);
      const b = Buffer.alloc(5 + body.length);
      b[0] = 0x51;
      b.writeInt32BE(4 + body.length + extra, 1);
      body.copy(b, 5);
      return b;
    };
    expect(rule.fingerprint(query("SELECT 1")).match).toBe(true);
    expect(rule.fingerprint(query("SELECT 1", 3)).match).toBe(false); // length past the bytes
    expect(rule.fingerprint(Buffer.from("Q\0\0\0\x09ab\x01c\0")).match).toBe(false); // not text
    expect(rule.fingerprint(Buffer.from("QUIT\r\n")).match).toBe(false);
  });
});
