// The one encoder of kernel records and raw-stream batches, for tests, fixtures and the benchmark's synthetic
// stream: it writes what the capture agent publishes (struct adi_*_event, bpf/capture.h) at the offsets of the
// generated layouts (layouts.gen.ts, from the BPF object's BTF) and with the member widths the compiler gave
// them, so a fixture cannot disagree with the kernel about where a field is or how wide it is. decodeRecord
// reads back exactly what this writes.
import { KERNEL_STRUCTS } from "./layouts.gen.ts";
import type { GenMember } from "./layouts.gen.ts";
import { BATCH_HEADER_LAYOUT, BATCH_MAGIC, CONN_ROLES, DataFlags, DIRECTIONS, layoutsFor, ListenFlags, RecordKind, SYSCALL_NAMES, WIRE_VERSION } from "./raw-events.ts";
import type { BatchHeader, Direction, Layouts } from "./raw-events.ts";

/** Header fields of any record (struct adi_event_header); every field defaults to 0, `tid` to `pid`. */
export interface RecordHeaderInit {
  /** UTC wall clock, ns (the agent rewrites the kernel's CLOCK_BOOTTIME to it). */
  tsNs?: bigint;
  /** Process start, USER_HZ ticks since boot. */
  startTicks?: number | bigint;
  /** cgroup v2 id; not written in wire version 1, which has none. */
  cgroupId?: bigint;
  cpu?: number;
  pid?: number;
  tid?: number;
  /**
   * The whole record's size in bytes, written to the header's size field. Default: the struct plus the payload,
   * rounded up to 8 bytes as the agent pads records in a batch. A larger size leaves zero bytes after the record.
   */
  size?: number;
}

/** A socket's two ends (struct adi_tuple). Addresses as text ("10.0.0.5", "::1") or the 16 kernel bytes. */
export interface TupleInit {
  /** Default 4 (AF_INET). */
  family?: 4 | 6;
  /** Default "tcp". */
  protocol?: "tcp" | "udp";
  laddr?: string | Uint8Array;
  lport?: number;
  raddr?: string | Uint8Array;
  rport?: number;
}

export type SyscallName = (typeof SYSCALL_NAMES)[number];

/** struct adi_data_event and its payload. */
export interface DataRecordInit extends RecordHeaderInit {
  type: "data";
  connId?: bigint;
  tuple?: TupleInit;
  /** Bytes the syscall moved; default offset + payload length. */
  totalLen?: number;
  /** Offset of this chunk within the syscall's bytes; default 0. */
  offset?: number;
  fd?: number;
  /** Name (SYSCALL_NAMES) or enum adi_syscall value; default "write" for egress, "read" for ingress. */
  syscall?: SyscallName | number;
  direction: Direction;
  truncated?: boolean;
  /** Default true: the record ends its syscall (one that fit in one chunk). */
  lastChunk?: boolean;
  readFailed?: boolean;
  gap?: boolean;
  payload?: string | Uint8Array;
  /** The len field; default the payload's length (a different value makes a malformed record, for tests of the decoder). */
  len?: number;
}

/** struct adi_conn_event. */
export interface ConnRecordInit extends RecordHeaderInit {
  type: "conn_open" | "conn_close";
  connId?: bigint;
  tuple?: TupleInit;
  fd?: number;
  /** connect(): 0 or -EINPROGRESS; others 0. */
  ret?: number;
  /** Default "connect" for an open, "close" for a close. */
  syscall?: SyscallName | number;
  /** Default "client". */
  role?: (typeof CONN_ROLES)[number] | number;
}

/** struct adi_proc_event. Strings longer than their field are cut to it (not NUL-terminated then, as in C). */
export interface ProcRecordInit extends RecordHeaderInit {
  type: "proc_exec" | "proc_fork" | "proc_exit";
  ppid?: number;
  /** enum adi_optin_verdict (OptinVerdict). */
  optin?: number;
  exitCode?: number;
  comm?: string;
  profile?: string;
  profileName?: string;
  /** Arguments (written NUL-separated, each NUL-terminated, as /proc/PID/cmdline), or the field's raw text. */
  cmdline?: readonly string[] | string;
  /** cmdline_len; default the cmdline's byte length (cut to the field). */
  cmdlineLen?: number;
}

/** struct adi_listen_event (wire version 2 on). */
export interface ListenRecordInit extends RecordHeaderInit {
  type: "listen_start" | "listen_stop";
  tuple?: TupleInit;
  netns?: number;
  v6only?: boolean;
  comm?: string;
}

/** A record of a kind this build does not know (as from a newer agent): a header and `size - header` zero bytes. */
export interface OtherRecordInit extends RecordHeaderInit {
  type: "other";
  kind: number;
  size: number;
}

export type RecordInit = DataRecordInit | ConnRecordInit | ProcRecordInit | ListenRecordInit | OtherRecordInit;

const S = KERNEL_STRUCTS;

/** Writes an integer member at `at` with the width and signedness the compiler gave it. */
function put(buf: Buffer, at: number, m: GenMember, v: number | bigint): void {
  switch (m.type) {
    case "u8": buf.writeUInt8(Number(v), at); return;
    case "s8": buf.writeInt8(Number(v), at); return;
    case "u16": buf.writeUInt16LE(Number(v), at); return;
    case "s16": buf.writeInt16LE(Number(v), at); return;
    case "u32": buf.writeUInt32LE(Number(v), at); return;
    case "s32": buf.writeInt32LE(Number(v), at); return;
    case "u64": buf.writeBigUInt64LE(BigInt(v), at); return;
    case "s64": buf.writeBigInt64LE(BigInt(v), at); return;
    default: throw new TypeError(`cannot write a ${m.type} member as an integer`);
  }
}

/** Copies `bytes` into an array member, cut to its length. */
function putBytes(buf: Buffer, at: number, m: GenMember, bytes: Uint8Array): void {
  buf.set(bytes.subarray(0, m.size), at);
}

function ipv4Bytes(s: string): number[] {
  const parts = s.split(".").map(Number);
  if (parts.length !== 4 || parts.some((p) => !Number.isInteger(p) || p < 0 || p > 255)) throw new TypeError(`not an IPv4 address: ${s}`);
  return parts;
}

/** RFC 4291 text (with "::" and an IPv4 tail) to 16 bytes. */
function ipv6Bytes(s: string): number[] {
  const halves = s.split("::");
  if (halves.length > 2) throw new TypeError(`not an IPv6 address: ${s}`);
  const groups = (part: string | undefined): number[] => {
    if (!part) return [];
    return part.split(":").flatMap((g) => {
      if (g.includes(".")) {
        const [a, b, c, d] = ipv4Bytes(g);
        return [(a! << 8) | b!, (c! << 8) | d!];
      }
      if (!/^[0-9a-f]{1,4}$/i.test(g)) throw new TypeError(`not an IPv6 address: ${s}`);
      return [parseInt(g, 16)];
    });
  };
  const head = groups(halves[0]);
  const tail = groups(halves[1]);
  const zeros = 8 - head.length - tail.length;
  if (halves.length === 1 ? zeros !== 0 : zeros < 1) throw new TypeError(`not an IPv6 address: ${s}`);
  return [...head, ...Array<number>(halves.length === 1 ? 0 : zeros).fill(0), ...tail].flatMap((g) => [g >> 8, g & 0xff]);
}

// Parsed addresses, so that a stream of many records from few hosts parses each once (bounded: cleared when full).
const parsed = { 4: new Map<string, Uint8Array>(), 6: new Map<string, Uint8Array>() };

function addrBytes(a: string | Uint8Array | undefined, family: 4 | 6): Uint8Array {
  if (a === undefined) return new Uint8Array(0);
  if (typeof a !== "string") return a;
  const cache = parsed[family];
  let bytes = cache.get(a);
  if (!bytes) {
    bytes = Uint8Array.from(family === 4 ? ipv4Bytes(a) : ipv6Bytes(a));
    if (cache.size >= 4096) cache.clear();
    cache.set(a, bytes);
  }
  return bytes;
}

function putTuple(buf: Buffer, at: number, t: TupleInit = {}): void {
  const T = S.adi_tuple.members;
  const family = t.family ?? 4;
  putBytes(buf, at + T.laddr.offset, T.laddr, addrBytes(t.laddr, family));
  putBytes(buf, at + T.raddr.offset, T.raddr, addrBytes(t.raddr, family));
  put(buf, at + T.lport.offset, T.lport, t.lport ?? 0);
  put(buf, at + T.rport.offset, T.rport, t.rport ?? 0);
  put(buf, at + T.family.offset, T.family, family === 6 ? 10 : 2); // AF_INET6 : AF_INET
  put(buf, at + T.protocol.offset, T.protocol, t.protocol === "udp" ? 17 : 6); // IPPROTO_UDP : IPPROTO_TCP
}

function putString(buf: Buffer, at: number, m: GenMember, s: string | undefined): void {
  if (s) putBytes(buf, at, m, Buffer.from(s, "utf8"));
}

function syscallOf(s: SyscallName | number): number {
  if (typeof s === "number") return s;
  const i = SYSCALL_NAMES.indexOf(s);
  if (i < 1) throw new TypeError(`unknown syscall ${s}`);
  return i;
}

const align8 = (n: number) => (n + 7) & ~7;

function allocRecord(r: RecordHeaderInit, minimum: number): Buffer {
  const size = r.size ?? align8(minimum);
  if (size < minimum) throw new RangeError(`record size ${size} is less than the ${minimum} bytes its fields need`);
  return Buffer.alloc(size);
}

function putHeader(buf: Buffer, H: Layouts["header"], kind: number, r: RecordHeaderInit): void {
  const M = S.adi_event_header.members;
  put(buf, H.ts_ns, M.ts_ns, r.tsNs ?? 0n);
  put(buf, H.start_ticks, M.start_ticks, r.startTicks ?? 0);
  if (H.cgroup_id !== null) put(buf, H.cgroup_id, M.cgroup_id, r.cgroupId ?? 0n);
  put(buf, H.size_field, M.size, buf.length);
  put(buf, H.kind, M.kind, kind);
  put(buf, H.cpu, M.cpu, r.cpu ?? 0);
  put(buf, H.pid, M.pid, r.pid ?? 0);
  put(buf, H.tid, M.tid, r.tid ?? r.pid ?? 0);
}

const DIRECTION_VALUES = Object.fromEntries(Object.entries(DIRECTIONS).map(([v, d]) => [d, Number(v)])) as Record<(typeof DIRECTIONS)[keyof typeof DIRECTIONS], number>;
const PROC_KINDS = { proc_exec: RecordKind.procExec, proc_fork: RecordKind.procFork, proc_exit: RecordKind.procExit } as const;

/**
 * One kernel record, as the agent puts it in a batch: the struct of its `type` (bpf/capture.h) at the offsets of
 * wire version `version` (default this build's), padded to 8 bytes unless `size` says otherwise. Throws RangeError
 * for a `size` too small for the fields, TypeError for a malformed address or unknown syscall name, RangeError
 * for listen records in version 1 (which had none), and WireFormatError for a version this build cannot read.
 */
export function encodeRecord(r: RecordInit, version: number = WIRE_VERSION): Buffer {
  const L = layoutsFor(version);
  switch (r.type) {
    case "data": {
      const D = L.data, M = S.adi_data_event.members;
      const payload = typeof r.payload === "string" ? Buffer.from(r.payload) : (r.payload ?? new Uint8Array(0));
      const b = allocRecord(r, D.size + payload.length);
      putHeader(b, L.header, RecordKind.data, r);
      put(b, D.conn_id, M.conn_id, r.connId ?? 0n);
      putTuple(b, D.tuple, r.tuple);
      const offset = r.offset ?? 0;
      put(b, D.total_len, M.total_len, r.totalLen ?? offset + payload.length);
      put(b, D.offset, M.offset, offset);
      put(b, D.len, M.len, r.len ?? payload.length);
      put(b, D.fd, M.fd, r.fd ?? 0);
      put(b, D.syscall, M.syscall, syscallOf(r.syscall ?? (r.direction === "egress" ? "write" : "read")));
      put(b, D.direction, M.direction, DIRECTION_VALUES[r.direction]);
      const flags =
        (r.truncated ? DataFlags.truncated : 0) | ((r.lastChunk ?? true) ? DataFlags.lastChunk : 0) | (r.readFailed ? DataFlags.readFailed : 0) | (r.gap ? DataFlags.gap : 0);
      put(b, D.flags, M.flags, flags);
      b.set(payload, D.payload);
      return b;
    }
    case "conn_open":
    case "conn_close": {
      const C = L.conn, M = S.adi_conn_event.members;
      const b = allocRecord(r, C.size);
      const open = r.type === "conn_open";
      putHeader(b, L.header, open ? RecordKind.connOpen : RecordKind.connClose, r);
      put(b, C.conn_id, M.conn_id, r.connId ?? 0n);
      putTuple(b, C.tuple, r.tuple);
      put(b, C.fd, M.fd, r.fd ?? 0);
      put(b, C.ret, M.ret, r.ret ?? 0);
      put(b, C.syscall, M.syscall, syscallOf(r.syscall ?? (open ? "connect" : "close")));
      const role = r.role ?? "client";
      put(b, C.role, M.role, typeof role === "number" ? role : CONN_ROLES.indexOf(role));
      return b;
    }
    case "proc_exec":
    case "proc_fork":
    case "proc_exit": {
      const P = L.proc, M = S.adi_proc_event.members;
      const b = allocRecord(r, P.size);
      putHeader(b, L.header, PROC_KINDS[r.type], r);
      put(b, P.ppid, M.ppid, r.ppid ?? 0);
      put(b, P.optin, M.optin, r.optin ?? 0);
      put(b, P.exit_code, M.exit_code, r.exitCode ?? 0);
      putString(b, P.comm, M.comm, r.comm);
      putString(b, P.profile, M.profile, r.profile);
      putString(b, P.profile_name, M.profile_name, r.profileName);
      const cmdline = Buffer.from(typeof r.cmdline === "string" ? r.cmdline : (r.cmdline ?? []).map((a) => `${a}\0`).join(""));
      putBytes(b, P.cmdline, M.cmdline, cmdline);
      put(b, P.cmdline_len, M.cmdline_len, r.cmdlineLen ?? Math.min(cmdline.length, M.cmdline.size));
      return b;
    }
    case "listen_start":
    case "listen_stop": {
      const LL = L.listen, M = S.adi_listen_event.members;
      if (!LL) throw new RangeError(`wire version ${version} has no listen records`);
      const b = allocRecord(r, LL.size);
      putHeader(b, L.header, r.type === "listen_start" ? RecordKind.listenStart : RecordKind.listenStop, r);
      putTuple(b, LL.tuple, r.tuple);
      put(b, LL.netns, M.netns, r.netns ?? 0);
      put(b, LL.flags, M.flags, r.v6only ? ListenFlags.v6only : 0);
      putString(b, LL.comm, M.comm, r.comm);
      return b;
    }
    case "other": {
      const b = allocRecord(r, L.header.size);
      putHeader(b, L.header, r.kind, r);
      return b;
    }
  }
}

function bootIdBytes(bootId: string): Buffer {
  const hex = bootId.replace(/-/g, "");
  const out = Buffer.alloc(16);
  if (/^[0-9a-f]{32}$/i.test(hex)) out.write(hex, "hex");
  return out;
}

/** The batch header fields a writer chooses; `recordCount` defaults to the records given, `flags` to 0. */
export type BatchInit = Omit<BatchHeader, "version" | "recordCount" | "flags"> & { recordCount?: number; flags?: number };

/**
 * One raw-stream message (the agent's batch, magic "ADIB"): the batch header, then the records, each given as
 * encoded bytes (laid out for `version`, passed through) or as a RecordInit (encoded here with that version's
 * layouts). `recordCount` may lie, for tests of the decoder's checks.
 */
export function encodeBatch(h: BatchInit, records: readonly (Buffer | RecordInit)[], version: number = WIRE_VERSION): Buffer {
  const head = Buffer.alloc(BATCH_HEADER_LAYOUT.size);
  head.writeUInt32LE(BATCH_MAGIC, BATCH_HEADER_LAYOUT.magic);
  head.writeUInt16LE(version, BATCH_HEADER_LAYOUT.version);
  head.writeUInt16LE(BATCH_HEADER_LAYOUT.size, BATCH_HEADER_LAYOUT.header_size);
  head.writeUInt32LE(h.recordCount ?? records.length, BATCH_HEADER_LAYOUT.record_count);
  head.writeUInt16LE(h.partition, BATCH_HEADER_LAYOUT.partition);
  head.writeUInt16LE(h.flags ?? 0, BATCH_HEADER_LAYOUT.flags);
  head.writeBigUInt64LE(h.seq, BATCH_HEADER_LAYOUT.seq);
  bootIdBytes(h.bootId).copy(head, BATCH_HEADER_LAYOUT.boot_id);
  return Buffer.concat([head, ...records.map((r) => (Buffer.isBuffer(r) ? r : encodeRecord(r, version)))]);
}
