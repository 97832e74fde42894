// The partition count as part of ADI_RAW's contract: its subjects state it (issue 10, item 7).
import { describe, expect, it } from "vitest";
import { partitionOfSubject, partitionsOfSubjects, rawPartitionSubjects } from "../src/wire/subjects.ts";
import { streamConfigs } from "../src/nats/streams.ts";

describe("raw partition subjects", () => {
  it("lists one subject per partition and reads the count back", () => {
    expect(rawPartitionSubjects(3)).toEqual(["adi.raw.v1.*.0", "adi.raw.v1.*.1", "adi.raw.v1.*.2"]);
    for (const n of [1, 16, 32, 1024]) expect(partitionsOfSubjects(rawPartitionSubjects(n))).toBe(n);
    expect(partitionsOfSubjects([...rawPartitionSubjects(5)].reverse())).toBe(5);
  });
  it.each([
    [["adi.raw.v1.>"]],
    [[]],
    [["adi.raw.v1.*.0", "adi.raw.v1.*.2"]], // a hole
    [["adi.raw.v1.*.0", "adi.raw.v1.*.0"]], // a repeat
    [["adi.raw.v1.*.1"]], // not from 0
    [["adi.raw.v1.*.0", "adi.raw.v1.*.01"]],
  ])("states no count for %j", (subjects) => {
    expect(partitionsOfSubjects(subjects)).toBeUndefined();
  });
  it("refuses a count that is not a positive integer", () => {
    expect(() => rawPartitionSubjects(0)).toThrow(RangeError);
  });
  it.each([
    ["adi.raw.v1.host.0", 0],
    ["adi.raw.v1.host.40", 40],
    ["adi.raw.v1.host.040", undefined],
    ["adi.raw.v1.host.-1", undefined],
    ["adi.raw.v1.host", undefined],
    ["adi.raw.v2.host.1", undefined],
    ["adi.raw.v1.host.1.2", undefined],
  ])("partitionOfSubject(%s) = %s", (subject, p) => {
    expect(partitionOfSubject(subject)).toBe(p);
  });
  it("a producer's stream config stores only its partitions; a consumer's leaves the count open", () => {
    const limits = { maxAgeMs: 1000, maxBytes: -1, replicas: 1 };
    const raw = (c: ReturnType<typeof streamConfigs>) => c.find((s) => s.name === "ADI_RAW")!.subjects;
    expect(raw(streamConfigs({ ...limits, partitions: 16 }))).toEqual(rawPartitionSubjects(16));
    expect(raw(streamConfigs(limits))).toEqual(["adi.raw.v1.>"]);
  });
});
