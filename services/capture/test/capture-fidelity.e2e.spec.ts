// Capture fidelity on real programs and the real kernel (issue 9): what real clients and servers do that a
// naive syscall capture gets wrong, checked through the captured stream decoded by the real classifier engine,
// from both ends (the client process's exchanges and the server process's, found by pid):
//   1. wget peeks at the response (recvfrom MSG_PEEK) before reading it: the peeked bytes are not data;
//   2. a Node server corks 120 res.write() calls into one writev(2) of 120 iovecs;
//   3. a server sends its bodies with sendfile(2): the bytes are not in user memory, but the responses exist;
//   4. inetd-style socat (fork + EXEC,nofork): the handler reads the request on fd 0 and answers on fd 1, one
//      socket behind two descriptors in a forked child: one connection, one exchange per request;
//   5. a server answers after its client gave up (curl --max-time 1): no port 0, no phantom endpoint.
// Every server and client is a separate opted-in process on loopback; the agent runs in this process.
import { execFileSync, spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { HttpExchange, ProcessFact, ConnRecord, DataRecord, Tuple } from "@adi/shared/wire";
import { processEnv, run, sleep, startBackground, startCapture, stopBackground } from "../../../test/support/capture.ts";
import { classify, rawBody } from "../../../test/support/exchanges.ts";
import { freePort, NatsServerFixture, waitForPort } from "../../../test/support/nats-server.ts";
import { byteStream, readAllAndClose } from "../../../test/support/stream.ts";
import type { RawContents } from "../../../test/support/stream.ts";

const CLIENTS = fileURLToPath(new URL("../../../test/support/clients/", import.meta.url));
// The interpreter itself, not a version-manager shim: a shim's helper processes would share the inetd socket.
const PYTHON = execFileSync("python3", ["-c", "import sys; print(sys.executable)"], { encoding: "utf8" }).trim();

const www = mkdtempSync(join(tmpdir(), "adi-fidelity-"));
const jsonDoc = JSON.stringify({ items: Array.from({ length: 60 }, (_, i) => ({ id: i, name: `item-${i}`, tags: ["a", "b", String(i % 7)] })) });
// Binary (not UTF-8: 0xff never is), small enough for the classifier's 4 KiB `raw` to hold it whole.
const blob = Buffer.concat([Buffer.from([0xff, 0xfe, 0x00, 0x80]), randomBytes(2044)]);
// The sendfile body: JSON of ~20 KB, so more than one capture chunk and more than one TCP segment.
const sendfileDoc = JSON.stringify(Array.from({ length: 400 }, (_, i) => ({ n: i, v: "y".repeat(i % 17) })));
writeFileSync(join(www, "doc.json"), jsonDoc);
writeFileSync(join(www, "blob.bin"), blob);
writeFileSync(join(www, "sendfile.json"), sendfileDoc);
const dl = mkdtempSync(join(tmpdir(), "adi-fidelity-dl-"));

// The body corked-server.mjs sends: the same formula.
const WRITES = 120;
const corkedBody = Array.from({ length: WRITES }, (_, i) => `{"part":${i},"pad":"${"x".repeat(i % 23)}"}\n`).join("");

const optedIn = (name: string) => ({ cwd: www, env: processEnv({ ADI_PROFILE: "e2e", ADI_PROFILE_NAME: name }) });

/** Starts an opted-in server and waits for `ready` on its stdout or stderr (no probe connection to muddle its capture). */
async function serve(cmd: string, args: string[], name: string, ready: RegExp): Promise<ChildProcess> {
  const child = spawn(cmd, args, { ...optedIn(name), stdio: ["ignore", "pipe", "pipe"] });
  let seen = "";
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${name} not ready in 10 s: ${seen}`)), 10_000);
    const look = (d: Buffer) => {
      seen += d.toString();
      if (ready.test(seen)) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout!.on("data", look);
    child.stderr!.on("data", look);
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`${name} exited (${code}) before it was ready: ${seen}`));
    });
  });
  return child;
}

async function ok(name: string, cmd: string, args: string[]) {
  const r = await run(cmd, args, optedIn(name));
  if (r.code !== 0) throw new Error(`${name} exited ${r.code}: ${r.stderr}`);
  return r;
}

let nats: NatsServerFixture;
let raw: RawContents;
let http: HttpExchange[];
let facts: ProcessFact[];
/** A scenario whose workload itself failed: its tests fail with this, the others still run. */
const failures = new Map<string, unknown>();
const pids = {
  static: 0,
  wgetJson: 0,
  wgetBlob: 0,
  corked: 0,
  curlLength: 0,
  curlChunked: 0,
  sendfile: 0,
  sendfileCurls: [] as number[],
  socat: 0,
  inetdCurls: [] as number[],
  slow: 0,
  gaveUp: 0,
};
const ports = { static: 0, corked: 0, sendfile: 0, socat: 0, slow: 0 };

async function scenario(name: string, body: () => Promise<void>) {
  try {
    await body();
  } catch (e) {
    failures.set(name, e);
  }
}

beforeAll(async () => {
  nats = await NatsServerFixture.start();
  const cap = await startCapture(nats.url, { ADI_PAYLOAD_LIMIT: String(256 * 1024) });
  try {
    await scenario("wget", async () => {
      ports.static = await freePort();
      const server = startBackground(PYTHON, ["-m", "http.server", String(ports.static), "--bind", "127.0.0.1"], optedIn("static"));
      try {
        await waitForPort(ports.static);
        pids.static = server.pid!;
        for (const [file, content, key] of [["doc.json", Buffer.from(jsonDoc), "wgetJson"], ["blob.bin", blob, "wgetBlob"]] as const) {
          const out = join(dl, file);
          const r = await ok(`wget-${file}`, "wget", ["-q", "-O", out, `http://127.0.0.1:${ports.static}/${file}`]);
          if (!readFileSync(out).equals(content)) throw new Error(`wget downloaded a different ${file}`);
          pids[key] = r.pid;
        }
        await sleep(100);
      } finally {
        await stopBackground(server);
      }
    });

    await scenario("corked", async () => {
      ports.corked = await freePort();
      const server = await serve(process.execPath, [join(CLIENTS, "corked-server.mjs"), String(ports.corked), String(WRITES)], "corked", /listening/);
      try {
        pids.corked = server.pid!;
        pids.curlLength = (await ok("curl-length", "curl", ["-sS", "--fail", "-o", "/dev/null", `http://127.0.0.1:${ports.corked}/length`])).pid;
        pids.curlChunked = (await ok("curl-chunked", "curl", ["-sS", "--fail", "-o", "/dev/null", `http://127.0.0.1:${ports.corked}/chunked`])).pid;
        await sleep(100);
      } finally {
        await stopBackground(server);
      }
    });

    await scenario("sendfile", async () => {
      ports.sendfile = await freePort();
      const file = join(www, "sendfile.json");
      const server = await serve(PYTHON, [join(CLIENTS, "sendfile-server.py"), String(ports.sendfile), file], "sendfile", /listening/);
      try {
        pids.sendfile = server.pid!;
        const url = (p: string) => `http://127.0.0.1:${ports.sendfile}${p}`;
        const fmt = ["-w", "%{http_code} %{size_download}\\n"];
        // Three requests on one keep-alive connection, then two connections of one request each.
        const keep = await ok("curl-sendfile-keepalive", "curl", ["-sS", "--fail", ...fmt, "-o", "/dev/null", "-o", "/dev/null", "-o", "/dev/null", url("/sf/1"), url("/sf/2"), url("/sf/3")]);
        const one = await ok("curl-sendfile-4", "curl", ["-sS", "--fail", ...fmt, "-o", "/dev/null", url("/sf/4")]);
        const two = await ok("curl-sendfile-5", "curl", ["-sS", "--fail", ...fmt, "-H", "Connection: close", "-o", "/dev/null", url("/sf/5")]);
        const sizes = [keep, one, two].flatMap((r) => r.stdout.trim().split("\n"));
        if (sizes.join(",") !== Array(5).fill(`200 ${sendfileDoc.length}`).join(",")) throw new Error(`curl got ${sizes.join(",")}`);
        pids.sendfileCurls = [keep.pid, one.pid, two.pid];
        await sleep(100);
      } finally {
        await stopBackground(server);
      }
    });

    await scenario("inetd", async () => {
      ports.socat = await freePort();
      const handler = `EXEC:${PYTHON} ${join(CLIENTS, "inetd-handler.py")},nofork`;
      const socat = await serve("socat", ["-d", "-d", `TCP-LISTEN:${ports.socat},bind=127.0.0.1,reuseaddr,fork`, handler], "socat", /listening on/);
      try {
        pids.socat = socat.pid!;
        for (const i of [1, 2, 3]) {
          const r = await ok(`curl-inetd-${i}`, "curl", ["-sS", "--fail", "-o", "/dev/null", `http://127.0.0.1:${ports.socat}/inetd/${i}`]);
          pids.inetdCurls.push(r.pid);
        }
        await sleep(200); // the last handler has exited
      } finally {
        await stopBackground(socat);
      }
    });

    await scenario("gave-up", async () => {
      ports.slow = await freePort();
      const server = await serve(PYTHON, [join(CLIENTS, "slow-server.py"), String(ports.slow), "3"], "slow", /listening/);
      try {
        pids.slow = server.pid!;
        const t0 = Date.now();
        const r = await run("curl", ["-sS", "--max-time", "1", "-o", "/dev/null", `http://127.0.0.1:${ports.slow}/late`], optedIn("gave-up"));
        if (r.code !== 28) throw new Error(`curl --max-time 1 exited ${r.code} (expected 28, timed out): ${r.stderr}`);
        pids.gaveUp = r.pid;
        await sleep(Math.max(0, 3_600 - (Date.now() - t0))); // the server has answered into the closed connection
      } finally {
        await stopBackground(server);
      }
    });
    await sleep(200);
  } finally {
    await cap.stop();
  }
  ({ raw, facts } = await readAllAndClose(cap.nc));
  http = classify(raw).http;
}, 120_000);

afterAll(async () => {
  await nats?.stop();
});

const workloadRan = (name: string) => {
  const e = failures.get(name);
  expect(e instanceof Error ? e.stack : e, `${name} workload`).toBeUndefined();
};
const exchangesOf = (pid: number) => http.filter((x) => x.pid === pid);
const tcpOf = (pid: number) => raw.data.filter((d) => d.pid === pid && d.tuple.protocol === "tcp");
/** The connection ids a process moved bytes on. */
const connsOf = (records: readonly DataRecord[]) => [...new Set(records.map((d) => d.connId))];
/** Bytes the kernel says the process's syscalls moved (each syscall's total once) and the payload bytes captured. */
function moved(records: readonly DataRecord[]) {
  return {
    total: records.filter((d) => d.lastChunk).reduce((n, d) => n + d.totalLen, 0),
    captured: records.reduce((n, d) => n + d.payload.length, 0),
  };
}
const headLength = (m: { raw: string }) => Buffer.from(m.raw, "latin1").indexOf("\r\n\r\n") + 4;

describe("wget peeks at the response before reading it (recvfrom MSG_PEEK)", () => {
  it("decodes wget's response to a JSON file byte for byte, and the server's", () => {
    workloadRan("wget");
    const client = exchangesOf(pids.wgetJson);
    expect(client).toHaveLength(1);
    expect(client[0]!.request).toMatchObject({ method: "GET", target: "/doc.json" });
    expect(client[0]!.response).toMatchObject({ status: 200, body_size: jsonDoc.length, body_truncated: false, body_binary: false });
    expect(client[0]!.response!.body).toBe(jsonDoc);
    const server = exchangesOf(pids.static).filter((x) => x.request.target === "/doc.json");
    expect(server).toHaveLength(1);
    expect(server[0]!.response).toMatchObject({ status: 200, body_size: jsonDoc.length, body_truncated: false });
    expect(server[0]!.response!.body).toBe(jsonDoc);
  });

  it("decodes wget's response to a binary file byte for byte, and the server's", () => {
    workloadRan("wget");
    const client = exchangesOf(pids.wgetBlob);
    expect(client).toHaveLength(1);
    expect(client[0]!.response).toMatchObject({ status: 200, body_size: blob.length, body_binary: true, body_truncated: false });
    expect(rawBody(client[0]!.response!).equals(blob)).toBe(true);
    const server = exchangesOf(pids.static).filter((x) => x.request.target === "/blob.bin");
    expect(server).toHaveLength(1);
    expect(server[0]!.response).toMatchObject({ status: 200, body_size: blob.length, body_binary: true });
    expect(rawBody(server[0]!.response!).equals(blob)).toBe(true);
  });

  it("holds each byte wget received once: its received stream equals what the server sent", () => {
    workloadRan("wget");
    for (const pid of [pids.wgetJson, pids.wgetBlob]) {
      const received = byteStream(raw.data, pid, "ingress");
      const port = tcpOf(pid)[0]!.tuple.lport;
      const serverConn = tcpOf(pids.static).find((d) => d.tuple.rport === port)!.connId;
      expect(received.equals(byteStream(raw.data, pids.static, "egress", serverConn))).toBe(true);
      expect(moved(tcpOf(pid).filter((d) => d.direction === "ingress")).total).toBe(received.length);
    }
  });
});

describe("a Node server corking 120 res.write() calls into one writev", () => {
  it("decodes the whole body on both ends (Content-Length)", () => {
    workloadRan("corked");
    const client = exchangesOf(pids.curlLength);
    expect(client).toHaveLength(1);
    expect(client[0]!.response).toMatchObject({ status: 200, body_size: corkedBody.length, body_truncated: false });
    expect(client[0]!.response!.body).toBe(corkedBody);
    const server = exchangesOf(pids.corked).filter((x) => x.request.target === "/length");
    expect(server).toHaveLength(1);
    expect(server[0]!.response).toMatchObject({ status: 200, body_size: corkedBody.length, body_truncated: false });
    expect(server[0]!.response!.body).toBe(corkedBody);
  });

  it("records the server's bytes in full: head plus body, every iovec", () => {
    workloadRan("corked");
    const x = exchangesOf(pids.corked).find((e) => e.request.target === "/length");
    expect(x?.response).toBeTruthy();
    const expected = headLength(x!.response!) + corkedBody.length;
    const sent = tcpOf(pids.corked).filter((d) => d.direction === "egress" && d.connId === BigInt(x!.conn_id));
    expect(moved(sent)).toEqual({ total: expected, captured: expected });
    expect(sent.every((d) => !d.truncated && !d.readFailed)).toBe(true);
  });

  it("decodes the whole body on both ends (chunked: Node frames the corked writes itself)", () => {
    workloadRan("corked");
    const client = exchangesOf(pids.curlChunked);
    expect(client).toHaveLength(1);
    expect(client[0]!.response).toMatchObject({ status: 200, body_size: corkedBody.length });
    expect(client[0]!.response!.body).toBe(corkedBody);
    const server = exchangesOf(pids.corked).filter((x) => x.request.target === "/chunked");
    expect(server).toHaveLength(1);
    expect(server[0]!.response!.body).toBe(corkedBody);
    const sent = tcpOf(pids.corked).filter((d) => d.direction === "egress" && d.connId === BigInt(server[0]!.conn_id));
    const received = tcpOf(pids.curlChunked).filter((d) => d.direction === "ingress");
    expect(moved(sent)).toEqual({ total: moved(received).total, captured: moved(received).total });
  });
});

describe("a server sending its bodies with sendfile(2)", () => {
  const targets = ["/sf/1", "/sf/2", "/sf/3", "/sf/4", "/sf/5"];

  it("has every response in the server's view, with its status and body length", () => {
    workloadRan("sendfile");
    const server = exchangesOf(pids.sendfile);
    expect(server.map((x) => x.request.target).sort()).toEqual(targets);
    for (const x of server) {
      expect(x.response, x.request.target).not.toBeNull();
      expect(x.response, x.request.target).toMatchObject({ status: 200, body_size: sendfileDoc.length });
    }
    // The keep-alive connection carried three, in order.
    const keep = server.filter((x) => ["/sf/1", "/sf/2", "/sf/3"].includes(x.request.target));
    expect(new Set(keep.map((x) => x.conn_id)).size).toBe(1);
    expect(keep.map((x) => [x.request.target, x.seq])).toEqual([["/sf/1", 0], ["/sf/2", 1], ["/sf/3", 2]]);
  });

  it("has every response, body included, in the clients' view", () => {
    workloadRan("sendfile");
    const client = pids.sendfileCurls.flatMap(exchangesOf);
    expect(client.map((x) => x.request.target).sort()).toEqual(targets);
    for (const x of client) {
      expect(x.response, x.request.target).toMatchObject({ status: 200, body_size: sendfileDoc.length, body_truncated: false });
      expect(x.response!.body, x.request.target).toBe(sendfileDoc);
    }
  });

  it("counts the bytes sendfile moved on the server's connection", () => {
    workloadRan("sendfile");
    const keep = exchangesOf(pids.sendfile).find((x) => x.request.target === "/sf/1");
    expect(keep?.response).toBeTruthy();
    const sent = tcpOf(pids.sendfile).filter((d) => d.direction === "egress" && d.connId === BigInt(keep!.conn_id));
    expect(moved(sent).total).toBe(3 * (headLength(keep!.response!) + sendfileDoc.length));
  });
});

describe("inetd-style socat: the handler reads the request on fd 0 and answers on fd 1", () => {
  /** Server-side exchanges: seen by a process on the socat port that is not one of the clients. */
  const serverSide = () => http.filter((x) => x.local.port === ports.socat && !pids.inetdCurls.includes(x.pid));

  it("gives each request exactly one server-side exchange, request paired with its response", () => {
    workloadRan("inetd");
    const server = serverSide();
    expect(server.map((x) => x.request.target).sort()).toEqual(["/inetd/1", "/inetd/2", "/inetd/3"]);
    for (const x of server) {
      expect(x.response, x.request.target).toMatchObject({ status: 200 });
      expect(JSON.parse(x.response!.body!)).toEqual({ handler: "inetd", target: x.request.target });
      expect(x.server).toEqual({ ip: "127.0.0.1", port: ports.socat });
    }
    // One handler process per request, each with one connection (not one per descriptor).
    expect(new Set(server.map((x) => x.pid)).size).toBe(3);
    const handlerData = raw.data.filter((d) => d.tuple.protocol === "tcp" && d.tuple.lport === ports.socat && !pids.inetdCurls.includes(d.pid));
    expect(connsOf(handlerData)).toHaveLength(3);
    for (const pid of new Set(handlerData.map((d) => d.pid))) expect(connsOf(handlerData.filter((d) => d.pid === pid)), `pid ${pid}`).toHaveLength(1);
  });

  it("pairs the server's view with each client's: same client port, same exchange", () => {
    workloadRan("inetd");
    for (const [i, pid] of pids.inetdCurls.entries()) {
      const client = exchangesOf(pid);
      expect(client).toHaveLength(1);
      expect(client[0]!.request.target).toBe(`/inetd/${i + 1}`);
      expect(client[0]!.response).toMatchObject({ status: 200 });
      const server = serverSide().filter((x) => x.request.target === `/inetd/${i + 1}`);
      expect(server).toHaveLength(1);
      expect(server[0]!.client).toEqual(client[0]!.client);
      expect(server[0]!.server).toEqual(client[0]!.server);
      expect(server[0]!.response!.body).toBe(client[0]!.response!.body);
    }
  });
});

describe("a server answering after its client gave up (curl --max-time 1, answer after 3 s)", () => {
  const records = () =>
    raw.records.filter(
      (r): r is DataRecord | ConnRecord => (r.type === "data" || r.type === "conn_open" || r.type === "conn_close") && [pids.gaveUp, pids.slow].includes(r.pid) && r.tuple.protocol === "tcp",
    );
  /** The call's 4-tuple as the client's request shows it. */
  const clientTuple = (): Tuple => tcpOf(pids.gaveUp).find((d) => d.direction === "egress")!.tuple;
  const mirror = (t: Tuple): Tuple => ({ ...t, laddr: t.raddr, lport: t.rport, raddr: t.laddr, rport: t.lport });

  it("has no port 0 in any open, close or data record of either end", () => {
    workloadRan("gave-up");
    expect(records().filter((r) => r.type === "data").length).toBeGreaterThan(0);
    const zero = records().filter((r) => r.tuple.lport === 0 || r.tuple.rport === 0 || r.tuple.laddr === "0.0.0.0" || r.tuple.raddr === "0.0.0.0");
    expect(zero.map((r) => `${r.type} pid ${r.pid} fd ${r.fd} ${r.tuple.laddr}:${r.tuple.lport} -> ${r.tuple.raddr}:${r.tuple.rport}`)).toEqual([]);
  });

  it("has no port 0 in any TCP record of any process this file started (socat's handlers included)", () => {
    workloadRan("gave-up");
    const started = new Set(Object.values(pids).flat().filter((pid) => pid > 0));
    for (const f of facts) if (f.event === "fork" && f.ppid !== null && started.has(f.ppid)) started.add(f.pid);
    const mine = raw.records.filter((r): r is DataRecord | ConnRecord => (r.type === "data" || r.type === "conn_open" || r.type === "conn_close") && started.has(r.pid));
    expect(mine.length).toBeGreaterThan(0);
    const zero = mine.filter((r) => r.tuple.protocol === "tcp" && (r.tuple.lport === 0 || r.tuple.rport === 0));
    expect(zero.map((r) => `${r.type} pid ${r.pid} fd ${r.fd} ${r.tuple.laddr}:${r.tuple.lport} -> ${r.tuple.raddr}:${r.tuple.rport}`)).toEqual([]);
  });

  it("has only the call's own two ends in the records (no third endpoint)", () => {
    workloadRan("gave-up");
    const t = clientTuple();
    expect(t).toMatchObject({ laddr: "127.0.0.1", raddr: "127.0.0.1", rport: ports.slow });
    const key = (x: Tuple) => `${x.laddr}:${x.lport}>${x.raddr}:${x.rport}`;
    const want = new Set([key(t), key(mirror(t))]);
    expect(records().filter((r) => !want.has(key(r.tuple))).map((r) => `${r.type} pid ${r.pid} ${key(r.tuple)}`)).toEqual([]);
  });

  it("attributes the exchanges to the call's ends only: the client's unanswered request, the server's answer", () => {
    workloadRan("gave-up");
    const t = clientTuple();
    const ends = { client: { ip: "127.0.0.1", port: t.lport }, server: { ip: "127.0.0.1", port: ports.slow } };
    const client = exchangesOf(pids.gaveUp);
    expect(client).toHaveLength(1);
    expect(client[0]).toMatchObject({ ...ends, local: ends.client, remote: ends.server, request: { method: "GET", target: "/late" }, response: null });
    const server = exchangesOf(pids.slow);
    expect(server.length).toBeLessThanOrEqual(1);
    for (const x of server) expect(x).toMatchObject({ ...ends, local: ends.server, remote: ends.client, request: { target: "/late" } });
    // Nobody else is party to a call with the slow server's port.
    const involved = http.filter((x) => x.client.port === ports.slow || x.server.port === ports.slow);
    expect(involved.every((x) => x.pid === pids.gaveUp || x.pid === pids.slow)).toBe(true);
    expect(involved.every((x) => x.client.port === t.lport && x.server.port === ports.slow)).toBe(true);
  });
});
