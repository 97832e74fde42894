// What a raw batch must satisfy before the engine sees it, live and in replay alike (issue 10, items 7 and 8).
import { describe, expect, it } from "vitest";
import type { DataRecord, RawRecord, Tuple } from "@adi/shared/wire";
import { encodeBatch, encodeRecord } from "@adi/shared/wire";
import { checkBatchPartition, emptyDeadLetterCounts, guardRecords, screenBatch, timestampWindow } from "../src/core/record-guard.ts";

const DAY_NS = 86_400_000_000_000n;
const STORE = 1_795_000_000_000_000_000n; // 2026-11-19
const MAX_U64 = (1n << 64n) - 1n;
const tuple: Tuple = { family: 4, protocol: "tcp", laddr: "127.0.0.1", lport: 40000, raddr: "127.0.0.1", rport: 8080 };
function rec(tsNs: bigint): DataRecord {
  const payload = Buffer.from("x");
  return { startTicks: 1, cgroupId: 0n, size: 0, kind: 1, cpu: 0, pid: 1, tid: 1, tsNs, type: "data", connId: 1n, tuple, totalLen: 1, offset: 0, fd: 3, syscall: "write", direction: "egress", truncated: false, lastChunk: true, readFailed: false, gap: false, payload };
}
function wireRecord(tsNs: bigint): Buffer {
  return encodeRecord({ type: "data", tsNs, direction: "egress", payload: Buffer.alloc(8) });
}
const BOOT = "393a8351-01d1-4c4f-84ed-e7c686d9ae26";
const batch = (partition: number, ts: bigint[]) => encodeBatch({ recordCount: ts.length, partition, flags: 0, seq: 1n, bootId: BOOT }, ts.map(wireRecord));

describe("timestampWindow", () => {
  it("is one day ahead, and the retention plus one day behind (30 days plus one when unlimited)", () => {
    expect(timestampWindow(86_400_000)).toEqual({ aheadNs: DAY_NS, behindNs: 2n * DAY_NS });
    expect(timestampWindow(0)).toEqual({ aheadNs: DAY_NS, behindNs: 31n * DAY_NS });
  });
});

describe("guardRecords", () => {
  const w = timestampWindow(86_400_000);
  it("removes a record stamped 2^64-1 ns (the year 2554) and keeps its neighbours in order", () => {
    const rs: RawRecord[] = [rec(STORE - 1000n), rec(MAX_U64), rec(STORE + 5n)];
    const g = guardRecords(rs, STORE, w);
    expect(g.kept.map((r) => r.tsNs)).toEqual([STORE - 1000n, STORE + 5n]);
    expect(g.rejected).toEqual([{ index: 1, tsNs: MAX_U64, reason: "timestamp_future" }]);
  });
  it.each([
    ["exactly one day ahead is kept", STORE + DAY_NS, null],
    ["one ns more is future", STORE + DAY_NS + 1n, "timestamp_future"],
    ["retention + 1 day behind is kept", STORE - 2n * DAY_NS, null],
    ["one ns older is past", STORE - 2n * DAY_NS - 1n, "timestamp_past"],
    ["zero (an unset clock) is past", 0n, "timestamp_past"],
  ])("%s", (_n, ts, reason) => {
    const g = guardRecords([rec(ts)], STORE, w);
    expect(g.rejected.map((r) => r.reason)).toEqual(reason ? [reason] : []);
  });
  it("returns the very input array when nothing is removed (no allocation on the hot path)", () => {
    const rs = [rec(STORE)];
    expect(guardRecords(rs, STORE, w).kept).toBe(rs);
  });
});

describe("checkBatchPartition", () => {
  it.each([
    ["adi.raw.v1.h.3", 3, 16, null],
    ["adi.raw.v1.h.40", 40, 16, "partition_out_of_range"],
    ["adi.raw.v1.h.16", 16, 16, "partition_out_of_range"],
    ["adi.raw.v1.h.3", 5, 16, "partition_mismatch"],
    ["adi.raw.v1.h.03", 3, 16, "not_a_partition"],
    ["adi.raw.v1.h.x", 0, 16, "not_a_partition"],
    ["adi.raw.v1.h.3.extra", 3, 16, "not_a_partition"],
  ])("%s, header %i, %i partitions", (subject, header, n, reason) => {
    expect(checkBatchPartition(subject, header, n)?.reason ?? null).toBe(reason);
  });
});

describe("screenBatch", () => {
  const w = timestampWindow(86_400_000);
  it("passes a sane batch whole", () => {
    const s = screenBatch("adi.raw.v1.h.2", batch(2, [STORE, STORE + 1n]), STORE, 16, w);
    expect(s.kind === "ok" && s.records.length).toBe(2);
    expect(s.kind === "ok" && s.removed).toBeUndefined();
  });
  it("dead-letters garbage as malformed, a forged partition whole, and counts removed records by reason", () => {
    expect(screenBatch("adi.raw.v1.h.2", Buffer.from("not a batch at all, but long enough for a header"), STORE, 16, w)).toMatchObject({ kind: "dead", reason: "malformed" });
    expect(screenBatch("adi.raw.v1.h.40", batch(40, [STORE]), STORE, 16, w)).toMatchObject({ kind: "dead", reason: "partition_out_of_range" });
    expect(screenBatch("adi.raw.v1.h.2", batch(7, [STORE]), STORE, 16, w)).toMatchObject({ kind: "dead", reason: "partition_mismatch" });
    const s = screenBatch("adi.raw.v1.h.2", batch(2, [MAX_U64, STORE, 1n, MAX_U64 - 1n]), STORE, 16, w);
    expect(s.kind).toBe("ok");
    if (s.kind !== "ok") return;
    expect(s.records.map((r) => r.tsNs)).toEqual([STORE]);
    expect(s.removed).toMatchObject({ reason: "timestamp_future", counts: { timestamp_future: 2, timestamp_past: 1 } });
    expect(s.removed!.detail).toMatch(/3 record\(s\).*record #0 at 18446744073709551615 ns/);
  });
  it("has a counter for every reason", () => {
    expect(Object.keys(emptyDeadLetterCounts()).sort()).toEqual(["engine_error", "malformed", "not_a_partition", "partition_mismatch", "partition_out_of_range", "timestamp_future", "timestamp_past"]);
  });
});
