import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { HttpMessageParser, getHeader, getHeaderValues } from "../src/core/http/parser.ts";
import type { MessageKind, ParsedMessage, ParsedRequest, ParsedResponse, ParserOptions } from "../src/core/http/parser.ts";

const b = (s: string): Buffer => Buffer.from(s, "latin1");

interface Fixture {
  name: string;
  kind: MessageKind;
  wire: string;
  /** Methods of the requests the responses answer, in order. */
  methods?: string[];
  /** Close the connection after the bytes. */
  close?: boolean;
}

function run(f: Fixture, chunks: Buffer[], opts: ParserOptions = {}) {
  const p = new HttpMessageParser(f.kind, opts);
  for (const m of f.methods ?? []) p.expectResponseTo(m);
  const messages: ParsedMessage[] = [];
  for (const c of chunks) {
    p.push(c, 1n);
    messages.push(...p.take());
  }
  if (f.close) p.end(2n);
  messages.push(...p.take());
  return { messages, stats: p.stats() };
}

const whole = (f: Fixture, opts?: ParserOptions) => run(f, [b(f.wire)], opts);
const byteByByte = (f: Fixture) => run(f, [...b(f.wire)].map((x) => Buffer.from([x])));
const requests = (ms: ParsedMessage[]) => ms as ParsedRequest[];
const responses = (ms: ParsedMessage[]) => ms as ParsedResponse[];

const GET = "GET /index.html?q=1 HTTP/1.1\r\nHost: example.com\r\nContent-Length: 5\r\n\r\nhello";
const JSON_BODY = '{"item":"book","qty":2,"x":1}';
const POST_JSON = `POST /api/orders HTTP/1.1\r\nHost: shop\r\nContent-Type: application/json\r\nContent-Length: ${JSON_BODY.length}\r\n\r\n${JSON_BODY}`;
const CHUNKED =
  "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: Expires\r\n\r\n" +
  "4;name=value\r\nWiki\r\n5 ; ext\r\npedia\r\nE\r\n in\r\n\r\nchunks.\r\n0\r\nExpires: Wed, 21 Oct 2015 07:28:00 GMT\r\n\r\n";
const PIPELINED =
  "GET /1 HTTP/1.1\r\nHost: a\r\n\r\n" + "GET /2 HTTP/1.1\r\nHost: a\r\n\r\n" + "POST /3 HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nxyz";
const PIPELINED_RESPONSES =
  "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\none" +
  "HTTP/1.1 404 Not Found\r\nContent-Length: 3\r\n\r\ntwo" +
  "HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nthree\r\n0\r\n\r\n";
const CONTINUE = "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
const HEAD_THEN_GET = "HTTP/1.1 200 OK\r\nContent-Length: 1234\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nbody";
const NO_BODY_STATUSES =
  "HTTP/1.1 204 No Content\r\n\r\nHTTP/1.1 304 Not Modified\r\nContent-Length: 99\r\nETag: x\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n!";
const CLOSE_DELIMITED = "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil the very end\r\n\r\nGET / HTTP/1.1\r\n";
const REPEATED =
  "HTTP/1.1 302 Found\r\nSet-Cookie: a=1\r\nlocation: /next\r\nSet-Cookie: b=2\r\nX-Folded: one\r\n  two\r\nContent-Length: 0\r\n\r\n";
const EARLY_HINTS =
  "HTTP/1.1 103 Early Hints\r\nLink: </s.css>; rel=preload\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\n" + "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
const BLANK_LINES = "\r\nGET /1 HTTP/1.1\r\n\r\n\r\n\n\r\nGET /2 HTTP/1.1\r\n\r\n";
const GARBAGE_FIRST = "\x16\x03\x01 junk\r\nPUT /x HTTP/1.1\r\nContent-Length: 1\r\n\r\nz";
const BARE_LF = "GET /lf HTTP/1.0\nHost: old\n\nGET /lf2 HTTP/1.0\n\n";

const FIXTURES: Fixture[] = [
  { name: "GET with Content-Length", kind: "request", wire: GET },
  { name: "POST with a JSON body", kind: "request", wire: POST_JSON },
  { name: "chunked response", kind: "response", wire: CHUNKED },
  { name: "pipelined requests", kind: "request", wire: PIPELINED },
  { name: "pipelined responses", kind: "response", wire: PIPELINED_RESPONSES, methods: ["GET", "GET", "POST"] },
  { name: "100 Continue then 200", kind: "response", wire: CONTINUE, methods: ["POST"] },
  { name: "HEAD then GET", kind: "response", wire: HEAD_THEN_GET, methods: ["HEAD", "GET"] },
  { name: "204, 304, 200", kind: "response", wire: NO_BODY_STATUSES, methods: ["GET", "GET", "GET"] },
  { name: "close-delimited response", kind: "response", wire: CLOSE_DELIMITED, close: true },
  { name: "103 before a HEAD response", kind: "response", wire: EARLY_HINTS, methods: ["HEAD", "GET"] },
  { name: "blank lines between requests", kind: "request", wire: BLANK_LINES },
  { name: "repeated and folded headers", kind: "response", wire: REPEATED },
  { name: "bare LF line ends", kind: "request", wire: BARE_LF },
  { name: "garbage before a request", kind: "request", wire: GARBAGE_FIRST },
];
const fixture = (name: string) => FIXTURES.find((f) => f.name === name)!;

describe("HttpMessageParser: messages", () => {
  it("parses a GET with Content-Length", () => {
    const { messages, stats } = whole(fixture("GET with Content-Length"));
    expect(requests(messages)).toEqual([
      {
        kind: "request",
        method: "GET",
        target: "/index.html?q=1",
        version: "HTTP/1.1",
        headers: [
          ["Host", "example.com"],
          ["Content-Length", "5"],
        ],
        trailers: [],
        firstTs: 1n,
        lastTs: 1n,
        body: b("hello"),
        bodySize: 5,
        bodyTruncated: false,
        raw: GET,
        headSize: GET.length - 5, // the head, blank line included; not the 5 body bytes
      },
    ]);
    expect(stats).toEqual({ messages: 1, errors: 0, resyncs: 0, droppedPartial: 0, incomplete: 0 });
  });

  it("parses a POST with a JSON body", () => {
    const [m] = requests(whole(fixture("POST with a JSON body")).messages);
    expect(m!.method).toBe("POST");
    expect(getHeader(m!.headers, "content-type")).toBe("application/json");
    expect(JSON.parse(m!.body.toString())).toEqual({ item: "book", qty: 2, x: 1 });
  });

  it("undoes chunked transfer coding, with extensions and a trailer", () => {
    const [m] = responses(whole(fixture("chunked response")).messages);
    expect(m!.body.toString()).toBe("Wikipedia in\r\n\r\nchunks.");
    expect(m!.bodySize).toBe(23);
    expect(m!.trailers).toEqual([["Expires", "Wed, 21 Oct 2015 07:28:00 GMT"]]);
    expect(m!.raw).toBe(CHUNKED); // raw keeps the chunk framing as received
  });

  it("splits three pipelined requests from one push, and their responses fed byte by byte", () => {
    const reqs = requests(whole(fixture("pipelined requests")).messages);
    expect(reqs.map((r) => [r.method, r.target, r.body.toString()])).toEqual([
      ["GET", "/1", ""],
      ["GET", "/2", ""],
      ["POST", "/3", "xyz"],
    ]);
    const res = responses(byteByByte(fixture("pipelined responses")).messages);
    expect(res.map((r) => [r.status, r.reason, r.body.toString()])).toEqual([
      [200, "OK", "one"],
      [404, "Not Found", "two"],
      [201, "Created", "three"],
    ]);
  });

  it("stamps each message with the times of its first and last bytes", () => {
    const p = new HttpMessageParser("request");
    const wire = b(PIPELINED);
    wire.forEach((x, i) => p.push(Buffer.from([x]), BigInt(i)));
    const starts = ["GET /1", "GET /2", "POST /3"].map((s) => PIPELINED.indexOf(s));
    const ends = [starts[1]! - 1, starts[2]! - 1, PIPELINED.length - 1];
    expect(p.take().map((m) => [m.firstTs, m.lastTs])).toEqual(starts.map((s, i) => [BigInt(s), BigInt(ends[i]!)]));
  });

  it("emits 100 Continue as a message of its own, before the 200", () => {
    const res = responses(whole(fixture("100 Continue then 200")).messages);
    expect(res.map((r) => [r.status, r.body.toString()])).toEqual([
      [100, ""],
      [200, "ok"],
    ]);
  });

  it("reads no body after a HEAD response, whatever its Content-Length says", () => {
    const res = responses(whole(fixture("HEAD then GET")).messages);
    expect(res.map((r) => [r.bodySize, r.body.toString()])).toEqual([
      [0, ""],
      [4, "body"],
    ]);
    // Not told about the HEAD, the parser would take the next response as the first one's body.
    const blind = whole({ ...fixture("HEAD then GET"), methods: [] });
    expect(blind.messages).toHaveLength(0);
  });

  it("does not use up the request's method on an interim 103", () => {
    const res = responses(whole(fixture("103 before a HEAD response")).messages);
    expect(res.map((r) => [r.status, r.body.toString()])).toEqual([
      [103, ""],
      [200, ""],
      [200, "ok"],
    ]);
  });

  it("tolerates blank lines between messages, without counting an error", () => {
    const { messages, stats } = whole(fixture("blank lines between requests"));
    expect(requests(messages).map((r) => [r.target, r.raw.startsWith("GET")])).toEqual([
      ["/1", true],
      ["/2", true],
    ]);
    expect(stats.errors).toBe(0);
  });

  it("reads no body after 204 and 304", () => {
    const res = responses(whole(fixture("204, 304, 200")).messages);
    expect(res.map((r) => [r.status, r.bodySize])).toEqual([
      [204, 0],
      [304, 0],
      [200, 1],
    ]);
  });

  it("completes a close-delimited response only at end(), stamped with its last data", () => {
    const p = new HttpMessageParser("response");
    p.push(b(CLOSE_DELIMITED.slice(0, 50)), 10n);
    p.push(b(CLOSE_DELIMITED.slice(50)), 20n);
    expect(p.take()).toEqual([]);
    p.end(30n);
    const [m] = responses(p.take());
    expect(m!.body.toString()).toBe("until the very end\r\n\r\nGET / HTTP/1.1\r\n");
    expect([m!.version, m!.firstTs, m!.lastTs]).toEqual(["HTTP/1.0", 10n, 20n]);
  });

  it("keeps a message still unfinished at end() as it was, marked truncated, and counts it", () => {
    const p = new HttpMessageParser("response");
    p.push(b("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc"), 1n);
    p.end(2n);
    expect(responses(p.take()).map((r) => [r.status, r.body.toString(), r.bodySize, r.bodyTruncated])).toEqual([[200, "abc", 3, true]]);
    expect(p.stats()).toEqual({ messages: 1, errors: 0, resyncs: 0, droppedPartial: 0, incomplete: 1 });
  });

  it("drops bytes at end() that never formed a start line, and counts them", () => {
    const p = new HttpMessageParser("request");
    p.push(b("GET"), 1n);
    p.end(2n);
    expect(p.take()).toEqual([]);
    expect(p.stats()).toEqual({ messages: 0, errors: 0, resyncs: 0, droppedPartial: 1, incomplete: 0 });
  });

  it("keeps repeated headers in wire order, names as sent, folded lines joined", () => {
    const [m] = whole(fixture("repeated and folded headers")).messages;
    expect(m!.headers).toEqual([
      ["Set-Cookie", "a=1"],
      ["location", "/next"],
      ["Set-Cookie", "b=2"],
      ["X-Folded", "one two"],
      ["Content-Length", "0"],
    ]);
    expect(getHeader(m!.headers, "LOCATION")).toBe("/next");
    expect(getHeader(m!.headers, "x-missing")).toBeNull();
    expect(getHeaderValues(m!.headers, "set-cookie")).toEqual(["a=1", "b=2"]);
  });

  it("accepts bare LF line ends, and a request without a length has no body", () => {
    const reqs = requests(whole(fixture("bare LF line ends")).messages);
    expect(reqs.map((r) => [r.target, r.version, r.bodySize])).toEqual([
      ["/lf", "HTTP/1.0", 0],
      ["/lf2", "HTTP/1.0", 0],
    ]);
  });

  it("keeps at most maxBodyBytes and maxRawBytes, but counts the whole body", () => {
    const { messages } = whole(fixture("POST with a JSON body"), { maxBodyBytes: 10, maxRawBytes: 20 });
    expect(messages[0]!.body.toString()).toBe('{"item":"b');
    expect(messages[0]!.bodySize).toBe(JSON_BODY.length);
    expect(messages[0]!.bodyTruncated).toBe(true);
    expect(messages[0]!.raw).toBe(POST_JSON.slice(0, 20));
  });

  it("counts garbage before a message as one error and recovers; at a message start the garbage is kept as refused", () => {
    const { messages, stats } = whole(fixture("garbage before a request"));
    expect(requests(messages).map((r) => [r.method, r.target, r.body.toString(), r.bodyTruncated, r.refused])).toEqual([
      ["\x16\x03\x01", "junk", "", true, true],
      ["PUT", "/x", "z", false, undefined],
    ]);
    expect(stats).toEqual({ messages: 2, errors: 1, resyncs: 1, droppedPartial: 0, incomplete: 1 });
    // Mid-stream (fromStart: false), the same bytes may be the tail of anything: skipped, not kept.
    const mid = whole(fixture("garbage before a request"), { fromStart: false });
    expect(requests(mid.messages).map((r) => r.target)).toEqual(["/x"]);
    expect(mid.stats).toEqual({ messages: 1, errors: 1, resyncs: 1, droppedPartial: 0, incomplete: 0 });
  });

  it("stops parsing after 101 Switching Protocols", () => {
    const p = new HttpMessageParser("response");
    p.expectResponseTo("GET");
    p.push(b("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n\x81\x05hello HTTP/1.1 200 OK\r\n\r\n"), 1n);
    expect(responses(p.take()).map((r) => r.status)).toEqual([101]);
    expect(p.isOpaque).toBe(true);
    expect(p.stats().errors).toBe(0);
  });
});

describe("HttpMessageParser: splits", () => {
  it.each(FIXTURES.map((f) => [f.name, f] as const))("%s: byte by byte gives what one push gives", (_name, f) => {
    const one = whole(f);
    expect(one.messages.length).toBeGreaterThan(0);
    expect(byteByByte(f)).toEqual(one);
  });

  it("gives the same messages and stats for any split points (property)", () => {
    const splitFixture = fc.constantFrom(...FIXTURES).chain((f) =>
      fc.tuple(fc.constant(f), fc.uniqueArray(fc.integer({ min: 1, max: f.wire.length - 1 }), { maxLength: 12 })),
    );
    fc.assert(
      fc.property(splitFixture, ([f, cuts]) => {
        const points = [0, ...cuts.sort((x, y) => x - y), f.wire.length];
        const chunks = points.slice(1).map((end, i) => b(f.wire.slice(points[i], end)));
        expect(run(f, chunks)).toEqual(whole(f));
      }),
      { seed: 7, numRuns: 300 },
    );
  });
});
