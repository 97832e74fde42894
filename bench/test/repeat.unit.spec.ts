// The bench's repetition helper must interleave compared variants (A B A B), so a drift of a shared machine lands
// on every variant alike, and keep each variant's results in repetition order.
import { describe, expect, it } from "vitest";
import { interleaved } from "../lib/repeat.ts";
import { percentiles, summarise } from "../lib/stats.ts";

describe("interleaved", () => {
  it("runs before, after, before, after and returns each variant's runs in order", async () => {
    const calls: string[] = [];
    const out = await interleaved(3, ["before", "after"] as const, async (v, rep) => {
      calls.push(`${v}${rep}`);
      return rep * (v === "before" ? 10 : 100);
    });
    expect(calls).toEqual(["before1", "after1", "before2", "after2", "before3", "after3"]);
    expect(out).toEqual({ before: [10, 20, 30], after: [100, 200, 300] });
  });

  it("stops at the first failure", async () => {
    const calls: string[] = [];
    await expect(interleaved(2, ["a", "b"] as const, async (v, rep) => {
      calls.push(`${v}${rep}`);
      if (v === "b") throw new Error("b broke");
    })).rejects.toThrow("b broke");
    expect(calls).toEqual(["a1", "b1"]);
  });
});

describe("stats", () => {
  it("summarises no values as NaN, not as a crash", () => {
    expect(summarise([])).toEqual({ median: NaN, min: NaN, max: NaN, runs: 0 });
  });

  it("interpolates percentiles between ranks", () => {
    expect(percentiles([4, 1, 3, 2], [0, 50, 100])).toEqual([1, 2.5, 4]);
  });
});
