// What the addon's drain thread hands to JavaScript (services/capture/native/src/capture_loader.h), told apart
// by the first four bytes:
//   "ADIB"  a raw-stream message, ready to publish: batch header + one partition's socket records, partitioned
//           (splitmix64(conn_id) % ADI_PARTITIONS) and coalesced up to ADI_BATCH_MAX_BYTES on that thread, so
//           JavaScript does no work per record on the hot path;
//   "ADIX"  a side batch: u32 record count, then process records, listen records (any process's socket entering or
//           leaving LISTEN), kinds this build does not know, and a copy of every connection open (the agent marks
//           a process's first network activity from them, and looks at their ports to rescan the listeners).
import { BATCH_MAGIC, decodeBatchHeader, decodeRecord, recordSpans, WireFormatError } from "@adi/shared/wire";
import type { ConnRecord, ListenRecord, ProcRecord } from "@adi/shared/wire";

export const SIDE_BATCH_MAGIC = 0x58494441; // "ADIX" little-endian
const SIDE_HEADER_SIZE = 8;

/** A record of a side batch the agent acts on. */
export type SideRecord = ProcRecord | ConnRecord | ListenRecord;

export type KernelBatch =
  | { kind: "raw"; partition: number; recordCount: number }
  | {
      kind: "side";
      /**
       * Every known record in the kernel's order: a fork comes before its child's first connection, which comes
       * before its exit, so the agent knows a process when its activity arrives and forgets it after.
       */
      records: SideRecord[];
      proc: ProcRecord[];
      opens: ConnRecord[];
      listens: ListenRecord[];
      unknown: number;
    };

/**
 * Tells a raw-stream message from a side batch and decodes the latter. Throws WireFormatError for anything else,
 * or for a side batch that is not a sequence of whole records matching its count.
 */
export function readKernelBatch(buf: Buffer): KernelBatch {
  if (buf.length < SIDE_HEADER_SIZE) throw new WireFormatError(`kernel batch of ${buf.length} bytes`);
  const magic = buf.readUInt32LE(0);
  if (magic === BATCH_MAGIC) {
    const h = decodeBatchHeader(buf);
    return { kind: "raw", partition: h.partition, recordCount: h.recordCount };
  }
  if (magic !== SIDE_BATCH_MAGIC) throw new WireFormatError(`kernel batch with magic 0x${magic.toString(16)}`);
  const count = buf.readUInt32LE(4);
  const out: KernelBatch = { kind: "side", records: [], proc: [], opens: [], listens: [], unknown: 0 };
  let seen = 0;
  for (const { at } of recordSpans(buf, SIDE_HEADER_SIZE)) {
    seen++;
    const r = decodeRecord(buf, at);
    if (r === null) {
      out.unknown++;
      continue;
    }
    if (r.type === "conn_open") out.opens.push(r);
    else if (r.type === "proc_exec" || r.type === "proc_fork" || r.type === "proc_exit") out.proc.push(r);
    else if (r.type === "listen_start" || r.type === "listen_stop") out.listens.push(r);
    else {
      out.unknown++; // data and closes travel in raw messages only
      continue;
    }
    out.records.push(r);
  }
  if (seen !== count) throw new WireFormatError(`side batch says ${count} records, holds ${seen}`);
  return out;
}
