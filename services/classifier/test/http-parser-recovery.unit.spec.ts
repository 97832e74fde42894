// The HTTP parser where the stream is not clean: bytes lost by the capture, and bytes that are not HTTP.
import { describe, expect, it } from "vitest";
import { HttpMessageParser } from "../src/core/http/parser.ts";
import type { MessageKind, ParsedMessage, ParsedRequest, ParsedResponse, ParserOptions } from "../src/core/http/parser.ts";

const b = (s: string): Buffer => Buffer.from(s, "latin1");
const requests = (ms: ParsedMessage[]) => ms as ParsedRequest[];
const responses = (ms: ParsedMessage[]) => ms as ParsedResponse[];

/** One push, then end(). */
function whole(kind: MessageKind, wire: string, opts: ParserOptions = {}) {
  const p = new HttpMessageParser(kind, opts);
  p.push(b(wire), 1n);
  p.end(2n);
  return { messages: p.take(), stats: p.stats() };
}

describe("HttpMessageParser: lost bytes and errors", () => {
  it("skips a gap inside a Content-Length body: the message is still emitted, marked truncated", () => {
    const p = new HttpMessageParser("response");
    p.push(b("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc"), 1n);
    p.gap(4, 2n);
    p.push(b("hij" + "HTTP/1.1 204 No Content\r\n\r\n"), 3n);
    const res = responses(p.take());
    expect(res.map((r) => [r.status, r.body.toString(), r.bodySize, r.bodyTruncated, r.lastTs])).toEqual([
      [200, "abchij", 10, true, 3n],
      [204, "", 0, false, 3n],
    ]);
    expect(p.stats()).toEqual({ messages: 2, errors: 0, resyncs: 0, droppedPartial: 0, incomplete: 0 });
  });

  it("keeps a head cut by a gap with what was captured (truncated), then resyncs and finds the next request", () => {
    const p = new HttpMessageParser("request");
    p.push(b("GET /lost HTTP/1.1\r\nX-A: 1\r\nHo"), 1n);
    p.gap(500, 2n);
    p.push(b("st: a\r\nAccept: */*\r\n\r\nbody tail GET /found HTTP/1.1\r\nHost: a\r\n\r\n"), 3n);
    const got = requests(p.take());
    expect(got.map((r) => [r.target, r.headers, r.bodyTruncated])).toEqual([
      ["/lost", [["X-A", "1"]], true],
      ["/found", [["Host", "a"]], false],
    ]);
    expect(p.stats()).toEqual({ messages: 2, errors: 0, resyncs: 1, droppedPartial: 0, incomplete: 1 });
  });

  it("keeps a request line longer than the capture limit: the target as captured, truncated", () => {
    const p = new HttpMessageParser("request");
    const target = `/q/${"x".repeat(3000)}`;
    p.push(b(`GET ${target}`.slice(0, 2048)), 1n);
    p.gap(5000, 1n);
    const [r] = requests(p.take());
    expect([r!.method, r!.target, r!.version, r!.bodyTruncated]).toEqual(["GET", target.slice(0, 2044), "", true]);
  });

  it("drops a head cut by a gap before its start line named anything", () => {
    const p = new HttpMessageParser("response");
    p.push(b("HTTP/1."), 1n);
    p.gap(100, 2n);
    expect(p.take()).toEqual([]);
    expect(p.stats()).toMatchObject({ droppedPartial: 1, incomplete: 0 });
  });

  it("ends the body when a gap runs past it, and resyncs for the rest of the gap", () => {
    const p = new HttpMessageParser("request");
    p.push(b("POST /a HTTP/1.1\r\nContent-Length: 4\r\n\r\nab"), 1n);
    p.gap(40, 2n);
    p.push(b("Type: x\r\n\r\nPOST /b HTTP/1.1\r\nContent-Length: 1\r\n\r\nq"), 3n);
    expect(requests(p.take()).map((r) => [r.target, r.bodySize, r.bodyTruncated])).toEqual([
      ["/a", 4, true],
      ["/b", 1, false],
    ]);
    expect(p.stats().resyncs).toBe(1);
  });

  it("keeps a chunked message cut short when a gap hits a chunk-size line", () => {
    const p = new HttpMessageParser("response");
    p.push(b("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n1"), 1n);
    p.gap(8, 2n);
    p.push(b("xx\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"), 3n);
    expect(responses(p.take()).map((r) => [r.body.toString(), r.bodyTruncated])).toEqual([
      ["abc", true],
      ["", false],
    ]);
  });

  it("treats a field line that is a request line as the start of the next message, keeping the head before it", () => {
    // Re-read from the bad line itself, not from inside the head: the start line quoted in X-Note stays unseen.
    const { messages, stats } = whole("request", "GET /a HTTP/1.1\r\nX-Note: PUT /fake HTTP/1.1\r\nGET /b HTTP/1.1\r\n\r\n");
    expect(requests(messages).map((r) => [r.target, r.headers, r.bodyTruncated, r.refused])).toEqual([
      ["/a", [["X-Note", "PUT /fake HTTP/1.1"]], true, undefined],
      ["/b", [], false, undefined],
    ]);
    expect(requests(messages)[0]!.raw).toBe("GET /a HTTP/1.1\r\nX-Note: PUT /fake HTTP/1.1\r\n");
    expect(stats).toMatchObject({ errors: 1, resyncs: 1, incomplete: 1 });
  });

  it.each([
    ["a bad Content-Length", "HTTP/1.1 200 OK\r\nContent-Length: 12x\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"],
    ["disagreeing Content-Lengths", "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nHTTP/1.1 200 OK\r\n\r\n"],
    ["a bad chunk size", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"],
    ["a bad status line", "HTTP/1.1 20 OK\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"],
  ])("recovers from %s", (_name, wire) => {
    const { messages, stats } = whole("response", wire);
    expect(responses(messages).at(-1)!.status).toBe(200);
    expect(stats.errors).toBe(1);
    expect(stats.resyncs).toBe(1);
  });

  it("keeps a head over maxHeadBytes with its start line and complete field lines (truncated), then finds the next message", () => {
    const big = `GET /big HTTP/1.1\r\nHost: a\r\nX-Pad: ${"p".repeat(300)}\r\n\r\n`;
    const { messages, stats } = whole("request", big + "GET /small HTTP/1.1\r\n\r\n", { maxHeadBytes: 200 });
    expect(requests(messages).map((r) => [r.target, r.headers, r.bodyTruncated])).toEqual([
      ["/big", [["Host", "a"]], true],
      ["/small", [], false],
    ]);
    expect(stats).toMatchObject({ errors: 1, resyncs: 1, incomplete: 1 });
  });
});
