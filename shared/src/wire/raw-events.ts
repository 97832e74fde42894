// Binary wire format of the raw stream: batches of kernel records, exactly as bpf/capture.h lays them out. The
// current version's offsets come from layouts.gen.ts, generated from the BTF of the compiled BPF object by
// scripts/gen-layouts.ts (as bpf2go does for Go): no hand-kept copy of the header. Older versions' layouts are
// history, frozen below, so that a stream retained from an older agent still decodes.
//
// Version 2 (this build's) added the cgroup id to every record header; batches of version 1 (retained in a stream
// written by an older agent) are still read, with the version 1 layouts below and cgroupId 0.
import { GEN_WIRE_VERSION, KERNEL_STRUCTS } from "./layouts.gen.ts";
import type { GenStruct } from "./layouts.gen.ts";

/** The wire version this build writes: ADI_WIRE_VERSION of the bpf/capture.h the layouts were generated from. */
export const WIRE_VERSION = GEN_WIRE_VERSION;

export const RecordKind = {
  data: 1,
  connOpen: 2,
  connClose: 3,
  procExec: 4,
  procFork: 5,
  procExit: 6,
  /** A TCP socket entered LISTEN, in any process (side records only: the agent makes listener facts of them). */
  listenStart: 7,
  /** A TCP socket left LISTEN for CLOSE. */
  listenStop: 8,
} as const;
export type RecordKindName = keyof typeof RecordKind;

export const SYSCALL_NAMES = [
  "",
  "read",
  "write",
  "readv",
  "writev",
  "recvfrom",
  "sendto",
  "recvmsg",
  "sendmsg",
  "connect",
  "accept",
  "accept4",
  "close",
  "sendfile",
  "splice",
  "io_uring",
  "sendmmsg",
  "recvmmsg",
  "other",
  "tcp_state",
  "tcp_destroy",
  "exit",
] as const;

export const DIRECTIONS = { 1: "egress", 2: "ingress" } as const;
/** Which way a data record's bytes went, seen from the process that moved them (the kernel's enum adi_direction). */
export type Direction = (typeof DIRECTIONS)[keyof typeof DIRECTIONS];
export const CONN_ROLES = ["unknown", "client", "server"] as const;

/**
 * Data record flags. `gap`: bytes [offset + len, total_len) of the syscall were not captured (no user buffer:
 * sendfile, splice, io_uring, sendmmsg; an unreadable iovec; a receive longer than its buffer); set on its last
 * record, so a reader skips the gap by length.
 */
export const DataFlags = { truncated: 0x1, lastChunk: 0x2, readFailed: 0x4, gap: 0x8 } as const;

/** Listen record flags (ADI_LISTEN_*): `v6only`, an AF_INET6 listener with IPV6_V6ONLY (accepts no IPv4). */
export const ListenFlags = { v6only: 0x1 } as const;

/** Exec-time opt-in verdicts (enum adi_optin_verdict); `undecided`: the environment was longer than the kernel walks. */
export const OptinVerdict = { none: 0, yes: 1, disabled: 2, notAllowed: 3, undecided: 4 } as const;

type Named<S extends GenStruct> = Exclude<keyof S["members"], "h" | `_${string}`> & string;
/** `size`: sizeof the struct; then the byte offset of each named member (the embedded header `h` and padding left out). */
type Offsets<S extends GenStruct> = { readonly size: number } & { readonly [K in Named<S>]: number };

/** The offset table of a generated struct (see Offsets). */
function offsets<S extends GenStruct>(s: S): Offsets<S> {
  const out: Record<string, number> = { size: s.size };
  for (const [name, m] of Object.entries(s.members)) if (name !== "h" && !name.startsWith("_")) out[name] = m.offset;
  return Object.freeze(out) as Offsets<S>;
}

const HEADER = KERNEL_STRUCTS.adi_event_header;
/**
 * Field offsets (bytes) of each record struct, generated (layouts.gen.ts). `size` is the struct's size; the
 * header's own `size` member (which offsets() would let shadow it) is `size_field`.
 */
export const HEADER_LAYOUT = Object.freeze({ ...offsets(HEADER), size: HEADER.size, size_field: HEADER.members.size.offset });
export const TUPLE_LAYOUT = offsets(KERNEL_STRUCTS.adi_tuple);
/** struct adi_data_event; `payload` (a flexible array member) is where the payload bytes start, = size. */
export const DATA_LAYOUT = offsets(KERNEL_STRUCTS.adi_data_event);
export const CONN_LAYOUT = offsets(KERNEL_STRUCTS.adi_conn_event);
export const PROC_LAYOUT = offsets(KERNEL_STRUCTS.adi_proc_event);
/** struct adi_listen_event (kinds 7 and 8, wire v2 agents only). */
export const LISTEN_LAYOUT = offsets(KERNEL_STRUCTS.adi_listen_event);

/** Byte lengths of the records' C string fields (char arrays, NUL-terminated unless full). */
export const PROC_STRING_LENGTHS = Object.freeze({
  comm: KERNEL_STRUCTS.adi_proc_event.members.comm.count,
  profile: KERNEL_STRUCTS.adi_proc_event.members.profile.count,
  profile_name: KERNEL_STRUCTS.adi_proc_event.members.profile_name.count,
  cmdline: KERNEL_STRUCTS.adi_proc_event.members.cmdline.count,
});

/** The offset tables of one wire version. */
export interface Layouts {
  header: { size: number; ts_ns: number; start_ticks: number; cgroup_id: number | null; size_field: number; kind: number; cpu: number; pid: number; tid: number };
  data: { [K in keyof typeof DATA_LAYOUT]: number };
  conn: { [K in keyof typeof CONN_LAYOUT]: number };
  proc: { [K in keyof typeof PROC_LAYOUT]: number };
  /** null: the version has no listen records (they are then skipped by size, as any unknown kind). */
  listen: { [K in keyof typeof LISTEN_LAYOUT]: number } | null;
}

const LAYOUTS_CURRENT: Layouts = Object.freeze({ header: HEADER_LAYOUT, data: DATA_LAYOUT, conn: CONN_LAYOUT, proc: PROC_LAYOUT, listen: LISTEN_LAYOUT });

/**
 * Version 1 (no cgroup id; written by agents before the cgroup id was added): history, not generated, since no
 * object of that version is built any more. Kept, frozen, so that a stream written by an older agent still
 * replays. Member widths and the tuple are as in the current version; only offsets differ. When the wire version
 * is bumped, the outgoing version's generated offsets join this history the same way.
 */
export const LAYOUTS_V1: Layouts = Object.freeze({
  header: Object.freeze({ size: 32, ts_ns: 0, start_ticks: 8, cgroup_id: null, size_field: 16, kind: 20, cpu: 22, pid: 24, tid: 28 }),
  data: Object.freeze({ size: 104, conn_id: 32, tuple: 40, total_len: 80, offset: 84, len: 88, fd: 92, syscall: 96, direction: 98, flags: 99, payload: 104 }),
  conn: Object.freeze({ size: 96, conn_id: 32, tuple: 40, fd: 80, ret: 84, syscall: 88, role: 90 }),
  proc: Object.freeze({ size: 704, ppid: 32, optin: 36, exit_code: 40, cmdline_len: 44, comm: 48, profile: 64, profile_name: 128, cmdline: 192 }),
  listen: null,
});

/** Layouts of the wire versions before this build's, by version: history, each frozen when its successor came. */
const LAYOUT_HISTORY: Readonly<Record<number, Layouts>> = Object.freeze({ 1: LAYOUTS_V1 });

/** Wire versions this build decodes: the frozen history, then the current one. */
export const READABLE_WIRE_VERSIONS: readonly number[] = Object.freeze([...Object.keys(LAYOUT_HISTORY).map(Number), WIRE_VERSION]);

/** The record layouts of a wire version; throws WireFormatError for one this build cannot read. */
export function layoutsFor(version: number): Layouts {
  if (version === WIRE_VERSION) return LAYOUTS_CURRENT;
  const old = LAYOUT_HISTORY[version];
  if (old) return old;
  throw new WireFormatError(`batch wire version ${version}, this build reads ${READABLE_WIRE_VERSIONS.join(" and ")}`);
}

/** The batch envelope: one NATS message on the raw stream. */
export const BATCH_MAGIC = 0x42494441; // "ADIB" little-endian
export const BATCH_HEADER_LAYOUT = {
  size: 40,
  magic: 0,
  version: 4,
  header_size: 6,
  record_count: 8,
  partition: 12,
  flags: 14,
  seq: 16,
  boot_id: 24,
} as const;

export interface RecordHeader {
  tsNs: bigint;
  startTicks: number;
  /** cgroup v2 id of the process (inode of its cgroup directory), as the kernel knew it; 0n when unknown (wire v1). */
  cgroupId: bigint;
  size: number;
  kind: number;
  cpu: number;
  pid: number;
  tid: number;
}

export interface Tuple {
  family: 4 | 6;
  protocol: "tcp" | "udp";
  laddr: string;
  lport: number;
  raddr: string;
  rport: number;
}

export interface DataRecord extends RecordHeader {
  type: "data";
  connId: bigint;
  tuple: Tuple;
  totalLen: number;
  offset: number;
  fd: number;
  syscall: string;
  direction: Direction;
  truncated: boolean;
  lastChunk: boolean;
  readFailed: boolean;
  /** Bytes after this record's payload up to totalLen were not captured (see DataFlags.gap). */
  gap: boolean;
  payload: Buffer;
}

export interface ConnRecord extends RecordHeader {
  type: "conn_open" | "conn_close";
  connId: bigint;
  tuple: Tuple;
  fd: number;
  ret: number;
  syscall: string;
  role: (typeof CONN_ROLES)[number];
}

export interface ProcRecord extends RecordHeader {
  type: "proc_exec" | "proc_fork" | "proc_exit";
  ppid: number;
  optin: number;
  exitCode: number;
  comm: string;
  profile: string;
  profileName: string;
  cmdline: string[];
}

/**
 * A TCP socket that entered LISTEN (`listen_start`) or left it (`listen_stop`). The header's pid and startTicks are
 * the process that called listen() (or closed the socket), whether or not it opted in.
 */
export interface ListenRecord extends RecordHeader {
  type: "listen_start" | "listen_stop";
  /** The bound address and port (laddr, lport); the remote end is zero. */
  tuple: Tuple;
  /** Inode of the socket's network namespace. */
  netns: number;
  /** IPV6_V6ONLY on an IPv6 listener: it accepts no IPv4 connection. */
  v6only: boolean;
  /** The owner's process name (its group leader's comm) at the time. */
  comm: string;
}

export type RawRecord = DataRecord | ConnRecord | ProcRecord | ListenRecord;

export interface BatchHeader {
  version: number;
  recordCount: number;
  partition: number;
  flags: number;
  seq: bigint;
  bootId: string;
}

export class WireFormatError extends Error {
  override name = "WireFormatError";
}

function cString(buf: Buffer, start: number, length: number): string {
  const end = buf.indexOf(0, start);
  return buf.toString("utf8", start, end === -1 || end > start + length ? start + length : end);
}

function ipString(buf: Buffer, at: number, family: 4 | 6): string {
  if (family === 4) return `${buf[at]}.${buf[at + 1]}.${buf[at + 2]}.${buf[at + 3]}`;
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(buf.readUInt16BE(at + i).toString(16));
  // Compress the longest run of zero groups (RFC 5952).
  let best = -1, bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== "0") { i++; continue; }
    let j = i;
    while (j < 8 && groups[j] === "0") j++;
    if (j - i > bestLen && j - i > 1) { best = i; bestLen = j - i; }
    i = j;
  }
  if (best === -1) return groups.join(":");
  return `${groups.slice(0, best).join(":")}::${groups.slice(best + bestLen).join(":")}`;
}

function readTuple(buf: Buffer, at: number): Tuple {
  const family = buf.readUInt16LE(at + TUPLE_LAYOUT.family) === 10 ? 6 : 4;
  return {
    family,
    protocol: buf[at + TUPLE_LAYOUT.protocol] === 17 ? "udp" : "tcp",
    laddr: ipString(buf, at + TUPLE_LAYOUT.laddr, family),
    lport: buf.readUInt16LE(at + TUPLE_LAYOUT.lport),
    raddr: ipString(buf, at + TUPLE_LAYOUT.raddr, family),
    rport: buf.readUInt16LE(at + TUPLE_LAYOUT.rport),
  };
}

export function readHeader(buf: Buffer, at: number, L: Layouts["header"] = HEADER_LAYOUT): RecordHeader {
  return {
    tsNs: buf.readBigUInt64LE(at + L.ts_ns),
    startTicks: Number(buf.readBigUInt64LE(at + L.start_ticks)),
    cgroupId: L.cgroup_id === null ? 0n : buf.readBigUInt64LE(at + L.cgroup_id),
    size: buf.readUInt32LE(at + L.size_field),
    kind: buf.readUInt16LE(at + L.kind),
    cpu: buf.readUInt16LE(at + L.cpu),
    pid: buf.readUInt32LE(at + L.pid),
    tid: buf.readUInt32LE(at + L.tid),
  };
}

/**
 * Decodes the record at `at` (layouts of this build's wire version unless given); throws WireFormatError when it
 * does not fit its declared size. Null for a kind this build does not know (skip it by its size).
 */
export function decodeRecord(buf: Buffer, at: number, L: Layouts = LAYOUTS_CURRENT): RawRecord | null {
  const h = readHeader(buf, at, L.header);
  const DATA_LAYOUT = L.data, CONN_LAYOUT = L.conn, PROC_LAYOUT = L.proc;
  const need = (n: number) => {
    if (h.size < n || at + n > buf.length) throw new WireFormatError(`record of kind ${h.kind} at ${at}: ${h.size} bytes, ${n} needed`);
  };
  switch (h.kind) {
    case RecordKind.data: {
      need(DATA_LAYOUT.size);
      const len = buf.readUInt32LE(at + DATA_LAYOUT.len);
      need(DATA_LAYOUT.size + len);
      const flags = buf[at + DATA_LAYOUT.flags]!;
      return {
        ...h,
        type: "data",
        connId: buf.readBigUInt64LE(at + DATA_LAYOUT.conn_id),
        tuple: readTuple(buf, at + DATA_LAYOUT.tuple),
        totalLen: buf.readUInt32LE(at + DATA_LAYOUT.total_len),
        offset: buf.readUInt32LE(at + DATA_LAYOUT.offset),
        fd: buf.readInt32LE(at + DATA_LAYOUT.fd),
        syscall: SYSCALL_NAMES[buf.readUInt16LE(at + DATA_LAYOUT.syscall)] ?? "unknown",
        direction: buf[at + DATA_LAYOUT.direction] === 1 ? "egress" : "ingress",
        truncated: (flags & DataFlags.truncated) !== 0,
        lastChunk: (flags & DataFlags.lastChunk) !== 0,
        readFailed: (flags & DataFlags.readFailed) !== 0,
        gap: (flags & DataFlags.gap) !== 0,
        payload: buf.subarray(at + DATA_LAYOUT.payload, at + DATA_LAYOUT.payload + len),
      };
    }
    case RecordKind.connOpen:
    case RecordKind.connClose:
      need(CONN_LAYOUT.size);
      return {
        ...h,
        type: h.kind === RecordKind.connOpen ? "conn_open" : "conn_close",
        connId: buf.readBigUInt64LE(at + CONN_LAYOUT.conn_id),
        tuple: readTuple(buf, at + CONN_LAYOUT.tuple),
        fd: buf.readInt32LE(at + CONN_LAYOUT.fd),
        ret: buf.readInt32LE(at + CONN_LAYOUT.ret),
        syscall: SYSCALL_NAMES[buf.readUInt16LE(at + CONN_LAYOUT.syscall)] ?? "unknown",
        role: CONN_ROLES[buf[at + CONN_LAYOUT.role]!] ?? "unknown",
      };
    case RecordKind.procExec:
    case RecordKind.procFork:
    case RecordKind.procExit: {
      need(PROC_LAYOUT.size);
      const cmdlineLen = Math.min(buf.readUInt32LE(at + PROC_LAYOUT.cmdline_len), PROC_STRING_LENGTHS.cmdline);
      const cmdline = buf
        .toString("utf8", at + PROC_LAYOUT.cmdline, at + PROC_LAYOUT.cmdline + cmdlineLen)
        .split("\0")
        .filter((arg, i, all) => arg !== "" || i < all.length - 1);
      return {
        ...h,
        type: h.kind === RecordKind.procExec ? "proc_exec" : h.kind === RecordKind.procFork ? "proc_fork" : "proc_exit",
        ppid: buf.readUInt32LE(at + PROC_LAYOUT.ppid),
        optin: buf.readUInt32LE(at + PROC_LAYOUT.optin),
        exitCode: buf.readInt32LE(at + PROC_LAYOUT.exit_code),
        comm: cString(buf, at + PROC_LAYOUT.comm, PROC_STRING_LENGTHS.comm),
        profile: cString(buf, at + PROC_LAYOUT.profile, PROC_STRING_LENGTHS.profile),
        profileName: cString(buf, at + PROC_LAYOUT.profile_name, PROC_STRING_LENGTHS.profile_name),
        cmdline,
      };
    }
    case RecordKind.listenStart:
    case RecordKind.listenStop: {
      const LL = L.listen;
      if (!LL) return null; // not a kind of that version: skipped by size
      need(LL.size);
      return {
        ...h,
        type: h.kind === RecordKind.listenStart ? "listen_start" : "listen_stop",
        tuple: readTuple(buf, at + LL.tuple),
        netns: buf.readUInt32LE(at + LL.netns),
        v6only: (buf.readUInt32LE(at + LL.flags) & ListenFlags.v6only) !== 0,
        comm: cString(buf, at + LL.comm, PROC_STRING_LENGTHS.comm),
      };
    }
    default:
      return null; // a kind from a newer agent: skipped by size
  }
}

/** Walks whole records of a buffer without decoding them: [offset, size, kind, connId?]. */
export function* recordSpans(buf: Buffer, start = 0, L: Layouts["header"] = HEADER_LAYOUT): Generator<{ at: number; size: number; kind: number }> {
  let at = start;
  while (at < buf.length) {
    if (at + L.size > buf.length) throw new WireFormatError(`truncated record header at ${at}`);
    const size = buf.readUInt32LE(at + L.size_field);
    if (size < L.size || at + size > buf.length) throw new WireFormatError(`record at ${at} claims ${size} bytes of ${buf.length - at}`);
    yield { at, size, kind: buf.readUInt16LE(at + L.kind) };
    at += size;
  }
}

/** Connection id of a data or connection record (both carry it at the same offset). */
export function connIdAt(buf: Buffer, at: number): bigint {
  return buf.readBigUInt64LE(at + DATA_LAYOUT.conn_id);
}

function bootIdString(b: Buffer): string {
  const h = b.toString("hex");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

export function decodeBatchHeader(buf: Buffer): BatchHeader & { headerSize: number } {
  if (buf.length < BATCH_HEADER_LAYOUT.size) throw new WireFormatError(`batch of ${buf.length} bytes is shorter than its header`);
  if (buf.readUInt32LE(BATCH_HEADER_LAYOUT.magic) !== BATCH_MAGIC) throw new WireFormatError("not an adi batch (bad magic)");
  const version = buf.readUInt16LE(BATCH_HEADER_LAYOUT.version);
  layoutsFor(version); // refuses a version this build cannot read
  const headerSize = buf.readUInt16LE(BATCH_HEADER_LAYOUT.header_size);
  if (headerSize < BATCH_HEADER_LAYOUT.size || headerSize > buf.length) throw new WireFormatError(`bad batch header size ${headerSize}`);
  return {
    version,
    headerSize,
    recordCount: buf.readUInt32LE(BATCH_HEADER_LAYOUT.record_count),
    partition: buf.readUInt16LE(BATCH_HEADER_LAYOUT.partition),
    flags: buf.readUInt16LE(BATCH_HEADER_LAYOUT.flags),
    seq: buf.readBigUInt64LE(BATCH_HEADER_LAYOUT.seq),
    bootId: bootIdString(buf.subarray(BATCH_HEADER_LAYOUT.boot_id, BATCH_HEADER_LAYOUT.boot_id + 16)),
  };
}

/** Decodes a whole batch; unknown record kinds are skipped, malformed ones throw WireFormatError. */
export function decodeBatch(buf: Buffer): { header: BatchHeader; records: RawRecord[] } {
  const header = decodeBatchHeader(buf);
  const L = layoutsFor(header.version);
  const records: RawRecord[] = [];
  let spans = 0;
  for (const span of recordSpans(buf, header.headerSize, L.header)) {
    spans++;
    const r = decodeRecord(buf, span.at, L);
    if (r) records.push(r);
  }
  if (spans !== header.recordCount) throw new WireFormatError(`batch says ${header.recordCount} records, holds ${spans}`);
  return { header, records };
}
