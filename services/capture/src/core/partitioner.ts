// Splits one batch from the kernel into what goes where: socket records (data, open, close) by connection
// into partitions, so one consumer sees a whole connection in order; process records to the facts path.
import { DATA_LAYOUT, decodeRecord, HEADER_LAYOUT, RecordKind, WireFormatError } from "@adi/shared/wire/raw-events";
import type { ConnRecord, ProcRecord } from "@adi/shared/wire/raw-events";
import { partitionOf } from "@adi/shared/wire/subjects";

export interface PartitionSlice {
  records: Buffer[];
  bytes: number;
}

export interface SplitBatch {
  partitions: Map<number, PartitionSlice>;
  proc: ProcRecord[];
  /** Connection opens, decoded: the agent looks at their ports (rare next to data records). */
  opens: ConnRecord[];
  socketRecords: number;
  /** Records of kinds this build does not know; skipped by size. */
  unknown: number;
}

const CACHE_LIMIT = 65_536;

export class Partitioner {
  readonly #partitions: number;
  // Connection ids repeat across batches and the 64-bit mix is BigInt arithmetic, so recent answers are kept,
  // keyed by the id's two 32-bit halves (numbers: no BigInt is made for a record whose connection is known).
  #cache = new Map<number, Map<number, number>>();
  #cached = 0;

  constructor(partitions: number) {
    this.#partitions = partitions;
  }

  partitionOf(connId: bigint): number {
    return this.#partitionOfHalves(Number(connId & 0xffff_ffffn), Number((connId >> 32n) & 0xffff_ffffn));
  }

  #partitionOfHalves(lo: number, hi: number): number {
    let byLo = this.#cache.get(hi);
    let p = byLo?.get(lo);
    if (p === undefined) {
      if (this.#cached >= CACHE_LIMIT) {
        this.#cache = new Map();
        this.#cached = 0;
        byLo = undefined;
      }
      if (!byLo) this.#cache.set(hi, (byLo = new Map()));
      p = partitionOf((BigInt(hi) << 32n) | BigInt(lo), this.#partitions);
      byLo.set(lo, p);
      this.#cached++;
    }
    return p;
  }

  /** Throws WireFormatError when the batch is not a sequence of whole records. */
  split(batch: Buffer): SplitBatch {
    const out: SplitBatch = { partitions: new Map(), proc: [], opens: [], socketRecords: 0, unknown: 0 };
    const end = batch.length;
    // The record walk of recordSpans (shared/src/wire/raw-events.ts), inlined: this runs for every record.
    for (let at = 0; at < end; ) {
      if (at + HEADER_LAYOUT.size > end) throw new WireFormatError(`truncated record header at ${at}`);
      const size = batch.readUInt32LE(at + HEADER_LAYOUT.size_field);
      if (size < HEADER_LAYOUT.size || at + size > end) throw new WireFormatError(`record at ${at} claims ${size} bytes of ${end - at}`);
      const kind = batch.readUInt16LE(at + HEADER_LAYOUT.kind);
      if (kind === RecordKind.data || kind === RecordKind.connOpen || kind === RecordKind.connClose) {
        // data and connection records carry the connection id at the same offset
        if (at + DATA_LAYOUT.conn_id + 8 > at + size) throw new WireFormatError(`record at ${at} is too short for a connection id`);
        const p = this.#partitionOfHalves(batch.readUInt32LE(at + DATA_LAYOUT.conn_id), batch.readUInt32LE(at + DATA_LAYOUT.conn_id + 4));
        let slice = out.partitions.get(p);
        if (!slice) out.partitions.set(p, (slice = { records: [], bytes: 0 }));
        slice.records.push(batch.subarray(at, at + size));
        slice.bytes += size;
        out.socketRecords++;
        if (kind === RecordKind.connOpen) {
          const r = decodeRecord(batch, at);
          if (r?.type === "conn_open") out.opens.push(r);
        }
      } else if (kind === RecordKind.procExec || kind === RecordKind.procFork || kind === RecordKind.procExit) {
        const r = decodeRecord(batch, at);
        if (r && (r.type === "proc_exec" || r.type === "proc_fork" || r.type === "proc_exit")) out.proc.push(r);
      } else {
        out.unknown++;
      }
      at += size;
    }
    return out;
  }
}

export { WireFormatError };
