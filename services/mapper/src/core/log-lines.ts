// The Go tool's HTTP events file (OUTPUT_PATH): JSON lines, one per request and one per response, and one
// per classified non-HTTP connection. Fields and their order follow the Go README; fields it did not have
// come last (side, conn_id, seq, exchange_id, body_truncated when true, latency_ms). Lines are plain objects: the writer stringifies.
import { isUtf8 } from "node:buffer";
import { createHash } from "node:crypto";
import type { ConnectionObservation, Endpoint, HttpExchange, HttpRequest, HttpResponse } from "@adi/shared/wire";
import { RedactionPolicy } from "@adi/shared/redaction";
import { headerObject } from "./headers.ts";
import type { ContainerIdentity, DestinationType, NameResolver, ResolvedName } from "./names.ts";
import { refOf } from "./names.ts";
import { exchangeKey, observerRole } from "./observation.ts";
import type { Role } from "./observation.ts";

export interface LogLineOptions {
  /**
   * Applied to the exchange before its lines are made (headers, url, body, raw_payload). Default: everything
   * redacted (RedactionPolicy.DEFAULT). MapperOutputs redacts once when it takes the exchange and passes NONE.
   */
  redaction?: RedactionPolicy;
}

/** The Go tool's source_container / destination_container. */
export interface ContainerRef {
  service: string;
  image: string | null;
  container_id: string;
  container_name: string;
}

/** "send": the observer wrote these bytes; "recv": it read them (the Go tool logged both). */
/** The log line's `direction` (the Go tool's words): the observer sent or received the message. */
export type LogDirection = "send" | "recv";

interface ProcessFields {
  timestamp: string;
  pid: number;
  comm: string;
  cmdline: string;
  direction: LogDirection;
  source_ip: string;
  source_port: number;
  dest_ip: string;
  dest_port: number;
}

interface MessageTail {
  body: string | null;
  headers: Record<string, string>;
  raw_payload: string;
  source_container: ContainerRef | null;
  destination_container: ContainerRef | null;
  destination_type: DestinationType;
  side: Role;
  conn_id: string;
  seq: number;
  exchange_id: string;
  /**
   * Only when true: the message did not come whole (its body never came, a reset, the capture or decoding limit):
   * `body` and `bytes` hold what was captured. Absent on complete messages, so their lines keep their shape.
   */
  body_truncated?: true;
}

export type HttpRequestLine = ProcessFields & { bytes: number; method: string; url: string } & MessageTail;
export type HttpResponseLine = ProcessFields & { bytes: number; status_code: number } & MessageTail & {
  latency_ms: number | null;
};

export type ConnectionLine = {
  timestamp: string;
  event_type: "connection";
} & Omit<ProcessFields, "timestamp"> & {
    protocol: string;
    category: string;
    confidence: number;
    detection_reason: string;
    side: Role;
    conn_id: string;
    /**
     * The first bytes the classifier examined, hex (at most 32 bytes): what an unknown protocol looked like. Only
     * on `unknown` connections: a recognised protocol's opening bytes can carry credentials (a Redis AUTH, a
     * PostgreSQL startup's user), and its name already says what it was.
     */
    first_bytes_hex?: string;
  };

/** One line for the request, and one for the response when there was one. */
export function httpLogLines(
  given: HttpExchange,
  names: NameResolver,
  options: LogLineOptions = {},
): (HttpRequestLine | HttpResponseLine)[] {
  const exchange = (options.redaction ?? RedactionPolicy.DEFAULT).exchange(given);
  const role = observerRole(exchange);
  const self = refOf(exchange);
  const client = role === "client" ? names.resolveProcess(self) : names.resolveRemote(exchange.client.ip);
  const server = role === "server" ? names.resolveProcess(self) : names.resolveEndpoint(exchange.host, exchange.server);
  const exchangeId = hashId(exchangeKey(exchange));
  type Message = HttpRequest | HttpResponse;
  const tail = (message: Message, from: ResolvedName | null, to: ResolvedName | null): MessageTail => ({
    body: message.body_binary ? null : message.body,
    headers: headerObject(message.headers),
    raw_payload: rawText(message.raw),
    source_container: containerRef(from?.container ?? null),
    destination_container: containerRef(to?.container ?? null),
    destination_type: to?.type ?? "external",
    side: role,
    conn_id: exchange.conn_id,
    seq: exchange.seq,
    exchange_id: exchangeId,
    ...(message.body_truncated ? { body_truncated: true as const } : {}),
  });

  const { request, response } = exchange;
  const lines: (HttpRequestLine | HttpResponseLine)[] = [
    {
      ...processFields(exchange, names, request.ts, directionOf(role, "client"), exchange.client, exchange.server),
      bytes: wireBytes(request),
      method: request.method,
      url: request.target,
      ...tail(request, client, server),
    },
  ];
  if (response) {
    lines.push({
      ...processFields(exchange, names, response.ts, directionOf(role, "server"), exchange.server, exchange.client),
      bytes: wireBytes(response),
      status_code: response.status,
      ...tail(response, server, client),
      latency_ms: exchange.latency_ns === null ? null : Math.round(exchange.latency_ns / 1000) / 1000,
    });
  }
  return lines;
}

/**
 * The Go tool's connection event; source is the client (who connected), destination the server. Its fields as
 * the Go README lists them, then ours (side, conn_id, and first_bytes_hex when unknown). A connection no rule recognised is
 * logged too: protocol "unknown", category "unknown", confidence 0, and its first bytes in hex.
 */
export function connectionLogLine(obs: ConnectionObservation, names: NameResolver): ConnectionLine {
  const role = observerRole(obs);
  const direction = directionOf(role, "client");
  const { timestamp, ...fields } = processFields(obs, names, obs.ts, direction, obs.client, obs.server);
  return {
    timestamp,
    event_type: "connection",
    ...fields,
    protocol: obs.protocol,
    category: obs.category,
    confidence: obs.confidence,
    detection_reason: obs.reason,
    side: role,
    conn_id: obs.conn_id,
    ...(obs.protocol === "unknown" ? { first_bytes_hex: obs.evidence.first_bytes_hex } : {}),
  };
}

/** The observer sent the message when it is the end that sends it (`sender`). */
function directionOf(observer: Role, sender: Role): LogDirection {
  return observer === sender ? "send" : "recv";
}

function processFields(
  obs: HttpExchange | ConnectionObservation,
  names: NameResolver,
  timestamp: string,
  direction: LogDirection,
  from: Endpoint,
  to: Endpoint,
): ProcessFields {
  // Unknown until the process fact arrives (the line is written now, not rebuilt later): empty, as a
  // string field of the Go tool would be.
  const info = names.processInfo(refOf(obs));
  return {
    timestamp,
    pid: obs.pid,
    comm: info?.comm ?? "",
    cmdline: info?.cmdline ?? "",
    direction,
    source_ip: from.ip,
    source_port: from.port,
    dest_ip: to.ip,
    dest_port: to.port,
  };
}

/**
 * Size on the wire, estimated: the head as captured plus the body's size after transfer decoding (chunk
 * framing is not counted). When the capture cut the head, what was captured.
 */
function wireBytes(message: HttpRequest | HttpResponse): number {
  // The head's true size: `raw` is redacted (its `[REDACTED]` is not the secret's length).
  if (message.head_size !== undefined) return message.head_size + message.body_size;
  const headEnd = message.raw.indexOf("\r\n\r\n");
  return headEnd < 0 ? message.raw.length : headEnd + 4 + message.body_size;
}

/**
 * raw_payload as text: the derived `raw` is latin1 (one character per byte); its head, and separately what follows
 * it, are shown as UTF-8 when their bytes are valid UTF-8 (a `/café/日本` target reads as sent), else as read.
 */
function rawText(raw: string): string {
  const headEnd = raw.indexOf("\r\n\r\n");
  if (headEnd < 0) return utf8IfValid(raw);
  return utf8IfValid(raw.slice(0, headEnd + 4)) + utf8IfValid(raw.slice(headEnd + 4));
}

function utf8IfValid(latin1: string): string {
  // eslint-disable-next-line no-control-regex
  if (/^[\x00-\x7f]*$/.test(latin1)) return latin1;
  const bytes = Buffer.from(latin1, "latin1");
  return isUtf8(bytes) ? bytes.toString("utf8") : latin1;
}

function containerRef(identity: ContainerIdentity | null): ContainerRef | null {
  if (!identity) return null;
  const { service, image, container_id, container_name } = identity;
  return { service, image, container_id, container_name };
}

/** Both observers of one call get the same id; hashed so a long (or secret-bearing) URL stays out of it. */
function hashId(key: string): string {
  return createHash("sha256").update(key).digest("hex").slice(0, 16);
}
