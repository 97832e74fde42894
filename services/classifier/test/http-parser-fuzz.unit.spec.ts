// Fuzzing the HTTP parser: arbitrary and mutated bytes, split anywhere, with lost bytes in between. It must never
// throw, its stats must add up, and how the bytes were split must not change what it makes of them.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { HttpMessageParser } from "../src/core/http/parser.ts";
import type { MessageKind, ParsedMessage, ParserStats } from "../src/core/http/parser.ts";

const VALID: Record<MessageKind, string[]> = {
  request: [
    "GET / HTTP/1.1\r\nHost: a\r\n\r\n",
    "POST /p HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello",
    "PUT /c HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3;e=1\r\nabc\r\n0\r\nT: v\r\n\r\n",
    "HEAD /h HTTP/1.0\nX: y\n  folded\n\n",
  ],
  response: [
    "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc",
    "HTTP/1.1 100 Continue\r\n\r\n",
    "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\n\r\n",
    "HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n",
    "HTTP/1.0 200 OK\r\n\r\nclose-delimited",
  ],
};

const kind = fc.constantFrom<MessageKind>("request", "response");

/** Valid messages run together, then mutated: bytes flipped, inserted, deleted. */
const mutatedStream = (k: MessageKind) =>
  fc
    .tuple(
      fc.array(fc.constantFrom(...VALID[k]), { minLength: 1, maxLength: 4 }),
      fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 }), fc.constantFrom("flip", "insert", "delete")), { maxLength: 6 }),
    )
    .map(([messages, mutations]) => {
      const bytes = [...Buffer.from(messages.join(""), "latin1")];
      for (const [at, value, op] of mutations) {
        const i = at % (bytes.length + 1);
        if (op === "insert") bytes.splice(i, 0, value);
        else if (i < bytes.length) {
          if (op === "delete") bytes.splice(i, 1);
          else bytes[i] = value;
        }
      }
      return Buffer.from(bytes);
    });

const anyBytes = fc.uint8Array({ maxLength: 600 }).map((a) => Buffer.from(a));
/** Bytes rich in HTTP tokens, so that the parser gets deep into its states. */
const tokenSoup = fc
  .array(fc.constantFrom("GET ", "HTTP/1.1 ", "200 ", "/x ", "\r\n", "\n", ": ", "Content-Length: 3", "Transfer-Encoding: chunked", "0", "a", ";", " "), {
    maxLength: 60,
  })
  .map((parts) => Buffer.from(parts.join(""), "latin1"));

const input = kind.chain((k) => fc.tuple(fc.constant(k), fc.oneof(anyBytes, tokenSoup, mutatedStream(k))));
const cuts = fc.uniqueArray(fc.nat({ max: 2000 }), { maxLength: 10 });

function split(bytes: Buffer, at: number[]): Buffer[] {
  const points = [0, ...at.filter((p) => p > 0 && p < bytes.length).sort((x, y) => x - y), bytes.length];
  return points.slice(1).map((end, i) => bytes.subarray(points[i], end));
}

/** Feeds the chunks (with a gap after those listed) and closes; checks what must hold of any result. */
function feed(k: MessageKind, chunks: Buffer[], gaps: ReadonlyMap<number, number> = new Map(), methods = ["HEAD", "GET", "GET"]) {
  const p = new HttpMessageParser(k, { maxBodyBytes: 64, maxRawBytes: 128, maxHeadBytes: 512 });
  for (const m of methods) p.expectResponseTo(m);
  const messages: ParsedMessage[] = [];
  chunks.forEach((c, i) => {
    p.push(c, BigInt(i));
    const gap = gaps.get(i);
    if (gap !== undefined) p.gap(gap, BigInt(i));
    messages.push(...p.take());
  });
  p.end(BigInt(chunks.length));
  messages.push(...p.take());
  const stats = p.stats();
  checkInvariants(k, messages, stats, gaps.size);
  return { messages, stats };
}

function checkInvariants(k: MessageKind, messages: ParsedMessage[], stats: ParserStats, gapCount: number): void {
  expect(stats.messages).toBe(messages.length);
  for (const n of Object.values(stats)) expect(Number.isSafeInteger(n) && n >= 0).toBe(true);
  // Every resync comes from an error or from lost bytes; without lost bytes, from an error exactly.
  if (gapCount === 0) expect(stats.resyncs).toBe(stats.errors);
  else expect(stats.resyncs).toBeLessThanOrEqual(stats.errors + gapCount);
  for (const m of messages) {
    expect(m.kind).toBe(k);
    expect(m.body.length).toBeLessThanOrEqual(Math.min(64, m.bodySize));
    if (m.body.length < m.bodySize) expect(m.bodyTruncated).toBe(true);
    expect(m.raw.length).toBeLessThanOrEqual(128);
    expect(m.firstTs).toBeLessThanOrEqual(m.lastTs);
  }
}

const strip = (ms: ParsedMessage[]) => ms.map(({ firstTs: _f, lastTs: _l, ...rest }) => rest);

describe("HttpMessageParser fuzz", () => {
  it("never throws on arbitrary or mutated bytes, split anywhere, and split points do not matter", () => {
    fc.assert(
      fc.property(input, cuts, ([k, bytes], at) => {
        const one = feed(k, [bytes]);
        const many = feed(k, split(bytes, at));
        expect(many.stats).toEqual(one.stats);
        expect(strip(many.messages)).toEqual(strip(one.messages));
      }),
      { seed: 7, numRuns: 1000 },
    );
  });

  it("never throws with bytes lost anywhere, and its stats add up", () => {
    const gaps = fc.array(fc.tuple(fc.nat({ max: 12 }), fc.integer({ min: 1, max: 50 })), { maxLength: 4 });
    fc.assert(
      fc.property(input, cuts, gaps, ([k, bytes], at, lost) => {
        feed(k, split(bytes, at), new Map(lost));
      }),
      { seed: 7, numRuns: 1000 },
    );
  });

  it("recovers the message that follows any line-free garbage", () => {
    const garbage = fc.uint8Array({ maxLength: 300 }).map((a) => Buffer.from(a.filter((x) => x !== 0x0a)));
    fc.assert(
      fc.property(kind, garbage, cuts, (k, junk, at) => {
        const good = k === "request" ? "POST /ok HTTP/1.1\r\nContent-Length: 2\r\n\r\nok" : "HTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok";
        const { messages } = feed(k, split(Buffer.concat([junk, Buffer.from(`\r\n${good}`)]), at), new Map(), ["GET"]);
        const last = messages.at(-1);
        expect(last?.raw).toBe(good);
        expect(last?.bodyTruncated).toBe(false);
      }),
      { seed: 7, numRuns: 500 },
    );
  });
});
