import { gzipSync } from "node:zlib";
import fc from "fast-check";
import { Packr } from "msgpackr";
import { describe, expect, it } from "vitest";
import { ZodError } from "zod";
import { decodeDerivedBatch, DerivedFormatError, encodeDerivedBatches, observationId } from "../src/wire/derived.ts";
import { nsToIso } from "../src/wire/time.ts";
import type { ConnectionObservation, Derived, HttpExchange, HttpRequest, HttpResponse } from "../src/wire/derived.ts";

const observer = {
  v: 1 as const,
  host: "node-1",
  boot_id: "3c5e5b0e-8f4a-4c1e-9b7a-2f0d6c1e4a11",
  conn_id: "42",
  side: "client" as const,
  pid: 100,
  start_ticks: 5,
  local: { ip: "10.0.0.1", port: 40000 },
  remote: { ip: "10.0.0.2", port: 80 },
  family: 4 as const,
  transport: "tcp" as const,
  client: { ip: "10.0.0.1", port: 40000 },
  server: { ip: "10.0.0.2", port: 80 },
};
const message = { ts: "2026-11-27T10:00:00.000000001Z", end_ts: "2026-11-27T10:00:00.000000002Z", version: "HTTP/1.1", headers: [["Host", "api"]] as [string, string][], body: null, body_size: 0, body_truncated: false, body_binary: false, raw: "GET / HTTP/1.1\r\n" };

function exchange(seq: number): HttpExchange {
  return { ...observer, type: "http_exchange", seq, request: { ...message, method: "GET", target: `/items/${seq}` }, response: { ...message, status: 200, reason: "OK" }, latency_ns: 1000 };
}

const connection: ConnectionObservation = {
  ...observer,
  type: "connection",
  ts: "2026-11-27T10:00:00.000000001Z",
  protocol: "http",
  category: "web",
  confidence: 90,
  reason: "port 80, HTTP request line",
  evidence: { rule: "http-request", port_match: true, fingerprint_match: true, from: "client", first_bytes_hex: "474554" },
  tls: null,
};

/** What decode gives back for a message encoded without a schema: the classifier's schema key filled in. */
function withSchemas(x: HttpExchange): HttpExchange {
  const key = (m: HttpRequest | HttpResponse) => (m.body === null ? "null" : m.body_binary ? '"non-json"' : JSON.stringify(Object.fromEntries(Object.keys(JSON.parse(m.body)).sort().map((k) => [k, typeof JSON.parse(m.body!)[k]]))));
  return { ...x, request: { ...x.request, body_schema: key(x.request) }, response: x.response && { ...x.response, body_schema: key(x.response) } };
}

/** A v2 batch as the previous version published it: JSON text. */
function v2(kind: "http" | "connection", observations: Derived[]): Uint8Array {
  return Buffer.from(JSON.stringify({ v: 2, kind, source: "ADI_RAW#3", observations }));
}

describe("derived batches (ADI_DERIVED v3, MessagePack)", () => {
  it("splits one raw batch's observations into one message per kind, order kept, and decodes them back", () => {
    const produced: Derived[] = [exchange(0), connection, exchange(1), exchange(2)];
    const messages = encodeDerivedBatches("ADI_RAW#7", produced);
    expect(messages.map((m) => m.kind)).toEqual(["http", "connection"]);
    const http = decodeDerivedBatch(Buffer.from(messages[0]!.data));
    expect(http).toMatchObject({ v: 2, kind: "http", source: "ADI_RAW#7" });
    expect(http.observations).toEqual([exchange(0), exchange(1), exchange(2)].map(withSchemas));
    expect(messages[0]!.data[0]).not.toBe(0x7b); // binary, not JSON
    expect(decodeDerivedBatch(messages[1]!.data).observations).toEqual([connection]);
    expect(http.observations.map(observationId)).toEqual(["node-1.3c5e5b0e-8f4a-4c1e-9b7a-2f0d6c1e4a11.42.h0", "node-1.3c5e5b0e-8f4a-4c1e-9b7a-2f0d6c1e4a11.42.h1", "node-1.3c5e5b0e-8f4a-4c1e-9b7a-2f0d6c1e4a11.42.h2"]);
  });

  it("publishes nothing for a batch that produced nothing", () => {
    expect(encodeDerivedBatches("ADI_RAW#1", [])).toEqual([]);
  });

  it("carries each body once and gives back raw as it was: identity, cut, chunked, gzip (binary), head only", () => {
    const json = '{"name":"caf\u00e9","n":1}';
    const jsonBytes = Buffer.from(json, "utf8");
    const head = "POST /x HTTP/1.1\r\nContent-Length: " + jsonBytes.length + "\r\n\r\n";
    const identity = { ...message, body: json, body_size: jsonBytes.length, raw: head + jsonBytes.toString("latin1"), head_size: head.length };
    const cut = { ...identity, raw: identity.raw.slice(0, head.length + 5) };
    const chunked = { ...identity, raw: head + `${jsonBytes.length.toString(16)}\r\n` + jsonBytes.toString("latin1") + "\r\n0\r\n\r\n" };
    const gz = gzipSync(jsonBytes).toString("latin1");
    const gzip = { ...identity, body: null, body_binary: true, body_size: gz.length, raw: head + gz };
    const headOnly = { ...message, raw: "GET / HTTP/1.1\r\nHost: a", head_size: undefined };
    for (const request of [identity, cut, chunked, gzip, headOnly]) {
      const x: HttpExchange = { ...exchange(0), request: { ...request, method: "POST", target: "/x" } };
      const [m] = encodeDerivedBatches("ADI_RAW#1", [x]);
      const back = decodeDerivedBatch(m!.data).observations[0] as HttpExchange;
      expect(back.request.raw).toBe(request.raw);
      expect(back.request.body).toBe(request.body);
      expect(back.request.head_size).toBe(request.head_size);
    }
    // Once: the identity body's bytes are not carried a second time as raw.
    const size = (r: typeof identity) => encodeDerivedBatches("s", [{ ...exchange(0), request: { ...r, method: "POST", target: "/x" } }])[0]!.data.length;
    const big = "x".repeat(4000);
    const bigJson = JSON.stringify({ big });
    expect(size({ ...identity, body: bigJson, raw: head + bigJson })).toBeLessThan(4000 + 1000); // twice would be over 8,000
    expect(size({ ...identity, body: bigJson, raw: head + bigJson })).toBeLessThan(size({ ...identity, body: bigJson, raw: head + bigJson.replace("x", "y") }) - 3000);
  });

  it("keeps nanosecond timestamps exact and takes the schema the classifier computed", () => {
    const x: HttpExchange = { ...exchange(3), latency_ns: 5_000_000_123, request: { ...message, ts: "2026-11-27T10:00:00.999999999Z", end_ts: "2026-11-28T00:00:01.000000000Z", body_schema: '{"given":"string"}', method: "GET", target: "/" } };
    const back = decodeDerivedBatch(encodeDerivedBatches("s", [x])[0]!.data).observations[0] as HttpExchange;
    expect(back.request.ts).toBe("2026-11-27T10:00:00.999999999Z");
    expect(back.request.end_ts).toBe("2026-11-28T00:00:01.000000000Z");
    expect(back.request.body_schema).toBe('{"given":"string"}');
    expect(back.latency_ns).toBe(5_000_000_123); // over 32 bits: still a number
  });

  it("reads a retained v2 (JSON) batch written by the previous version into the same values", () => {
    const http = decodeDerivedBatch(v2("http", [exchange(0), exchange(1)]));
    expect(http).toEqual({ v: 2, kind: "http", source: "ADI_RAW#3", observations: [exchange(0), exchange(1)] });
    expect(decodeDerivedBatch(v2("connection", [connection])).observations).toEqual([connection]);
  });

  it("refuses a v3 message that is not a valid batch, naming the field", () => {
    const packr = new Packr({ useRecords: true });
    const [good] = encodeDerivedBatches("s", [exchange(0)]);
    const decoded = new Packr({ useRecords: true, int64AsType: "bigint" }).unpack(good!.data);
    const bad = (mutate: (b: Record<string, unknown>) => void) => {
      const b = structuredClone(decoded);
      mutate(b);
      return () => decodeDerivedBatch(packr.pack(b));
    };
    expect(bad((b) => (b.v = 4))).toThrow(/batch\.v: version 4 is not readable/);
    expect(bad((b) => (b.observations = []))).toThrow(/batch\.observations: expected a non-empty array/);
    expect(bad((b) => ((b.observations as Record<string, unknown>[])[0]!.seq = -1))).toThrow(/observations\[0\]\.seq: expected an integer/);
    expect(bad((b) => ((b.observations as Record<string, Record<string, unknown>>[])[0]!.request!.ts = "2026-11-27T10:00:00Z"))).toThrow(/request\.ts: expected integer nanoseconds/);
    expect(bad((b) => ((b.observations as Record<string, Record<string, unknown>>[])[0]!.request!.raw_size = 9999))).toThrow(/request\.raw_size/);
    expect(bad((b) => ((b.observations as Record<string, Record<string, unknown>>[])[0]!.local = { ip: "", port: 1 }))).toThrow(/local\.ip: expected a non-empty string/);
    expect(bad((b) => (b.kind = "connection"))).toThrow(/expected connection in a connection batch/);
    expect(() => decodeDerivedBatch(new Uint8Array([0xc1, 0xff]))).toThrow(DerivedFormatError);
  });

  it("refuses what is not a valid v2 batch: a v1 single observation, a mixed batch, an invalid observation, bad JSON", () => {
    expect(() => decodeDerivedBatch(JSON.stringify(exchange(0)))).toThrow(ZodError);
    expect(() => decodeDerivedBatch({ v: 2, kind: "connection", source: "x", observations: [exchange(0)] })).toThrow(/http_exchange in a connection batch/);
    expect(() => decodeDerivedBatch({ v: 2, kind: "http", source: "x", observations: [{ ...exchange(0), seq: -1 }] })).toThrow(ZodError);
    expect(() => decodeDerivedBatch({ v: 2, kind: "http", source: "x", observations: [] })).toThrow(ZodError);
    expect(() => decodeDerivedBatch("{not json")).toThrow(SyntaxError);
  });
});

describe("derived v3 round trip (property)", () => {
  const text = fc.string({ unit: "binary", maxLength: 40 });
  const latin1 = fc.uint8Array({ maxLength: 60 }).map((b) => Buffer.from(b).toString("latin1"));
  const ns = fc.bigInt({ min: 946_684_800_000_000_000n, max: 7_258_118_400_000_000_000n });
  const messageArb = fc.record({
    ts: ns.map(nsToIso),
    end_ts: ns.map(nsToIso),
    version: fc.constantFrom("HTTP/1.1", "HTTP/1.0"),
    headers: fc.array(fc.tuple(text, text), { maxLength: 4 }),
    body: fc.option(text, { nil: null }),
    body_size: fc.nat(),
    body_truncated: fc.boolean(),
    body_binary: fc.boolean(),
    head: latin1.map((h) => `GET / HTTP/1.1\r\n${h}\r\n\r\n`),
    tail: fc.oneof(fc.constant(null), latin1),
  });
  it("gives back every field of any exchange, raw byte for byte", () => {
    fc.assert(
      fc.property(messageArb, fc.nat({ max: 2 ** 40 }), (m, latency) => {
        // raw: the head, then either the body's own UTF-8 bytes (carried once) or other bytes (carried as they are).
        const tail = m.tail ?? (m.body === null ? "" : Buffer.from(m.body, "utf8").toString("latin1"));
        const { head, tail: _t, ...rest } = m;
        const request = { ...rest, raw: head + tail, method: "GET", target: "/x" };
        const x: HttpExchange = { ...exchange(0), latency_ns: latency, request, response: null };
        const [encoded] = encodeDerivedBatches("s", [x]);
        const back = decodeDerivedBatch(encoded!.data).observations[0] as HttpExchange;
        const { body_schema, ...got } = back.request;
        expect(got).toEqual(request);
        expect(typeof body_schema).toBe("string");
        expect(back.latency_ns).toBe(latency);
      }),
      { numRuns: 500 },
    );
  });
});
