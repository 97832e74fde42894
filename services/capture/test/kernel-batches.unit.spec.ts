// The two kinds of batch the addon's drain thread hands over, told apart by their magic; a side batch decodes to
// process records and connection opens, and anything malformed is a WireFormatError (counted by the agent).
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { encodeBatch, encodeRecord, WireFormatError } from "@adi/shared/wire";
import { readKernelBatch, SIDE_BATCH_MAGIC } from "../src/core/kernel-batches.ts";

const BOOT = "393a8351-01d1-4c4f-84ed-e7c686d9ae26";

const TS = 1_790_000_000_000_000_000n;

/** A record of `kind` and `size` with only its header set (kinds the reader skips, or counts as unknown). */
function record(kind: number, size: number, pid: number): Buffer {
  return encodeRecord({ type: "other", tsNs: TS, kind, size, pid });
}

function proc(type: "proc_exec" | "proc_fork" | "proc_exit", pid: number): Buffer {
  return encodeRecord({ type, tsNs: TS, pid });
}

function open(pid: number): Buffer {
  return encodeRecord({ type: "conn_open", tsNs: TS, pid, connId: 7n, tuple: { lport: 8080 }, role: "server" });
}

function listen(type: "listen_start" | "listen_stop", pid: number, port: number): Buffer {
  return encodeRecord({ type, tsNs: TS, pid, tuple: { family: 6, lport: port }, v6only: true, comm: "python3" });
}

function side(records: Buffer[], count = records.length): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32LE(SIDE_BATCH_MAGIC, 0);
  head.writeUInt32LE(count, 4);
  return Buffer.concat([head, ...records]);
}

describe("readKernelBatch", () => {
  it("passes a raw-stream message through with its partition and record count", () => {
    const raw = encodeBatch({ recordCount: 3, partition: 11, flags: 0, seq: 5n, bootId: BOOT }, [record(1, 120, 1)]);
    expect(readKernelBatch(raw)).toEqual({ kind: "raw", partition: 11, recordCount: 3 });
  });

  it("decodes a side batch into process records and connection opens, counting unknown kinds", () => {
    const out = readKernelBatch(side([proc("proc_exec", 42), open(43), record(99, 48, 44)]));
    expect(out).toMatchObject({ kind: "side", unknown: 1 });
    if (out.kind !== "side") throw new Error("side batch expected");
    expect(out.proc.map((r) => [r.type, r.pid])).toEqual([["proc_exec", 42]]);
    expect(out.opens.map((r) => [r.role, r.tuple.lport, r.pid])).toEqual([["server", 8080, 43]]);
  });

  it("keeps the kernel's order across kinds, listen records included (a fork, its first connection, its exit)", () => {
    const out = readKernelBatch(
      side([
        proc("proc_fork", 50),
        listen("listen_start", 60, 9000),
        open(50),
        record(77, 56, 51),
        listen("listen_stop", 60, 9000),
        proc("proc_exit", 50),
      ]),
    );
    if (out.kind !== "side") throw new Error("side batch expected");
    expect(out.records.map((r) => [r.type, r.pid])).toEqual([
      ["proc_fork", 50],
      ["listen_start", 60],
      ["conn_open", 50],
      ["listen_stop", 60],
      ["proc_exit", 50],
    ]);
    expect(out.unknown).toBe(1);
    expect(out.listens.map((r) => [r.type, r.tuple.laddr, r.tuple.lport, r.v6only, r.comm])).toEqual([
      ["listen_start", "::", 9000, true, "python3"],
      ["listen_stop", "::", 9000, true, "python3"],
    ]);
    expect([out.proc.length, out.opens.length]).toEqual([2, 1]);
  });

  it("refuses a foreign magic, a count that does not match, and a record past the end", () => {
    expect(() => readKernelBatch(Buffer.alloc(16))).toThrow(WireFormatError);
    expect(() => readKernelBatch(side([open(1)], 2))).toThrow(/says 2 records/);
    expect(() => readKernelBatch(side([open(1)]).subarray(0, 60))).toThrow(WireFormatError);
  });

  it("never throws anything but WireFormatError on arbitrary bytes after a side header", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), fc.nat(5), (bytes, count) => {
        try {
          readKernelBatch(side([Buffer.from(bytes)], count));
        } catch (err) {
          expect(err).toBeInstanceOf(WireFormatError);
        }
      }),
      { seed: 20261130, numRuns: 500 },
    );
  });
});
