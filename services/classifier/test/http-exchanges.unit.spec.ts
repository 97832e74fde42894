import { describe, expect, it } from "vitest";
import { HttpConnection, looksLikeHttpRequest, looksLikeHttpResponse } from "../src/core/http/exchanges.ts";
import type { PairedExchange } from "../src/core/http/exchanges.ts";
import { RequestDirectionDetector } from "../src/core/http/side-detect.ts";

const b = (s: string): Buffer => Buffer.from(s, "latin1");
const brief = (xs: PairedExchange[]) =>
  xs.map((x) => [x.seq, x.request.method, x.request.target, x.response?.status ?? null, x.response?.body.toString() ?? null]);

const REQ = (target: string) => `GET ${target} HTTP/1.1\r\nHost: svc\r\n\r\n`;
const RES = (body: string, status = "200 OK") => `HTTP/1.1 ${status}\r\nContent-Length: ${body.length}\r\n\r\n${body}`;

describe("HttpConnection", () => {
  it("pairs a client's request and response, with the latency between them", () => {
    const c = new HttpConnection("client");
    c.onData("egress", b(REQ("/a")), 100n);
    expect(c.take()).toEqual([]);
    c.onData("ingress", b(RES("hi")), 350n);
    const [x] = c.take();
    expect(brief([x!])).toEqual([[0, "GET", "/a", 200, "hi"]]);
    expect(x!.latencyNs).toBe(250n);
  });

  it("reads a server's ingress as requests and its egress as responses", () => {
    const c = new HttpConnection("server");
    c.onData("ingress", b(REQ("/s")), 1n);
    c.onData("egress", b(RES("ok")), 2n);
    expect(brief(c.take())).toEqual([[0, "GET", "/s", 200, "ok"]]);
  });

  it("pairs three pipelined requests 1:1 in order, responses fed byte by byte", () => {
    const c = new HttpConnection("client");
    c.onData("egress", b(REQ("/1") + REQ("/2") + REQ("/3")), 1n);
    const responses = b(RES("one") + RES("two", "404 Not Found") + RES("three"));
    const seen: number[] = [];
    responses.forEach((x, i) => {
      c.onData("ingress", Buffer.from([x]), BigInt(10 + i));
      seen.push(c.take().length);
    });
    // Each exchange appears exactly when the last byte of its response arrives.
    expect(seen.reduce((a, n) => a + n, 0)).toBe(3);
    expect(seen.at(-1)).toBe(1);
    c.onClose(1000n);
    expect(c.take()).toEqual([]);
  });

  it("emits pipelined exchanges with their own seq and bodies", () => {
    const c = new HttpConnection("client");
    c.onData("egress", b(REQ("/1") + REQ("/2") + REQ("/3")), 1n);
    c.onData("ingress", b(RES("one") + RES("two", "404 Not Found") + RES("three")), 2n);
    expect(brief(c.take())).toEqual([
      [0, "GET", "/1", 200, "one"],
      [1, "GET", "/2", 404, "two"],
      [2, "GET", "/3", 200, "three"],
    ]);
  });

  it("skips 100 Continue when pairing", () => {
    const c = new HttpConnection("client");
    c.onData("egress", b("POST /up HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n"), 1n);
    c.onData("ingress", b("HTTP/1.1 100 Continue\r\n\r\n"), 2n);
    expect(c.take()).toEqual([]);
    c.onData("egress", b("data"), 3n);
    c.onData("ingress", b(RES("stored", "201 Created")), 4n);
    const [x] = c.take();
    expect([x!.request.body.toString(), x!.response!.status, x!.latencyNs]).toEqual(["data", 201, 1n]);
  });

  // Item 2 of issue 10: a request whose body never came is still an exchange, paired with its answer.
  const UPLOAD = (n: number, extra = "Expect: 100-continue\r\n") => `POST /upload HTTP/1.1\r\nHost: svc\r\n${extra}Content-Length: ${n}\r\n\r\n`;

  it.each([
    ["413", "413 Payload Too Large"],
    ["417", "417 Expectation Failed"],
    ["401", "401 Unauthorized"],
  ])("pairs an Expect: 100-continue request refused at once with %s (the body is never sent), on either end", (code, status) => {
    for (const side of ["client", "server"] as const) {
      const c = new HttpConnection(side);
      const [req, res] = side === "client" ? (["egress", "ingress"] as const) : (["ingress", "egress"] as const);
      c.onData(req, b(UPLOAD(1_000_000)), 10n);
      c.onData(res, b(RES("no", status)), 20n);
      const [x] = c.take();
      expect(x, side).toBeDefined();
      expect([x!.seq, x!.request.method, x!.request.target, x!.request.bodySize, x!.request.bodyTruncated, x!.response!.status, x!.latencyNs]).toEqual([
        0, "POST", "/upload", 0, true, Number(code), 10n,
      ]);
      c.onClose(30n);
      expect(c.take()).toEqual([]);
    }
  });

  it("still reads the body when 100 Continue comes first, and the final answer pairs with the whole request", () => {
    const c = new HttpConnection("server");
    c.onData("ingress", b(UPLOAD(6)), 1n);
    c.onData("egress", b("HTTP/1.1 100 Continue\r\n\r\n"), 2n);
    c.onData("ingress", b("abc"), 3n);
    c.onData("ingress", b("def"), 4n);
    c.onData("egress", b(RES("ok", "201 Created")), 5n);
    const [x] = c.take();
    expect([x!.request.body.toString(), x!.request.bodyTruncated, x!.response!.status]).toEqual(["abcdef", false, 201]);
  });

  it("answered early, then sent anyway: the rest of the body is skipped by its length, and the next request pairs", () => {
    const c = new HttpConnection("client");
    c.onData("egress", b(UPLOAD(10, "") + "01234"), 1n);
    c.onData("ingress", b(RES("too big", "413 Payload Too Large")), 2n);
    // The rest of the body: it even looks like a request line, but it is body bytes by Content-Length.
    c.onData("egress", b("GET /"), 3n);
    c.onData("egress", b(REQ("/next")), 4n);
    c.onData("ingress", b(RES("next")), 5n);
    expect(brief(c.take())).toEqual([
      [0, "POST", "/upload", 413, "too big"],
      [1, "GET", "/next", 200, "next"],
    ]);
  });

  it("answered early and the body never sent: the client's next request on the same connection is read as one", () => {
    const c = new HttpConnection("client");
    c.onData("egress", b(UPLOAD(5000)), 1n);
    c.onData("ingress", b(RES("", "417 Expectation Failed")), 2n);
    c.onData("egress", b(REQ("/retry")), 3n);
    c.onData("ingress", b(RES("fine")), 4n);
    expect(brief(c.take())).toEqual([
      [0, "POST", "/upload", 417, ""],
      [1, "GET", "/retry", 200, "fine"],
    ]);
  });

  it("pairs a chunked upload answered mid-body, and keeps the chunks' framing for the rest", () => {
    const c = new HttpConnection("client");
    c.onData("egress", b("POST /c HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n"), 1n);
    c.onData("ingress", b(RES("stop", "400 Bad Request")), 2n);
    c.onData("egress", b("3\r\ndef\r\n0\r\n\r\n"), 3n);
    c.onData("egress", b(REQ("/after")), 4n);
    c.onData("ingress", b(RES("after")), 5n);
    const xs = c.take();
    expect(brief(xs)).toEqual([
      [0, "POST", "/c", 400, "stop"],
      [1, "GET", "/after", 200, "after"],
    ]);
    expect([xs[0]!.request.body.toString(), xs[0]!.request.bodyTruncated]).toEqual(["abc", true]);
  });

  it("keeps a request reset mid-body at close, truncated, with no response", () => {
    const c = new HttpConnection("server");
    c.onData("ingress", b(UPLOAD(100, "") + "0123456789"), 1n);
    c.onClose(2n);
    const [x] = c.take();
    expect([x!.request.target, x!.request.bodySize, x!.request.body.toString(), x!.request.bodyTruncated, x!.response]).toEqual([
      "/upload", 10, "0123456789", true, null,
    ]);
    expect(c.stats().requests).toMatchObject({ incomplete: 1, droppedPartial: 0 });
  });

  it("pairs a request whose head was still arriving when the server answered (431), with what was read", () => {
    const c = new HttpConnection("client");
    c.onData("egress", b("GET /h HTTP/1.1\r\nHost: svc\r\nX-Big: aaaa"), 1n);
    c.onData("ingress", b("HTTP/1.1 431 Request Header Fields Too Large\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"), 2n);
    const [x] = c.take();
    expect([x!.request.target, x!.request.headers, x!.request.bodyTruncated, x!.response!.status]).toEqual(["/h", [["Host", "svc"]], true, 431]);
  });

  it("does not cut a request whose answer belongs to an earlier one (pipelining)", () => {
    const c = new HttpConnection("client");
    c.onData("egress", b(REQ("/1") + UPLOAD(6, "")), 1n);
    c.onData("ingress", b(RES("one")), 2n);
    c.onData("egress", b("abcdef"), 3n);
    c.onData("ingress", b(RES("two")), 4n);
    const xs = c.take();
    expect(brief(xs)).toEqual([
      [0, "GET", "/1", 200, "one"],
      [1, "POST", "/upload", 200, "two"],
    ]);
    expect([xs[1]!.request.body.toString(), xs[1]!.request.bodyTruncated]).toEqual(["abcdef", false]);
  });

  it("tells the response side about HEAD, so its Content-Length means no body", () => {
    const c = new HttpConnection("client");
    c.onData("egress", b("HEAD /big HTTP/1.1\r\n\r\n" + REQ("/small")), 1n);
    c.onData("ingress", b("HTTP/1.1 200 OK\r\nContent-Length: 5000\r\n\r\n" + RES("tiny")), 2n);
    expect(brief(c.take())).toEqual([
      [0, "HEAD", "/big", 200, ""],
      [1, "GET", "/small", 200, "tiny"],
    ]);
  });

  it("keeps a request unanswered at close, with no response", () => {
    const c = new HttpConnection("client");
    c.onData("egress", b(REQ("/1") + REQ("/2")), 1n);
    c.onData("ingress", b(RES("one")), 2n);
    expect(brief(c.take())).toEqual([[0, "GET", "/1", 200, "one"]]);
    c.onClose(3n);
    const [x] = c.take();
    expect([x!.seq, x!.request.target, x!.response, x!.latencyNs]).toEqual([1, "/2", null, null]);
  });

  it("pairs a request with a response cut by the close (a reset mid-body), kept truncated", () => {
    const c = new HttpConnection("client");
    c.onData("egress", b(REQ("/1") + REQ("/2")), 1n);
    c.onData("ingress", b(RES("one") + "HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\npart"), 2n);
    expect(brief(c.take())).toEqual([[0, "GET", "/1", 200, "one"]]);
    c.onClose(3n);
    const [x] = c.take();
    expect([x!.seq, x!.request.target, x!.response?.status, x!.response?.body.toString(), x!.response?.bodyTruncated]).toEqual([1, "/2", 200, "part", true]);
    expect(c.stats().responses).toMatchObject({ droppedPartial: 0, incomplete: 1 });
  });

  it("completes a close-delimited response at close", () => {
    const c = new HttpConnection("client");
    c.onData("egress", b("GET / HTTP/1.0\r\n\r\n"), 1n);
    c.onData("ingress", b("HTTP/1.0 200 OK\r\n\r\nuntil close"), 2n);
    expect(c.take()).toEqual([]);
    c.onClose(3n);
    expect(brief(c.take())).toEqual([[0, "GET", "/", 200, "until close"]]);
  });

  it("decides an unknown side from the first direction that shows a request line", () => {
    const c = new HttpConnection("unknown");
    c.onData("egress", b("tail of an earlier body"), 1n);
    c.onData("ingress", b("...GET /late HTTP/1.1\r\nHost: x\r\n\r\n"), 2n);
    c.onData("egress", b(RES("served")), 3n);
    expect(brief(c.take())).toEqual([[0, "GET", "/late", 200, "served"]]);
  });

  it("decides an unknown side from a status line too, dropping a response older than any request", () => {
    const c = new HttpConnection("unknown");
    c.onData("ingress", b(RES("answer to a request never seen")), 5n);
    c.onData("egress", b(REQ("/next")), 6n);
    c.onData("ingress", b(RES("next")), 7n);
    expect(brief(c.take())).toEqual([[0, "GET", "/next", 200, "next"]]);
    expect(c.stats().unmatchedResponses).toBe(1);
  });

  it("pairs the upgrade request with its 101, then stops parsing", () => {
    const c = new HttpConnection("client");
    c.onData("egress", b("GET /ws HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n"), 1n);
    c.onData("ingress", b("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n"), 2n);
    c.onData("egress", b("\x81\x85GET / HTTP/1.1\r\n\r\n"), 3n);
    c.onData("ingress", b("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"), 4n);
    expect(brief(c.take())).toEqual([[0, "GET", "/ws", 101, ""]]);
    expect(c.isOpaque).toBe(true);
    c.onClose(5n);
    expect(c.take()).toEqual([]);
  });

  it("carries lost bytes into the message: a request body cut by the capture limit", () => {
    const c = new HttpConnection("client");
    c.onData("egress", b("POST /big HTTP/1.1\r\nContent-Length: 100\r\n\r\n0123456789"), 1n, 90);
    c.onData("ingress", b(RES("ok")), 2n);
    const [x] = c.take();
    expect([x!.request.bodySize, x!.request.body.toString(), x!.request.bodyTruncated]).toEqual([100, "0123456789", true]);
  });
});

describe("RequestDirectionDetector", () => {
  it("holds data until a request line shows, then hands all of it back in order", () => {
    const d = new RequestDirectionDetector();
    expect(d.offer({ direction: "ingress", payload: b("GE"), tsNs: 1n, gapBytes: 0 })).toBeNull();
    expect(d.offer({ direction: "egress", payload: b("xyz"), tsNs: 2n, gapBytes: 0 })).toBeNull();
    expect(d.offer({ direction: "ingress", payload: b("T / HTTP/1.1\r\n"), tsNs: 3n, gapBytes: 0 })).toBe("ingress");
    expect(d.drain().map((h) => [h.direction, h.tsNs])).toEqual([
      ["ingress", 1n],
      ["egress", 2n],
      ["ingress", 3n],
    ]);
  });

  it("takes a status line as the sign that the other direction carries requests", () => {
    const d = new RequestDirectionDetector();
    expect(d.offer({ direction: "egress", payload: b("HTTP/1.1 200 OK\r\n"), tsNs: 1n, gapBytes: 0 })).toBe("ingress");
  });

  it("does not join a start line across lost bytes", () => {
    const d = new RequestDirectionDetector();
    expect(d.offer({ direction: "egress", payload: b("GET /a"), tsNs: 1n, gapBytes: 10 })).toBeNull();
    expect(d.offer({ direction: "egress", payload: b(" HTTP/1.1\r\n"), tsNs: 2n, gapBytes: 0 })).toBeNull();
  });
});

describe("looksLikeHttpRequest / looksLikeHttpResponse", () => {
  it.each([
    ["GET / HTTP/1.1\r\n", true],
    ["DELETE /x", true],
    ["MKCALENDAR /c", true],
    ["OPTIONS * HTTP/1.1", true],
    ["GET", false],
    ["GETX / HTTP/1.1", false],
    ["get / HTTP/1.1", false],
    ["PRI * HTTP/2.0\r\n\r\nSM", false],
    ["\x16\x03\x01\x02\x00", false],
    ["", false],
  ])("request %j -> %s", (text, expected) => {
    expect(looksLikeHttpRequest(b(text))).toBe(expected);
  });

  it.each([
    ["HTTP/1.1 200 OK", true],
    ["HTTP/1.0 404", true],
    ["HTTP/2 200", false],
    ["HTTP/1", false],
    ["GET / HTTP/1.1", false],
  ])("response %j -> %s", (text, expected) => {
    expect(looksLikeHttpResponse(b(text))).toBe(expected);
  });

  it("reads a view into a larger buffer from its own offset", () => {
    const big = b("xxxxGET / HTTP/1.1");
    expect(looksLikeHttpRequest(big.subarray(4))).toBe(true);
    expect(looksLikeHttpRequest(new Uint8Array(big.buffer, big.byteOffset + 1, 10))).toBe(false);
  });
});
