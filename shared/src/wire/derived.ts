// Derived observations: what the classifier makes of the raw stream, and what the mapper (and anyone else)
// consumes. Versioned like every wire contract, validated where it comes in (decode).
//
//   ADI_DERIVED     adi.derived.v2.<host>.http         one message per raw batch: its HTTP exchanges
//                   adi.derived.v2.<host>.connection   likewise, its classified connections
//   ADI_DEADLETTER  adi.deadletter.v1.<host>.<source>  what a consumer could not decode (kept for inspection)
//
// Message versions on those subjects (the subjects keep their v2: the stream and its consumers' filters stay the
// same; a message tells its version by its first byte):
//   v3 (written now): MessagePack (msgpackr records: each object shape defined once per message), timestamps as
//      integer nanoseconds, each body carried once (the wire bytes after the head only when they differ from the
//      decoded body), and each body's JSON schema key computed by the classifier, where the bytes were parsed.
//      Decoded by a structural check that reads each field once (no zod, no JSON on the consumers' hot path).
//   v2 (read only, retained streams): JSON text `{"v":2,...}`, validated with zod (DerivedBatchSchema below).
//   v1 (one observation per message) is no longer read.
// In memory, every version becomes the same `Derived` values (the types below, with RFC 3339 timestamps: the form
// the output files print), so the consumers' folds do not know which version a message was.
import { z } from "zod";
import { Packr, Unpackr } from "msgpackr";
import { inferSchemaKey } from "./body-schema.ts";
import { isoToNs, nsToIso } from "./time.ts";
import { DEADLETTER_SUBJECT_PREFIX, DERIVED_SUBJECT_PREFIX } from "./subjects.ts";

export const DERIVED_KINDS = ["http", "connection"] as const;
export type DerivedKind = (typeof DERIVED_KINDS)[number];

export function derivedSubject(host: string, kind: DerivedKind): string {
  return `${DERIVED_SUBJECT_PREFIX}.${host}.${kind}`;
}

export function deadletterSubject(host: string, source: string): string {
  return `${DEADLETTER_SUBJECT_PREFIX}.${host}.${source}`;
}

const iso9 = z.string().regex(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{9}Z$/, "expected RFC 3339 UTC with 9 fractional digits");
const int = z.number().int();
const count = z.number().int().nonnegative();

export const EndpointSchema = z.object({ ip: z.string().min(1), port: int.min(0).max(65535) });

/** Who saw it: the process (pid + start ticks + boot id is the identity) and its socket's two ends. */
const observer = {
  host: z.string().min(1),
  boot_id: z.string(),
  conn_id: z.string().regex(/^\d+$/), // u64 as decimal
  /** client: this process connected; server: it accepted; unknown: first seen mid-life. */
  side: z.enum(["client", "server", "unknown"]),
  pid: int.positive(),
  start_ticks: count,
  local: EndpointSchema,
  remote: EndpointSchema,
  family: z.union([z.literal(4), z.literal(6)]),
  transport: z.enum(["tcp", "udp"]),
};

const HttpMessageFields = {
  /** Capture time of the message's first byte. */
  ts: iso9,
  /** Capture time of its last byte. */
  end_ts: iso9,
  version: z.string(),
  /** In wire order; repeated headers kept. */
  headers: z.array(z.tuple([z.string(), z.string()])),
  /** Body after transfer decoding (chunked) and content decoding (gzip, deflate, br), as UTF-8; null when empty. */
  body: z.string().nullable(),
  /** Body bytes on the wire, after transfer decoding, before content decoding. */
  body_size: count,
  /** Capture limit, gap, or decoding limit cut the body: `body` is partial. */
  body_truncated: z.boolean(),
  /** Body is not text (not valid UTF-8 after decoding): `body` holds nothing useful. */
  body_binary: z.boolean(),
  /** The first bytes of the message as captured (head and start of body), latin1: the Go tool's raw_payload. */
  raw: z.string(),
  /**
   * Bytes of the head on the wire (start line, header lines, blank line), as far as captured. `raw` is redacted,
   * so its length no longer tells; absent in messages written before it was added (then `raw`'s head is used).
   */
  head_size: count.optional(),
  /**
   * The body's schema as its canonical key (body-schema.ts schemaKey: `null`, `"non-json"`, or the JSON structure
   * with value types), computed by the classifier from `body` as published. Absent in messages written before v3
   * (consumers infer it from `body`).
   */
  body_schema: z.string().optional(),
};

export const HttpRequestSchema = z.object({ ...HttpMessageFields, method: z.string().min(1), target: z.string() });
export const HttpResponseSchema = z.object({ ...HttpMessageFields, status: int.min(100).max(999), reason: z.string() });

export const HttpExchangeSchema = z.object({
  v: z.literal(1),
  type: z.literal("http_exchange"),
  ...observer,
  /** Index of this exchange on its connection (0, 1, 2... for keep-alive and pipelining). */
  seq: count,
  /** The client and server ends, whichever side saw it: the same for both observers of one call. */
  client: EndpointSchema,
  server: EndpointSchema,
  request: HttpRequestSchema,
  /** null: the connection ended (or the capture stopped) before a response. */
  response: HttpResponseSchema.nullable(),
  /** Response first byte minus request last byte, ns; null without a response. */
  latency_ns: int.nullable(),
});

export const ConnectionObservationSchema = z.object({
  v: z.literal(1),
  type: z.literal("connection"),
  ...observer,
  /** Capture time of the connection's first payload byte. */
  ts: iso9,
  client: EndpointSchema,
  server: EndpointSchema,
  protocol: z.string().min(1),
  category: z.enum(["database", "cache", "message_bus", "web", "unknown"]),
  confidence: int.min(0).max(100),
  /** The Go tool's detection_reason: port and/or fingerprint evidence, in words. */
  reason: z.string(),
  evidence: z.object({
    /** Name of the rule that matched (see the classifier's rule table). */
    rule: z.string().nullable(),
    port_match: z.boolean(),
    fingerprint_match: z.boolean(),
    /** Which direction's bytes decided: the client's first bytes, or the server's greeting. */
    from: z.enum(["client", "server", "port"]),
    /** First bytes examined, hex (at most 32). */
    first_bytes_hex: z.string(),
  }),
  /** TLS ClientHello seen: the server name asked for, if any. */
  tls: z.object({ sni: z.string().nullable() }).nullable(),
});

export const DerivedSchema = z.discriminatedUnion("type", [HttpExchangeSchema, ConnectionObservationSchema]);

export type Endpoint = z.infer<typeof EndpointSchema>;
export type HttpRequest = z.infer<typeof HttpRequestSchema>;
export type HttpResponse = z.infer<typeof HttpResponseSchema>;
export type HttpExchange = z.infer<typeof HttpExchangeSchema>;
export type ConnectionObservation = z.infer<typeof ConnectionObservationSchema>;
export type Derived = z.infer<typeof DerivedSchema>;

/** What the classifier publishes: everything of one kind that one raw batch produced, in order. */
export const DerivedBatchSchema = z.object({
  v: z.literal(2),
  kind: z.enum(DERIVED_KINDS),
  /** The raw batch it came from (`ADI_RAW#<stream seq>`), for tracing an observation back. */
  source: z.string(),
  /** v3: the classifier's RedactionPolicy id (what redacted the observations); absent in v2. */
  redaction: z.string().optional(),
  observations: z.array(DerivedSchema).min(1),
});
export type DerivedBatch = z.infer<typeof DerivedBatchSchema>;

/**
 * The identity of one observation, `<host>.<boot_id>.<conn_id>.h<seq>` or `.c`: the classifier publishes with it
 * as the message id (the stream drops a repeat) and consumers key observations by it (a redelivery replaces itself).
 */
export function observationId(d: Derived): string {
  return `${d.host}.${d.boot_id}.${d.conn_id}.${d.type === "http_exchange" ? `h${d.seq}` : "c"}`;
}

export function kindOf(d: Derived): DerivedKind {
  return d.type === "http_exchange" ? "http" : "connection";
}

/** The message version written now (see the top of this file). */
export const DERIVED_WIRE_VERSION = 3;

/** A message on ADI_DERIVED that is not a valid derived batch of any readable version; `path` names the field. */
export class DerivedFormatError extends Error {
  override name = "DerivedFormatError";
  readonly path: string;
  constructor(path: string, detail: string) {
    super(`${path}: ${detail}`);
    this.path = path;
  }
}

// One codec for the process: msgpackr keeps no state between messages when no shared structures are given (each
// message defines the record shapes it uses), so any reader decodes any message. int64 → bigint: ns timestamps.
const packr = new Packr({ useRecords: true, int64AsType: "bigint" });
const unpackr = new Unpackr({ useRecords: true, int64AsType: "bigint" });
const utf8 = new TextDecoder();
/** `{`: a v2 JSON batch. A v3 message starts with a msgpack record definition, map or array byte, never this. */
const JSON_OPEN_BRACE = 0x7b;

/**
 * The messages for what one raw batch produced: one per kind present, in the order produced, as v3 MessagePack.
 * Not validated here (the values are typed; decode validates), because this runs for every batch on the
 * classifier's hot path. Each body goes once: the raw bytes after the head are left out when they are the body's
 * own UTF-8 bytes (identity encoding), and rebuilt from it by decode. A message without `body_schema` gets it here.
 */
export function encodeDerivedBatches(source: string, observations: readonly Derived[], redaction?: string): { kind: DerivedKind; data: Uint8Array }[] {
  const out: { kind: DerivedKind; data: Uint8Array }[] = [];
  for (const kind of DERIVED_KINDS) {
    const of: WireObservation[] = [];
    for (const d of observations) if (kindOf(d) === kind) of.push(d.type === "http_exchange" ? wireExchange(d) : wireConnection(d));
    if (of.length > 0) out.push({ kind, data: packr.pack({ v: DERIVED_WIRE_VERSION, kind, source, redaction: redaction ?? null, observations: of }) });
  }
  return out;
}

/**
 * Validates a message from ADI_DERIVED (Uint8Array as stored; a string or a parsed object is taken as v2 JSON) into
 * the in-memory values. v3: a structural check of every field as it is read (cost proportional to the message);
 * v2: zod. Throws DerivedFormatError (v3), ZodError or SyntaxError (v2); a batch whose observations are not all of
 * its `kind` is refused.
 */
export function decodeDerivedBatch(data: unknown): DerivedBatch {
  if (data instanceof Uint8Array && data.length > 0 && data[0] !== JSON_OPEN_BRACE) return decodeV3(data);
  const raw = typeof data === "string" ? JSON.parse(data) : data instanceof Uint8Array ? JSON.parse(utf8.decode(data)) : data;
  const batch = DerivedBatchSchema.parse(raw);
  for (const d of batch.observations) {
    if (kindOf(d) !== batch.kind) throw new z.ZodError([{ code: "custom", path: ["observations"], message: `a ${d.type} in a ${batch.kind} batch`, input: d }]);
  }
  return batch;
}

// ---- v3 on the wire ---------------------------------------------------------------------------------------------

interface WireMessage {
  ts: bigint;
  end_ts: bigint;
  version: string;
  headers: [string, string][];
  body: string | null;
  body_size: number;
  body_truncated: boolean;
  body_binary: boolean;
  body_schema: string;
  /** `raw` up to and including the blank line (all of it when the head was cut). */
  head: string;
  /** `raw` after the head, latin1; null when it is the body's UTF-8 bytes (cut to raw_size). */
  raw_tail: string | null;
  raw_size: number;
  head_size: number | null;
}
type WireExchange = Omit<HttpExchange, "request" | "response"> & {
  request: WireMessage & { method: string; target: string };
  response: (WireMessage & { status: number; reason: string }) | null;
};
type WireConnection = Omit<ConnectionObservation, "ts"> & { ts: bigint };
type WireObservation = WireExchange | WireConnection;

function wireMessage(m: HttpRequest | HttpResponse): WireMessage {
  const end = m.raw.indexOf("\r\n\r\n");
  const head = end < 0 ? m.raw : m.raw.slice(0, end + 4);
  const tail = m.raw.slice(head.length);
  return {
    ts: isoToNs(m.ts),
    end_ts: isoToNs(m.end_ts),
    version: m.version,
    headers: m.headers,
    body: m.body,
    body_size: m.body_size,
    body_truncated: m.body_truncated,
    body_binary: m.body_binary,
    body_schema: m.body_schema ?? inferSchemaKey(m.body, m.body_binary),
    head,
    raw_tail: tail === "" || tail === bodyBytes(m.body, tail.length) ? null : tail,
    raw_size: m.raw.length,
    head_size: m.head_size ?? null,
  };
}

/** The first `length` bytes of `body`'s UTF-8 encoding, latin1 (one character per byte, as `raw` holds them). */
function bodyBytes(body: string | null, length: number): string {
  if (body === null || length === 0) return "";
  return Buffer.from(body.length > length ? body.slice(0, length) : body, "utf8").toString("latin1", 0, length);
}

function wireExchange(x: HttpExchange): WireExchange {
  return {
    ...x,
    request: { ...wireMessage(x.request), method: x.request.method, target: x.request.target },
    response: x.response ? { ...wireMessage(x.response), status: x.response.status, reason: x.response.reason } : null,
  };
}

function wireConnection(c: ConnectionObservation): WireConnection {
  return { ...c, ts: isoToNs(c.ts) };
}

// The structural check: each reader takes the value at `path`, checks its type and returns it typed. Written out
// rather than generated from zod so that a message costs one pass and no intermediate objects.
type Obj = Record<string, unknown>;
function obj(v: unknown, path: string): Obj {
  if (typeof v !== "object" || v === null || Array.isArray(v)) throw new DerivedFormatError(path, "expected an object");
  return v as Obj;
}
function strAt(o: Obj, key: string, path: string): string {
  const v = o[key];
  if (typeof v !== "string") throw new DerivedFormatError(`${path}.${key}`, "expected a string");
  return v;
}
function nonEmptyAt(o: Obj, key: string, path: string): string {
  const v = strAt(o, key, path);
  if (v === "") throw new DerivedFormatError(`${path}.${key}`, "expected a non-empty string");
  return v;
}
function strOrNullAt(o: Obj, key: string, path: string): string | null {
  const v = o[key];
  if (v !== null && typeof v !== "string") throw new DerivedFormatError(`${path}.${key}`, "expected a string or null");
  return v;
}
function intAt(o: Obj, key: string, path: string, min = 0, max = Number.MAX_SAFE_INTEGER): number {
  const v = o[key];
  if (typeof v !== "number" || !Number.isInteger(v) || v < min || v > max) throw new DerivedFormatError(`${path}.${key}`, `expected an integer in ${min}..${max}`);
  return v;
}
function boolAt(o: Obj, key: string, path: string): boolean {
  const v = o[key];
  if (typeof v !== "boolean") throw new DerivedFormatError(`${path}.${key}`, "expected a boolean");
  return v;
}
function oneOfAt<T extends string>(o: Obj, key: string, path: string, values: readonly T[]): T {
  const v = o[key];
  if (!values.includes(v as T)) throw new DerivedFormatError(`${path}.${key}`, `expected one of ${values.join(", ")}`);
  return v as T;
}
function nanosAt(o: Obj, key: string, path: string): string {
  const v = o[key];
  if (typeof v !== "bigint") throw new DerivedFormatError(`${path}.${key}`, "expected integer nanoseconds");
  try {
    return nsToIso(v);
  } catch (err) {
    throw new DerivedFormatError(`${path}.${key}`, (err as Error).message);
  }
}
function endpointAt(o: Obj, key: string, path: string): Endpoint {
  const e = obj(o[key], `${path}.${key}`);
  return { ip: nonEmptyAt(e, "ip", `${path}.${key}`), port: intAt(e, "port", `${path}.${key}`, 0, 65535) };
}
const DECIMAL = /^\d+$/;
/**
 * What every observation holds between `v`/`type` and its own fields, checked, in the schema's key order (the
 * order v2's zod decode and the classifier give): the observer (host, boot_id, conn_id, side, pid, start_ticks,
 * local, remote, family, transport), then `own` (the one field each kind places here: an exchange's `seq`, a
 * connection's `ts`), then the `client` and `server` ends. Throws DerivedFormatError naming a bad field.
 */
function observationBase<Own extends object>(o: Obj, path: string, own: Own) {
  const conn_id = strAt(o, "conn_id", path);
  if (!DECIMAL.test(conn_id)) throw new DerivedFormatError(`${path}.conn_id`, "expected a decimal u64");
  const family = o.family;
  if (family !== 4 && family !== 6) throw new DerivedFormatError(`${path}.family`, "expected 4 or 6");
  return {
    host: nonEmptyAt(o, "host", path),
    boot_id: strAt(o, "boot_id", path),
    conn_id,
    side: oneOfAt(o, "side", path, ["client", "server", "unknown"] as const),
    pid: intAt(o, "pid", path, 1),
    start_ticks: intAt(o, "start_ticks", path),
    local: endpointAt(o, "local", path),
    remote: endpointAt(o, "remote", path),
    family: family as 4 | 6,
    transport: oneOfAt(o, "transport", path, ["tcp", "udp"] as const),
    ...own,
    client: endpointAt(o, "client", path),
    server: endpointAt(o, "server", path),
  };
}
function headers(o: Obj, path: string): [string, string][] {
  const v = o.headers;
  if (!Array.isArray(v)) throw new DerivedFormatError(`${path}.headers`, "expected an array");
  for (let i = 0; i < v.length; i++) {
    const h = v[i];
    if (!Array.isArray(h) || h.length !== 2 || typeof h[0] !== "string" || typeof h[1] !== "string") {
      throw new DerivedFormatError(`${path}.headers[${i}]`, "expected a [name, value] pair of strings");
    }
  }
  return v as [string, string][];
}
function messageOf(o: Obj, path: string) {
  const body = strOrNullAt(o, "body", path);
  const head = strAt(o, "head", path);
  const rawTail = strOrNullAt(o, "raw_tail", path);
  const rawSize = intAt(o, "raw_size", path);
  const headSize = o.head_size === null ? undefined : intAt(o, "head_size", path);
  const raw = head + (rawTail ?? bodyBytes(body, rawSize - head.length));
  if (raw.length !== rawSize) throw new DerivedFormatError(`${path}.raw_size`, `is ${rawSize}, the head and body give ${raw.length}`);
  const message = {
    ts: nanosAt(o, "ts", path),
    end_ts: nanosAt(o, "end_ts", path),
    version: strAt(o, "version", path),
    headers: headers(o, path),
    body,
    body_size: intAt(o, "body_size", path),
    body_truncated: boolAt(o, "body_truncated", path),
    body_binary: boolAt(o, "body_binary", path),
    raw,
    body_schema: strAt(o, "body_schema", path),
  };
  return headSize === undefined ? message : { ...message, head_size: headSize };
}
function exchangeOf(o: Obj, path: string): HttpExchange {
  if (o.type !== "http_exchange") throw new DerivedFormatError(`${path}.type`, "expected http_exchange in an http batch");
  const req = obj(o.request, `${path}.request`);
  const request = { ...messageOf(req, `${path}.request`), method: nonEmptyAt(req, "method", `${path}.request`), target: strAt(req, "target", `${path}.request`) };
  let response: HttpResponse | null = null;
  if (o.response !== null) {
    const res = obj(o.response, `${path}.response`);
    response = { ...messageOf(res, `${path}.response`), status: intAt(res, "status", `${path}.response`, 100, 999), reason: strAt(res, "reason", `${path}.response`) };
  }
  const latency = o.latency_ns;
  if (latency !== null && (typeof latency !== "number" || !Number.isInteger(latency))) throw new DerivedFormatError(`${path}.latency_ns`, "expected an integer or null");
  return {
    v: 1,
    type: "http_exchange",
    ...observationBase(o, path, { seq: intAt(o, "seq", path) }),
    request,
    response,
    latency_ns: latency as number | null,
  };
}
const CATEGORIES = ["database", "cache", "message_bus", "web", "unknown"] as const;
function connectionOf(o: Obj, path: string): ConnectionObservation {
  if (o.type !== "connection") throw new DerivedFormatError(`${path}.type`, "expected connection in a connection batch");
  const ev = obj(o.evidence, `${path}.evidence`);
  const ep = `${path}.evidence`;
  let tls: { sni: string | null } | null = null;
  if (o.tls !== null) tls = { sni: strOrNullAt(obj(o.tls, `${path}.tls`), "sni", `${path}.tls`) };
  return {
    v: 1,
    type: "connection",
    ...observationBase(o, path, { ts: nanosAt(o, "ts", path) }),
    protocol: nonEmptyAt(o, "protocol", path),
    category: oneOfAt(o, "category", path, CATEGORIES),
    confidence: intAt(o, "confidence", path, 0, 100),
    reason: strAt(o, "reason", path),
    evidence: {
      rule: strOrNullAt(ev, "rule", ep),
      port_match: boolAt(ev, "port_match", ep),
      fingerprint_match: boolAt(ev, "fingerprint_match", ep),
      from: oneOfAt(ev, "from", ep, ["client", "server", "port"] as const),
      first_bytes_hex: strAt(ev, "first_bytes_hex", ep),
    },
    tls,
  };
}

function decodeV3(data: Uint8Array): DerivedBatch {
  let value: unknown;
  try {
    value = unpackr.unpack(data);
  } catch (err) {
    throw new DerivedFormatError("message", `not MessagePack: ${(err as Error).message}`);
  }
  const top = obj(value, "batch");
  if (top.v !== DERIVED_WIRE_VERSION) throw new DerivedFormatError("batch.v", `version ${String(top.v)} is not readable (expected ${DERIVED_WIRE_VERSION})`);
  const kind = oneOfAt(top, "kind", "batch", DERIVED_KINDS);
  const source = strAt(top, "source", "batch");
  const redaction = strOrNullAt(top, "redaction", "batch");
  const list = top.observations;
  if (!Array.isArray(list) || list.length === 0) throw new DerivedFormatError("batch.observations", "expected a non-empty array");
  const observations: Derived[] = new Array(list.length);
  for (let i = 0; i < list.length; i++) {
    const o = obj(list[i], `batch.observations[${i}]`);
    observations[i] = kind === "http" ? exchangeOf(o, `batch.observations[${i}]`) : connectionOf(o, `batch.observations[${i}]`);
  }
  return redaction === null ? { v: 2, kind, source, observations } : { v: 2, kind, source, redaction, observations };
}
