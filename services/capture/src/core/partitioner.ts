// Splits one batch from the kernel into what goes where: socket records (data, open, close) by connection
// into partitions, so one consumer sees a whole connection in order; process records to the facts path.
import { connIdAt, decodeRecord, RecordKind, recordSpans, WireFormatError } from "@adi/shared/wire/raw-events";
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
  // Connection ids repeat across batches; the 64-bit mix is BigInt arithmetic, so remember recent answers.
  #cache = new Map<bigint, number>();

  constructor(partitions: number) {
    this.#partitions = partitions;
  }

  partitionOf(connId: bigint): number {
    let p = this.#cache.get(connId);
    if (p === undefined) {
      if (this.#cache.size >= CACHE_LIMIT) this.#cache = new Map();
      p = partitionOf(connId, this.#partitions);
      this.#cache.set(connId, p);
    }
    return p;
  }

  /** Throws WireFormatError when the batch is not a sequence of whole records. */
  split(batch: Buffer): SplitBatch {
    const out: SplitBatch = { partitions: new Map(), proc: [], opens: [], socketRecords: 0, unknown: 0 };
    for (const { at, size, kind } of recordSpans(batch)) {
      if (kind === RecordKind.data || kind === RecordKind.connOpen || kind === RecordKind.connClose) {
        const p = this.partitionOf(connIdAt(batch, at));
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
    }
    return out;
  }
}

export { WireFormatError };
