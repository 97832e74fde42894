import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  CONN_LAYOUT,
  DATA_LAYOUT,
  decodeBatch,
  decodeRecord,
  HEADER_LAYOUT,
  LAYOUTS_V1,
  layoutsFor,
  LISTEN_LAYOUT,
  PROC_LAYOUT,
  READABLE_WIRE_VERSIONS,
  RecordKind,
  WIRE_VERSION,
  WireFormatError,
} from "../src/wire/raw-events.ts";
import type { ConnRecord, DataRecord, ListenRecord, ProcRecord } from "../src/wire/raw-events.ts";
import { encodeBatch, encodeRecord } from "../src/wire/record-encoder.ts";
import type { ConnRecordInit, DataRecordInit, TupleInit } from "../src/wire/record-encoder.ts";
import { KERNEL_STRUCTS } from "../src/wire/layouts.gen.ts";

// Records come from the shared encoder (record-encoder.ts), which writes each member with the width the compiler
// gave it (layouts.gen.ts); the decoder reads with its own widths, so these round trips catch a disagreement.
const v6 = (hex: string) => Buffer.from(hex, "hex");
const TUPLE4: TupleInit = { family: 4, protocol: "tcp", laddr: "10.0.0.5", raddr: "192.168.1.200", lport: 41000, rport: 8080 };
const HEAD = { tsNs: 1_700_000_000_123_456_789n, startTicks: 4242, cgroupId: 0x1234_5678n, cpu: 3, pid: 1234, tid: 1235 };

const DATA: DataRecordInit = {
  type: "data", ...HEAD, connId: 0xdead_beef_0000_0001n, tuple: TUPLE4, totalLen: 5, offset: 0, fd: 7,
  syscall: "write", direction: "egress", payload: Buffer.from("hello"),
};
const dataRecord = (d: Partial<DataRecordInit> = {}) => encodeRecord({ ...DATA, ...d });

function connRecord(type: ConnRecordInit["type"], tuple: TupleInit, role: number, syscall: number, ret = 0): Buffer {
  return encodeRecord({ type, ...HEAD, connId: 99n, tuple, fd: 12, ret, syscall, role });
}

function procRecord(type: "proc_exec" | "proc_fork" | "proc_exit", comm: string, profile: string, cmdline: string, cmdlineLen?: number): Buffer {
  return encodeRecord({ type, ...HEAD, pid: 500, ppid: 1, optin: 1, exitCode: -2, comm, profile, profileName: "nightly", cmdline, cmdlineLen });
}

function listenRecord(type: "listen_start" | "listen_stop", tuple: TupleInit, v6only: boolean, comm: string, netns = 4026531840): Buffer {
  return encodeRecord({ type, ...HEAD, pid: 777, startTicks: 9001n, tuple, v6only, comm, netns });
}

const BOOT = "393a8351-01d1-4c4f-84ed-e7c686d9ae26";
const batch = (records: Buffer[], count = records.length) =>
  encodeBatch({ recordCount: count, partition: 7, flags: 0, seq: 2n ** 63n + 5n, bootId: BOOT }, records);

describe("generated layouts", () => {
  it("every wire version up to this build's stays readable (bumping ADI_WIRE_VERSION must freeze the outgoing layouts)", () => {
    expect(READABLE_WIRE_VERSIONS).toEqual(Array.from({ length: WIRE_VERSION }, (_, i) => i + 1));
    for (const v of READABLE_WIRE_VERSIONS) expect(layoutsFor(v).header.size, `wire version ${v}`).toBeGreaterThan(0);
    expect(layoutsFor(WIRE_VERSION).data).toBe(DATA_LAYOUT);
    expect(() => layoutsFor(WIRE_VERSION + 1)).toThrow(WireFormatError);
  });

  it("every record struct starts with the event header, and the data payload follows its struct", () => {
    for (const name of ["adi_data_event", "adi_conn_event", "adi_proc_event", "adi_listen_event"] as const) {
      expect(KERNEL_STRUCTS[name].members.h, name).toEqual({ offset: 0, size: HEADER_LAYOUT.size, type: "adi_event_header" });
    }
    expect(KERNEL_STRUCTS.adi_data_event.members.payload).toEqual({ offset: DATA_LAYOUT.size, size: 0, type: "u8", count: 0 });
    expect([CONN_LAYOUT.tuple, LISTEN_LAYOUT.tuple].every((t) => t % 8 === 0)).toBe(true);
    expect(PROC_LAYOUT.cmdline + KERNEL_STRUCTS.adi_proc_event.members.cmdline.count).toBe(PROC_LAYOUT.size);
  });
});

describe("decodeRecord", () => {
  it("decodes a data record over IPv4 TCP", () => {
    const r = decodeRecord(dataRecord(), 0) as DataRecord;
    expect(r).toMatchObject({
      type: "data", tsNs: 1_700_000_000_123_456_789n, startTicks: 4242, cgroupId: 0x1234_5678n, size: DATA_LAYOUT.size + 8, // 5 payload bytes, padded to 8 as the agent does
      kind: 1, cpu: 3, pid: 1234, tid: 1235,
      connId: 0xdead_beef_0000_0001n, totalLen: 5, offset: 0, fd: 7, syscall: "write", direction: "egress",
      truncated: false, lastChunk: true, readFailed: false, gap: false,
      tuple: { family: 4, protocol: "tcp", laddr: "10.0.0.5", lport: 41000, raddr: "192.168.1.200", rport: 8080 },
    });
    expect(r.payload.toString()).toBe("hello");
  });

  it("decodes flags, ingress, negative fd and a record at a non-zero offset", () => {
    const rec = dataRecord({ fd: -1, direction: "ingress", truncated: true, readFailed: true, lastChunk: false, syscall: 7, payload: Buffer.alloc(0) });
    const r = decodeRecord(Buffer.concat([Buffer.alloc(13, 0xff), rec]), 13) as DataRecord;
    expect(r).toMatchObject({ fd: -1, direction: "ingress", syscall: "recvmsg", truncated: true, lastChunk: false, readFailed: true });
    expect(r.payload.length).toBe(0);
  });

  it("formats IPv6 addresses (loopback, full, compressed) and UDP", () => {
    const tuple: TupleInit = {
      family: 6, protocol: "udp", lport: 53, rport: 65535,
      laddr: v6("00000000000000000000000000000001"), raddr: v6("20010db885a3000100028a2e03707334"),
    };
    const r = decodeRecord(dataRecord({ tuple }), 0) as DataRecord;
    expect(r.tuple).toEqual({ family: 6, protocol: "udp", laddr: "::1", lport: 53, raddr: "2001:db8:85a3:1:2:8a2e:370:7334", rport: 65535 });
    const t2 = { ...tuple, laddr: v6("fe800000000000000000000000000001"), raddr: v6("20010db8000000010000000000000000") };
    const r2 = decodeRecord(dataRecord({ tuple: t2 }), 0) as DataRecord;
    expect([r2.tuple.laddr, r2.tuple.raddr]).toEqual(["fe80::1", "2001:db8:0:1::"]);
    const t3 = { ...tuple, laddr: Buffer.alloc(16), raddr: v6("20010db8000000010001000100010001") };
    const r3 = decodeRecord(dataRecord({ tuple: t3 }), 0) as DataRecord;
    expect([r3.tuple.laddr, r3.tuple.raddr]).toEqual(["::", "2001:db8:0:1:1:1:1:1"]);
  });

  it("decodes connection open and close records", () => {
    const open = decodeRecord(connRecord("conn_open", TUPLE4, 1, 9, -115), 0);
    expect(open).toMatchObject({ type: "conn_open", connId: 99n, fd: 12, ret: -115, syscall: "connect", role: "client" });
    const close = decodeRecord(connRecord("conn_close", TUPLE4, 2, 12), 0);
    expect(close).toMatchObject({ type: "conn_close", syscall: "close", role: "server", tuple: { raddr: "192.168.1.200" } });
    expect(decodeRecord(connRecord("conn_open", TUPLE4, 9, 99), 0)).toMatchObject({ role: "unknown", syscall: "unknown" });
  });

  it("decodes a proc_exec record: C strings and the NUL-split cmdline", () => {
    const r = decodeRecord(procRecord("proc_exec", "python3", "checkout", "python3\0-m\0http.server\0"), 0);
    expect(r).toMatchObject({
      type: "proc_exec", pid: 500, ppid: 1, optin: 1, exitCode: -2, comm: "python3", profile: "checkout",
      profileName: "nightly", cmdline: ["python3", "-m", "http.server"],
    });
  });

  it("cuts C strings at their field and the cmdline at cmdline_len", () => {
    const full = procRecord("proc_exit", "x".repeat(16), "p", "a\0b\0c", 3);
    full.fill(0x41, PROC_LAYOUT.profile, PROC_LAYOUT.profile + 64); // no NUL anywhere in profile
    full[PROC_LAYOUT.profile_name] = 0x42; // profile_name continues as "Bightly"
    const r = decodeRecord(full, 0);
    expect(r).toMatchObject({ type: "proc_exit", comm: "x".repeat(16), profile: "A".repeat(64), profileName: "Bightly", cmdline: ["a", "b"] });
    expect(decodeRecord(procRecord("proc_fork", "sh", "", "", 0), 0)).toMatchObject({ type: "proc_fork", cmdline: [], profile: "" });
  });

  it("decodes listen records: the bound address keeps its family, V6ONLY is a flag", () => {
    const any4: TupleInit = { family: 4, protocol: "tcp", laddr: "0.0.0.0", lport: 8080, rport: 0 };
    const any6: TupleInit = { family: 6, protocol: "tcp", laddr: "::", lport: 8080, rport: 0 };
    const lo4: TupleInit = { ...any4, laddr: "127.0.0.1" };
    expect(decodeRecord(listenRecord("listen_start", any4, false, "python3"), 0)).toMatchObject({
      type: "listen_start", pid: 777, startTicks: 9001, netns: 4026531840, v6only: false, comm: "python3",
      tuple: { family: 4, protocol: "tcp", laddr: "0.0.0.0", lport: 8080 },
    });
    expect(decodeRecord(listenRecord("listen_start", any6, true, "srv6"), 0)).toMatchObject({
      type: "listen_start", v6only: true, comm: "srv6", tuple: { family: 6, laddr: "::", lport: 8080 },
    });
    expect(decodeRecord(listenRecord("listen_stop", lo4, false, "x".repeat(16)), 0)).toMatchObject({
      type: "listen_stop", comm: "x".repeat(16), tuple: { family: 4, laddr: "127.0.0.1" },
    });
    // Unknown flag bits do not read as V6ONLY.
    const odd = listenRecord("listen_start", any6, false, "a");
    odd.writeUInt32LE(0xfe, LISTEN_LAYOUT.flags);
    expect(decodeRecord(odd, 0)).toMatchObject({ v6only: false });
    expect(() => decodeRecord(listenRecord("listen_start", any4, false, "a").subarray(0, 100), 0)).toThrow(WireFormatError);
  });

  it("skips listen kinds in a version 1 batch (the version had none), by their size", () => {
    const rec = encodeRecord({ type: "other", kind: RecordKind.listenStart, size: LAYOUTS_V1.header.size + 24 }, 1);
    const { records } = decodeBatch(encodeBatch({ recordCount: 1, partition: 0, flags: 0, seq: 1n, bootId: BOOT }, [rec], 1));
    expect(records).toEqual([]);
  });

  it("throws WireFormatError when a record is shorter than its kind needs", () => {
    const short = dataRecord().subarray(0, 100);
    expect(() => decodeRecord(short, 0)).toThrow(WireFormatError);
    const lying = dataRecord({ len: 50 }); // payload longer than the record
    expect(() => decodeRecord(lying, 0)).toThrow(WireFormatError);
  });
});

describe("batches", () => {
  it("round trips the header and records", () => {
    const recs = [dataRecord(), connRecord("conn_open", TUPLE4, 1, 9), procRecord("proc_exec", "sh", "", "sh\0")];
    const { header, records } = decodeBatch(batch(recs));
    expect(header).toMatchObject({ version: 2, recordCount: 3, partition: 7, flags: 0, seq: 2n ** 63n + 5n, bootId: BOOT });
    expect(records.map((r) => r.type)).toEqual(["data", "conn_open", "proc_exec"]);
  });

  it("skips unknown kinds by their size, and throws on a record count mismatch", () => {
    const unknown = encodeRecord({ type: "other", ...HEAD, kind: 77, size: HEADER_LAYOUT.size + 21 });
    const { records } = decodeBatch(batch([unknown, dataRecord({ size: DATA_LAYOUT.size + 5 + 3 }), unknown]));
    expect(records).toHaveLength(1);
    expect((records[0] as DataRecord).payload.toString()).toBe("hello");
    expect(() => decodeBatch(batch([dataRecord()], 2))).toThrow(WireFormatError);
    expect(() => decodeBatch(batch([dataRecord()], 0))).toThrow(WireFormatError);
  });

  it("still reads a version 1 batch (no cgroup id), so a retained stream replays", () => {
    const rec = encodeRecord({ type: "data", tsNs: 1_700_000_000_000_000_000n, startTicks: 77, cgroupId: 5n, pid: 4321, connId: 9n, tuple: TUPLE4, direction: "egress", payload: "abc" }, 1);
    expect(rec.readUInt32LE(LAYOUTS_V1.header.size_field)).toBe(LAYOUTS_V1.data.size + 8);
    const { header, records } = decodeBatch(encodeBatch({ recordCount: 1, partition: 0, flags: 0, seq: 1n, bootId: BOOT }, [rec], 1));
    expect(header.version).toBe(1);
    expect(records[0]).toMatchObject({ type: "data", pid: 4321, startTicks: 77, cgroupId: 0n, connId: 9n, totalLen: 3, gap: false, lastChunk: true });
    expect((records[0] as DataRecord).payload.toString()).toBe("abc");
  });

  it("decodes a gap record: the bytes after it up to total_len were not captured", () => {
    const r = decodeRecord(dataRecord({ totalLen: 4096, gap: true, syscall: 13, payload: Buffer.alloc(0) }), 0) as DataRecord;
    expect(r).toMatchObject({ gap: true, lastChunk: true, truncated: false, totalLen: 4096, offset: 0, syscall: "sendfile" });
  });

  it("rejects bad magic, version and truncated batches", () => {
    const good = batch([dataRecord()]);
    expect(() => decodeBatch(good.subarray(0, 39))).toThrow(WireFormatError);
    expect(() => decodeBatch(good.subarray(0, good.length - 1))).toThrow(WireFormatError);
    const badMagic = Buffer.from(good); badMagic.writeUInt32LE(0x42494442, 0);
    expect(() => decodeBatch(badMagic)).toThrow(/magic/);
    const badVersion = Buffer.from(good); badVersion.writeUInt16LE(3, 4);
    expect(() => decodeBatch(badVersion)).toThrow(/version/);
  });

  it("never throws anything but WireFormatError on arbitrary or mutated bytes", () => {
    const unknown = encodeRecord({ type: "other", kind: 42, size: HEADER_LAYOUT.size + 8 });
    const pool = [dataRecord(), connRecord("conn_close", TUPLE4, 2, 12), procRecord("proc_exec", "a", "b", "c\0"), unknown];
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
      tsNs: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }), startTicks: fc.bigInt({ min: 0n, max: 2n ** 53n - 1n }),
      cpu: fc.integer({ min: 0, max: 0xffff }), pid: fc.nat({ max: 2 ** 32 - 1 }), tid: fc.nat({ max: 2 ** 32 - 1 }),
      connId: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
      tuple: fc.record({
        family: fc.constantFrom(4 as const, 6 as const), protocol: fc.constantFrom("tcp" as const, "udp" as const),
        laddr: addr, raddr: addr, lport: fc.integer({ min: 0, max: 0xffff }), rport: fc.integer({ min: 0, max: 0xffff }),
      }),
      totalLen: fc.nat({ max: 2 ** 32 - 1 }), offset: fc.nat({ max: 2 ** 32 - 1 }), fd: fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }),
      syscall: fc.integer({ min: 1, max: 12 }), direction: fc.constantFrom("egress" as const, "ingress" as const), flags: fc.nat({ max: 15 }),
      payload: fc.uint8Array({ maxLength: 300 }).map((a) => Buffer.from(a)), extra: fc.nat({ max: 16 }),
    });
    const syscalls = ["", "read", "write", "readv", "writev", "recvfrom", "sendto", "recvmsg", "sendmsg", "connect", "accept", "accept4", "close"];
    fc.assert(
      fc.property(fc.array(spec, { minLength: 1, maxLength: 4 }), (specs) => {
        const encode = ({ flags, extra, ...s }: (typeof specs)[number]) =>
          encodeRecord({
            type: "data", ...s, size: DATA_LAYOUT.size + s.payload.length + extra,
            truncated: (flags & 1) !== 0, lastChunk: (flags & 2) !== 0, readFailed: (flags & 4) !== 0, gap: (flags & 8) !== 0,
          });
        const { records } = decodeBatch(batch(specs.map(encode)));
        expect(records).toHaveLength(specs.length);
        specs.forEach((s, i) => {
          const r = records[i] as DataRecord;
          const fam = s.tuple.family;
          expect(r).toMatchObject({
            type: "data", tsNs: s.tsNs, startTicks: Number(s.startTicks), cpu: s.cpu, pid: s.pid, tid: s.tid,
            size: DATA_LAYOUT.size + s.payload.length + s.extra, connId: s.connId, totalLen: s.totalLen, offset: s.offset,
            fd: s.fd, syscall: syscalls[s.syscall], direction: s.direction,
            truncated: (s.flags & 1) !== 0, lastChunk: (s.flags & 2) !== 0, readFailed: (s.flags & 4) !== 0, gap: (s.flags & 8) !== 0,
          });
          expect(r.tuple).toMatchObject({ family: fam, protocol: s.tuple.protocol, lport: s.tuple.lport, rport: s.tuple.rport });
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

describe("encodeRecord", () => {
  it("round trips connection, process and listen records, every member", () => {
    const u32 = fc.nat({ max: 2 ** 32 - 1 });
    const head = fc.record({ tsNs: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }), startTicks: fc.nat(), cgroupId: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }), cpu: fc.nat({ max: 0xffff }), pid: u32, tid: u32 });
    const text = (max: number) => fc.string({ unit: fc.constantFrom(..."abcxyz-_./0123456789"), minLength: 1, maxLength: max });
    fc.assert(
      fc.property(head, fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }), fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }), u32, text(16), text(64), fc.array(text(20), { maxLength: 5 }), (h, connId, s32, n, comm, profile, cmdline) => {
        const tuple = { family: 6 as const, protocol: "udp" as const, laddr: "2001:db8::7", lport: n & 0xffff, raddr: "::ffff:10.1.2.3", rport: 53 };
        const conn = decodeRecord(encodeRecord({ type: "conn_close", ...h, connId, tuple, fd: s32, ret: -s32 | 0, syscall: "tcp_destroy", role: "server" }), 0) as ConnRecord;
        expect(conn).toMatchObject({ ...h, type: "conn_close", size: CONN_LAYOUT.size, connId, fd: s32, ret: -s32 | 0, syscall: "tcp_destroy", role: "server" });
        expect(conn.tuple).toEqual({ ...tuple, family: 6, raddr: "::ffff:a01:203" });
        const proc = decodeRecord(encodeRecord({ type: "proc_fork", ...h, ppid: n, optin: 4, exitCode: s32, comm, profile, profileName: profile.toUpperCase(), cmdline }), 0) as ProcRecord;
        expect(proc).toMatchObject({ ...h, type: "proc_fork", size: PROC_LAYOUT.size, ppid: n, optin: 4, exitCode: s32, comm, profile, profileName: profile.toUpperCase(), cmdline });
        const listen = decodeRecord(encodeRecord({ type: "listen_stop", ...h, tuple: { lport: 443 }, netns: n, v6only: true, comm }), 0) as ListenRecord;
        expect(listen).toMatchObject({ ...h, type: "listen_stop", size: LISTEN_LAYOUT.size, netns: n, v6only: true, comm, tuple: { family: 4, protocol: "tcp", laddr: "0.0.0.0", lport: 443 } });
      }),
      { seed: 7, numRuns: 300 },
    );
  });

  it("encodes a batch of record descriptions with this build's layouts, counting them", () => {
    const { header, records } = decodeBatch(
      encodeBatch({ partition: 3, seq: 9n, bootId: BOOT }, [
        { type: "conn_open", connId: 5n, tuple: TUPLE4, pid: 42 },
        { type: "data", connId: 5n, tuple: TUPLE4, pid: 42, direction: "ingress", payload: "HTTP/1.1 200 OK\r\n\r\n" },
      ]),
    );
    expect(header).toMatchObject({ version: 2, recordCount: 2, partition: 3, seq: 9n, flags: 0 });
    expect(records.map((r) => [r.type, r.pid, r.tid, r.size])).toEqual([["conn_open", 42, 42, CONN_LAYOUT.size], ["data", 42, 42, DATA_LAYOUT.size + 24]]);
    expect(records[1]).toMatchObject({ syscall: "read", direction: "ingress", lastChunk: true, totalLen: 19, offset: 0 });
  });

  it("refuses what the kernel could not have written", () => {
    expect(() => encodeRecord({ ...DATA, size: DATA_LAYOUT.size })).toThrow(RangeError);
    expect(() => encodeRecord({ type: "listen_start" }, 1)).toThrow(RangeError);
    expect(() => encodeRecord({ ...DATA, tuple: { laddr: "10.0.0.256" } })).toThrow(TypeError);
    expect(() => encodeRecord({ ...DATA, tuple: { family: 6, laddr: "1::2::3" } })).toThrow(TypeError);
    expect(() => encodeRecord(DATA, 3)).toThrow(WireFormatError);
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
