import { CONN_LAYOUT, DATA_LAYOUT, HEADER_LAYOUT, PROC_LAYOUT, RecordKind, TUPLE_LAYOUT, WireFormatError } from "@adi/shared/wire/raw-events";
import { partitionOf } from "@adi/shared/wire/subjects";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { Partitioner } from "../src/core/partitioner.ts";

// Records as the kernel lays them out, written at the offsets of the layout tables.
function header(size: number, kind: number, tag: number): Buffer {
  const b = Buffer.alloc(size);
  b.writeBigUInt64LE(BigInt(tag), HEADER_LAYOUT.ts_ns); // a tag to recognise the record by
  b.writeUInt32LE(size, HEADER_LAYOUT.size_field);
  b.writeUInt16LE(kind, HEADER_LAYOUT.kind);
  b.writeUInt32LE(100 + tag, HEADER_LAYOUT.pid);
  return b;
}

function data(connId: bigint, tag: number, payload = `payload ${tag}`): Buffer {
  const p = Buffer.from(payload);
  const b = header(DATA_LAYOUT.size + p.length, RecordKind.data, tag);
  b.writeBigUInt64LE(connId, DATA_LAYOUT.conn_id);
  b.writeUInt16LE(2, DATA_LAYOUT.tuple + TUPLE_LAYOUT.family); // AF_INET
  b.writeUInt32LE(p.length, DATA_LAYOUT.len);
  b[DATA_LAYOUT.direction] = 1;
  p.copy(b, DATA_LAYOUT.payload);
  return b;
}

function conn(kind: number, connId: bigint, tag: number): Buffer {
  const b = header(CONN_LAYOUT.size, kind, tag);
  b.writeBigUInt64LE(connId, CONN_LAYOUT.conn_id);
  return b;
}

function proc(kind: number, tag: number, comm: string): Buffer {
  const b = header(PROC_LAYOUT.size, kind, tag);
  b.writeUInt32LE(1, PROC_LAYOUT.ppid);
  b.write(comm, PROC_LAYOUT.comm, 16);
  b.write("app\0--serve\0", PROC_LAYOUT.cmdline);
  b.writeUInt32LE(12, PROC_LAYOUT.cmdline_len);
  return b;
}

const tagOf = (r: Buffer) => Number(r.readBigUInt64LE(HEADER_LAYOUT.ts_ns));

describe("Partitioner.split", () => {
  it("routes socket records by connection id, byte for byte and in order", () => {
    const P = 8;
    const recs = [
      conn(RecordKind.connOpen, 1n, 0),
      data(1n, 1),
      data(2n, 2),
      data(1n, 3, "x".repeat(300)),
      conn(RecordKind.connClose, 1n, 4),
      data(0xffff_ffff_ffff_ffffn, 5),
      conn(RecordKind.connClose, 2n, 6),
    ];
    const connOf = [1n, 1n, 2n, 1n, 1n, 0xffff_ffff_ffff_ffffn, 2n];
    const out = new Partitioner(P).split(Buffer.concat(recs));
    expect(out.socketRecords).toBe(7);
    expect(out.partitions.size).toBeGreaterThan(1);
    expect(out.proc).toEqual([]);
    expect(out.unknown).toBe(0);
    for (const [p, slice] of out.partitions) {
      expect(p).toBeGreaterThanOrEqual(0);
      expect(p).toBeLessThan(P);
      const expected = recs.filter((_, i) => partitionOf(connOf[i]!, P) === p);
      expect(slice.records.map(tagOf)).toEqual(expected.map(tagOf));
      slice.records.forEach((r, i) => expect(Buffer.compare(r, expected[i]!)).toBe(0));
      expect(slice.bytes).toBe(expected.reduce((n, r) => n + r.length, 0));
    }
    const total = [...out.partitions.values()].reduce((n, s) => n + s.records.length, 0);
    expect(total).toBe(7);
  });

  it("decodes process records into `proc` and counts unknown kinds", () => {
    const unknown = header(HEADER_LAYOUT.size + 16, 99, 9);
    const batch = Buffer.concat([
      proc(RecordKind.procExec, 1, "nginx"),
      unknown,
      data(5n, 2),
      proc(RecordKind.procFork, 3, "nginx"),
      header(HEADER_LAYOUT.size, 0, 10), // kind 0 is not a kind either
      proc(RecordKind.procExit, 4, "worker"),
    ]);
    const out = new Partitioner(4).split(batch);
    expect(out.proc.map((r) => [r.type, r.pid, r.comm, r.ppid])).toEqual([
      ["proc_exec", 101, "nginx", 1],
      ["proc_fork", 103, "nginx", 1],
      ["proc_exit", 104, "worker", 1],
    ]);
    expect(out.proc[0]!.cmdline).toEqual(["app", "--serve"]);
    expect(out.unknown).toBe(2);
    expect(out.socketRecords).toBe(1);
    expect([...out.partitions.keys()]).toEqual([partitionOf(5n, 4)]);
  });

  it("returns nothing for an empty buffer", () => {
    const out = new Partitioner(4).split(Buffer.alloc(0));
    expect(out).toEqual({ partitions: new Map(), proc: [], opens: [], socketRecords: 0, unknown: 0 });
  });

  it("throws WireFormatError on a truncated or malformed batch", () => {
    const p = new Partitioner(4);
    const good = Buffer.concat([data(1n, 1), data(2n, 2)]);
    expect(() => p.split(good.subarray(0, good.length - 1))).toThrow(WireFormatError);
    expect(() => p.split(good.subarray(0, 20))).toThrow(WireFormatError);
    const zero = Buffer.from(good);
    zero.writeUInt32LE(0, HEADER_LAYOUT.size_field); // a zero size would loop forever
    expect(() => p.split(zero)).toThrow(WireFormatError);
    const shortProc = header(HEADER_LAYOUT.size + 8, RecordKind.procExec, 1);
    expect(() => p.split(shortProc)).toThrow(WireFormatError);
    // a data record too short to hold its connection id (it would be read from the next record, or past the end)
    const shortData = header(HEADER_LAYOUT.size + 4, RecordKind.data, 1);
    expect(() => p.split(Buffer.concat([shortData, data(1n, 2)]))).toThrow(WireFormatError);
    expect(() => p.split(shortData)).toThrow(WireFormatError);
  });

  it("sends the same connection to the same partition, across batches and instances", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 64 }),
        fc.array(fc.tuple(fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }), fc.constantFrom(RecordKind.data, RecordKind.connOpen, RecordKind.connClose)), {
          minLength: 1,
          maxLength: 30,
        }),
        (P, spec) => {
          const recs = spec.map(([id, kind], i) => (kind === RecordKind.data ? data(id, i) : conn(kind, id, i)));
          const a = new Partitioner(P);
          const first = a.split(Buffer.concat(recs));
          const again = a.split(Buffer.concat(recs)); // cached answers
          const fresh = new Partitioner(P).split(Buffer.concat([...recs].reverse()));
          const where = (out: typeof first) => {
            const m = new Map<number, number>();
            for (const [p, s] of out.partitions) for (const r of s.records) m.set(tagOf(r), p);
            return m;
          };
          const [w1, w2, w3] = [where(first), where(again), where(fresh)];
          spec.forEach(([id], i) => {
            expect(w1.get(i)).toBe(partitionOf(id, P));
            expect(w2.get(i)).toBe(w1.get(i));
            expect(w3.get(i)).toBe(w1.get(i));
            expect(a.partitionOf(id)).toBe(w1.get(i));
          });
          for (const s of first.partitions.values()) {
            const tags = s.records.map(tagOf);
            expect(tags).toEqual([...tags].sort((x, y) => x - y)); // batch order within a partition
          }
        },
      ),
      { seed: 42, numRuns: 300 },
    );
  });
});
