// io_uring on the real kernel (issue 9): a server whose socket sends and receives are io_uring operations. Their
// buffers are in the ring's submissions, not in a syscall's registers, so the socket-layer path (what
// ADI_CAPTURE_HOOKS=auto picks on 6.3+) records each one with its true length and no payload: a gap, syscall
// "io_uring". The syscall-tracepoint fallback (the e2e-syscall project runs this file again with
// ADI_TEST_CAPTURE_HOOKS=syscall) has no hook for io_uring: there the server's io_uring bytes are not in the stream
// at all, a documented limit this file checks rather than skips.
// The server is test/support/clients/uring-server.c, built here with cc and liburing (liburing-dev), opted in:
//   uring    accept, recv, send and close through the ring, "Connection: close", one curl per request: the
//            server's side is lengths only (no HTTP head is captured, so no server-side exchange); the curl
//            clients (ordinary syscalls, opted in) have every byte;
//   body     request read with recv(2), response head written with send(2), body alone with IORING_OP_SEND, three
//            requests on one keep-alive connection: the classifier frames each body across its gap by
//            Content-Length and pairs every response with its request;
//   eventfd  an IORING_OP_RECV that completes while the server is blocked in read(2) on the ring's eventfd.
import { execFileSync, spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { HttpExchange, AgentStatsFact, ConnRecord, DataRecord } from "@adi/shared/wire";
import { processEnv, run, sleep, startCapture, stopBackground } from "../../../test/support/capture.ts";
import { classify } from "../../../test/support/exchanges.ts";
import { freePort, NatsServerFixture } from "../../../test/support/nats-server.ts";
import { byteStream, readAllAndClose } from "../../../test/support/stream.ts";
import type { RawContents } from "../../../test/support/stream.ts";

const SERVER_SRC = fileURLToPath(new URL("../../../test/support/clients/uring-server.c", import.meta.url));
/** The kernel path under test: the e2e-syscall project forces the fallback (test/support/capture.ts). */
const SYSCALL_PATH = process.env.ADI_TEST_CAPTURE_HOOKS === "syscall";

const work = mkdtempSync(join(tmpdir(), "adi-uring-"));
const SERVER = join(work, "uring-server");

/** What uring-server.c sends for a body of n bytes: a-z repeated. */
const bodyOf = (n: number) => Buffer.from(Array.from({ length: n }, (_, i) => String.fromCharCode(97 + (i % 26))).join(""), "latin1");
const headOf = (n: number, close: boolean) => `HTTP/1.1 200 OK\r\nContent-Length: ${n}\r\n${close ? "Connection: close\r\n" : ""}\r\n`;
/** The classifier keeps at most this much of a body (its maxBodyBytes default); body_size counts all of it. */
const CLASSIFIER_BODY_MAX = 65536;

// Mode uring: one curl per request. 100,000 bytes is more than a capture chunk (16 KiB) and the classifier's
// body limit.
const URING_SIZES = [11, 5_000, 100_000];
// Mode body: one curl, three requests on one keep-alive connection.
const BODY_SIZES = [7, 20_000, 70_000];
// Mode eventfd: one request, sent 300 ms after the connection opens, so the server's recv has to wait for it.
const EVENTFD_SIZE = 5;
const EVENTFD_REQUEST = `GET /eventfd/${EVENTFD_SIZE} HTTP/1.1\r\nHost: uring\r\nConnection: close\r\n\r\n`;
const LATE_CLIENT = `
const s = require("node:net").connect(Number(process.argv[1]), "127.0.0.1", () => setTimeout(() => s.write(process.argv[2]), 300));
let n = 0;
s.on("data", (d) => (n += d.length));
s.on("end", () => { console.log(n); s.end(); });
`;

const optedIn = (name: string) => ({ cwd: work, env: processEnv({ ADI_PROFILE: "e2e", ADI_PROFILE_NAME: name }) });

type Mode = "uring" | "body" | "eventfd";
interface Server {
  child: ChildProcess;
  /** The server's own count of each connection's bytes ("conn <received> <sent>" lines). */
  conns: { recv: number; sent: number }[];
}

/** Starts the opted-in server and waits for `listening` (no probe connection to muddle its capture). */
async function serve(port: number, mode: Mode): Promise<Server> {
  const child = spawn(SERVER, [String(port), mode], { ...optedIn(`uring-${mode}`), stdio: ["ignore", "pipe", "pipe"] });
  const server: Server = { child, conns: [] };
  let out = "";
  let err = "";
  child.stderr!.on("data", (d: Buffer) => (err += d.toString()));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`uring-server ${mode} not ready in 10 s: ${out}${err}`)), 10_000);
    child.stdout!.on("data", (d: Buffer) => {
      out += d.toString();
      server.conns = [...out.matchAll(/^conn (\d+) (\d+)$/gm)].map((m) => ({ recv: Number(m[1]), sent: Number(m[2]) }));
      if (/^listening$/m.test(out)) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`uring-server ${mode} exited (${code}) before it was ready: ${out}${err}`));
    });
  });
  return server;
}

/** Waits until the server has counted `n` connections (it prints each once the connection is closed). */
async function counted(server: Server, n: number) {
  for (let i = 0; i < 100 && server.conns.length < n; i++) await sleep(20);
  if (server.conns.length !== n) throw new Error(`the server counted ${server.conns.length} connections, expected ${n}`);
  return server.conns;
}

async function curl(name: string, args: string[]) {
  const r = await run("curl", ["-sS", "--fail", ...args], optedIn(name));
  if (r.code !== 0) throw new Error(`${name} exited ${r.code}: ${r.stderr}`);
  return r;
}

let nats: NatsServerFixture;
let raw: RawContents;
let http: HttpExchange[];
/** The agent's loss counters at the end, for failure messages (a missing record may be a lost one). */
let losses = "";
/** A scenario whose workload itself failed: its tests fail with this, the others still run. */
const failures = new Map<string, unknown>();
const pids = { uring: 0, uringCurls: [] as number[], body: 0, bodyCurl: 0, eventfd: 0, lateClient: 0 };
const ports = { uring: 0, body: 0, eventfd: 0 };
const serverCounts: Record<Mode, Server["conns"]> = { uring: [], body: [], eventfd: [] };

async function scenario(name: Mode, body: (server: Server) => Promise<number>) {
  try {
    ports[name] = await freePort();
    const server = await serve(ports[name], name);
    try {
      pids[name] = server.child.pid!;
      serverCounts[name] = await counted(server, await body(server));
    } finally {
      await stopBackground(server.child);
    }
  } catch (e) {
    failures.set(name, e);
  }
}

beforeAll(async () => {
  execFileSync("cc", ["-O2", "-Wall", "-o", SERVER, SERVER_SRC, "-luring"], { stdio: ["ignore", "ignore", "pipe"] });
  nats = await NatsServerFixture.start();
  const cap = await startCapture(nats.url, { ADI_PAYLOAD_LIMIT: String(256 * 1024) });
  try {
    await scenario("uring", async () => {
      for (const n of URING_SIZES) {
        const out = join(work, `uring-${n}`);
        const r = await curl(`curl-uring-${n}`, ["-o", out, `http://127.0.0.1:${ports.uring}/uring/${n}`]);
        if (!readFileSync(out).equals(bodyOf(n))) throw new Error(`curl downloaded a different body of ${n} bytes`);
        pids.uringCurls.push(r.pid);
      }
      return URING_SIZES.length;
    });

    await scenario("body", async () => {
      const url = (n: number) => `http://127.0.0.1:${ports.body}/body/${n}`;
      const files = BODY_SIZES.flatMap((n) => ["-o", join(work, `body-${n}`), url(n)]);
      const r = await curl("curl-body", ["-w", "%{http_code} %{size_download} %{num_connects}\\n", ...files]);
      const got = r.stdout.trim().split("\n");
      // One connection for the three (num_connects 1, then 0: reused).
      if (got.join(",") !== BODY_SIZES.map((n, i) => `200 ${n} ${i === 0 ? 1 : 0}`).join(",")) throw new Error(`curl got ${got.join(",")}`);
      for (const n of BODY_SIZES) if (!readFileSync(join(work, `body-${n}`)).equals(bodyOf(n))) throw new Error(`curl downloaded a different body of ${n} bytes`);
      pids.bodyCurl = r.pid;
      return 1;
    });

    await scenario("eventfd", async () => {
      const r = await run(process.execPath, ["-e", LATE_CLIENT, String(ports.eventfd), EVENTFD_REQUEST], optedIn("late-client"));
      const want = headOf(EVENTFD_SIZE, true).length + EVENTFD_SIZE;
      if (r.code !== 0 || r.stdout.trim() !== String(want)) throw new Error(`late client exited ${r.code}, received ${r.stdout.trim()} bytes (expected ${want}): ${r.stderr}`);
      pids.lateClient = r.pid;
      return 1;
    });
    await sleep(200);
  } finally {
    const stats: AgentStatsFact = cap.agent.stats();
    losses = JSON.stringify({ kernel: stats.kernel.drops, user: { batches_dropped: stats.user.batches_dropped, events_dropped: stats.user.events_dropped } });
    await cap.stop();
  }
  ({ raw } = await readAllAndClose(cap.nc));
  http = classify(raw).http;
}, 120_000);

afterAll(async () => {
  await nats?.stop();
});

const workloadRan = (name: Mode) => {
  const e = failures.get(name);
  expect(e instanceof Error ? e.stack : e, `${name} workload`).toBeUndefined();
};
const exchangesOf = (pid: number) => http.filter((x) => x.pid === pid);
const tcpOf = (pid: number) => raw.data.filter((d) => d.pid === pid && d.tuple.protocol === "tcp");
/** Bytes the kernel says the calls moved (each call's total once) and the payload bytes captured. */
function moved(records: readonly DataRecord[]) {
  return {
    total: records.filter((d) => d.lastChunk).reduce((n, d) => n + d.totalLen, 0),
    captured: records.reduce((n, d) => n + d.payload.length, 0),
  };
}
/** One line per record, for failure messages: what the kernel reported. */
const show = (records: readonly DataRecord[]) =>
  records.map(
    (d) =>
      `pid ${d.pid} ${d.direction} ${d.syscall} fd ${d.fd} ${d.tuple.lport}->${d.tuple.rport} total ${d.totalLen} offset ${d.offset} ` +
      `payload ${JSON.stringify(d.payload.subarray(0, 24).toString("latin1"))}${d.payload.length > 24 ? "..." : ""} (${d.payload.length})` +
      `${d.gap ? " gap" : ""}${d.lastChunk ? " last" : ""}`,
  );
/** The client process's local port: its requests' source port, the server's remote port. */
const clientPort = (pid: number) => tcpOf(pid).find((d) => d.direction === "egress")!.tuple.lport;

describe("uring mode: accept, recv, send and close through the ring", () => {
  /** The server's records of the connection from curl `pid`. */
  const serverRecordsFor = (pid: number) => tcpOf(pids.uring).filter((d) => d.tuple.rport === clientPort(pid));

  it("has every response whole in the curl clients' view (ordinary syscalls)", () => {
    workloadRan("uring");
    for (const [i, n] of URING_SIZES.entries()) {
      const pid = pids.uringCurls[i]!;
      const client = exchangesOf(pid);
      expect(client).toHaveLength(1);
      expect(client[0]!.request).toMatchObject({ method: "GET", target: `/uring/${n}` });
      expect(client[0]!.response).toMatchObject({ status: 200, body_size: n, body_truncated: n > CLASSIFIER_BODY_MAX });
      expect(client[0]!.response!.body).toBe(bodyOf(Math.min(n, CLASSIFIER_BODY_MAX)).toString("latin1"));
      // Every byte curl received was captured, no more.
      const expected = Buffer.concat([Buffer.from(headOf(n, true)), bodyOf(n)]);
      expect(byteStream(raw.data, pid, "ingress").equals(expected), `curl ${n}`).toBe(true);
      expect(moved(tcpOf(pid).filter((d) => d.direction === "ingress"))).toEqual({ total: expected.length, captured: expected.length });
    }
  });

  if (SYSCALL_PATH) {
    it("has no record of the server's io_uring traffic on the syscall path (no io_uring hook: a documented limit)", () => {
      workloadRan("uring");
      expect(show(tcpOf(pids.uring))).toEqual([]);
      expect(exchangesOf(pids.uring)).toEqual([]);
    });
  } else {
    it("records each io_uring receive and send of the server with its true length, as a gap without payload", () => {
      workloadRan("uring");
      const mine = tcpOf(pids.uring);
      expect(mine.length, `no record of the server; agent losses ${losses}`).toBeGreaterThan(0);
      const notGap = mine.filter((d) => d.syscall !== "io_uring" || !d.gap || !d.lastChunk || d.offset !== 0 || d.payload.length !== 0);
      expect(show(notGap)).toEqual([]);
      expect(new Set(mine.map((d) => d.connId)).size).toBe(URING_SIZES.length);
      for (const [i, n] of URING_SIZES.entries()) {
        const pid = pids.uringCurls[i]!;
        const records = serverRecordsFor(pid);
        expect(new Set(records.map((d) => d.connId)).size, `connection of curl ${n}`).toBe(1);
        const request = byteStream(raw.data, pid, "egress");
        const received = moved(records.filter((d) => d.direction === "ingress"));
        const sent = moved(records.filter((d) => d.direction === "egress"));
        // What the server received is what curl sent; what it sent is the head and the N bytes.
        expect(received, `request of curl ${n}: ${show(records).join("; ")}`).toEqual({ total: request.length, captured: 0 });
        expect(sent, `response to curl ${n}: ${show(records).join("; ")}`).toEqual({ total: headOf(n, true).length + n, captured: 0 });
        // And it is the server's own count of the connection.
        expect(serverCounts.uring[i]).toEqual({ recv: received.total, sent: sent.total });
      }
    });

    it("opens each connection accepted through the ring as the server's", () => {
      workloadRan("uring");
      const opens = raw.records.filter((r): r is ConnRecord => r.type === "conn_open" && r.pid === pids.uring);
      expect(opens.map((r) => [r.role, r.tuple.lport, r.tuple.rport]).sort()).toEqual(
        pids.uringCurls.map((pid) => ["server", ports.uring, clientPort(pid)]).sort(),
      );
    });

    it("makes no server-side exchange out of lengths alone (neither head was captured)", () => {
      workloadRan("uring");
      expect(exchangesOf(pids.uring)).toEqual([]);
    });
  }
});

describe("body mode: head by send(2), body by IORING_OP_SEND, three requests on one keep-alive connection", () => {
  const targets = BODY_SIZES.map((n) => `/body/${n}`);

  it("has every response whole in the curl client's view", () => {
    workloadRan("body");
    const client = exchangesOf(pids.bodyCurl);
    expect(client.map((x) => [x.seq, x.request.target])).toEqual(targets.map((t, i) => [i, t]));
    for (const [i, n] of BODY_SIZES.entries()) {
      expect(client[i]!.response).toMatchObject({ status: 200, body_size: n, body_truncated: n > CLASSIFIER_BODY_MAX });
      expect(client[i]!.response!.body).toBe(bodyOf(Math.min(n, CLASSIFIER_BODY_MAX)).toString("latin1"));
    }
    const expected = Buffer.concat(BODY_SIZES.flatMap((n) => [Buffer.from(headOf(n, false)), bodyOf(n)]));
    expect(byteStream(raw.data, pids.bodyCurl, "ingress").equals(expected)).toBe(true);
  });

  it("has every request whole in the server's view (recv(2))", () => {
    workloadRan("body");
    const received = tcpOf(pids.body).filter((d) => d.direction === "ingress");
    expect(byteStream(raw.data, pids.body, "ingress").equals(byteStream(raw.data, pids.bodyCurl, "egress"))).toBe(true);
    expect(moved(received).total).toBe(serverCounts.body[0]!.recv);
    expect(exchangesOf(pids.body).map((x) => x.request.target)).toEqual(targets);
  });

  if (SYSCALL_PATH) {
    it("has the server's heads but not its io_uring bodies on the syscall path (no io_uring hook, no gap either)", () => {
      workloadRan("body");
      const sent = tcpOf(pids.body).filter((d) => d.direction === "egress");
      expect(show(sent.filter((d) => d.syscall === "io_uring"))).toEqual([]);
      const heads = BODY_SIZES.map((n) => headOf(n, false)).join("");
      expect(byteStream(raw.data, pids.body, "egress").toString("latin1")).toBe(heads);
      expect(moved(sent)).toEqual({ total: heads.length, captured: heads.length });
      // The server sent more than the stream holds: its bodies.
      expect(serverCounts.body[0]!.sent).toBe(heads.length + BODY_SIZES.reduce((a, b) => a + b, 0));
    });
  } else {
    it("records each head as sent and each body as an io_uring gap of its true length", () => {
      workloadRan("body");
      const sent = tcpOf(pids.body).filter((d) => d.direction === "egress");
      const heads = sent.filter((d) => d.syscall !== "io_uring");
      const bodies = sent.filter((d) => d.syscall === "io_uring");
      expect(Buffer.concat(heads.map((d) => d.payload)).toString("latin1")).toBe(BODY_SIZES.map((n) => headOf(n, false)).join(""));
      expect(show(heads.filter((d) => d.gap || d.truncated))).toEqual([]);
      expect(show(bodies.filter((d) => !d.gap || !d.lastChunk || d.payload.length !== 0))).toEqual([]);
      expect(moved(bodies).total).toBe(BODY_SIZES.reduce((a, b) => a + b, 0));
      expect(moved(sent).total).toBe(serverCounts.body[0]!.sent);
      // In stream order: head, then the body's gap(s), for each response.
      const order = sent.map((d) => (d.syscall === "io_uring" ? "body" : "head")).filter((k, i, a) => k !== a[i - 1]);
      expect(order).toEqual(BODY_SIZES.flatMap(() => ["head", "body"]));
    });

    it("frames each response across its body's gap by Content-Length and pairs it with its request", () => {
      workloadRan("body");
      const server = exchangesOf(pids.body);
      const client = exchangesOf(pids.bodyCurl);
      expect(server.map((x) => [x.seq, x.request.target])).toEqual(targets.map((t, i) => [i, t]));
      expect(new Set(server.map((x) => x.conn_id)).size).toBe(1);
      for (const [i, n] of BODY_SIZES.entries()) {
        const x = server[i]!;
        expect(x.side).toBe("server");
        expect(x.response, x.request.target).toMatchObject({ status: 200, body_size: n, body_truncated: true, body: null });
        expect(x.response!.headers).toEqual([["Content-Length", String(n)]]);
        // Both ends describe the same call.
        expect([x.client, x.server]).toEqual([client[i]!.client, client[i]!.server]);
        expect(x.server).toEqual({ ip: "127.0.0.1", port: ports.body });
      }
    });
  }
});

describe("eventfd mode: an IORING_OP_RECV completed while the server is blocked in read(2) on the ring's eventfd", () => {
  const received = () => tcpOf(pids.eventfd).filter((d) => d.direction === "ingress");

  it("has the response, sent with send(2), whole on both ends", () => {
    workloadRan("eventfd");
    const expected = headOf(EVENTFD_SIZE, true) + bodyOf(EVENTFD_SIZE).toString("latin1");
    expect(byteStream(raw.data, pids.eventfd, "egress").toString("latin1"), `agent losses ${losses}`).toBe(expected);
    expect(byteStream(raw.data, pids.lateClient, "ingress").toString("latin1")).toBe(expected);
    expect(byteStream(raw.data, pids.lateClient, "egress").toString("latin1")).toBe(EVENTFD_REQUEST);
    expect(serverCounts.eventfd[0]).toEqual({ recv: EVENTFD_REQUEST.length, sent: expected.length });
  });

  if (SYSCALL_PATH) {
    it("has no record of the io_uring receive on the syscall path (no io_uring hook)", () => {
      workloadRan("eventfd");
      expect(show(received())).toEqual([]);
    });
  } else {
    it("records the receive with its true length", () => {
      workloadRan("eventfd");
      expect(moved(received()).total, `${show(received()).join("; ")}; agent losses ${losses}`).toBe(EVENTFD_REQUEST.length);
    });

    // The recv completes in io_uring task work on the way out of read(2) of the eventfd: the saved registers are
    // that read's (fd = the eventfd, buffer "EVENTFD!"). bpf/common/syscall_regs.h trusts them only when their fd
    // is the socket being reported, so this is an io_uring gap without payload, not the eventfd's bytes.
    it("records the receive as an io_uring gap, not as bytes of the read(2) it completed under", () => {
      workloadRan("eventfd");
      const wrong = received().filter((d) => d.syscall !== "io_uring" || !d.gap || d.payload.length !== 0);
      expect(show(wrong)).toEqual([]);
    });
  }
});
