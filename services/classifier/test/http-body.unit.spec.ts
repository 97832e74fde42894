import * as zlib from "node:zlib";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { decodeBody } from "../src/core/http/body.ts";

const TEXT = `{"message":"héllo wörld ✓","items":[${Array.from({ length: 400 }, (_, i) => i).join(",")}]}`;
const RAW = Buffer.from(TEXT, "utf8");
const enc = (value: string): [string, string][] => [["Content-Encoding", value]];

describe("decodeBody", () => {
  it("returns identity text as is", () => {
    expect(decodeBody(RAW, [])).toEqual({ text: TEXT, binary: false, truncated: false });
    expect(decodeBody(RAW, enc("identity")).text).toBe(TEXT);
  });

  it("reports an empty body as neither text nor binary", () => {
    expect(decodeBody(Buffer.alloc(0), enc("gzip"))).toEqual({ text: null, binary: false, truncated: false });
    expect(decodeBody(Buffer.alloc(0), [], { truncated: true })).toEqual({ text: null, binary: false, truncated: true });
  });

  it.each([
    ["gzip", zlib.gzipSync(RAW)],
    ["x-gzip", zlib.gzipSync(RAW)],
    ["deflate", zlib.deflateSync(RAW)],
    ["deflate", zlib.deflateRawSync(RAW)], // raw deflate, as some servers send it
    ["br", zlib.brotliCompressSync(RAW)],
    ["GZIP", zlib.gzipSync(RAW)],
  ])("undoes %s", (coding, body) => {
    expect(body.equals(RAW)).toBe(false);
    expect(decodeBody(body, enc(coding))).toEqual({ text: TEXT, binary: false, truncated: false });
  });

  it("undoes stacked codings last first", () => {
    const body = zlib.brotliCompressSync(zlib.gzipSync(RAW));
    expect(decodeBody(body, enc("gzip, br")).text).toBe(TEXT);
    expect(decodeBody(body, [["content-encoding", "gzip"], ["Content-Encoding", "br"]]).text).toBe(TEXT);
  });

  it.each([
    ["gzip", zlib.gzipSync(RAW)],
    ["deflate", zlib.deflateSync(RAW)],
    ["br", zlib.brotliCompressSync(RAW)],
  ])("decodes what a cut %s body holds, marked truncated", (coding, body) => {
    const got = decodeBody(body.subarray(0, Math.floor(body.length / 2)), enc(coding), { truncated: true });
    expect(got.truncated).toBe(true);
    expect(got.binary).toBe(false);
    expect(got.text!.length).toBeGreaterThan(20);
    expect(TEXT.startsWith(got.text!)).toBe(true);
  });

  it("marks a cut gzip body truncated even when the caller did not know", () => {
    const gz = zlib.gzipSync(RAW);
    const got = decodeBody(gz.subarray(0, gz.length - 10), enc("gzip"));
    expect(got.truncated).toBe(true);
    expect(TEXT.startsWith(got.text!)).toBe(true);
  });

  it("survives a corrupt stream: no throw, truncated", () => {
    const gz = Buffer.from(zlib.gzipSync(RAW));
    for (let i = 40; i < 60; i++) gz[i] = gz[i]! ^ 0xa5;
    const got = decodeBody(gz, enc("gzip"));
    expect(got.truncated).toBe(true);
  });

  it("keeps the bytes as they are when nothing of them decodes (a wrong label)", () => {
    expect(decodeBody(Buffer.from("not gzip at all"), enc("gzip"))).toEqual({ text: "not gzip at all", binary: false, truncated: true });
  });

  it("stops at maxOutputBytes (a zip bomb yields a prefix)", () => {
    const bomb = zlib.gzipSync(Buffer.alloc(20 * 1024 * 1024, "a"));
    const got = decodeBody(bomb, enc("gzip"), { maxOutputBytes: 1000 });
    expect(got.truncated).toBe(true);
    expect(got.text!.length).toBeGreaterThan(0);
    expect(got.text!.length).toBeLessThanOrEqual(1000);
    expect(got.text).toMatch(/^a+$/);
  });

  it("caps an unencoded body at maxOutputBytes too", () => {
    expect(decodeBody(RAW, [], { maxOutputBytes: 10 })).toEqual({ text: TEXT.slice(0, 10), binary: false, truncated: true });
  });

  it("reports bytes that are not UTF-8 as binary", () => {
    const png = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0xff, 0xfe, 0x00]);
    expect(decodeBody(png, [])).toEqual({ text: null, binary: true, truncated: false });
    expect(decodeBody(zlib.gzipSync(png), enc("gzip"))).toEqual({ text: null, binary: true, truncated: false });
  });

  it("drops a character cut in half by truncation, but calls a whole body with one binary", () => {
    const cut = Buffer.from("ab✓", "utf8").subarray(0, 4); // "ab" and 2 of the 3 bytes of ✓
    expect(decodeBody(cut, [], { truncated: true })).toEqual({ text: "ab", binary: false, truncated: true });
    expect(decodeBody(cut, [])).toEqual({ text: null, binary: true, truncated: false });
  });

  it("leaves a coding it does not know alone", () => {
    expect(decodeBody(RAW, enc("compress")).text).toBe(TEXT);
  });

  it("never throws, whatever the bytes and codings (property)", () => {
    const coding = fc.constantFrom("gzip", "deflate", "br", "x-gzip", "gzip, br", "identity", "zstd", "");
    const sample = fc.oneof(
      fc.uint8Array({ maxLength: 300 }).map((a) => Buffer.from(a)),
      fc.tuple(fc.string({ maxLength: 200 }), fc.nat()).map(([s, cut]) => {
        const gz = zlib.gzipSync(Buffer.from(s));
        return gz.subarray(0, cut % (gz.length + 1));
      }),
    );
    fc.assert(
      fc.property(sample, coding, fc.boolean(), (body, c, truncated) => {
        const got = decodeBody(body, enc(c), { truncated, maxOutputBytes: 256 });
        expect(got.text === null || !got.binary).toBe(true);
        if (truncated) expect(got.truncated).toBe(true);
        if (got.text !== null) expect(Buffer.byteLength(got.text)).toBeLessThanOrEqual(256);
      }),
      { seed: 7, numRuns: 500 },
    );
  });
});
