import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { msToNanos, parseByteSize, parseDuration } from "../src/config-values.ts";

describe("parseDuration", () => {
  it.each([
    ["24h", 86_400_000],
    ["30m", 1_800_000],
    ["7d", 604_800_000],
    ["2w", 1_209_600_000],
    ["90s", 90_000],
    ["250ms", 250],
    ["1h30m", 5_400_000],
    ["1.5h", 5_400_000],
    [" 10m ", 600_000],
  ])("%s -> %d ms", (text, ms) => {
    expect(parseDuration(text)).toBe(ms);
  });

  it.each(["", "24", "h", "1 h", "-1h", "1y", "1H", "1h 30m", "1.h", "10mss"])("rejects %j", (text) => {
    expect(() => parseDuration(text)).toThrow(/invalid duration/);
  });

  it("adds up the parts of any well-formed duration (property)", () => {
    const unit = fc.constantFrom(["ms", 1], ["s", 1000], ["m", 60_000], ["h", 3_600_000], ["d", 86_400_000]);
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.nat(1000), unit), { minLength: 1, maxLength: 4 }), (parts) => {
        const text = parts.map(([n, [u]]) => `${n}${u}`).join("");
        expect(parseDuration(text)).toBe(parts.reduce((sum, [n, [, ms]]) => sum + n * (ms as number), 0));
      }),
    );
  });

  it("converts to nanoseconds for JetStream", () => {
    expect(msToNanos(parseDuration("24h"))).toBe(86_400_000_000_000);
  });
});

describe("parseByteSize", () => {
  it.each([
    ["65536", 65536],
    ["512MiB", 512 * 1024 ** 2],
    ["10GiB", 10 * 1024 ** 3],
    ["10gib", 10 * 1024 ** 3],
    ["1G", 1024 ** 3],
    ["1GB", 1e9],
    ["4K", 4096],
    ["4 KiB", 4096],
    ["1.5KiB", 1536],
    ["100B", 100],
    ["2TiB", 2 * 1024 ** 4],
  ])("%s -> %d", (text, bytes) => {
    expect(parseByteSize(text)).toBe(bytes);
  });

  it.each(["", "MiB", "-1", "1.5", "1.0005KB", "10XB", "1e6", "1,024"])("rejects %j", (text) => {
    expect(() => parseByteSize(text)).toThrow();
  });

  it("reads any plain non-negative integer as bytes (property)", () => {
    fc.assert(
      fc.property(fc.maxSafeNat(), (n) => {
        expect(parseByteSize(String(n))).toBe(n);
      }),
    );
  });
});
