// The warm-up that makes exchange identity survive a restart (issue 10, item 6): where it starts (rewindStart), and
// that an engine rebuilt from the checkpoint up to the ack floor continues exactly as one that never stopped
// (same observations, same seq numbers), for kills at every batch of generated keep-alive traffic.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { Derived, ConnRecord, DataRecord, RawRecord, Tuple } from "@adi/shared/wire";
import { observationId } from "@adi/shared/wire";
import { ClassifierEngine } from "../src/core/engine.ts";
import { rewindStart } from "../src/core/rewind.ts";
import { memberList } from "../src/core/assignment.ts";

const BOOT = "00000000-0000-0000-0000-000000000001";
const T0 = 1_790_000_000_000_000_000n;
const head = { startTicks: 100, cgroupId: 0n, size: 0, kind: 0, cpu: 0, pid: 42, tid: 42 };
const tuple = (c: number): Tuple => ({ family: 4, protocol: "tcp", laddr: "127.0.0.1", lport: 40000 + c, raddr: "127.0.0.1", rport: 8080 });

function open(c: number, ts: bigint): ConnRecord {
  return { ...head, tsNs: ts, type: "conn_open", connId: BigInt(c), tuple: tuple(c), fd: 3, ret: 0, syscall: "connect", role: "client" };
}
function data(c: number, direction: "egress" | "ingress", text: string, ts: bigint): DataRecord {
  const payload = Buffer.from(text);
  return { ...head, tsNs: ts, type: "data", connId: BigInt(c), tuple: tuple(c), totalLen: payload.length, offset: 0, fd: 3, syscall: "write", direction, truncated: false, lastChunk: true, readFailed: false, gap: false, payload };
}
function close(c: number, ts: bigint): RawRecord {
  return { ...head, tsNs: ts, type: "conn_close", connId: BigInt(c), tuple: tuple(c), fd: 3, ret: 0, syscall: "close", role: "client" };
}

/** Steps of keep-alive traffic over a few connections: open, request (maybe split), response, close. */
type Step = { conn: number; op: "open" | "req" | "reqHalf1" | "reqHalf2" | "res" | "close" };
function records(steps: readonly Step[]): RawRecord[] {
  const out: RawRecord[] = [];
  const state = new Map<number, { open: boolean; n: number; pending: number; half: boolean }>();
  let ts = T0;
  for (const s of steps) {
    ts += 1000n;
    const st = state.get(s.conn) ?? { open: false, n: 0, pending: 0, half: false };
    state.set(s.conn, st);
    if (s.op === "open") {
      if (st.open) continue;
      Object.assign(st, { open: true, pending: 0, half: false });
      out.push(open(s.conn, ts));
    } else if (!st.open) continue;
    else if (s.op === "req" && !st.half) {
      out.push(data(s.conn, "egress", `GET /r/${st.n++} HTTP/1.1\r\nHost: x\r\n\r\n`, ts));
      st.pending++;
    } else if (s.op === "reqHalf1" && !st.half) {
      out.push(data(s.conn, "egress", `GET /s/${st.n++} HT`, ts));
      st.half = true;
    } else if (s.op === "reqHalf2" && st.half) {
      out.push(data(s.conn, "egress", "TP/1.1\r\nHost: x\r\n\r\n", ts));
      st.half = false;
      st.pending++;
    } else if (s.op === "res" && st.pending > 0) {
      out.push(data(s.conn, "ingress", "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", ts));
      st.pending--;
    } else if (s.op === "close") {
      out.push(close(s.conn, ts));
      st.open = false;
    }
  }
  return out;
}

const key = (d: Derived) => `${observationId(d)} ${JSON.stringify(d)}`;

/** Where the kill lands for batch k: after its ack; after its publish, before the ack; after feeding, before publishing. */
type KillPoint = "acked" | "published" | "fed";

/**
 * Runs the live classifier's bookkeeping over `batches` (positions 1..n), kills it at `point` of batch `killAfter`,
 * then restarts from the checkpoint it had written: returns every observation published (before the kill, and by the
 * restarted engine from the first unacknowledged batch on).
 */
function killAndRestart(batches: RawRecord[][], killAfter: number, point: KillPoint): Derived[] {
  const live = new ClassifierEngine();
  const published: Derived[] = [];
  let mark = 1;
  for (let pos = 1; pos <= killAfter; pos++) {
    mark = live.lowWater() ?? pos; // as PartitionWorker: taken before feeding
    const out = live.onRecords("h", BOOT, batches[pos - 1]!, pos);
    if (pos < killAfter || point !== "fed") published.push(...out);
  }
  const ackFloor = point === "acked" ? killAfter : killAfter - 1;
  const start = rewindStart({ checkpoint: mark, ackFloor, firstSeq: 1, ackFloorTimeMs: 0, checkpointTimeMs: 0, rewindMaxMs: 3_600_000 });
  const warm = new ClassifierEngine();
  if (start.kind === "seq") for (let pos = start.seq; pos <= ackFloor; pos++) warm.onRecords("h", BOOT, batches[pos - 1]!, pos);
  else expect(start.kind).toBe("none");
  // Redelivered from the first unacknowledged batch on; the stream's duplicate window drops what was stored twice.
  for (let pos = ackFloor + 1; pos <= batches.length; pos++) published.push(...warm.onRecords("h", BOOT, batches[pos - 1]!, pos));
  return [...new Map(published.map((d) => [key(d), d])).values()];
}

describe("rewindStart", () => {
  const base = { checkpoint: 40, ackFloor: 100, firstSeq: 1, ackFloorTimeMs: 10_000_000, checkpointTimeMs: 9_000_000, rewindMaxMs: 3_600_000 };
  it.each([
    ["nothing acknowledged yet: the engine starts with the consumer", { ackFloor: 0 }, { kind: "none" }],
    ["from the checkpoint", {}, { kind: "seq", seq: 40 }],
    ["never before the stream's first message", { firstSeq: 60 }, { kind: "seq", seq: 60 }],
    ["a checkpoint past the ack floor: nothing was open there", { checkpoint: 101 }, { kind: "none" }],
    ["a checkpoint older than the bound: from the bound's time", { checkpointTimeMs: 10_000_000 - 3_600_001 }, { kind: "time", timeMs: 10_000_000 - 3_600_000 }],
    ["exactly at the bound: from the checkpoint", { checkpointTimeMs: 10_000_000 - 3_600_000 }, { kind: "seq", seq: 40 }],
    ["no checkpoint: the bound before the ack floor", { checkpoint: undefined }, { kind: "time", timeMs: 10_000_000 - 3_600_000 }],
    ["no checkpoint, ack floor's message gone: from the first message", { checkpoint: undefined, ackFloorTimeMs: undefined, firstSeq: 7 }, { kind: "seq", seq: 7 }],
  ])("%s", (_name, over, want) => {
    expect(rewindStart({ ...base, ...over })).toEqual(want);
  });
});

describe("a classifier killed and warmed up from its checkpoint", () => {
  it("publishes exactly what one engine over the whole stream publishes, for a kill after any batch", () => {
    const step = fc.record({ conn: fc.integer({ min: 1, max: 4 }), op: fc.constantFrom("open", "req", "req", "reqHalf1", "reqHalf2", "res", "res", "close") }) as fc.Arbitrary<Step>;
    fc.assert(
      fc.property(fc.array(step, { minLength: 5, maxLength: 80 }), fc.integer({ min: 1, max: 6 }), (steps, perBatch) => {
        const all = records(steps);
        const batches: RawRecord[][] = [];
        for (let i = 0; i < all.length; i += perBatch) batches.push(all.slice(i, i + perBatch));
        if (batches.length === 0) return;
        const replay = new ClassifierEngine();
        const want = batches.flatMap((b, i) => replay.onRecords("h", BOOT, b, i + 1)).map(key).sort();
        for (let k = 1; k <= batches.length; k++) {
          for (const point of ["acked", "published", "fed"] as const) expect(killAndRestart(batches, k, point).map(key).sort()).toEqual(want);
        }
      }),
      { seed: 10, numRuns: 150 },
    );
  });

  it("keeps seq numbering on a keep-alive connection open across the kill (the named case)", () => {
    const steps: Step[] = [{ conn: 1, op: "open" }, ...Array.from({ length: 6 }, () => [{ conn: 1, op: "req" }, { conn: 1, op: "res" }] as Step[]).flat()];
    const batches = records(steps).map((r) => [r]);
    const out = killAndRestart(batches, 7, "fed").filter((d) => d.type === "http_exchange");
    expect(out.map((d) => d.type === "http_exchange" && [d.seq, d.request.target])).toEqual([0, 1, 2, 3, 4, 5].map((i) => [i, `/r/${i}`]));
    // Without the warm-up (a fresh engine from the first unacknowledged batch) numbering restarted at 0: the bug.
    const cold = new ClassifierEngine();
    const after = batches.slice(6).flatMap((b, i) => cold.onRecords("h", BOOT, b, i + 7));
    expect(after.filter((d) => d.type === "http_exchange").map((d) => d.type === "http_exchange" && d.seq)).not.toContain(3);
  });

  it("lowWater is the position of the oldest open connection, and moves on when it closes", () => {
    const e = new ClassifierEngine();
    expect(e.lowWater()).toBeUndefined();
    e.onRecords("h", BOOT, [open(1, T0)], 5);
    e.onRecords("h", BOOT, [open(2, T0 + 1n)], 9);
    expect(e.lowWater()).toBe(5);
    e.onRecords("h", BOOT, [close(1, T0 + 2n)], 12);
    expect(e.lowWater()).toBe(9);
    e.onRecords("h", BOOT, [open(2, T0 + 3n)], 15); // re-opened: a new state
    expect(e.lowWater()).toBe(15);
  });
});

describe("memberList", () => {
  it("lists each member once, sorted, however often the key listing repeated it", () => {
    expect(memberList(Array.from({ length: 16 }, () => "b-1").concat(["a-2", "b-1"]))).toEqual(["a-2", "b-1"]);
  });
});
