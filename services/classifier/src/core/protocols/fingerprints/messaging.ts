// Fingerprints of the message buses: Kafka's request header, AMQP's protocol header, NATS's text greeting.
import { int16BE, int32BE, isPrintableRange, startsWithAscii } from "../bytes.ts";
import { matched, notMatched } from "./result.ts";
import type { Fingerprint } from "./result.ts";

/** Kafka 4.x numbers its APIs up to the low 80s: keys above this are not Kafka. */
const KAFKA_MAX_API_KEY = 90;
const KAFKA_MAX_API_VERSION = 20;
/** Broker default socket.request.max.bytes (100 MiB). */
const KAFKA_MAX_REQUEST = 104_857_600;
const KAFKA_MAX_CLIENT_ID = 1024;
/** The APIs a client opens with, named in the reason; others are shown by number. */
const KAFKA_API_NAMES: Readonly<Record<number, string>> = {
  0: "Produce", 1: "Fetch", 2: "ListOffsets", 3: "Metadata", 10: "FindCoordinator",
  17: "SaslHandshake", 18: "ApiVersions", 36: "SaslAuthenticate",
};

/**
 * Kafka request header v1/v2 (big-endian): int32 size, int16 api key, int16 api version, int32 correlation id,
 * int16 client id length (-1 for null) and the client id. The size may exceed the captured bytes (truncation).
 */
export function kafkaRequestHeader(bytes: Buffer): Fingerprint {
  const size = int32BE(bytes, 0);
  const apiKey = int16BE(bytes, 4);
  const apiVersion = int16BE(bytes, 6);
  const correlationId = int32BE(bytes, 8);
  const clientIdLength = int16BE(bytes, 12);
  if (size === null || apiKey === null || apiVersion === null || correlationId === null || clientIdLength === null) {
    return notMatched("fewer than 14 bytes");
  }
  if (size < 10 || size > KAFKA_MAX_REQUEST) return notMatched(`request size ${size} out of range`);
  if (apiKey < 0 || apiKey > KAFKA_MAX_API_KEY) return notMatched(`api key ${apiKey} out of range`);
  if (apiVersion < 0 || apiVersion > KAFKA_MAX_API_VERSION) return notMatched(`api version ${apiVersion} out of range`);
  if (correlationId < 0) return notMatched("negative correlation id");
  if (clientIdLength < -1 || clientIdLength > KAFKA_MAX_CLIENT_ID || 10 + Math.max(0, clientIdLength) > size) {
    return notMatched(`client id length ${clientIdLength} not sane`);
  }
  const idEnd = Math.min(bytes.length, 14 + Math.max(0, clientIdLength));
  if (!isPrintableRange(bytes, 14, idEnd)) return notMatched("client id not text");
  const api = KAFKA_API_NAMES[apiKey] ?? `api key ${apiKey}`;
  return matched(`Kafka request header (${api} v${apiVersion})`);
}

/** The 8-byte header a client sends before anything else: "AMQP", then protocol id and version. */
export function amqpProtocolHeader(bytes: Buffer): Fingerprint {
  if (bytes.length < 8) return notMatched("fewer than 8 bytes");
  if (!startsWithAscii(bytes, "AMQP")) return notMatched('no "AMQP" protocol header');
  const version = bytes.subarray(4, 8).toString("hex");
  if (version === "00000901") return matched("AMQP 0-9-1 protocol header");
  if (version === "01010009" || version === "01010008") return matched("AMQP 0-9/0-8 protocol header");
  // AMQP 1.0: protocol id 0 (plain), 2 (TLS) or 3 (SASL), version 1.0.0.
  if (/^0[023]010000$/.test(version)) return matched("AMQP 1.0 protocol header");
  return notMatched(`unknown AMQP version ${version}`);
}

// NATS operations are case-insensitive; "INFO {json}" and "CONNECT {json}" may have several spaces or tabs.
const NATS_INFO = /^INFO[ \t]+\{/i;
const NATS_CONNECT = /^CONNECT[ \t]+\{/i;

/** The server speaks first in NATS: its greeting is "INFO {...}". */
export function natsInfo(bytes: Buffer): Fingerprint {
  const head = bytes.subarray(0, 32).toString("latin1");
  return NATS_INFO.test(head) ? matched("NATS INFO server greeting") : notMatched('no "INFO {" greeting');
}

/** The client's first words in NATS: "CONNECT {...}". */
export function natsConnect(bytes: Buffer): Fingerprint {
  const head = bytes.subarray(0, 32).toString("latin1");
  return NATS_CONNECT.test(head) ? matched("NATS CONNECT") : notMatched('no "CONNECT {"');
}

// Operations of a NATS client already connected (the capture started after its CONNECT):
// "PUB <subject> [reply] <size>", "HPUB <subject> [reply] <hdr size> <size>", "SUB <subject> [queue] <sid>".
const NATS_CLIENT_OP = /^(?:H?PUB[ \t]+[^\s]+(?:[ \t]+[^\s]+){1,3}|SUB[ \t]+[^\s]+(?:[ \t]+[^\s]+){1,2})\r\n/i;

export function natsClientOp(bytes: Buffer): Fingerprint {
  const head = bytes.subarray(0, 256).toString("latin1");
  return NATS_CLIENT_OP.test(head) && /\d\r\n|\S\r\n/.test(head) ? matched("NATS client PUB/SUB operation") : notMatched("no NATS PUB/HPUB/SUB line");
}
