// A real client and a real server that nobody here wrote (curl and python3 -m http.server), both opted in:
// the stream must hold the request and response bytes seen from both sides, with correct 4-tuples,
// directions and lengths, over IPv4 and IPv6, and a 200 KiB body complete up to the payload limit.
// The server listens dual-stack on [::], so its IPv4 connections are v4-mapped IPv6 sockets
// that the kernel side must report as plain IPv4. (Binding it to ::1 instead would make it look up its own
// name in DNS at start.)
import { randomBytes } from "node:crypto";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { DataRecord, ListenersFact, ProcessFact } from "@adi/shared/wire";
import { partitionOf } from "@adi/shared/wire";
import { freePort, NatsServerFixture, waitForPort } from "../../../test/support/nats-server.ts";
import { byteStream, readAllAndClose, readFacts } from "../../../test/support/stream.ts";
import type { RawContents } from "../../../test/support/stream.ts";
import { processEnv, run, sleep, startBackground, startCapture, stopBackground } from "../../../test/support/capture.ts";

const BIG = 200 * 1024;
const docroot = mkdtempSync(join(tmpdir(), "adi-www-"));
const small = JSON.stringify({ hello: "world", n: 42 });
const big = randomBytes(BIG);
writeFileSync(join(docroot, "small.json"), small);
writeFileSync(join(docroot, "big.bin"), big);

let nats: NatsServerFixture;
let raw: RawContents;
let facts: ProcessFact[];
let listeners: ListenersFact[];
const port = await freePort();
const pids = { server: 0, curlSmall: 0, curlBig: 0, curl6: 0 };

beforeAll(async () => {
  nats = await NatsServerFixture.start();
  const cap = await startCapture(nats.url, { ADI_PAYLOAD_LIMIT: String(256 * 1024) });
  const optedIn = (name: string) => ({ cwd: docroot, env: processEnv({ ADI_PROFILE: "e2e", ADI_PROFILE_NAME: name }) });
  const server = startBackground("python3", ["-m", "http.server", String(port), "--bind", "::"], optedIn("py"));
  try {
    await waitForPort(port);
    await waitForPort(port, "::1");
    pids.server = server.pid!;
    const curl = (url: string, name: string) => run("curl", ["-sS", "--fail", "-o", "/dev/null", url], optedIn(name));
    const a = await curl(`http://127.0.0.1:${port}/small.json`, "curl-small");
    const b = await curl(`http://127.0.0.1:${port}/big.bin`, "curl-big");
    const c = await curl(`http://[::1]:${port}/small.json`, "curl-6");
    for (const r of [a, b, c]) expect(r.code, r.stderr).toBe(0);
    pids.curlSmall = a.pid;
    pids.curlBig = b.pid;
    pids.curl6 = c.pid;
    await sleep(200);
  } finally {
    await stopBackground(server);
    await cap.stop();
  }
  listeners = (await readFacts(cap.nc)).filter((f): f is ListenersFact => f.type === "listeners");
  ({ raw, facts } = await readAllAndClose(cap.nc));
});

afterAll(async () => {
  await nats?.stop();
});

// TCP only: depending on the host's /etc/hosts, python's http.server may look its own name up in DNS (UDP).
const ofPid = (pid: number) => raw.data.filter((d) => d.pid === pid && d.tuple.protocol === "tcp");
/** The server's records of the connection on which it received `firstLine`. */
const serverConn = (firstLine: string) => {
  const conn = ofPid(pids.server).find((d) => d.direction === "ingress" && d.payload.toString().startsWith(firstLine))!.connId;
  return { conn, records: ofPid(pids.server).filter((d) => d.connId === conn) };
};
const connOf = (records: DataRecord[]) => [...new Set(records.map((r) => r.connId))];

describe("HTTP over IPv4, seen from both ends", () => {
  it("holds the request as the client sent it and as the server received it", () => {
    const sent = byteStream(raw.data, pids.curlSmall, "egress").toString();
    expect(sent).toMatch(/^GET \/small\.json HTTP\/1\.1\r\nHost: 127\.0\.0\.1:\d+\r\n/);
    const received = byteStream(raw.data, pids.server, "ingress", serverConn("GET /small.json HTTP/1.1\r\nHost: 127").conn);
    expect(received.toString()).toBe(sent);
  });

  it("holds the response as the server sent it and as the client received it", () => {
    const got = byteStream(raw.data, pids.curlSmall, "ingress").toString();
    expect(got).toMatch(/^HTTP\/1\.0 200 OK\r\n/);
    expect(got.endsWith(`\r\n\r\n${small}`)).toBe(true);
    const { conn } = serverConn("GET /small.json HTTP/1.1\r\nHost: 127");
    expect(byteStream(raw.data, pids.server, "egress", conn).toString()).toBe(got);
  });

  it("gives both ends the same 4-tuple, mirrored, from the kernel's socket (v4-mapped on the server, as IPv4)", () => {
    const client = ofPid(pids.curlSmall);
    const server = serverConn("GET /small.json HTTP/1.1\r\nHost: 127").records;
    expect(connOf(client)).toHaveLength(1);
    const ct = client[0]!.tuple, st = server[0]!.tuple;
    expect(ct).toMatchObject({ family: 4, protocol: "tcp", laddr: "127.0.0.1", raddr: "127.0.0.1", rport: port });
    expect(st).toEqual({ ...ct, laddr: ct.raddr, lport: ct.rport, raddr: ct.laddr, rport: ct.lport });
    expect(ct.lport).toBeGreaterThan(0);
  });

  it("records lengths: each syscall's true length, offsets that tile it, nothing truncated below the limit", () => {
    for (const d of [...ofPid(pids.curlSmall), ...ofPid(pids.server)]) {
      expect(d.truncated).toBe(false);
      expect(d.offset + d.payload.length).toBeLessThanOrEqual(d.totalLen);
      if (d.lastChunk) expect(d.offset + d.payload.length).toBe(d.totalLen);
    }
    const sent = ofPid(pids.curlSmall).filter((d) => d.direction === "egress");
    expect(sent.filter((d) => d.lastChunk).reduce((n, d) => n + d.totalLen, 0)).toBe(byteStream(raw.data, pids.curlSmall, "egress").length);
  });

  it("sees the three exchanges as six TCP connections, one per end, and no other TCP traffic", () => {
    const tcp = raw.data.filter((d) => d.tuple.protocol === "tcp");
    expect(tcp.every((d) => d.tuple.rport * d.tuple.lport > 0)).toBe(true);
    expect(new Set(tcp.map((d) => d.connId)).size).toBe(6);
  });

  it("uses wall-clock timestamps (not boot-relative)", () => {
    const now = BigInt(Date.now()) * 1_000_000n;
    for (const d of ofPid(pids.curlSmall)) {
      expect(d.tsNs).toBeGreaterThan(now - 600_000_000_000n);
      expect(d.tsNs).toBeLessThanOrEqual(now);
    }
  });

  it("opens and closes each connection with one id", () => {
    const conn = connOf(ofPid(pids.curlSmall))[0]!;
    const events = raw.records.filter((r) => (r.type === "conn_open" || r.type === "conn_close") && r.connId === conn);
    expect(events.map((e) => e.type)).toEqual(["conn_open", "conn_close"]);
    expect(events[0]).toMatchObject({ role: "client", syscall: "connect", pid: pids.curlSmall });
    const accepted = raw.records.find((r) => r.type === "conn_open" && r.connId === serverConn("GET /small.json").conn);
    // The syscall path sees accept(); the socket path opens it at its first receive. Either way the kernel says server.
    expect(accepted).toMatchObject({ role: "server", pid: pids.server, syscall: expect.stringMatching(/^(accept4?|read|recvfrom|recvmsg|readv)$/) });
  });
});

describe("raw messages", () => {
  it("hold one partition each, every socket record in its connection's partition (the addon's split = partitionOf)", () => {
    expect(raw.batches.length).toBeGreaterThan(0);
    for (const b of raw.batches) {
      expect(b.subject.split(".").at(-1), b.subject).toBe(String(b.header.partition));
      expect(b.header.version).toBe(2);
      for (const r of b.records) {
        if (r.type === "data" || r.type === "conn_open" || r.type === "conn_close") expect(partitionOf(r.connId, 16)).toBe(b.header.partition);
        else throw new Error(`${r.type} record in a raw message`);
      }
    }
    // batch sequence numbers are unique per agent
    const seqs = raw.batches.map((b) => b.header.seq);
    expect(new Set(seqs).size).toBe(seqs.length);
  });
});

describe("a 200 KiB body", () => {
  it("arrives complete on both sides, up to the configured limit", () => {
    const body = (b: Buffer) => b.subarray(b.indexOf("\r\n\r\n") + 4);
    const received = byteStream(raw.data, pids.curlBig, "ingress");
    expect(body(received).length).toBe(BIG);
    expect(body(received).equals(big)).toBe(true);
    const { conn } = serverConn("GET /big.bin");
    expect(body(byteStream(raw.data, pids.server, "egress", conn)).equals(big)).toBe(true);
  });
});

describe("HTTP over IPv6", () => {
  it("carries IPv6 4-tuples on both ends", () => {
    const client = ofPid(pids.curl6);
    expect(byteStream(raw.data, pids.curl6, "egress").toString()).toMatch(/^GET \/small\.json HTTP\/1\.1\r\nHost: \[::1\]:\d+/);
    expect(client[0]!.tuple).toMatchObject({ family: 6, laddr: "::1", raddr: "::1", rport: port });
    const server = serverConn("GET /small.json HTTP/1.1\r\nHost: [::1]").records;
    expect(server[0]!.tuple).toMatchObject({ family: 6, laddr: "::1", lport: port, raddr: "::1", rport: client[0]!.tuple.lport });
  });
});

describe("process facts", () => {
  it("names every opted-in process with its ADI_PROFILE and ADI_PROFILE_NAME", () => {
    const byPid = new Map(facts.filter((f) => f.event === "exec").map((f) => [f.pid, f]));
    expect(byPid.get(pids.server)).toMatchObject({ adi_profile_match: "e2e", adi_profile_name: "py", optin: "yes" });
    expect(byPid.get(pids.curlBig)).toMatchObject({ adi_profile_match: "e2e", adi_profile_name: "curl-big" });
    expect(byPid.get(pids.server)!.cmdline).toContain("http.server");
    expect(byPid.get(pids.server)!.env.ADI_PROFILE_NAME).toBe("py");
  });

  it("names the host's listeners, found as soon as a client connects to a new local port", () => {
    const entry = listeners.flatMap((l) => l.listeners).find((l) => l.port === port);
    expect(entry).toMatchObject({ ip: "::", pid: pids.server, comm: "python3", adi_profile_name: "py" });
  });

  it("reports each process's exit with the same identity (pid + start ticks)", () => {
    for (const pid of [pids.curlSmall, pids.server]) {
      const exec = facts.find((f) => f.pid === pid && f.event === "exec")!;
      const exit = facts.find((f) => f.pid === pid && f.event === "exit");
      expect(exit).toMatchObject({ start_ticks: exec.start_ticks, boot_id: exec.boot_id });
    }
  });
});
