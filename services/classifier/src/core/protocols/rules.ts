// The protocol rules as data: which ports a protocol lives on, who speaks first, and how its first bytes look.
// Ports and categories are the Go tool's ("Supported Protocols and Ports"); classify.ts reads this table.
//
// Order matters only when bytes match a rule that is not the port's own: the table is tried top to bottom,
// most specific fingerprints first (exact magic before plausible binary headers).
import type { ConnectionObservation } from "@adi/shared/wire/derived";
import { caches, databases, messaging, web } from "./fingerprints/index.ts";
import type { Fingerprint } from "./fingerprints/result.ts";

export type Category = ConnectionObservation["category"];
export type { Fingerprint };

export interface ProtocolRule {
  /** Unique; lands in evidence.rule. */
  readonly name: string;
  readonly protocol: string;
  readonly category: Category;
  /** Where the protocol is found by default; a port match alone is worth confidence 60. */
  readonly ports: readonly number[];
  /** Who opens the conversation: in server-first protocols (MySQL, NATS) the server greets before the client writes. */
  readonly speaks: "client-first" | "server-first";
  /** Whose first bytes the fingerprint reads (NATS's CONNECT is the client's, its INFO the server's). */
  readonly reads: "client" | "server";
  readonly fingerprint: (bytes: Buffer) => Fingerprint;
  readonly description: string;
}

export const RULES: readonly ProtocolRule[] = Object.freeze([
  {
    name: "tls-client-hello", protocol: "tls", category: "unknown", ports: [], speaks: "client-first", reads: "client",
    fingerprint: web.tlsClientHello,
    description: "TLS handshake record (0x16 0x03xx) holding a ClientHello (type 1); the protocol inside is the port's",
  },
  {
    name: "http-request", protocol: "http", category: "web", ports: [], speaks: "client-first", reads: "client",
    fingerprint: web.httpRequest,
    description: 'HTTP/1.x request line "METHOD target HTTP/1.x", or the HTTP/2 prior-knowledge preface',
  },
  {
    name: "http-response", protocol: "http", category: "web", ports: [], speaks: "client-first", reads: "server",
    fingerprint: web.httpResponse,
    description: 'HTTP/1.x status line "HTTP/1.x NNN" from the server (the request was not captured)',
  },
  {
    name: "amqp-protocol-header", protocol: "amqp", category: "message_bus", ports: [5672, 5671], speaks: "client-first", reads: "client",
    fingerprint: messaging.amqpProtocolHeader,
    description: 'AMQP protocol header "AMQP\\x00\\x00\\x09\\x01" (0-9-1; 0-9/0-8 and 1.0 too)',
  },
  {
    name: "postgres-startup", protocol: "postgres", category: "database", ports: [5432], speaks: "client-first", reads: "client",
    fingerprint: databases.postgresStartup,
    description: "Postgres StartupMessage (protocol 3.0/3.2), SSLRequest 80877103, GSSENCRequest 80877104 or CancelRequest 80877102",
  },
  {
    name: "mysql-handshake-v10", protocol: "mysql", category: "database", ports: [3306], speaks: "server-first", reads: "server",
    fingerprint: databases.mysqlGreeting,
    description: "MySQL/MariaDB server greeting HandshakeV10: length, sequence 0, protocol 10, NUL-terminated version",
  },
  {
    name: "nats-info", protocol: "nats", category: "message_bus", ports: [4222, 6222], speaks: "server-first", reads: "server",
    fingerprint: messaging.natsInfo,
    description: 'NATS server greeting "INFO {json}"',
  },
  {
    name: "nats-connect", protocol: "nats", category: "message_bus", ports: [4222, 6222], speaks: "server-first", reads: "client",
    fingerprint: messaging.natsConnect,
    description: 'NATS client handshake "CONNECT {json}" (sent after the server\'s INFO)',
  },
  {
    name: "nats-client-op", protocol: "nats", category: "message_bus", ports: [4222, 6222], speaks: "server-first", reads: "client",
    fingerprint: messaging.natsClientOp,
    description: 'NATS client operation "PUB subject [reply] size" / "HPUB" / "SUB subject [queue] sid", seen mid-connection',
  },
  {
    name: "postgres-query", protocol: "postgres", category: "database", ports: [5432], speaks: "client-first", reads: "client",
    fingerprint: databases.postgresQuery,
    description: "Postgres simple Query message ('Q', length, NUL-terminated SQL), seen mid-connection",
  },
  {
    name: "redis-resp", protocol: "redis", category: "cache", ports: [6379, 26379], speaks: "client-first", reads: "client",
    fingerprint: caches.redisCommand,
    description: 'Redis RESP array "*<n>\\r\\n$", or an inline PING/AUTH/HELLO/SELECT/ECHO/INFO/CLIENT/COMMAND line',
  },
  {
    name: "memcached-text", protocol: "memcached", category: "cache", ports: [11211], speaks: "client-first", reads: "client",
    fingerprint: caches.memcachedText,
    description: "Memcached text command (get/set/add/delete/version/stats/meta...) on a CRLF-terminated line",
  },
  {
    name: "memcached-binary", protocol: "memcached", category: "cache", ports: [11211], speaks: "client-first", reads: "client",
    fingerprint: caches.memcachedBinary,
    description: "Memcached binary request header: magic 0x80, known opcode, data type 0, sane body length",
  },
  {
    name: "mongodb-wire-header", protocol: "mongodb", category: "database", ports: [27017], speaks: "client-first", reads: "client",
    fingerprint: databases.mongodbHeader,
    description: "MongoDB message header (little-endian): sane length, responseTo 0, opCode OP_MSG 2013 or OP_QUERY 2004",
  },
  {
    name: "mssql-tds-prelogin", protocol: "mssql", category: "database", ports: [1433], speaks: "client-first", reads: "client",
    fingerprint: databases.mssqlPrelogin,
    description: "TDS packet header of a PRELOGIN: type 0x12, status bits, big-endian length, window 0",
  },
  {
    name: "kafka-request-header", protocol: "kafka", category: "message_bus", ports: [9092, 19092, 29092, 9093], speaks: "client-first", reads: "client",
    fingerprint: messaging.kafkaRequestHeader,
    description: "Kafka request header: int32 size, api key in the known range, api version, correlation id, client id length",
  },
] satisfies ProtocolRule[]);

/** The rules whose default ports include `port`, in table order. */
export function rulesForPort(port: number): ProtocolRule[] {
  return RULES.filter((rule) => rule.ports.includes(port));
}

export function ruleByName(name: string): ProtocolRule | undefined {
  return RULES.find((rule) => rule.name === name);
}
