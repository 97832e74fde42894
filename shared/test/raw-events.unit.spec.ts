import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  CONN_LAYOUT,
  DATA_LAYOUT,
  decodeBatch,
  decodeRecord,
  encodeBatch,
  HEADER_LAYOUT,
  LAYOUTS_V1,
  LISTEN_LAYOUT,
  PROC_LAYOUT,
  RecordKind,
  TUPLE_LAYOUT,
  WireFormatError,
} from "../src/wire/raw-events.ts";
import type { DataRecord } from "../src/wire/raw-events.ts";

// A test-local encoder: writes fields at the offsets of the layout tables, nothing shared with the decoder.
interface Head { ts?: bigint; startTicks?: bigint; cgroupId?: bigint; cpu?: number; pid?: number; tid?: number }
interface TupleSpec { family: 2 | 10; protocol: 6 | 17; laddr: Buffer; raddr: Buffer; lport: number; rport: number }
interface DataSpec extends Head {
  connId: bigint; tuple: TupleSpec; totalLen: number; offset: number; fd: number;
  syscall: number; direction: number; flags: number; payload: Buffer; extra?: number;
}

const v4 = (s: string) => Buffer.concat([Buffer.from(s.split(".").map(Number)), Buffer.alloc(12)]);
const v6 = (hex: string) => Buffer.from(hex, "hex");
const TUPLE4: TupleSpec = { family: 2, protocol: 6, laddr: v4("10.0.0.5"), raddr: v4("192.168.1.200"), lport: 41000, rport: 8080 };

function writeHeader(b: Buffer, kind: number, h: Head): void {
  b.writeBigUInt64LE(h.ts ?? 1_700_000_000_123_456_789n, HEADER_LAYOUT.ts_ns);
  b.writeBigUInt64LE(h.startTicks ?? 4242n, HEADER_LAYOUT.start_ticks);
  b.writeBigUInt64LE(h.cgroupId ?? 0x1234_5678n, HEADER_LAYOUT.cgroup_id);
  b.writeUInt32LE(b.length, HEADER_LAYOUT.size_field);
  b.writeUInt16LE(kind, HEADER_LAYOUT.kind);
  b.writeUInt16LE(h.cpu ?? 3, HEADER_LAYOUT.cpu);
  b.writeUInt32LE(h.pid ?? 1234, HEADER_LAYOUT.pid);
  b.writeUInt32LE(h.tid ?? 1235, HEADER_LAYOUT.tid);
}

function writeTuple(b: Buffer, at: number, t: TupleSpec): void {
  t.laddr.copy(b, at + TUPLE_LAYOUT.laddr);
  t.raddr.copy(b, at + TUPLE_LAYOUT.raddr);
  b.writeUInt16LE(t.lport, at + TUPLE_LAYOUT.lport);
  b.writeUInt16LE(t.rport, at + TUPLE_LAYOUT.rport);
  b.writeUInt16LE(t.family, at + TUPLE_LAYOUT.family);
  b[at + TUPLE_LAYOUT.protocol] = t.protocol;
}

function dataRecord(d: DataSpec): Buffer {
  const b = Buffer.alloc(DATA_LAYOUT.size + d.payload.length + (d.extra ?? 0));
  writeHeader(b, RecordKind.data, d);
  b.writeBigUInt64LE(d.connId, DATA_LAYOUT.conn_id);
  writeTuple(b, DATA_LAYOUT.tuple, d.tuple);
  b.writeUInt32LE(d.totalLen, DATA_LAYOUT.total_len);
  b.writeUInt32LE(d.offset, DATA_LAYOUT.offset);
  b.writeUInt32LE(d.payload.length, DATA_LAYOUT.len);
  b.writeInt32LE(d.fd, DATA_LAYOUT.fd);
  b.writeUInt16LE(d.syscall, DATA_LAYOUT.syscall);
  b[DATA_LAYOUT.direction] = d.direction;
  b[DATA_LAYOUT.flags] = d.flags;
  d.payload.copy(b, DATA_LAYOUT.payload);
  return b;
}

const DATA: DataSpec = {
  connId: 0xdead_beef_0000_0001n, tuple: TUPLE4, totalLen: 5, offset: 0, fd: 7,
  syscall: 2, direction: 1, flags: 0x2, payload: Buffer.from("hello"),
};

function connRecord(kind: number, t: TupleSpec, role: number, syscall: number, ret = 0): Buffer {
  const b = Buffer.alloc(CONN_LAYOUT.size);
  writeHeader(b, kind, {});
  b.writeBigUInt64LE(99n, CONN_LAYOUT.conn_id);
  writeTuple(b, CONN_LAYOUT.tuple, t);
  b.writeInt32LE(12, CONN_LAYOUT.fd);
  b.writeInt32LE(ret, CONN_LAYOUT.ret);
  b.writeUInt16LE(syscall, CONN_LAYOUT.syscall);
  b[CONN_LAYOUT.role] = role;
  return b;
}

function procRecord(kind: number, comm: string, profile: string, cmdline: string, cmdlineLen = Buffer.byteLength(cmdline)): Buffer {
  const b = Buffer.alloc(PROC_LAYOUT.size);
  writeHeader(b, kind, { pid: 500 });
  b.writeUInt32LE(1, PROC_LAYOUT.ppid);
  b.writeUInt32LE(1, PROC_LAYOUT.optin);
  b.writeInt32LE(-2, PROC_LAYOUT.exit_code);
  b.writeUInt32LE(cmdlineLen, PROC_LAYOUT.cmdline_len);
  b.write(comm, PROC_LAYOUT.comm, 16, "utf8");
  b.write(profile, PROC_LAYOUT.profile, 64, "utf8");
  b.write("nightly", PROC_LAYOUT.profile_name, 64, "utf8");
  b.write(cmdline, PROC_LAYOUT.cmdline, 512, "utf8");
  return b;
}

function listenRecord(kind: number, t: TupleSpec, flags: number, comm: string, netns = 4026531840): Buffer {
  const b = Buffer.alloc(LISTEN_LAYOUT.size);
  writeHeader(b, kind, { pid: 777, startTicks: 9001n });
  writeTuple(b, LISTEN_LAYOUT.tuple, t);
  b.writeUInt32LE(netns, LISTEN_LAYOUT.netns);
  b.writeUInt32LE(flags, LISTEN_LAYOUT.flags);
  b.write(comm, LISTEN_LAYOUT.comm, 16, "utf8");
  return b;
}

const BOOT = "393a8351-01d1-4c4f-84ed-e7c686d9ae26";
const batch = (records: Buffer[], count = records.length) =>
  encodeBatch({ recordCount: count, partition: 7, flags: 0, seq: 2n ** 63n + 5n, bootId: BOOT }, records);

describe("decodeRecord", () => {
  it("decodes a data record over IPv4 TCP", () => {
    const r = decodeRecord(dataRecord(DATA), 0) as DataRecord;
    expect(r).toMatchObject({
      type: "data", tsNs: 1_700_000_000_123_456_789n, startTicks: 4242, cgroupId: 0x1234_5678n, size: DATA_LAYOUT.size + 5,
      kind: 1, cpu: 3, pid: 1234, tid: 1235,
      connId: 0xdead_beef_0000_0001n, totalLen: 5, offset: 0, fd: 7, syscall: "write", direction: "egress",
      truncated: false, lastChunk: true, readFailed: false, gap: false,
      tuple: { family: 4, protocol: "tcp", laddr: "10.0.0.5", lport: 41000, raddr: "192.168.1.200", rport: 8080 },
    });
    expect(r.payload.toString()).toBe("hello");
  });

  it("decodes flags, ingress, negative fd and a record at a non-zero offset", () => {
    const rec = dataRecord({ ...DATA, fd: -1, direction: 2, flags: 0x5, syscall: 7, payload: Buffer.alloc(0) });
    const r = decodeRecord(Buffer.concat([Buffer.alloc(13, 0xff), rec]), 13) as DataRecord;
    expect(r).toMatchObject({ fd: -1, direction: "ingress", syscall: "recvmsg", truncated: true, lastChunk: false, readFailed: true });
    expect(r.payload.length).toBe(0);
  });

  it("formats IPv6 addresses (loopback, full, compressed) and UDP", () => {
    const tuple: TupleSpec = {
      family: 10, protocol: 17, lport: 53, rport: 65535,
      laddr: v6("00000000000000000000000000000001"), raddr: v6("20010db885a3000100028a2e03707334"),
    };
    const r = decodeRecord(dataRecord({ ...DATA, tuple }), 0) as DataRecord;
    expect(r.tuple).toEqual({ family: 6, protocol: "udp", laddr: "::1", lport: 53, raddr: "2001:db8:85a3:1:2:8a2e:370:7334", rport: 65535 });
    const t2 = { ...tuple, laddr: v6("fe800000000000000000000000000001"), raddr: v6("20010db8000000010000000000000000") };
    const r2 = decodeRecord(dataRecord({ ...DATA, tuple: t2 }), 0) as DataRecord;
    expect([r2.tuple.laddr, r2.tuple.raddr]).toEqual(["fe80::1", "2001:db8:0:1::"]);
    const t3 = { ...tuple, laddr: Buffer.alloc(16), raddr: v6("20010db8000000010001000100010001") };
    const r3 = decodeRecord(dataRecord({ ...DATA, tuple: t3 }), 0) as DataRecord;
    expect([r3.tuple.laddr, r3.tuple.raddr]).toEqual(["::", "2001:db8:0:1:1:1:1:1"]);
  });

  it("decodes connection open and close records", () => {
    const open = decodeRecord(connRecord(RecordKind.connOpen, TUPLE4, 1, 9, -115), 0);
    expect(open).toMatchObject({ type: "conn_open", connId: 99n, fd: 12, ret: -115, syscall: "connect", role: "client" });
    const close = decodeRecord(connRecord(RecordKind.connClose, TUPLE4, 2, 12), 0);
    expect(close).toMatchObject({ type: "conn_close", syscall: "close", role: "server", tuple: { raddr: "192.168.1.200" } });
    expect(decodeRecord(connRecord(RecordKind.connOpen, TUPLE4, 9, 99), 0)).toMatchObject({ role: "unknown", syscall: "unknown" });
  });

  it("decodes a proc_exec record: C strings and the NUL-split cmdline", () => {
    const r = decodeRecord(procRecord(RecordKind.procExec, "python3", "checkout", "python3\0-m\0http.server\0"), 0);
    expect(r).toMatchObject({
      type: "proc_exec", pid: 500, ppid: 1, optin: 1, exitCode: -2, comm: "python3", profile: "checkout",
      profileName: "nightly", cmdline: ["python3", "-m", "http.server"],
    });
  });

  it("cuts C strings at their field and the cmdline at cmdline_len", () => {
    const full = procRecord(RecordKind.procExit, "x".repeat(16), "p", "a\0b\0c", 3);
    full.fill(0x41, PROC_LAYOUT.profile, PROC_LAYOUT.profile + 64); // no NUL anywhere in profile
    full[PROC_LAYOUT.profile_name] = 0x42; // profile_name continues as "Bightly"
    const r = decodeRecord(full, 0);
    expect(r).toMatchObject({ type: "proc_exit", comm: "x".repeat(16), profile: "A".repeat(64), profileName: "Bightly", cmdline: ["a", "b"] });
    expect(decodeRecord(procRecord(RecordKind.procFork, "sh", "", "", 0), 0)).toMatchObject({ type: "proc_fork", cmdline: [], profile: "" });
  });

  it("decodes listen records: the bound address keeps its family, V6ONLY is a flag", () => {
    const any4: TupleSpec = { family: 2, protocol: 6, laddr: v4("0.0.0.0"), raddr: Buffer.alloc(16), lport: 8080, rport: 0 };
    const any6: TupleSpec = { family: 10, protocol: 6, laddr: Buffer.alloc(16), raddr: Buffer.alloc(16), lport: 8080, rport: 0 };
    const lo4: TupleSpec = { ...any4, laddr: v4("127.0.0.1") };
    expect(decodeRecord(listenRecord(RecordKind.listenStart, any4, 0, "python3"), 0)).toMatchObject({
      type: "listen_start", pid: 777, startTicks: 9001, netns: 4026531840, v6only: false, comm: "python3",
      tuple: { family: 4, protocol: "tcp", laddr: "0.0.0.0", lport: 8080 },
    });
    expect(decodeRecord(listenRecord(RecordKind.listenStart, any6, 1, "srv6"), 0)).toMatchObject({
      type: "listen_start", v6only: true, comm: "srv6", tuple: { family: 6, laddr: "::", lport: 8080 },
    });
    expect(decodeRecord(listenRecord(RecordKind.listenStop, lo4, 0, "x".repeat(16)), 0)).toMatchObject({
      type: "listen_stop", comm: "x".repeat(16), tuple: { family: 4, laddr: "127.0.0.1" },
    });
    // Unknown flag bits do not read as V6ONLY.
    expect(decodeRecord(listenRecord(RecordKind.listenStart, any6, 0xfe, "a"), 0)).toMatchObject({ v6only: false });
    expect(() => decodeRecord(listenRecord(RecordKind.listenStart, any4, 0, "a").subarray(0, 100), 0)).toThrow(WireFormatError);
  });

  it("skips listen kinds in a version 1 batch (the version had none), by their size", () => {
    const rec = Buffer.alloc(LAYOUTS_V1.header.size + 24);
    rec.writeUInt32LE(rec.length, LAYOUTS_V1.header.size_field);
    rec.writeUInt16LE(RecordKind.listenStart, LAYOUTS_V1.header.kind);
    const { records } = decodeBatch(encodeBatch({ recordCount: 1, partition: 0, flags: 0, seq: 1n, bootId: BOOT }, [rec], 1));
    expect(records).toEqual([]);
  });

  it("throws WireFormatError when a record is shorter than its kind needs", () => {
    const short = dataRecord(DATA).subarray(0, 100);
    expect(() => decodeRecord(short, 0)).toThrow(WireFormatError);
    const lying = dataRecord(DATA);
    lying.writeUInt32LE(50, DATA_LAYOUT.len); // payload longer than the record
    expect(() => decodeRecord(lying, 0)).toThrow(WireFormatError);
  });
});

describe("batches", () => {
  it("round trips the header and records", () => {
    const recs = [dataRecord(DATA), connRecord(RecordKind.connOpen, TUPLE4, 1, 9), procRecord(RecordKind.procExec, "sh", "", "sh\0")];
    const { header, records } = decodeBatch(batch(recs));
    expect(header).toMatchObject({ version: 2, recordCount: 3, partition: 7, flags: 0, seq: 2n ** 63n + 5n, bootId: BOOT });
    expect(records.map((r) => r.type)).toEqual(["data", "conn_open", "proc_exec"]);
  });

  it("skips unknown kinds by their size, and throws on a record count mismatch", () => {
    const unknown = Buffer.alloc(HEADER_LAYOUT.size + 21);
    writeHeader(unknown, 77, {});
    const { records } = decodeBatch(batch([unknown, dataRecord({ ...DATA, extra: 3 }), unknown]));
    expect(records).toHaveLength(1);
    expect((records[0] as DataRecord).payload.toString()).toBe("hello");
    expect(() => decodeBatch(batch([dataRecord(DATA)], 2))).toThrow(WireFormatError);
    expect(() => decodeBatch(batch([dataRecord(DATA)], 0))).toThrow(WireFormatError);
  });

  it("still reads a version 1 batch (no cgroup id), so a retained stream replays", () => {
    const L = LAYOUTS_V1;
    const rec = Buffer.alloc(L.data.size + 3);
    rec.writeBigUInt64LE(1_700_000_000_000_000_000n, L.header.ts_ns);
    rec.writeBigUInt64LE(77n, L.header.start_ticks);
    rec.writeUInt32LE(rec.length, L.header.size_field);
    rec.writeUInt16LE(RecordKind.data, L.header.kind);
    rec.writeUInt32LE(4321, L.header.pid);
    rec.writeBigUInt64LE(9n, L.data.conn_id);
    writeTuple(rec, L.data.tuple, TUPLE4);
    rec.writeUInt32LE(3, L.data.total_len);
    rec.writeUInt32LE(3, L.data.len);
    rec.writeUInt16LE(2, L.data.syscall);
    rec[L.data.direction] = 1;
    rec[L.data.flags] = 0x2;
    Buffer.from("abc").copy(rec, L.data.payload);
    const { header, records } = decodeBatch(encodeBatch({ recordCount: 1, partition: 0, flags: 0, seq: 1n, bootId: BOOT }, [rec], 1));
    expect(header.version).toBe(1);
    expect(records[0]).toMatchObject({ type: "data", pid: 4321, startTicks: 77, cgroupId: 0n, connId: 9n, totalLen: 3, gap: false, lastChunk: true });
    expect((records[0] as DataRecord).payload.toString()).toBe("abc");
  });

  it("decodes a gap record: the bytes after it up to total_len were not captured", () => {
    const r = decodeRecord(dataRecord({ ...DATA, totalLen: 4096, flags: 0x2 | 0x8, syscall: 13, payload: Buffer.alloc(0) }), 0) as DataRecord;
    expect(r).toMatchObject({ gap: true, lastChunk: true, truncated: false, totalLen: 4096, offset: 0, syscall: "sendfile" });
  });

  it("rejects bad magic, version and truncated batches", () => {
    const good = batch([dataRecord(DATA)]);
    expect(() => decodeBatch(good.subarray(0, 39))).toThrow(WireFormatError);
    expect(() => decodeBatch(good.subarray(0, good.length - 1))).toThrow(WireFormatError);
    const badMagic = Buffer.from(good); badMagic.writeUInt32LE(0x42494442, 0);
    expect(() => decodeBatch(badMagic)).toThrow(/magic/);
    const badVersion = Buffer.from(good); badVersion.writeUInt16LE(3, 4);
    expect(() => decodeBatch(badVersion)).toThrow(/version/);
  });

  it("never throws anything but WireFormatError on arbitrary or mutated bytes", () => {
    const unknown = Buffer.alloc(HEADER_LAYOUT.size + 8);
    writeHeader(unknown, 42, {});
    const pool = [dataRecord(DATA), connRecord(RecordKind.connClose, TUPLE4, 2, 12), procRecord(RecordKind.procExec, "a", "b", "c\0"), unknown];
    // A valid batch of some records in any order, each maybe with a lying size or kind, then byte-level damage.
    const record = fc.record({ i: fc.nat(pool.length - 1), size: fc.option(fc.nat(800)), kind: fc.option(fc.nat(8)) }).map(({ i, size, kind }) => {
      const b = Buffer.from(pool[i]!);
      if (size !== null) b.writeUInt32LE(size, HEADER_LAYOUT.size_field);
      if (kind !== null) b.writeUInt16LE(kind, HEADER_LAYOUT.kind);
      return b;
    });
    const valid = fc.array(record, { maxLength: 4 }).map((recs) => batch(recs));
    const flips = fc.array(fc.tuple(fc.nat(), fc.integer({ min: 1, max: 255 })), { maxLength: 8 });
    const damage = fc.oneof(
      flips.map((f) => (b: Buffer) => { const c = Buffer.from(b); for (const [i, x] of f) c[i % c.length]! ^= x; return c; }),
      fc.nat().map((n) => (b: Buffer) => b.subarray(0, n % (b.length + 1))),
      fc.uint8Array({ minLength: 1, maxLength: 120 }).map((a) => (b: Buffer) => Buffer.concat([b, a])),
    );
    const input = fc.oneof(
      fc.uint8Array({ maxLength: 1200 }).map((a) => Buffer.from(a)),
      fc.tuple(valid, damage).map(([b, d]) => d(b)),
    );
    let decoded = 0;
    fc.assert(
      fc.property(input, (b) => {
        try { decodeBatch(b); decoded++; } catch (e) { expect(e).toBeInstanceOf(WireFormatError); }
      }),
      { seed: 42, numRuns: 2000 },
    );
    expect(decoded).toBeGreaterThan(0); // some mutations (payload bytes, timestamps) still decode
  });

  it("round trips random data records field by field", () => {
    const addr = fc.uint8Array({ minLength: 16, maxLength: 16 }).map((a) => Buffer.from(a));
    const spec = fc.record({
      ts: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }), startTicks: fc.bigInt({ min: 0n, max: 2n ** 53n - 1n }),
      cpu: fc.integer({ min: 0, max: 0xffff }), pid: fc.nat({ max: 2 ** 32 - 1 }), tid: fc.nat({ max: 2 ** 32 - 1 }),
      connId: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
      tuple: fc.record({
        family: fc.constantFrom(2 as const, 10 as const), protocol: fc.constantFrom(6 as const, 17 as const),
        laddr: addr, raddr: addr, lport: fc.integer({ min: 0, max: 0xffff }), rport: fc.integer({ min: 0, max: 0xffff }),
      }),
      totalLen: fc.nat({ max: 2 ** 32 - 1 }), offset: fc.nat({ max: 2 ** 32 - 1 }), fd: fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }),
      syscall: fc.integer({ min: 1, max: 12 }), direction: fc.constantFrom(1, 2), flags: fc.nat({ max: 7 }),
      payload: fc.uint8Array({ maxLength: 300 }).map((a) => Buffer.from(a)), extra: fc.nat({ max: 16 }),
    });
    const syscalls = ["", "read", "write", "readv", "writev", "recvfrom", "sendto", "recvmsg", "sendmsg", "connect", "accept", "accept4", "close"];
    fc.assert(
      fc.property(fc.array(spec, { minLength: 1, maxLength: 4 }), (specs) => {
        const { records } = decodeBatch(batch(specs.map(dataRecord)));
        expect(records).toHaveLength(specs.length);
        specs.forEach((s, i) => {
          const r = records[i] as DataRecord;
          const fam = s.tuple.family === 2 ? 4 : 6;
          expect(r).toMatchObject({
            type: "data", tsNs: s.ts, startTicks: Number(s.startTicks), cpu: s.cpu, pid: s.pid, tid: s.tid,
            size: DATA_LAYOUT.size + s.payload.length + s.extra, connId: s.connId, totalLen: s.totalLen, offset: s.offset,
            fd: s.fd, syscall: syscalls[s.syscall], direction: s.direction === 1 ? "egress" : "ingress",
            truncated: (s.flags & 1) !== 0, lastChunk: (s.flags & 2) !== 0, readFailed: (s.flags & 4) !== 0, gap: (s.flags & 8) !== 0,
          });
          expect(r.tuple).toMatchObject({ family: fam, protocol: s.tuple.protocol === 6 ? "tcp" : "udp", lport: s.tuple.lport, rport: s.tuple.rport });
          for (const [str, bytes] of [[r.tuple.laddr, s.tuple.laddr], [r.tuple.raddr, s.tuple.raddr]] as const) {
            if (fam === 4) expect(str).toBe([...bytes.subarray(0, 4)].join("."));
            else expect(Buffer.from(ipv6Bytes(str))).toEqual(bytes);
          }
          expect(Buffer.compare(r.payload, s.payload)).toBe(0);
        });
      }),
      { seed: 42, numRuns: 500 },
    );
  });
});

/** Parses an IPv6 string back to bytes (test oracle for the formatter). */
function ipv6Bytes(s: string): number[] {
  const [head, tail] = s.includes("::") ? s.split("::") : [s, undefined];
  const hs = head ? head.split(":") : [];
  const ts = tail ? tail.split(":") : [];
  const groups = tail === undefined ? hs : [...hs, ...Array<string>(8 - hs.length - ts.length).fill("0"), ...ts];
  expect(groups).toHaveLength(8);
  expect(groups.every((g) => /^(0|[1-9a-f][0-9a-f]{0,3})$/.test(g))).toBe(true); // lowercase, no leading zeros
  return groups.flatMap((g) => [parseInt(g, 16) >> 8, parseInt(g, 16) & 0xff]);
}
