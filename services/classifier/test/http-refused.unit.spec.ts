// Issue 10, client bytes the request parser refuses or cannot hold, answered by the server: a target over the line
// limit, a head over the head limit, a request line the parser rejects. Each is still an exchange: kept with what
// was read, marked truncated, paired with its response, taking its seq, so later requests keep theirs.
import { describe, expect, it } from "vitest";
import { DerivedSchema } from "@adi/shared/wire";
import type { HttpExchange, ConnRecord, DataRecord, RawRecord, Tuple } from "@adi/shared/wire";
import { ClassifierEngine } from "../src/core/engine.ts";
import { HttpConnection } from "../src/core/http/exchanges.ts";
import type { PairedExchange } from "../src/core/http/exchanges.ts";
import { HttpMessageParser } from "../src/core/http/parser.ts";
import type { ParsedRequest } from "../src/core/http/parser.ts";

const b = (s: string): Buffer => Buffer.from(s, "latin1");
const REQ = (target: string, extra = "") => `GET ${target} HTTP/1.1\r\nHost: svc\r\n${extra}\r\n`;
const RES = (body: string, status = "200 OK") => `HTTP/1.1 ${status}\r\nContent-Length: ${body.length}\r\n\r\n${body}`;
const brief = (xs: PairedExchange[]) =>
  xs.map((x) => [x.seq, x.request.method, x.request.target, x.request.bodyTruncated, x.response?.status ?? null]);

/** Every request the parser makes of `wire`, whole, byte by byte, and in 1,000-byte pieces: all three must agree. */
function parse(wire: string, close = false): ParsedRequest[] {
  const runs = [[b(wire)], [...b(wire)].map((x) => Buffer.from([x])), Array.from({ length: Math.ceil(wire.length / 1000) }, (_, i) => b(wire.slice(i * 1000, i * 1000 + 1000)))];
  const results = runs.map((chunks) => {
    const p = new HttpMessageParser("request");
    for (const c of chunks) p.push(c, 1n);
    if (close) p.end(2n);
    return { messages: p.take() as ParsedRequest[], stats: p.stats() };
  });
  expect(results[1]).toEqual(results[0]);
  expect(results[2]).toEqual(results[0]);
  return results[0]!.messages;
}

describe("HttpMessageParser: request lines over the line limit", () => {
  it.each([8001, 8150, 8200, 20_000, 60_000])("keeps a %i-character target cut at 8,000 characters, with its version and headers", (n) => {
    const target = `/q/${"x".repeat(n - 3)}`;
    const [big, next] = parse(REQ(target, "Accept: */*\r\n") + REQ("/next"));
    expect([big!.method, big!.target, big!.version, big!.headers, big!.bodyTruncated, big!.refused]).toEqual([
      "GET", target.slice(0, 8000), "HTTP/1.1", [["Host", "svc"], ["Accept", "*/*"]], true, undefined,
    ]);
    expect(big!.raw.startsWith(`GET /q/xxx`)).toBe(true);
    expect([next!.target, next!.bodyTruncated]).toEqual(["/next", false]);
  });

  it("reads the body of a request whose target is over the limit by its framing", () => {
    const target = `/${"y".repeat(9000)}`;
    const [post, next] = parse(`POST ${target} HTTP/1.1\r\nContent-Length: 18\r\n\r\nGET /in HTTP/1.1\r\n` + REQ("/next"));
    expect([post!.method, post!.target.length, post!.body.toString(), post!.bodyTruncated]).toEqual(["POST", 8000, "GET /in HTTP/1.1\r\n", true]);
    expect(next!.target).toBe("/next");
  });

  it("refuses an over-long line that turns out not to be a request line, keeping its method and cut target", () => {
    const line = `GET /${"z".repeat(9000)} and more words HTTP/1.1`;
    const got = parse(`${line}\r\nHost: svc\r\n\r\n` + REQ("/next"));
    expect(got.map((r) => [r.method, r.target.length, r.version, r.headers, r.bodyTruncated, r.refused])).toEqual([
      ["GET", 8000, "", [], true, true],
      ["GET", 5, "HTTP/1.1", [["Host", "svc"]], false, undefined],
    ]);
  });
});

describe("HttpMessageParser: heads over the head limit", () => {
  it.each([66_000, 70_000, 200_000])("keeps a %i-byte head with its start line and the field lines before the limit", (n) => {
    const pad = "x".repeat(n);
    const [big, next] = parse(REQ("/h", `User-Agent: curl\r\nX-Big: ${pad}\r\nAccept: */*\r\n`) + REQ("/next"));
    expect([big!.target, big!.version, big!.headers, big!.bodyTruncated, big!.refused]).toEqual([
      "/h", "HTTP/1.1", [["Host", "svc"], ["User-Agent", "curl"]], true, undefined,
    ]);
    expect(next!.target).toBe("/next");
  });

  it("keeps a request line of more than 64 KiB as a head over the limit: method and cut target", () => {
    const [big] = parse(`GET /${"w".repeat(70_000)} HTTP/1.1\r\n\r\n`);
    expect([big!.method, big!.target.length, big!.version, big!.bodyTruncated]).toEqual(["GET", 8000, "", true]);
  });
});

describe("HttpMessageParser: request lines it refuses", () => {
  it.each([
    ["a space in the target", "GET /a b HTTP/1.1", ["GET", "/a b", "HTTP/1.1"]],
    ["tab separators", "GET\t/t\tHTTP/1.1", ["GET", "/t", "HTTP/1.1"]],
    ["an unknown version", "GET /v HTTP/2.0", ["GET", "/v", "HTTP/2.0"]],
    ["a lower-case method", "get /l HTTP/1.1", ["get", "/l", "HTTP/1.1"]],
    ["no version (HTTP/0.9)", "GET /old", ["GET", "/old", ""]],
    ["two spaces", "GET  /two HTTP/1.1", ["GET", "/two", "HTTP/1.1"]],
  ])("keeps a request line with %s as refused: method, target and version as far as they could be read", (_name, line, read) => {
    const got = parse(`${line}\r\nHost: svc\r\n\r\n` + REQ("/next"));
    expect(got.map((r) => [r.method, r.target, r.version, r.bodyTruncated, r.refused ?? false])).toEqual([
      [...read, true, true],
      ["GET", "/next", "HTTP/1.1", false, false],
    ]);
    expect(got[0]!.raw).toBe(`${line}\r\n`);
  });

  it("keeps a request that cannot be framed (bad Content-Length) with its head, truncated, and searches after it", () => {
    const got = parse("POST /p HTTP/1.1\r\nContent-Length: 12x\r\n\r\nabc" + REQ("/next"));
    expect(got.map((r) => [r.target, r.headers, r.bodyTruncated, r.refused])).toEqual([
      ["/p", [["Content-Length", "12x"]], true, undefined],
      ["/next", [["Host", "svc"]], false, undefined],
    ]);
  });

  it("does not keep a refused line at the end of the connection (no answer can come), nor a line of blanks", () => {
    expect(parse("GET /a b HTTP/1.1", true)).toEqual([]);
    expect(parse(" \t \r\n" + REQ("/next")).map((r) => r.target)).toEqual(["/next"]);
  });
});

describe("HttpConnection: refused or over-limit requests answered by the server", () => {
  const ends = (side: "client" | "server") => (side === "client" ? (["egress", "ingress"] as const) : (["ingress", "egress"] as const));

  it.each(["client", "server"] as const)("a target over the line limit answered 200 (%s): seq 0, the next request seq 1", (side) => {
    const [req, res] = ends(side);
    const c = new HttpConnection(side);
    const target = `/${"a".repeat(8_001)}`;
    c.onData(req, b(REQ(target)), 1n);
    c.onData(res, b(RES("long")), 2n);
    c.onData(req, b(REQ("/next")), 3n);
    c.onData(res, b(RES("next")), 4n);
    expect(brief(c.take())).toEqual([
      [0, "GET", target.slice(0, 8000), true, 200],
      [1, "GET", "/next", false, 200],
    ]);
  });

  it.each([
    ["whole", 0],
    ["cut by a 65,536-byte payload limit", 65_536],
    ["cut by a 1,024-byte payload limit", 1_024],
  ])("a 70,000-byte head answered 431 (%s): paired with what was read, then the next request seq 1", (_name, limit) => {
    const c = new HttpConnection("client");
    const head = b(REQ("/h", `X-Big: ${"x".repeat(70_000)}\r\n`));
    if (limit === 0) c.onData("egress", head, 1n);
    else c.onData("egress", head.subarray(0, limit), 1n, head.length - limit);
    c.onData("ingress", b(RES("", "431 Request Header Fields Too Large")), 2n);
    c.onData("egress", b(REQ("/next")), 3n);
    c.onData("ingress", b(RES("next")), 4n);
    const xs = c.take();
    expect(brief(xs)).toEqual([
      [0, "GET", "/h", true, 431],
      [1, "GET", "/next", false, 200],
    ]);
    expect(xs[0]!.request.headers).toEqual([["Host", "svc"]]);
  });

  it.each([
    ["a space in the target", "GET /a b HTTP/1.1", "/a b"],
    ["tab separators", "GET\t/t\tHTTP/1.1", "/t"],
    ["a lower-case method", "get /l HTTP/1.1", "/l"],
  ])("a request line with %s answered 400: paired, truncated, and the next request seq 1", (_name, line, target) => {
    for (const side of ["client", "server"] as const) {
      const [req, res] = ends(side);
      const c = new HttpConnection(side);
      c.onData(req, b(`${line}\r\nHost: svc\r\n\r\n`), 1n);
      c.onData(res, b(RES("bad", "400 Bad Request")), 2n);
      c.onData(req, b(REQ("/next")), 3n);
      c.onData(res, b(RES("next")), 4n);
      expect(brief(c.take()), side).toEqual([
        [0, line.slice(0, 3), target, true, 400],
        [1, "GET", "/next", false, 200],
      ]);
    }
  });

  it("pairs a refused line whose answer came while the line was still arriving", () => {
    const c = new HttpConnection("client");
    c.onData("egress", b("GET /a b HT"), 1n);
    c.onData("ingress", b(RES("", "400 Bad Request")), 2n);
    c.onClose(3n);
    expect(brief(c.take())).toEqual([[0, "GET", "/a b HT", true, 400]]);
  });

  it("drops refused bytes no response answered: unanswered at close, or passed over by a request begun before the answer", () => {
    const c = new HttpConnection("server");
    c.onData("ingress", b("GET /a b HTTP/1.1\r\n\r\n"), 1n);
    c.onClose(2n);
    expect(c.take()).toEqual([]);
    expect(c.stats().refusedUnanswered).toBe(1);
    // A PROXY protocol line before the request: the response is the request's.
    const p = new HttpConnection("server");
    p.onData("ingress", b("PROXY TCP4 10.0.0.1 10.0.0.2 40000 80\r\n" + REQ("/real")), 1n);
    p.onData("egress", b(RES("real")), 2n);
    expect(brief(p.take())).toEqual([[0, "GET", "/real", false, 200]]);
    expect(p.stats().refusedUnanswered).toBe(1);
  });

  it("keeps nothing of the first bytes of a connection first seen mid-life", () => {
    const c = new HttpConnection("unknown");
    c.onData("egress", b("tail of an earlier body\r\n" + REQ("/late")), 1n);
    c.onData("ingress", b(RES("late")), 2n);
    expect(brief(c.take())).toEqual([[0, "GET", "/late", false, 200]]);
  });
});

describe("ClassifierEngine: the three cases end to end", () => {
  const BOOT = "00000000-0000-0000-0000-000000000001";
  const T0 = 1_790_000_000_000_000_000n;
  const t: Tuple = { family: 4, protocol: "tcp", laddr: "127.0.0.1", lport: 40000, raddr: "127.0.0.1", rport: 8000 };
  const head = { startTicks: 100, cgroupId: 0n, size: 0, kind: 0, cpu: 0, pid: 42, tid: 42 };
  const open = (): ConnRecord => ({ ...head, tsNs: T0, type: "conn_open", connId: 1n, tuple: t, fd: 3, ret: 0, syscall: "connect", role: "client" });
  const data = (direction: "egress" | "ingress", payload: Buffer, ts: bigint, limit = 65_536): DataRecord => ({
    ...head, tsNs: T0 + ts, type: "data", connId: 1n, tuple: t, totalLen: payload.length, offset: 0, fd: 3, syscall: "write",
    direction, truncated: payload.length > limit, lastChunk: true, readFailed: false, gap: false, payload: payload.subarray(0, limit),
  });

  it.each([
    ["a 9,000-character target", REQ(`/${"t".repeat(9_000)}`), "200 OK"],
    ["a 70,000-byte head", REQ("/h", `X-Big: ${"x".repeat(70_000)}\r\n`), "431 Request Header Fields Too Large"],
    ["a space in the target", "GET /a b HTTP/1.1\r\nHost: svc\r\n\r\n", "400 Bad Request"],
  ])("%s: an exchange with body_truncated, paired, seq 0; the next request seq 1", (_name, first, status) => {
    const e = new ClassifierEngine();
    const records: RawRecord[] = [
      open(),
      data("egress", b(first), 10n),
      data("ingress", b(RES("r1", status)), 20n),
      data("egress", b(REQ("/next")), 30n),
      data("ingress", b(RES("r2")), 40n),
    ];
    const out = e.onRecords("h", BOOT, records) as HttpExchange[];
    for (const d of out) DerivedSchema.parse(d);
    expect(out.map((x) => [x.type, x.seq, x.request.method, x.request.body_truncated, x.response?.status])).toEqual([
      ["http_exchange", 0, "GET", true, Number(status.slice(0, 3))],
      ["http_exchange", 1, "GET", false, 200],
    ]);
    expect(out[1]!.request.target).toBe("/next");
  });
});
