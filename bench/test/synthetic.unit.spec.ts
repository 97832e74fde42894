// The replay benchmark's synthetic stream must be what it claims: valid raw batches, whose HTTP exchanges the
// real classifier engine finds, every one of them, and summaries that are medians.
import { describe, expect, it } from "vitest";
import { ClassifierEngine } from "@adi/classifier";
import { decodeBatch } from "@adi/shared/wire";
import { emptyStats, syntheticBatches } from "../../test/support/synthetic-stream.ts";
import { summarise } from "../lib/stats.ts";

describe("the synthetic raw stream", () => {
  it("decodes, and the classifier engine finds exactly the exchanges and connections it says it holds", () => {
    const stats = emptyStats();
    const engine = new ClassifierEngine();
    let exchanges = 0;
    let connections = 0;
    let records = 0;
    for (const batch of syntheticBatches({ events: 20_000, seed: 7 }, stats)) {
      const { header, records: recs } = decodeBatch(batch.data);
      expect(batch.subject).toBe(`adi.raw.v1.benchhost.${header.partition}`);
      records += recs.length;
      for (const d of engine.onRecords("benchhost", header.bootId, recs)) {
        if (d.type === "http_exchange") exchanges++;
        else if (d.protocol === "redis" || d.protocol === "postgres") connections++;
      }
    }
    expect(stats.events).toBeGreaterThanOrEqual(20_000);
    expect(records).toBe(stats.events);
    expect(exchanges).toBe(stats.exchanges);
    expect(connections).toBe(stats.otherConnections);
  });
});

describe("summarise", () => {
  it("gives the median (mean of the middle two for an even count), min, max and runs", () => {
    expect(summarise([5, 1, 3])).toEqual({ median: 3, min: 1, max: 5, runs: 3 });
    expect(summarise([4, 1, 3, 10])).toEqual({ median: 3.5, min: 1, max: 10, runs: 4 });
  });
});
