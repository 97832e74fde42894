// Capture-time redaction: when ADI_CAPTURE_REDACT turns it on, and how raw messages are masked in place.
import { describe, expect, it } from "vitest";
import { decodeBatch, encodeBatch } from "@adi/shared/wire";
import type { DataRecord } from "@adi/shared/wire";
import { BOOT, connClose, connOpen, dataRecord } from "../../classifier/test/support/raw-batches.ts";
import { RedactionPolicy } from "@adi/shared/redaction";
import { captureRedaction, RawBatchMasker } from "../src/core/capture-redaction.ts";

const batch = (records: Buffer[]) => encodeBatch({ recordCount: records.length, partition: 0, flags: 0, seq: 1n, bootId: BOOT }, records);
const payloads = (b: Buffer) => decodeBatch(b).records.filter((r): r is DataRecord => r.type === "data").map((r) => r.payload.toString("latin1"));

describe("captureRedaction", () => {
  it.each([
    ["auto", undefined, false],
    ["auto", ["nats://127.0.0.1:4222"], false],
    ["auto", ["127.8.9.10:4222", "localhost:4223", "nats://[::1]:4224", "tls://user:pw@LOCALHOST:4225"], false],
    ["auto", ["nats://u:p@10.0.0.5:4222"], true],
    ["auto", ["127.0.0.1:4222", "nats.example.com:4222"], true],
    ["auto", ["nats://127.0.0.1.example.com:4222"], true],
    ["on", undefined, true],
    ["off", ["nats://10.0.0.5:4222"], false],
  ] as const)("%s with NATS_URL %j: on is %s", (mode, servers, on) => {
    expect(captureRedaction({ captureRedact: mode, natsServers: servers }).on).toBe(on);
  });
});

describe("RawBatchMasker", () => {
  it("masks a password split over two messages, in place, and forgets the connection at its close", () => {
    const m = new RawBatchMasker();
    const first = batch([connOpen(1n, 6379, 1n), dataRecord(1n, 6379, "egress", "*2\r\n$4\r\nAUTH\r\n$6\r\nsec", 2n)]);
    const second = batch([dataRecord(1n, 6379, "egress", "ret\r\n", 3n), dataRecord(1n, 6379, "ingress", "+OK\r\n", 4n)]);
    const [l1, l2] = [first.length, second.length];
    expect(m.maskBatch(first)).toBe(1);
    expect(m.maskBatch(second)).toBe(1);
    expect([first.length, second.length]).toEqual([l1, l2]);
    expect(payloads(first)).toEqual(["*2\r\n$4\r\nAUTH\r\n$6\r\n***"]);
    expect(payloads(second)).toEqual(["***\r\n", "+OK\r\n"]);
    expect(m.size).toBe(1);
    m.maskBatch(batch([connClose(1n, 6379, 5n)]));
    expect(m.size).toBe(0);
  });

  it("reads a server socket's ingress as the client's bytes", () => {
    const open = connOpen(2n, 8080, 1n, 7, "server");
    const b = batch([open, dataRecord(2n, 8080, "ingress", "GET / HTTP/1.1\r\nCookie: s=abc\r\n\r\n", 2n), dataRecord(2n, 8080, "egress", "HTTP/1.1 204 No Content\r\nSet-Cookie: t=xyz; Path=/\r\n\r\n", 3n)]);
    expect(new RawBatchMasker().maskBatch(b)).toBe(2);
    expect(payloads(b)).toEqual(["GET / HTTP/1.1\r\nCookie: s=***\r\n\r\n", "HTTP/1.1 204 No Content\r\nSet-Cookie: t=***; Path=/\r\n\r\n"]);
  });

  it("follows a bounded number of connections, the oldest forgotten first", () => {
    const m = new RawBatchMasker({ maxConnections: 2 });
    m.maskBatch(batch([connOpen(1n, 80, 1n), connOpen(2n, 80, 2n), connOpen(3n, 80, 3n)]));
    expect(m.size).toBe(2);
  });

  it("leaves traffic no rule opens untouched", () => {
    const b = batch([connOpen(4n, 22, 1n), dataRecord(4n, 22, "ingress", "SSH-2.0-OpenSSH_9.2\r\n", 2n), dataRecord(4n, 22, "egress", "AUTH secret\r\n", 3n)]);
    const before = Buffer.from(b);
    expect(new RawBatchMasker().maskBatch(b)).toBe(0);
    expect(b.equals(before)).toBe(true);
  });

  it("searches a protocol no rule knows by the value rules, same length, in its first 64 KiB per side", () => {
    const policy = RedactionPolicy.DEFAULT;
    const m = new RawBatchMasker({ names: policy.names, maskValues: (t) => policy.maskValues(t) });
    const key = "sk_live_" + "Zz9Yy8Xx7Ww6Vv5Uu4Tt3Ss2";
    const b = batch([connOpen(5n, 7777, 1n), dataRecord(5n, 7777, "egress", `ACME1 ${key} v1\n`, 2n), dataRecord(5n, 7777, "ingress", `WELCOME ${key}\n`, 3n)]);
    const length = b.length;
    expect(m.maskBatch(b)).toBe(2);
    expect(b.length).toBe(length);
    const masked = `sk_live_${"*".repeat(key.length - 8)}`;
    expect(payloads(b)).toEqual([`ACME1 ${masked} v1\n`, `WELCOME ${masked}\n`]);
    // Past the scanned bytes of a side, nothing is searched any more.
    const big = batch([dataRecord(5n, 7777, "egress", "x".repeat(70_000), 4n), dataRecord(5n, 7777, "egress", `AGAIN ${key}\n`, 5n)]);
    expect(m.maskBatch(big)).toBe(0);
    expect(payloads(big)[1]).toBe(`AGAIN ${key}\n`);
  });
});
