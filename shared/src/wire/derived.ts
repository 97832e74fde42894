// Derived observations: what the classifier makes of the raw stream, and what the mapper (and anyone else)
// consumes. JSON, versioned like every wire contract, validated with zod where it comes in (decode); the
// producer builds it from typed values and a round-trip test pins that what it writes validates.
//
//   ADI_DERIVED     adi.derived.v2.<host>.http         DerivedBatch of HttpExchange: one message per raw batch
//                   adi.derived.v2.<host>.connection   DerivedBatch of ConnectionObservation: likewise
//   ADI_DEADLETTER  adi.deadletter.v1.<host>.<source>  what a consumer could not decode (kept for inspection)
//
// v2 (this) carries the observations one raw batch produced as one message; v1 carried one observation per
// message, and one acknowledged publish per observation was half of the classifier's CPU (BENCHMARKS.md).
import { z } from "zod";
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

const utf8 = new TextDecoder();

export function kindOf(d: Derived): DerivedKind {
  return d.type === "http_exchange" ? "http" : "connection";
}

/** Validates a message from ADI_DERIVED; a batch whose observations are not all of its `kind` is refused. */
export function decodeDerivedBatch(data: unknown): DerivedBatch {
  const raw = typeof data === "string" ? JSON.parse(data) : data instanceof Uint8Array ? JSON.parse(utf8.decode(data)) : data;
  const batch = DerivedBatchSchema.parse(raw);
  for (const d of batch.observations) {
    if (kindOf(d) !== batch.kind) throw new z.ZodError([{ code: "custom", path: ["observations"], message: `a ${d.type} in a ${batch.kind} batch`, input: d }]);
  }
  return batch;
}

/**
 * The messages for what one raw batch produced: one per kind present, in the order produced. Not validated
 * here (the values are typed; decode validates), because this runs for every batch on the classifier's hot path.
 */
export function encodeDerivedBatches(source: string, observations: readonly Derived[]): { kind: DerivedKind; data: string }[] {
  const out: { kind: DerivedKind; data: string }[] = [];
  for (const kind of DERIVED_KINDS) {
    const of = observations.filter((d) => kindOf(d) === kind);
    if (of.length > 0) out.push({ kind, data: JSON.stringify({ v: 2, kind, source, observations: of } satisfies DerivedBatch) });
  }
  return out;
}
