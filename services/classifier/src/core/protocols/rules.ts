// The protocol rules as data: which ports a protocol lives on, who speaks first, and how its first bytes look.
// Ports and categories are the Go tool's ("Supported Protocols and Ports"); classify.ts reads this table.
//
// Order matters only when bytes match a rule that is not the port's own: the table is tried top to bottom,
// most specific fingerprints first (exact magic before plausible binary headers).
import type { ConnectionObservation } from "@adi/shared/wire";
import { caches, databases, mail, messaging, web } from "./fingerprints/index.ts";
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
  /**
   * Reads the first bytes of the side named by `reads` (`bytes`), and may look at the other side's (`other`, null
   * when it said nothing yet): a Redis inline command needs its RESP reply. See Fingerprint.more for waiting.
   */
  readonly fingerprint: (bytes: Buffer, other?: Buffer | null) => Fingerprint;
  readonly description: string;
  /** The protocol wraps another (TLS): the port's rule names what is inside (confidence 60), else this rule does. */
  readonly tunnel?: boolean;
}

export const RULES: readonly ProtocolRule[] = Object.freeze([
  {
    name: "tls-client-hello", protocol: "tls", category: "unknown", ports: [], speaks: "client-first", reads: "client",
    fingerprint: web.tlsClientHello, tunnel: true,
    description: "TLS handshake record (0x16 0x03xx) holding a ClientHello (type 1), read to its end for the SNI; the protocol inside is the port's",
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
    name: "amqp-frame", protocol: "amqp", category: "message_bus", ports: [5672, 5671], speaks: "client-first", reads: "client",
    fingerprint: messaging.amqpFrame,
    description: "AMQP 0-9-1 frame mid-connection: type 1/2/3/8, channel, size, whole payload, frame-end 0xCE; a known class and method",
  },
  {
    name: "amqp-frame-server", protocol: "amqp", category: "message_bus", ports: [5672, 5671], speaks: "client-first", reads: "server",
    fingerprint: messaging.amqpFrame,
    description: "AMQP 0-9-1 frame from the broker (connection.start, basic.deliver...), same checks as the client's",
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
    name: "nats-server-op", protocol: "nats", category: "message_bus", ports: [4222, 6222], speaks: "server-first", reads: "server",
    fingerprint: messaging.natsServerOp,
    description: 'NATS server ops seen mid-connection (PING, PONG, +OK, -ERR, INFO, MSG, HMSG, each whole and valid) holding a "MSG"/"HMSG" delivery, its payload ending in CRLF, or a server PING the client answers "PONG" and nothing else (a subscriber writes nothing else)',
  },
  {
    name: "postgres-query", protocol: "postgres", category: "database", ports: [5432], speaks: "client-first", reads: "client",
    fingerprint: databases.postgresQuery,
    description: "Postgres simple Query message ('Q', length, NUL-terminated SQL), seen mid-connection",
  },
  {
    name: "redis-resp", protocol: "redis", category: "cache", ports: [6379, 26379], speaks: "client-first", reads: "client",
    fingerprint: caches.redisCommand,
    description: 'Redis command in RESP: an array "*<n>\\r\\n" whose first bulk string "$<len>\\r\\n" is a command name (any), lengths adding up',
  },
  {
    name: "redis-push", protocol: "redis", category: "cache", ports: [6379, 26379], speaks: "client-first", reads: "server",
    fingerprint: caches.redisPush,
    description: 'Redis server push to a subscriber: a RESP2 array "*3\\r\\n$7\\r\\nmessage..." (pmessage, smessage, (un)subscribe) or a RESP3 push ">...", whole, lengths adding up',
  },
  {
    name: "pop3-greeting", protocol: "pop3", category: "unknown", ports: [110, 995], speaks: "server-first", reads: "server",
    fingerprint: mail.pop3Greeting,
    description: 'POP3 server greeting "+OK <text>" (RFC 1939); ahead of Redis, whose "+OK" has no text',
  },
  {
    name: "imap-greeting", protocol: "imap", category: "unknown", ports: [143, 993], speaks: "server-first", reads: "server",
    fingerprint: mail.imapGreeting,
    description: 'IMAP server greeting "* OK", "* PREAUTH" or "* BYE" (RFC 9051)',
  },
  {
    name: "smtp-greeting", protocol: "smtp", category: "unknown", ports: [25, 465, 587], speaks: "server-first", reads: "server",
    fingerprint: mail.smtpGreeting,
    description: 'SMTP server greeting "220 <domain> ... ESMTP" (RFC 5321); FTP also greets with 220, so the line must name SMTP',
  },
  {
    name: "smtp-hello", protocol: "smtp", category: "unknown", ports: [25, 465, 587], speaks: "server-first", reads: "client",
    fingerprint: mail.smtpHello,
    description: 'SMTP client "EHLO <domain>" / "HELO <domain>" (RFC 5321)',
  },
  {
    name: "pop3-command", protocol: "pop3", category: "unknown", ports: [110, 995], speaks: "server-first", reads: "client",
    fingerprint: mail.pop3Command,
    description: 'POP3 command mid-connection (USER, PASS, STAT, LIST, RETR, DELE, NOOP, RSET, QUIT, TOP, UIDL, CAPA, AUTH, APOP, STLS with their arguments) answered "+OK"/"-ERR", or "+ " to AUTH; ahead of Redis\'s inline rule',
  },
  {
    name: "imap-command", protocol: "imap", category: "unknown", ports: [143, 993], speaks: "server-first", reads: "client",
    fingerprint: mail.imapCommand,
    description: 'IMAP command mid-connection "<tag> <COMMAND> ..." answered "* ...", "+ ..." or "<tag> OK|NO|BAD"; ahead of Redis\'s inline rule',
  },
  {
    name: "redis-inline", protocol: "redis", category: "cache", ports: [6379, 26379], speaks: "client-first", reads: "client",
    fingerprint: caches.redisInlineCommand,
    description: "Redis inline command (one of Redis's commands, redis-commands.ts, with arguments its arity allows) answered in RESP; a line alone is also a mail command",
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
    description: "MongoDB request (little-endian header): sane length, responseTo 0 or -1, opCode OP_MSG 2013 (sane BSON) or OP_QUERY 2004",
  },
  {
    name: "mongodb-reply", protocol: "mongodb", category: "database", ports: [27017], speaks: "client-first", reads: "server",
    fingerprint: databases.mongodbReply,
    description: "MongoDB server reply mid-connection: OP_MSG (or OP_REPLY) with responseTo a request id, sane BSON document",
  },
  {
    name: "mssql-tds-request", protocol: "mssql", category: "database", ports: [1433], speaks: "client-first", reads: "client",
    fingerprint: databases.mssqlRequest,
    description: "TDS SQL batch / RPC / transaction manager packet mid-connection, with its ALL_HEADERS (TDS 7.2+)",
  },
  {
    name: "mssql-tds-response", protocol: "mssql", category: "database", ports: [1433], speaks: "client-first", reads: "server",
    fingerprint: databases.mssqlResponse,
    description: "TDS tabular result packet (type 0x04) starting with a result token (COLMETADATA, DONE, ERROR, ENVCHANGE...)",
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
  {
    name: "tls-record", protocol: "tls", category: "unknown", ports: [], speaks: "client-first", reads: "client",
    fingerprint: web.tlsRecords, tunnel: true,
    description: "TLS records mid-connection (application data, handshake, alert, change cipher spec): whole records, lengths adding up",
  },
  {
    name: "tls-record-server", protocol: "tls", category: "unknown", ports: [], speaks: "client-first", reads: "server",
    fingerprint: web.tlsRecords, tunnel: true,
    description: "TLS records from the server (ServerHello, application data...), same checks as the client's",
  },
] satisfies ProtocolRule[]);

/** The rules whose default ports include `port`, in table order. */
export function rulesForPort(port: number): ProtocolRule[] {
  return RULES.filter((rule) => rule.ports.includes(port));
}

export function ruleByName(name: string): ProtocolRule | undefined {
  return RULES.find((rule) => rule.name === name);
}
