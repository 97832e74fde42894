// Capture at the edges (issue 9's break-it findings), each checked on the real kernel with real programs, through
// the captured stream decoded by the real classifier engine (the e2e-syscall project runs this file again on the
// syscall-tracepoint path; every assertion holds on both):
//   1. the opt-in walk reads each environment variable whole: a long value holding "ADI_PROFILE=...",
//      "ADI_PROFILE_DISABLED=1" or "ADI_PROFILE_NAME=..." at its 257th byte is a value, not a variable;
//   2. one writev(2) / sendmsg(2) of 1,001 iovecs is recorded whole;
//   3. what recvmsg(MSG_ERRQUEUE) returns (looped-back packets of SO_TIMESTAMPING) is not received data;
//   4. ADI_PROFILE_ALLOWED compares whole values (a 70-character profile, not its first 63 characters);
//   5. ADI_PROFILE given twice: the first one counts, as getenv(3) reads it;
//   6. a request read after its client reset the connection keeps its ports;
//   7. a dual-stack UDP server's IPv4 peer is 127.0.0.1, not ::ffff:127.0.0.1;
//   8. a server that reads its request one byte per read(2) still has an HTTP exchange;
//   9. preadv2/pwritev2 at offset -1 on a socket are socket traffic.
// The agent runs in this process with ADI_PROFILE_ALLOWED set to this file's own profile values, so other
// opted-in load on the host is not captured; records are still picked by the pids this file started.
import { execFileSync, spawn } from "node:child_process";
import type { ChildProcess, SpawnOptions } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ConnectionObservation, HttpExchange, ProcessFact, ConnRecord, DataRecord, RawRecord } from "@adi/shared/wire";
import { processEnv, run, sleep, startCapture, stopBackground } from "../../../test/support/capture.ts";
import { classify } from "../../../test/support/exchanges.ts";
import { freePort, NatsServerFixture } from "../../../test/support/nats-server.ts";
import { byteStream, readAllAndClose } from "../../../test/support/stream.ts";
import type { RawContents } from "../../../test/support/stream.ts";

const CLIENTS = fileURLToPath(new URL("../../../test/support/clients/", import.meta.url));
// The interpreter itself, not a version-manager shim: a shim's helper processes would share the inetd socket,
// and the execve-env.py cases need the exec'd program to keep the spawned pid.
const PYTHON = execFileSync("python3", ["-c", "import sys; print(sys.executable)"], { encoding: "utf8" }).trim();
const CURL = execFileSync("which", ["curl"], { encoding: "utf8" }).trim();
const TRUE = execFileSync("which", ["true"], { encoding: "utf8" }).trim();

/** This file's ADI_PROFILE value: the agent admits it (and LONG_ALLOWED) only. */
const PROFILE = `edges${randomBytes(4).toString("hex")}`;
/** A 70-character profile in ADI_PROFILE_ALLOWED, and one that differs from it in its last character only. */
const LONG_ALLOWED = `${PROFILE}-${"x".repeat(70 - PROFILE.length - 2)}A`;
const LONG_OTHER = `${LONG_ALLOWED.slice(0, -1)}B`;
/** A profile the agent does not admit. */
const NOT_ALLOWED = `${PROFILE}-not-allowed`;
/** 254 characters: with the 2 of "X=", the 257th byte of the variable is the first of what follows. */
const PAD = `${"A".repeat(253)}B`;

const work = mkdtempSync(join(tmpdir(), "adi-edges-"));
// The error-queue case's file: JSON of ~1.5 KB, larger than the 200 bytes the client reads before draining.
const bigDoc = JSON.stringify({ items: Array.from({ length: 100 }, (_, i) => ({ id: i })) });
writeFileSync(join(work, "big.json"), bigDoc);
writeFileSync(join(work, "small"), "small\n");
// iov-server.py's body: 1,000 pieces "00000," .. "00999,".
const iovBody = Array.from({ length: 1000 }, (_, i) => `${String(i).padStart(5, "0")},`).join("");
const RWV2 = join(work, "rwv2-server");

const optedIn = (name: string, profile = PROFILE): SpawnOptions => ({ cwd: work, env: processEnv({ ADI_PROFILE: profile, ADI_PROFILE_NAME: name }) });

/** Starts a server and waits for `ready` on its stdout or stderr (no probe connection to muddle its capture). */
async function serve(cmd: string, args: string[], opts: SpawnOptions, ready: RegExp): Promise<{ child: ChildProcess; output: () => string }> {
  const child = spawn(cmd, args, { ...opts, stdio: ["ignore", "pipe", "pipe"] });
  let seen = "";
  child.stdout!.on("data", (d: Buffer) => (seen += d.toString()));
  child.stderr!.on("data", (d: Buffer) => (seen += d.toString()));
  await new Promise<void>((resolve, reject) => {
    const timer = setInterval(() => {
      if (ready.test(seen)) {
        clearInterval(timer);
        resolve();
      }
    }, 10);
    setTimeout(() => {
      clearInterval(timer);
      reject(new Error(`${cmd} not ready in 10 s: ${seen}`));
    }, 10_000);
    child.once("exit", (code) => {
      clearInterval(timer);
      reject(new Error(`${cmd} exited (${code}) before it was ready: ${seen}`));
    });
  });
  return { child, output: () => seen };
}

async function ok(cmd: string, args: string[], opts: SpawnOptions) {
  const r = await run(cmd, args, { ...opts, timeout: 20_000 });
  if (r.code !== 0) throw new Error(`${cmd} ${args.join(" ")} exited ${r.code}: ${r.stderr}`);
  return r;
}

/** Runs PROGRAM with exactly `entries` as its environment, in that order (duplicates kept), in the spawned pid. */
function withEnv(entries: string[], program: string, args: readonly string[]) {
  return ok(PYTHON, [join(CLIENTS, "execve-env.py"), ...entries, "--", program, ...args], { env: processEnv({}) });
}

let nats: NatsServerFixture;
let raw: RawContents;
let facts: ProcessFact[];
let http: HttpExchange[];
let connections: ConnectionObservation[];
/** A scenario whose workload itself failed: its tests fail with this, the others still run. */
const failures = new Map<string, unknown>();
const pids = {
  // 1. environment chunks (curl to a server in this process, which is not opted in)
  notOptedInLongValue: 0,
  optedInLongValue: 0,
  nameSpoofAfter: 0,
  nameSpoofBefore: 0,
  nameSpoofTrue: [] as number[],
  // 2.
  iovServer: 0,
  iovCurls: { writev: 0, sendmsg: 0 },
  // 3.
  fileServer: 0,
  tstamp: 0,
  // 4.
  allowedLong: 0,
  otherLong: 0,
  // 5.
  dupAllowedFirst: 0,
  dupAllowedSecond: 0,
  // 6.
  rstServer: 0,
  rstClient: 0,
  // 7.
  udpServer: 0,
  udpClient: 0,
  // 8.
  socat: 0,
  bytewiseCurls: [] as number[],
  // 9.
  rwv2Server: 0,
  rwv2Curl: 0,
};
const ports = { local: 0, iov: 0, file: 0, rst: 0, udp: 0, socat: 0, rwv2: 0 };
const seen = {
  iovSent: { writev: 0, sendmsg: 0 },
  tstamp: { errqueue: 0, read: 0, equal: false },
  rstRead: 0,
  rstClientPort: 0,
  udpClientPort: 0,
};

async function scenario(name: string, body: () => Promise<void>) {
  try {
    await body();
  } catch (e) {
    failures.set(name, e);
  }
}

beforeAll(async () => {
  // The env cases' server: in this process (the agent's own, never captured), so only the curls can be.
  const local: Server = createServer((req, res) => {
    res.writeHead(200, { "Content-Type": "application/json" });
    res.end(JSON.stringify({ path: req.url }));
  });
  await new Promise<void>((r) => local.listen(0, "127.0.0.1", r));
  ports.local = (local.address() as AddressInfo).port;
  const url = (target: string) => `http://127.0.0.1:${ports.local}${target}`;
  const curlTo = (target: string) => [CURL, ["-sS", "--fail", "-o", "/dev/null", url(target)]] as const;
  let buildError: unknown;
  try {
    execFileSync("cc", ["-O2", "-Wall", "-o", RWV2, join(CLIENTS, "rwv2-server.c")], { stdio: ["ignore", "ignore", "pipe"] });
  } catch (e) {
    buildError = e;
  }

  nats = await NatsServerFixture.start();
  const cap = await startCapture(nats.url, { ADI_PAYLOAD_LIMIT: String(256 * 1024), ADI_PROFILE_ALLOWED: `${PROFILE},${LONG_ALLOWED}` });
  try {
    await scenario("env-chunks", async () => {
      // No ADI_PROFILE at all: "ADI_PROFILE=..." is inside X's value, from its 257th byte.
      pids.notOptedInLongValue = (await withEnv([`X=${PAD}ADI_PROFILE=${PROFILE}`], ...curlTo("/env/not-opted-in-long-value"))).pid;
      // Opted in; "ADI_PROFILE_DISABLED=1" is inside Y's value.
      pids.optedInLongValue = (await withEnv([`ADI_PROFILE=${PROFILE}`, `Y=${PAD}ADI_PROFILE_DISABLED=1`], ...curlTo("/env/opted-in-long-value"))).pid;
      // Named "real"; "ADI_PROFILE_NAME=spoofed" inside Z's value, after the real name and before it.
      const after = [`ADI_PROFILE=${PROFILE}`, "ADI_PROFILE_NAME=real", `Z=${PAD}ADI_PROFILE_NAME=spoofed`];
      const before = [`ADI_PROFILE=${PROFILE}`, `Z=${PAD}ADI_PROFILE_NAME=spoofed`, "ADI_PROFILE_NAME=real"];
      pids.nameSpoofAfter = (await withEnv(after, ...curlTo("/env/name-spoof-after"))).pid;
      pids.nameSpoofBefore = (await withEnv(before, ...curlTo("/env/name-spoof-before"))).pid;
      // Processes gone before the agent reads their /proc: their facts carry the name the kernel read.
      for (let i = 0; i < 4; i++) {
        pids.nameSpoofTrue.push((await withEnv(after, TRUE, [])).pid);
        pids.nameSpoofTrue.push((await withEnv(before, TRUE, [])).pid);
      }
    });

    await scenario("dup-profile", async () => {
      pids.dupAllowedFirst = (await withEnv([`ADI_PROFILE=${PROFILE}`, `ADI_PROFILE=${NOT_ALLOWED}`], ...curlTo("/dup/allowed-first"))).pid;
      pids.dupAllowedSecond = (await withEnv([`ADI_PROFILE=${NOT_ALLOWED}`, `ADI_PROFILE=${PROFILE}`], ...curlTo("/dup/allowed-second"))).pid;
    });

    await scenario("allowlist", async () => {
      // A client that waits before it connects: the verdict may be user space's (a profile longer than the
      // kernel keeps), which comes a moment after exec.
      const client = (target: string) => ["-c", "import sys, time, urllib.request; time.sleep(0.5); urllib.request.urlopen(sys.argv[1]).read()", url(target)];
      pids.allowedLong = (await ok(PYTHON, client("/allow/long-allowed"), optedIn("long-allowed", LONG_ALLOWED))).pid;
      pids.otherLong = (await ok(PYTHON, client("/allow/long-other"), optedIn("long-other", LONG_OTHER))).pid;
    });

    await scenario("iovec", async () => {
      ports.iov = await freePort();
      const server = await serve(PYTHON, [join(CLIENTS, "iov-server.py"), String(ports.iov)], optedIn("iov"), /listening/);
      try {
        pids.iovServer = server.child.pid!;
        for (const call of ["writev", "sendmsg"] as const) {
          const r = await ok(CURL, ["-sS", "--fail", "-o", "/dev/null", "-w", "%{size_download}", `http://127.0.0.1:${ports.iov}/${call}`], optedIn(`curl-${call}`));
          if (r.stdout !== String(iovBody.length)) throw new Error(`curl /${call} got ${r.stdout} bytes`);
          pids.iovCurls[call] = r.pid;
        }
        await sleep(100);
        for (const call of ["writev", "sendmsg"] as const) {
          const m = new RegExp(`sent (\\d+) ${call}`).exec(server.output());
          if (!m) throw new Error(`iov-server did not report its ${call}: ${server.output()}`);
          seen.iovSent[call] = Number(m[1]);
        }
      } finally {
        await stopBackground(server.child);
      }
    });

    await scenario("errqueue", async () => {
      ports.file = await freePort();
      const server = await serve(process.execPath, [join(CLIENTS, "file-server.mjs"), String(ports.file), work], optedIn("files"), /listening/);
      try {
        pids.fileServer = server.child.pid!;
        const r = await ok(PYTHON, [join(CLIENTS, "tstamp-client.py"), String(ports.file), "big.json", join(work, "big.json")], optedIn("tstamp"));
        pids.tstamp = r.pid;
        seen.tstamp = JSON.parse(r.stdout) as typeof seen.tstamp;
        if (!seen.tstamp.equal) throw new Error(`the client itself read a different body: ${r.stdout}`);
        if (seen.tstamp.errqueue === 0) throw new Error(`nothing on the error queue to drain: ${r.stdout}`);
        await sleep(100);
      } finally {
        await stopBackground(server.child);
      }
    });

    await scenario("rst", async () => {
      ports.rst = await freePort();
      const rst = join(CLIENTS, "rst.py");
      const server = await serve(PYTHON, [rst, "server", String(ports.rst)], optedIn("rst-server"), /listening/);
      try {
        pids.rstServer = server.child.pid!;
        const r = await ok(PYTHON, [rst, "client", String(ports.rst), "/reset"], optedIn("rst-client"));
        pids.rstClient = r.pid;
        seen.rstClientPort = Number(/port (\d+)/.exec(r.stdout)?.[1]);
        const t0 = Date.now();
        while (!/read \d+/.test(server.output()) && Date.now() - t0 < 5_000) await sleep(50);
        await sleep(200);
        seen.rstRead = Number(/read (\d+)/.exec(server.output())?.[1] ?? 0);
        if (seen.rstRead === 0) throw new Error(`the server read nothing after the reset: ${server.output()}`);
      } finally {
        await stopBackground(server.child);
      }
    });

    await scenario("udp", async () => {
      ports.udp = await freePort();
      const udp = join(CLIENTS, "udp-dns.py");
      const server = await serve(PYTHON, [udp, "server", String(ports.udp)], optedIn("dns-dual"), /listening/);
      try {
        pids.udpServer = server.child.pid!;
        const r = await ok(PYTHON, [udp, "client", String(ports.udp), "3"], optedIn("dns-client"));
        pids.udpClient = r.pid;
        if (!/answers 3/.test(r.stdout)) throw new Error(`udp client: ${r.stdout}`);
        seen.udpClientPort = Number(/port (\d+)/.exec(r.stdout)?.[1]);
        await sleep(100);
      } finally {
        await stopBackground(server.child); // its exit ends its UDP socket: the connection observation
      }
    });

    await scenario("bytewise", async () => {
      ports.socat = await freePort();
      const handler = `EXEC:${PYTHON} ${join(CLIENTS, "bytewise-handler.py")},nofork`;
      const socat = await serve("socat", ["-d", "-d", `TCP-LISTEN:${ports.socat},bind=127.0.0.1,reuseaddr,fork`, handler], optedIn("bytewise"), /listening on/);
      try {
        pids.socat = socat.child.pid!;
        for (const i of [1, 2]) {
          const r = await ok(CURL, ["-sS", "--fail", "-o", "/dev/null", `http://127.0.0.1:${ports.socat}/bytewise/${i}`], optedIn(`curl-bytewise-${i}`));
          pids.bytewiseCurls.push(r.pid);
        }
        await sleep(200); // the last handler has exited
      } finally {
        await stopBackground(socat.child);
      }
    });

    await scenario("rwv2", async () => {
      if (buildError) throw buildError;
      ports.rwv2 = await freePort();
      const server = await serve(RWV2, [String(ports.rwv2)], optedIn("rwv2"), /listening/);
      try {
        pids.rwv2Server = server.child.pid!;
        const r = await ok(CURL, ["-sS", "--fail", `http://127.0.0.1:${ports.rwv2}/rwv2/1`], optedIn("curl-rwv2"));
        if (JSON.parse(r.stdout).target !== "/rwv2/1") throw new Error(`rwv2 server answered ${r.stdout}`);
        pids.rwv2Curl = r.pid;
        await sleep(100);
      } finally {
        await stopBackground(server.child);
      }
    });
    await sleep(300);
  } finally {
    await cap.stop();
    await new Promise((r) => local.close(r));
  }
  ({ raw, facts } = await readAllAndClose(cap.nc));
  ({ http, connections } = classify(raw));
}, 120_000);

afterAll(async () => {
  await nats?.stop();
  rmSync(work, { recursive: true, force: true });
});

const workloadRan = (name: string) => {
  const e = failures.get(name);
  expect(e instanceof Error ? e.stack : e, `${name} workload`).toBeUndefined();
};
const exchangesOf = (pid: number) => http.filter((x) => x.pid === pid);
const recordsOf = (pid: number) => raw.records.filter((r) => r.pid === pid);
const socketRecordsOf = (pid: number) =>
  raw.records.filter((r): r is DataRecord | ConnRecord => (r.type === "data" || r.type === "conn_open" || r.type === "conn_close") && r.pid === pid);
const dataOf = (pid: number, direction?: "egress" | "ingress") => raw.data.filter((d) => d.pid === pid && (!direction || d.direction === direction));
/** Bytes the kernel says the syscalls moved (each syscall's total once) and the payload bytes captured. */
function moved(records: readonly DataRecord[]) {
  return {
    total: records.filter((d) => d.lastChunk).reduce((n, d) => n + d.totalLen, 0),
    captured: records.reduce((n, d) => n + d.payload.length, 0),
  };
}
const show = (r: RawRecord) =>
  r.type === "data" || r.type === "conn_open" || r.type === "conn_close"
    ? `${r.type} pid ${r.pid} fd ${r.fd} ${r.tuple.protocol} ${r.tuple.laddr}:${r.tuple.lport} -> ${r.tuple.raddr}:${r.tuple.rport}`
    : `${r.type} pid ${r.pid}`;
/** The process sent this request (its first bytes are in an egress record): it was captured. */
const sent = (pid: number, request: string) => dataOf(pid, "egress").some((d) => d.payload.toString("latin1").startsWith(request));
/** Nothing of the process in the raw stream, and no fact says it opted in. */
function expectNotCaptured(pid: number) {
  expect(pid).toBeGreaterThan(0);
  expect(recordsOf(pid).map(show)).toEqual([]);
  expect(facts.filter((f) => f.pid === pid && f.optin === "yes").map((f) => `${f.event} ${f.optin} ${f.adi_profile_match}`)).toEqual([]);
}

describe("the opt-in walk reads a long variable whole (a value holding NAME= at its 257th byte is a value)", () => {
  it("does not capture a process without ADI_PROFILE whose variable's value holds 'ADI_PROFILE=<allowed>'", () => {
    workloadRan("env-chunks");
    expectNotCaptured(pids.notOptedInLongValue);
  });

  it("captures an opted-in process whose variable's value holds 'ADI_PROFILE_DISABLED=1' (it did not opt out)", () => {
    workloadRan("env-chunks");
    expect(sent(pids.optedInLongValue, "GET /env/opted-in-long-value ")).toBe(true);
    const x = exchangesOf(pids.optedInLongValue);
    expect(x.map((e) => [e.request.target, e.response?.status])).toEqual([["/env/opted-in-long-value", 200]]);
    expect(facts.filter((f) => f.pid === pids.optedInLongValue && f.event === "exec").map((f) => f.optin)).toEqual(["yes"]);
  });

  it("names a process 'real' (its ADI_PROFILE_NAME), not 'spoofed' (inside another variable's value)", () => {
    workloadRan("env-chunks");
    for (const [pid, target] of [[pids.nameSpoofAfter, "/env/name-spoof-after"], [pids.nameSpoofBefore, "/env/name-spoof-before"]] as const) {
      expect(sent(pid, `GET ${target} `), target).toBe(true);
      const named = facts.filter((f) => f.pid === pid && f.event === "exec");
      expect(named.map((f) => [f.optin, f.adi_profile_match, f.adi_profile_name]), target).toEqual([["yes", PROFILE, "real"]]);
    }
    // Short-lived processes, mostly gone before /proc is read: the name in their facts is the kernel's.
    expect(pids.nameSpoofTrue).toHaveLength(8);
    const execs = facts.filter((f) => pids.nameSpoofTrue.includes(f.pid) && f.event === "exec");
    expect(execs.map((f) => f.pid).sort()).toEqual([...pids.nameSpoofTrue].sort());
    expect(execs.map((f) => [f.optin, f.adi_profile_name])).toEqual(execs.map(() => ["yes", "real"]));
    const allMine = [pids.nameSpoofAfter, pids.nameSpoofBefore, ...pids.nameSpoofTrue];
    expect(facts.filter((f) => allMine.includes(f.pid) && f.adi_profile_name === "spoofed").map((f) => `${f.event} ${f.pid}`)).toEqual([]);
  });
});

describe("ADI_PROFILE given twice in one environment: the first counts, as getenv(3) reads it", () => {
  it("captures the process whose first ADI_PROFILE is allowed (the second is not)", () => {
    workloadRan("dup-profile");
    expect(sent(pids.dupAllowedFirst, "GET /dup/allowed-first ")).toBe(true);
    expect(facts.filter((f) => f.pid === pids.dupAllowedFirst && f.event === "exec").map((f) => [f.optin, f.adi_profile_match])).toEqual([["yes", PROFILE]]);
  });

  it("does not capture the process whose first ADI_PROFILE is not allowed (the second is)", () => {
    workloadRan("dup-profile");
    expectNotCaptured(pids.dupAllowedSecond);
  });
});

describe("ADI_PROFILE_ALLOWED with a 70-character profile: whole values are compared", () => {
  it("captures the process whose ADI_PROFILE is that profile", () => {
    workloadRan("allowlist");
    expect(LONG_ALLOWED).toHaveLength(70);
    expect(sent(pids.allowedLong, "GET /allow/long-allowed ")).toBe(true);
    expect(exchangesOf(pids.allowedLong).map((x) => [x.request.target, x.response?.status])).toEqual([["/allow/long-allowed", 200]]);
  });

  it("does not capture the process whose ADI_PROFILE differs from it only in its 70th character", () => {
    workloadRan("allowlist");
    expect(LONG_OTHER.slice(0, 69)).toBe(LONG_ALLOWED.slice(0, 69));
    expectNotCaptured(pids.otherLong);
  });
});

describe("one writev / sendmsg of 1,001 iovecs (the head and 1,000 six-byte pieces)", () => {
  for (const call of ["writev", "sendmsg"] as const) {
    it(`has the whole ${call} response in the server's exchange`, () => {
      workloadRan("iovec");
      const server = exchangesOf(pids.iovServer).filter((x) => x.request.target === `/${call}`);
      expect(server).toHaveLength(1);
      expect(server[0]!.response).toMatchObject({ status: 200, body_size: iovBody.length, body_truncated: false, body_binary: false });
      expect(server[0]!.response!.body).toBe(iovBody);
      // And the client's, for comparison.
      const client = exchangesOf(pids.iovCurls[call]);
      expect(client).toHaveLength(1);
      expect(client[0]!.response!.body).toBe(iovBody);
    });

    it(`records every byte the ${call} sent: total and captured both equal its return value`, () => {
      workloadRan("iovec");
      const x = exchangesOf(pids.iovServer).find((e) => e.request.target === `/${call}`);
      expect(x).toBeTruthy();
      const out = dataOf(pids.iovServer, "egress").filter((d) => d.tuple.protocol === "tcp" && d.connId === BigInt(x!.conn_id));
      expect(seen.iovSent[call]).toBeGreaterThan(iovBody.length);
      expect(moved(out)).toEqual({ total: seen.iovSent[call], captured: seen.iovSent[call] });
      expect(out.filter((d) => d.truncated || d.readFailed || d.gap).map(show)).toEqual([]);
      expect(byteStream(raw.data, pids.iovServer, "egress", BigInt(x!.conn_id)).toString("latin1").endsWith(iovBody)).toBe(true);
    });
  }
});

describe("a client draining MSG_ERRQUEUE (SO_TIMESTAMPING) in the middle of a response", () => {
  it("decodes the client's response body as the file served, byte for byte", () => {
    workloadRan("errqueue");
    const big = exchangesOf(pids.tstamp).filter((x) => x.request.target === "/big.json");
    expect(big).toHaveLength(1);
    expect(big[0]!.response).toMatchObject({ status: 200, body_size: bigDoc.length, body_binary: false, body_truncated: false });
    expect(big[0]!.response!.body).toBe(bigDoc);
    const small = exchangesOf(pids.tstamp).filter((x) => x.request.target === "/small");
    expect(small.map((x) => [x.response?.status, x.response?.body])).toEqual([[200, "small\n"]]);
  });

  it("records no error-queue bytes as received: the client's received stream is what the server sent", () => {
    workloadRan("errqueue");
    const tcpIn = dataOf(pids.tstamp, "ingress").filter((d) => d.tuple.protocol === "tcp");
    expect(tcpIn.length).toBeGreaterThan(0);
    // The client's only recvmsg calls are the error-queue ones (it reads the connection with recv).
    expect(tcpIn.filter((d) => d.syscall === "recvmsg").map((d) => `${show(d)} ${d.payload.length} B`)).toEqual([]);
    expect(moved(tcpIn)).toEqual({ total: seen.tstamp.read, captured: seen.tstamp.read });
    const port = tcpIn[0]!.tuple.lport;
    const serverConn = dataOf(pids.fileServer).find((d) => d.tuple.rport === port)?.connId;
    expect(serverConn).toBeDefined();
    const received = byteStream(raw.data, pids.tstamp, "ingress");
    expect(received.equals(byteStream(raw.data, pids.fileServer, "egress", serverConn))).toBe(true);
  });
});

describe("a request the server reads only after its client reset the connection", () => {
  it("records the request the server read, with both ports (no port 0)", () => {
    workloadRan("rst");
    expect(seen.rstClientPort).toBeGreaterThan(0);
    const reads = dataOf(pids.rstServer, "ingress").filter((d) => d.payload.toString("latin1").startsWith("GET /reset "));
    expect(reads.map(show)).toEqual([`data pid ${pids.rstServer} fd ${reads[0]?.fd} tcp 127.0.0.1:${ports.rst} -> 127.0.0.1:${seen.rstClientPort}`]);
    expect(moved(dataOf(pids.rstServer, "ingress")).total).toBe(seen.rstRead);
  });

  it("has no port 0 in any record of either end", () => {
    workloadRan("rst");
    const all = [...socketRecordsOf(pids.rstServer), ...socketRecordsOf(pids.rstClient)];
    expect(all.length).toBeGreaterThan(0);
    expect(all.filter((r) => r.tuple.lport === 0 || r.tuple.rport === 0).map(show)).toEqual([]);
  });

  it("gives the server an exchange for the request, between the call's two ends", () => {
    workloadRan("rst");
    const server = exchangesOf(pids.rstServer);
    expect(server.map((x) => x.request.target)).toEqual(["/reset"]);
    expect(server[0]).toMatchObject({ client: { ip: "127.0.0.1", port: seen.rstClientPort }, server: { ip: "127.0.0.1", port: ports.rst } });
  });
});

describe("a dual-stack UDP server ([::], IPV6_V6ONLY=0) answering an IPv4 client", () => {
  const mapped = (ip: string) => ip.toLowerCase().startsWith("::ffff:");
  const unspecified = (ip: string) => ip === "0.0.0.0" || ip === "::";

  it("gives the client's address as 127.0.0.1 in the server's records, never ::ffff:", () => {
    workloadRan("udp");
    const udp = socketRecordsOf(pids.udpServer).filter((r) => r.tuple.protocol === "udp");
    expect(udp.filter((r) => r.type === "data").length).toBeGreaterThan(0);
    expect(udp.filter((r) => mapped(r.tuple.raddr) || mapped(r.tuple.laddr)).map(show)).toEqual([]);
    const withPeer = udp.filter((r) => !unspecified(r.tuple.raddr) && r.tuple.rport !== 0);
    // The answers (sendto) name their peer on either path.
    expect(withPeer.filter((r) => r.type === "data" && r.direction === "egress").length).toBe(3);
    expect(withPeer.filter((r) => r.tuple.raddr !== "127.0.0.1" || r.tuple.rport !== seen.udpClientPort).map(show)).toEqual([]);
  });

  it("gives the client's address as 127.0.0.1 in the server's connection observations", () => {
    workloadRan("udp");
    const seenBy = connections.filter((c) => c.pid === pids.udpServer);
    expect(seenBy.length).toBeGreaterThan(0);
    const ips = (c: ConnectionObservation) => [c.local.ip, c.remote.ip, c.client.ip, c.server.ip];
    expect(seenBy.filter((c) => ips(c).some(mapped)).map((c) => `${c.conn_id} ${ips(c).join(" ")}`)).toEqual([]);
    // The socket path cannot see the peer of an unconnected receive (ARCHITECTURE.md): an observation made from
    // one may name no peer (:: port 0). One that names a peer names the client as it is.
    const named = seenBy.filter((c) => !unspecified(c.remote.ip) || c.remote.port !== 0);
    expect(named.filter((c) => c.remote.ip !== "127.0.0.1" || c.remote.port !== seen.udpClientPort).map((c) => `${c.conn_id} ${ips(c).join(" ")}`)).toEqual([]);
  });
});

describe("an inetd-style handler reading its request one byte per read(2)", () => {
  /** Server-side: seen by a process on the socat port that is not one of the clients. */
  const serverSide = <T extends { pid: number; local: { port: number } }>(xs: readonly T[]) =>
    xs.filter((x) => x.local.port === ports.socat && !pids.bytewiseCurls.includes(x.pid));

  it("gives each request a server-side HTTP exchange, paired with its response", () => {
    workloadRan("bytewise");
    const server = serverSide(http);
    expect(server.map((x) => x.request.target).sort()).toEqual(["/bytewise/1", "/bytewise/2"]);
    for (const x of server) {
      expect(x.request, x.request.target).toMatchObject({ method: "GET", version: "HTTP/1.1" });
      expect(x.response, x.request.target).toMatchObject({ status: 200 });
      expect(JSON.parse(x.response!.body!)).toEqual({ handler: "bytewise", target: x.request.target });
    }
  });

  it("classifies the server side's connections as http, from their bytes (not 'unknown')", () => {
    workloadRan("bytewise");
    // An HTTP connection yields exchanges, not a connection observation: none may call it something else.
    expect(serverSide(connections).map((c) => [c.protocol, c.reason])).toEqual([]);
  });
});

describe("a server reading with preadv2 and answering with pwritev2, at offset -1 (the current position)", () => {
  it("has the server's exchange, body included", () => {
    workloadRan("rwv2");
    const server = exchangesOf(pids.rwv2Server);
    expect(server.map((x) => x.request.target)).toEqual(["/rwv2/1"]);
    expect(server[0]!.response).toMatchObject({ status: 200, body_truncated: false });
    expect(JSON.parse(server[0]!.response!.body!)).toEqual({ rwv2: true, target: "/rwv2/1" });
  });

  it("records the server's bytes exactly as its client sent and received them", () => {
    workloadRan("rwv2");
    expect(byteStream(raw.data, pids.rwv2Server, "ingress").equals(byteStream(raw.data, pids.rwv2Curl, "egress"))).toBe(true);
    expect(byteStream(raw.data, pids.rwv2Server, "egress").equals(byteStream(raw.data, pids.rwv2Curl, "ingress"))).toBe(true);
    expect(dataOf(pids.rwv2Server).length).toBeGreaterThan(0);
  });
});
