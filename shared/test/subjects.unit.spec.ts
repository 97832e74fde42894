import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  factsFilter,
  factSubject,
  partitionOf,
  rawFilter,
  rawSubject,
  sanitizeToken,
  splitmix64,
  STREAMS,
} from "../src/wire/subjects.ts";

describe("subjects", () => {
  it("names the streams and their subjects", () => {
    expect(STREAMS).toEqual({
      raw: { name: "ADI_RAW", subjects: ["adi.raw.v1.>"] },
      facts: { name: "ADI_FACTS", subjects: ["adi.facts.v1.>"] },
      derived: { name: "ADI_DERIVED", subjects: ["adi.derived.v2.>"] },
      deadletter: { name: "ADI_DEADLETTER", subjects: ["adi.deadletter.v1.>"] },
    });
  });

  it("builds raw subjects and filters", () => {
    expect(rawSubject("node-1", 0)).toBe("adi.raw.v1.node-1.0");
    expect(rawSubject("node_1", 15)).toBe("adi.raw.v1.node_1.15");
    expect(rawFilter(3)).toBe("adi.raw.v1.*.3");
    expect(rawFilter()).toBe("adi.raw.v1.>");
  });

  it("builds facts subjects and filters", () => {
    expect(factSubject("h", "process")).toBe("adi.facts.v1.h.process");
    expect(factSubject("h", "agent")).toBe("adi.facts.v1.h.agent");
    expect(factSubject("h", "container")).toBe("adi.facts.v1.h.container");
    expect(factsFilter("process")).toBe("adi.facts.v1.*.process");
    expect(factsFilter()).toBe("adi.facts.v1.>");
  });

  it("refuses hosts that would break the subject, and bad partitions", () => {
    for (const host of ["a.b", "a b", "*", ">", ""]) {
      expect(() => rawSubject(host, 0)).toThrow(TypeError);
      expect(() => factSubject(host, "process")).toThrow(TypeError);
    }
    for (const p of [-1, 1.5, Number.NaN]) {
      expect(() => rawSubject("h", p)).toThrow(RangeError);
      expect(() => rawFilter(p)).toThrow(RangeError);
    }
  });
});

describe("sanitizeToken", () => {
  it.each([
    ["web-01.example.com", "web-01_example_com"],
    ["a b*c>d", "a_b_c_d"],
    ["", "_"],
    ["ok_Name-1", "ok_Name-1"],
    ["héllo", "h_llo"],
  ])("%j -> %j", (input, output) => {
    expect(sanitizeToken(input)).toBe(output);
  });

  it("always yields a valid token, usable in rawSubject (property)", () => {
    fc.assert(
      fc.property(fc.string(), (s) => {
        const token = sanitizeToken(s);
        expect(token).toMatch(/^[A-Za-z0-9_-]+$/);
        expect(sanitizeToken(token)).toBe(token);
        expect(rawSubject(token, 0).split(".")).toHaveLength(5);
      }),
    );
  });
});

describe("partitionOf", () => {
  it("pins the hash: SplitMix64's published first output for state 0", () => {
    expect(splitmix64(0n)).toBe(0xe220a8397b1dcdafn);
  });

  it("is in range and deterministic (property)", () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }), fc.integer({ min: 1, max: 1024 }), (id, p) => {
        const a = partitionOf(id, p);
        expect(Number.isInteger(a)).toBe(true);
        expect(a).toBeGreaterThanOrEqual(0);
        expect(a).toBeLessThan(p);
        expect(partitionOf(id, p)).toBe(a);
      }),
    );
  });

  it("spreads sequential connection ids evenly", () => {
    const partitions = 16;
    const counts = new Array<number>(partitions).fill(0);
    for (let id = 1n; id <= 16_000n; id++) counts[partitionOf(id, partitions)]!++;
    for (const c of counts) {
      expect(c).toBeGreaterThan(850);
      expect(c).toBeLessThan(1150);
    }
  });

  it("puts everything in partition 0 when there is one", () => {
    expect(partitionOf(123456789n, 1)).toBe(0);
  });

  it("rejects a partition count below 1", () => {
    expect(() => partitionOf(1n, 0)).toThrow(RangeError);
    expect(() => partitionOf(1n, 2.5)).toThrow(RangeError);
  });
});
