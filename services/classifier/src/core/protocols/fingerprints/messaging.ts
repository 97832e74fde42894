// Fingerprints of the message buses: Kafka's request header, AMQP's protocol header, NATS's text greeting.
import { int16BE, int32BE, isPrintableRange, prefixOfTemplate, startsWithAscii, uintBE } from "../bytes.ts";
import { awaitReply, matched, needMore, notMatched } from "./result.ts";
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
  // Each field as soon as it is there, so a short write that already breaks the header is not waited on.
  if (size !== null && (size < 10 || size > KAFKA_MAX_REQUEST)) return notMatched(`request size ${size} out of range`);
  if (apiKey !== null && (apiKey < 0 || apiKey > KAFKA_MAX_API_KEY)) return notMatched(`api key ${apiKey} out of range`);
  if (apiVersion !== null && (apiVersion < 0 || apiVersion > KAFKA_MAX_API_VERSION)) return notMatched(`api version ${apiVersion} out of range`);
  if (correlationId !== null && correlationId < 0) return notMatched("negative correlation id");
  if (size === null || apiKey === null || apiVersion === null || correlationId === null || clientIdLength === null) {
    return needMore("fewer than 14 bytes");
  }
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
  if (bytes.length < 8) return prefixOfTemplate(bytes, "AMQP") ? needMore("fewer than 8 bytes") : notMatched('no "AMQP" protocol header');
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

/** A prefix of "<word>[ \t]+{" that is not whole yet (case-insensitive). */
function wordBraceSoFar(head: string, word: string): boolean {
  const m = /^([A-Za-z]*)([ \t]*)$/.exec(head);
  return m !== null && word.startsWith(m[1]!.toUpperCase()) && (m[2] === "" || m[1]!.length === word.length) && head.length < 32;
}

/** The server speaks first in NATS: its greeting is "INFO {...}". */
export function natsInfo(bytes: Buffer): Fingerprint {
  const head = bytes.subarray(0, 32).toString("latin1");
  if (NATS_INFO.test(head)) return matched("NATS INFO server greeting");
  return wordBraceSoFar(head, "INFO") ? needMore('"INFO {" so far') : notMatched('no "INFO {" greeting');
}

/** The client's first words in NATS: "CONNECT {...}". */
export function natsConnect(bytes: Buffer): Fingerprint {
  const head = bytes.subarray(0, 32).toString("latin1");
  if (NATS_CONNECT.test(head)) return matched("NATS CONNECT");
  return wordBraceSoFar(head, "CONNECT") ? needMore('"CONNECT {" so far') : notMatched('no "CONNECT {"');
}

// Operations of a NATS client already connected (the capture started after its CONNECT):
// "PUB <subject> [reply] <size>", "HPUB <subject> [reply] <hdr size> <size>", "SUB <subject> [queue] <sid>".
const NATS_CLIENT_OP = /^(?:H?PUB[ \t]+[^\s]+(?:[ \t]+[^\s]+){1,3}|SUB[ \t]+[^\s]+(?:[ \t]+[^\s]+){1,2})\r\n/i;

export function natsClientOp(bytes: Buffer): Fingerprint {
  const head = bytes.subarray(0, 256).toString("latin1");
  return NATS_CLIENT_OP.test(head) && /\d\r\n|\S\r\n/.test(head) ? matched("NATS client PUB/SUB operation") : notMatched("no NATS PUB/HPUB/SUB line");
}

// What a NATS server sends a connected client (the capture started after its INFO), from the client protocol
// reference (docs.nats.io, "Client Protocol"): "MSG <subject> <sid> [reply-to] <#bytes>" and
// "HMSG <subject> <sid> [reply-to] <#header bytes> <#total bytes>", each followed by its payload and CRLF, and the
// keep-alive and status ops "PING", "PONG", "+OK", "-ERR '<message>'", "INFO {...}". A subscriber that only
// receives writes nothing after its CONNECT/SUB but the "PONG" its server's "PING" asks for.
const NATS_MSG = /^MSG[ \t]+\S+[ \t]+\S+(?:[ \t]+\S+)?[ \t]+(\d{1,10})$/;
const NATS_HMSG = /^HMSG[ \t]+\S+[ \t]+\S+(?:[ \t]+\S+)?[ \t]+(\d{1,10})[ \t]+(\d{1,10})$/;
/** The server ops without payload, as whole lines. */
const NATS_SERVER_LINE = /^(?:PING|PONG|\+OK|-ERR '[\x20-\x26\x28-\x7e]*'|INFO[ \t]+\{[\x20-\x7e]*\})$/;
/** The op words a line being written may start with. */
const NATS_SERVER_WORDS = ["PING", "PONG", "+OK", "-ERR", "INFO", "MSG", "HMSG"];
/** Ops read at most, and the longest line waited for (an INFO with its cluster URLs is the longest). */
const NATS_MAX_OPS = 64;
const NATS_MAX_LINE = 16_384;
/** A NATS client's answer to its server's PING, and nothing else. */
const NATS_PONGS = /^(?:PONG\r\n)+$/;

interface NatsOps {
  /** Whole ops read, MSG/HMSG as "MSG". */
  ops: string[];
  /** "whole": every byte read formed ops; "cut": the last op is not whole yet; "invalid": a line is no server op. */
  state: "whole" | "cut" | "invalid";
  why: string;
}

/** Reads a NATS server's bytes op by op (see the comment above); a payload cut by the captured bytes ends the read. */
function natsServerOps(bytes: Buffer): NatsOps {
  const ops: string[] = [];
  let at = 0;
  while (at < bytes.length && ops.length < NATS_MAX_OPS) {
    const lf = bytes.indexOf(0x0a, at);
    if (lf === -1 || lf - at > NATS_MAX_LINE) {
      const rest = bytes.toString("latin1", at, Math.min(bytes.length, at + 8));
      const prefix = NATS_SERVER_WORDS.some((w) => w.startsWith(rest.replace(/[ \t].*$/s, "")) || rest.startsWith(w));
      return { ops, state: prefix && lf === -1 && bytes.length - at <= NATS_MAX_LINE ? "cut" : "invalid", why: "a line that is no NATS server op" };
    }
    if (bytes[lf - 1] !== 0x0d) return { ops, state: "invalid", why: "a line not ended by CRLF" };
    const line = bytes.toString("latin1", at, lf - 1);
    at = lf + 1;
    if (NATS_SERVER_LINE.test(line)) {
      ops.push(line.split(/[ \t]/)[0]!);
      continue;
    }
    const msg = NATS_MSG.exec(line);
    const hmsg = msg ? null : NATS_HMSG.exec(line);
    if (!msg && !hmsg) return { ops, state: "invalid", why: `"${line.slice(0, 16)}" is no NATS server op` };
    const size = Number(msg ? msg[1] : hmsg![2]);
    if (hmsg && Number(hmsg[1]) > size) return { ops, state: "invalid", why: "HMSG header size above its total size" };
    if (hmsg && bytes.length >= at + 8 && bytes.toString("latin1", at, at + 8) !== "NATS/1.0") return { ops, state: "invalid", why: 'HMSG headers not "NATS/1.0"' };
    ops.push("MSG");
    const end = at + size;
    if (bytes.length < end + 2) return { ops, state: "cut", why: "a payload past the bytes captured" };
    if (bytes[end] !== 0x0d || bytes[end + 1] !== 0x0a) return { ops, state: "invalid", why: "no CRLF after the MSG payload" };
    at = end + 2;
  }
  return { ops, state: "whole", why: "" };
}

/**
 * A NATS server seen mid-connection (a subscriber connected before the capture began): a sequence of server ops
 * (PING, PONG, +OK, -ERR, INFO, MSG, HMSG), every one valid, each MSG's byte count landing on its CRLF, holding a
 * MSG/HMSG delivery; or a server PING answered by the client's "PONG" and nothing else (`other`, the client's bytes).
 */
export function natsServerOp(bytes: Buffer, other: Buffer | null = null): Fingerprint {
  const read = natsServerOps(bytes);
  if (read.state === "invalid") return notMatched(read.ops.length === 0 ? "no NATS server op" : read.why);
  const msg = read.ops.includes("MSG");
  if (msg) return matched(read.ops[0] === "MSG" ? "NATS server MSG delivery" : `NATS server ops (${read.ops[0]}, then MSG)`);
  const ping = read.ops.includes("PING");
  const client = other ?? Buffer.alloc(0);
  if (ping && NATS_PONGS.test(client.toString("latin1"))) return matched("NATS server PING answered PONG by the client");
  if (read.state === "cut") return needMore("a NATS server op so far");
  if (ping && "PONG\r\n".startsWith(client.toString("latin1", 0, 6)) && client.length < 6) return awaitReply("NATS server PING, awaiting the client's PONG");
  return notMatched(read.ops.length === 0 ? "no NATS server op" : "NATS server ops without a delivery or a PING answered PONG");
}

/** AMQP 0-9-1 frame types (spec 4.2.3): method, content header, content body, heartbeat. */
const AMQP_FRAME_TYPES: Readonly<Record<number, string>> = { 1: "method", 2: "content header", 3: "content body", 8: "heartbeat" };
const AMQP_FRAME_END = 0xce;
/** Classes of AMQP 0-9-1 and the highest method id each defines (spec 1.x; confirm from RabbitMQ's extensions). */
const AMQP_CLASSES: Readonly<Record<number, number>> = { 10: 61, 20: 41, 30: 11, 40: 51, 50: 51, 60: 121, 85: 11, 90: 31 };
/** frame_max as brokers negotiate it (RabbitMQ's default is 128 KiB; the limit it accepts is far higher). */
const AMQP_MAX_FRAME = 1024 * 1024;

/** Checks one whole frame's payload; null when it is sane for its type. */
function amqpFrameProblem(type: number, channel: number, payload: Buffer): string | null {
  if (type === 8) return channel === 0 && payload.length === 0 ? null : "heartbeat not empty on channel 0";
  if (type === 1) {
    const classId = uintBE(payload, 0, 2);
    const methodId = uintBE(payload, 2, 2);
    if (classId === null || methodId === null) return "method frame shorter than its ids";
    const last = AMQP_CLASSES[classId];
    return last !== undefined && methodId >= 10 && methodId <= last ? null : `class ${classId} method ${methodId} unknown`;
  }
  if (type === 2) {
    // class id, weight 0, body size (u64), property flags
    return payload.length >= 14 && AMQP_CLASSES[uintBE(payload, 0, 2)!] !== undefined && uintBE(payload, 2, 2) === 0 ? null : "content header not sane";
  }
  return null; // a body frame is opaque; its framing (size, end octet) was checked
}

/**
 * AMQP 0-9-1 frames seen mid-connection (spec 2.3.5 and 4.2.3): type, channel, size, payload, frame-end 0xCE, from
 * either end (a client's basic.publish, a broker's basic.deliver). The first frame must be whole, end in 0xCE, and be
 * a known method, a content header, a heartbeat, or a body frame followed by another frame's header of a known type.
 */
export function amqpFrame(bytes: Buffer): Fingerprint {
  const type = bytes[0];
  if (type !== undefined && AMQP_FRAME_TYPES[type] === undefined) return notMatched("not an AMQP frame type");
  if (bytes.length < 7) return needMore("fewer than 7 bytes");
  const channel = uintBE(bytes, 1, 2)!;
  const size = uintBE(bytes, 3, 4)!;
  if (size > AMQP_MAX_FRAME) return notMatched(`frame size ${size} over frame_max`);
  const end = 7 + size;
  if (bytes.length <= end) return needMore("frame not whole yet");
  if (bytes[end] !== AMQP_FRAME_END) return notMatched("no frame-end octet 0xCE");
  const problem = amqpFrameProblem(type!, channel, bytes.subarray(7, end));
  if (problem !== null) return notMatched(problem);
  if (type === 3) {
    const next = bytes[end + 1];
    if (next === undefined) return needMore("body frame: waiting for the next frame");
    if (AMQP_FRAME_TYPES[next] === undefined) return notMatched("body frame not followed by a frame");
  }
  const detail = type === 1 ? `method ${uintBE(bytes, 7, 2)}.${uintBE(bytes, 9, 2)}` : AMQP_FRAME_TYPES[type!];
  return matched(`AMQP 0-9-1 ${detail} frame`);
}
