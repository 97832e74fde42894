// Binary wire format of the raw stream: batches of kernel records, exactly as
// bpf/capture.h lays them out. The layout tables below are the only copy of
// that header in TypeScript; shared/test/raw-layout.int.spec.ts checks them against
// the BTF of the compiled BPF object, so they cannot drift.
//
// Version 2 (this build's) added the cgroup id to every record header; batches of version 1 (retained in a stream
// written by an older agent) are still read, with the version 1 layouts below and cgroupId 0.

export const WIRE_VERSION = 2;
/** Wire versions this build decodes. */
export const READABLE_WIRE_VERSIONS = [1, 2] as const;

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

/** Field offsets (bytes) of each record struct; sizes are implied by the reader used. */
export const HEADER_LAYOUT = {
  size: 40,
  ts_ns: 0,
  start_ticks: 8,
  cgroup_id: 16,
  size_field: 24,
  kind: 28,
  cpu: 30,
  pid: 32,
  tid: 36,
} as const;
export const TUPLE_LAYOUT = { size: 40, laddr: 0, raddr: 16, lport: 32, rport: 34, family: 36, protocol: 38 } as const;
export const DATA_LAYOUT = {
  size: 112,
  conn_id: 40,
  tuple: 48,
  total_len: 88,
  offset: 92,
  len: 96,
  fd: 100,
  syscall: 104,
  direction: 106,
  flags: 107,
  payload: 112,
} as const;
export const CONN_LAYOUT = { size: 104, conn_id: 40, tuple: 48, fd: 88, ret: 92, syscall: 96, role: 98 } as const;
export const PROC_LAYOUT = {
  size: 712,
  ppid: 40,
  optin: 44,
  exit_code: 48,
  cmdline_len: 52,
  comm: 56,
  profile: 72,
  profile_name: 136,
  cmdline: 200,
} as const;

/** struct adi_listen_event (kinds 7 and 8, wire v2 agents only). */
export const LISTEN_LAYOUT = { size: 104, tuple: 40, netns: 80, flags: 84, comm: 88 } as const;

interface Layouts {
  header: { size: number; ts_ns: number; start_ticks: number; cgroup_id: number | null; size_field: number; kind: number; cpu: number; pid: number; tid: number };
  data: { [K in keyof typeof DATA_LAYOUT]: number };
  conn: { [K in keyof typeof CONN_LAYOUT]: number };
  proc: { [K in keyof typeof PROC_LAYOUT]: number };
  /** null: the version has no listen records (they are then skipped by size, as any unknown kind). */
  listen: { [K in keyof typeof LISTEN_LAYOUT]: number } | null;
}

const LAYOUTS_V2: Layouts = { header: HEADER_LAYOUT, data: DATA_LAYOUT, conn: CONN_LAYOUT, proc: PROC_LAYOUT, listen: LISTEN_LAYOUT };

/** Version 1 (no cgroup id): kept so that a stream written by an older agent still replays. */
export const LAYOUTS_V1: Layouts = {
  header: { size: 32, ts_ns: 0, start_ticks: 8, cgroup_id: null, size_field: 16, kind: 20, cpu: 22, pid: 24, tid: 28 },
  data: { size: 104, conn_id: 32, tuple: 40, total_len: 80, offset: 84, len: 88, fd: 92, syscall: 96, direction: 98, flags: 99, payload: 104 },
  conn: { size: 96, conn_id: 32, tuple: 40, fd: 80, ret: 84, syscall: 88, role: 90 },
  proc: { size: 704, ppid: 32, optin: 36, exit_code: 40, cmdline_len: 44, comm: 48, profile: 64, profile_name: 128, cmdline: 192 },
  listen: null,
};

/** The record layouts of a wire version; throws WireFormatError for one this build cannot read. */
export function layoutsFor(version: number): Layouts {
  if (version === 2) return LAYOUTS_V2;
  if (version === 1) return LAYOUTS_V1;
  throw new WireFormatError(`batch wire version ${version}, this build reads ${READABLE_WIRE_VERSIONS.join(" and ")}`);
}
export const PROC_STRING_LENGTHS = { comm: 16, profile: 64, profile_name: 64, cmdline: 512 } as const;

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
  direction: "egress" | "ingress";
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
export function decodeRecord(buf: Buffer, at: number, L: Layouts = LAYOUTS_V2): RawRecord | null {
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

function bootIdBytes(bootId: string): Buffer {
  const hex = bootId.replace(/-/g, "");
  const out = Buffer.alloc(16);
  if (/^[0-9a-f]{32}$/i.test(hex)) out.write(hex, "hex");
  return out;
}

function bootIdString(b: Buffer): string {
  const h = b.toString("hex");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/** One raw-stream message: the batch header, then the records as given (their layout must match `version`). */
export function encodeBatch(h: Omit<BatchHeader, "version">, records: readonly Buffer[], version: number = WIRE_VERSION): Buffer {
  const head = Buffer.alloc(BATCH_HEADER_LAYOUT.size);
  head.writeUInt32LE(BATCH_MAGIC, BATCH_HEADER_LAYOUT.magic);
  head.writeUInt16LE(version, BATCH_HEADER_LAYOUT.version);
  head.writeUInt16LE(BATCH_HEADER_LAYOUT.size, BATCH_HEADER_LAYOUT.header_size);
  head.writeUInt32LE(h.recordCount, BATCH_HEADER_LAYOUT.record_count);
  head.writeUInt16LE(h.partition, BATCH_HEADER_LAYOUT.partition);
  head.writeUInt16LE(h.flags, BATCH_HEADER_LAYOUT.flags);
  head.writeBigUInt64LE(h.seq, BATCH_HEADER_LAYOUT.seq);
  bootIdBytes(h.bootId).copy(head, BATCH_HEADER_LAYOUT.boot_id);
  return Buffer.concat([head, ...records]);
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
