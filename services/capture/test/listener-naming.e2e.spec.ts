// Issue 10, item 3 (capture side), through the kernel: listeners are named from the kernel's LISTEN transitions, not
// only from a /proc rescan after the fact.
//  - A server that did not opt in answers one request from an opted-in curl and exits at once: the listener fact
//    the kernel's listen() record made names it (its comm), so the map's destination is the server, not 127.0.0.1:P.
//  - A v4 server on 0.0.0.0:P and a v6 server on [::]:P with IPV6_V6ONLY (neither opted in): each listener fact
//    keeps its family, bound address and the V6ONLY flag; a loopback-bound one keeps 127.0.0.1 / ::1; each close too.
// Capture, classifier and mapper run in-process. Bounded: about 10 s when it works, 60 s at most to wait.
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { ChildProcess } from "node:child_process";
import { parse } from "yaml";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ListenersFact } from "@adi/shared/wire";
import { NatsServerFixture } from "../../../test/support/nats-server.ts";
import { processEnv, run, sleep, startBackground, stopBackground } from "../../../test/support/capture.ts";
import { startPipeline, tearDown } from "../../../test/support/pipeline.ts";
import type { Pipeline } from "../../../test/support/pipeline.ts";
import { readFacts } from "../../../test/support/stream.ts";
import { until } from "../../../test/support/wait.ts";

// A server that names itself (PR_SET_NAME: the comm the kernel reports), listens, prints its port, and either
// answers one HTTP request and exits at once (os._exit: no cleanup) or answers requests until it is killed.
const SERVER = `
import ctypes, os, socket, sys
name, family, addr, port, v6only, mode = sys.argv[1:7]
ctypes.CDLL(None).prctl(15, name.encode(), 0, 0, 0)
s = socket.socket(socket.AF_INET6 if family == "6" else socket.AF_INET, socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
if family == "6":
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, int(v6only))
s.bind((addr, int(port)))
s.listen(8)
print(s.getsockname()[1], flush=True)
while True:
    c, _ = s.accept()
    c.recv(65536)
    c.sendall(b"HTTP/1.1 200 OK\\r\\nContent-Type: application/json\\r\\nContent-Length: 11\\r\\nConnection: close\\r\\n\\r\\n{\\"ok\\":true}")
    c.close()
    if mode == "once":
        os._exit(0)
`;

let nats: NatsServerFixture;
let pipe: Pipeline;
let dir = "";
let listeners: ListenersFact[] = [];
let map: { services: { name: string; endpoints?: { method: string; path: string; destination: string }[] }[] };
const ports = { once: 0, pair: 0, lo: 0, netns: 0 };
const pids = { once: 0, v4: 0, v6: 0, lo4: 0, lo6: 0 };

/** Starts a server (not opted in; `prefix`: a command it runs under) and resolves with its port once it listens. */
function server(args: string[], prefix: string[] = []): Promise<{ child: ChildProcess; port: number }> {
  const [cmd, ...rest] = [...prefix, "python3", join(dir, "server.py"), ...args];
  const child = startBackground(cmd!, rest, { env: processEnv({}), stdio: ["ignore", "pipe", "inherit"] });
  return new Promise((resolve, reject) => {
    let out = "";
    child.stdout!.on("data", (d) => {
      out += d;
      if (out.includes("\n")) resolve({ child, port: Number(out.trim()) });
    });
    child.once("exit", (code) => reject(new Error(`server ${args.join(" ")} exited (${code}) before listening`)));
  });
}

beforeAll(async () => {
  nats = await NatsServerFixture.start();
  pipe = await startPipeline(nats.url);
  dir = mkdtempSync(join(tmpdir(), "adi-listen-"));
  writeFileSync(join(dir, "server.py"), SERVER);

  // The one-shot server: gone before any rescan (a scan runs every 5 s, or 20 ms after a call to a port it does
  // not know, by when this server has exited).
  const once = await server(["oneshot-srv", "4", "127.0.0.1", "0", "0", "once"]);
  ports.once = once.port;
  pids.once = once.child.pid!;
  const exited = new Promise((r) => once.child.once("exit", r));
  const curl = await run("curl", ["-sS", "--fail", "-o", "/dev/null", `http://127.0.0.1:${ports.once}/once`], {
    env: processEnv({ ADI_PROFILE: "e2e", ADI_PROFILE_NAME: "oneshot-client" }),
  });
  expect(curl.code, curl.stderr).toBe(0);
  await exited;

  // The v4/v6 pair on one port, and loopback-bound listeners of each family.
  // (The kernel picks the port: a probe socket of the test process would be a listener of that port too.)
  const v4 = await server(["srv-v4", "4", "0.0.0.0", "0", "0", "serve"]);
  ports.pair = v4.port;
  const v6 = await server(["srv-v6", "6", "::", String(ports.pair), "1", "serve"]);
  const lo4 = await server(["srv-lo4", "4", "127.0.0.1", "0", "0", "serve"]);
  ports.lo = lo4.port;
  const lo6 = await server(["srv-lo6", "6", "::1", String(ports.lo), "1", "serve"]);
  Object.assign(pids, { v4: v4.child.pid!, v6: v6.child.pid!, lo4: lo4.child.pid!, lo6: lo6.child.pid! });
  // Opted-in clients call each family's address on the shared port (the mapper matches by family: helper C's side).
  for (const [name, url] of [["pair-client4", `http://127.0.0.1:${ports.pair}/v4`], ["pair-client6", `http://[::1]:${ports.pair}/v6`]]) {
    const r = await run("curl", ["-sS", "--fail", "-o", "/dev/null", url!], { env: processEnv({ ADI_PROFILE: "e2e", ADI_PROFILE_NAME: name! }) });
    expect(r.code, `${name}: ${r.stderr}`).toBe(0);
  }
  // A listener in a network namespace of its own (as a container's): not reachable at the host's addresses.
  const other = await server(["srv-netns", "4", "0.0.0.0", "0", "0", "serve"], ["unshare", "--net"]);
  ports.netns = other.port;
  await sleep(200);
  for (const s of [v4, v6, lo4, lo6, other]) await stopBackground(s.child);
  await sleep(200);
  await pipe.capture!.stop(10_000);

  await until("the map to show the one-shot call and the pair's", () => {
    try {
      map = parse(readFileSync(pipe.cfg.serviceMapPath!, "utf8")) as typeof map;
      return ["oneshot-client", "pair-client4", "pair-client6"].every((n) => (map.services.find((s) => s.name === n)?.endpoints?.length ?? 0) > 0);
    } catch {
      return false;
    }
  }, 30_000);
  listeners = (await readFacts(pipe.nc)).filter((f): f is ListenersFact => f.type === "listeners");
  await pipe.stop();
}, 90_000);

afterAll(() => tearDown(pipe, nats));

/** Listener entries of `event` facts on `port`, with the fact's event. */
const entries = (event: "listen" | "close" | "scan", port: number) =>
  listeners.filter((f) => (f.event ?? "scan") === event).flatMap((f) => f.listeners.filter((l) => l.port === port));

describe("a server that did not opt in, answered once and exited", () => {
  it("is in a listener fact made from the kernel's listen record, named after its process", () => {
    expect(entries("listen", ports.once)).toEqual([
      { ip: "127.0.0.1", port: ports.once, family: 4, v6only: false, pid: pids.once, start_ticks: expect.any(Number), comm: "oneshot-srv", adi_profile_name: null },
    ]);
    // Closed by its exit: the kernel reports that too.
    expect(entries("close", ports.once).map((l) => [l.ip, l.comm])).toEqual([["127.0.0.1", "oneshot-srv"]]);
    console.log(`one-shot port ${ports.once}: in a /proc scan fact ${entries("scan", ports.once).length} time(s)`);
  });

  it("names the destination of the call in the map after the server's comm, not its address", () => {
    const endpoints = map.services.find((s) => s.name === "oneshot-client")!.endpoints!;
    expect(endpoints.filter((e) => e.path === "/once").map((e) => [e.method, e.destination])).toEqual([["GET", "oneshot-srv"]]);
  });
});

describe("listeners on one port in each family", () => {
  it("keep 0.0.0.0 (IPv4) and [::] with IPV6_V6ONLY (IPv6) apart, each with its own process", () => {
    const got = entries("listen", ports.pair).map((l) => ({ ip: l.ip, family: l.family, v6only: l.v6only, pid: l.pid, comm: l.comm }));
    expect(got.sort((a, b) => a.family! - b.family!)).toEqual([
      { ip: "0.0.0.0", family: 4, v6only: false, pid: pids.v4, comm: "srv-v4" },
      { ip: "::", family: 6, v6only: true, pid: pids.v6, comm: "srv-v6" },
    ]);
  });

  it("name a call to 127.0.0.1:P after the IPv4 server and one to [::1]:P after the IPv6 one", () => {
    const dest = (client: string, path: string) => map.services.find((s) => s.name === client)!.endpoints!.filter((e) => e.path === path).map((e) => e.destination);
    expect(dest("pair-client4", "/v4")).toEqual(["srv-v4"]);
    expect(dest("pair-client6", "/v6")).toEqual(["srv-v6"]);
  });

  it("keep loopback-bound addresses: 127.0.0.1 and ::1", () => {
    const got = entries("listen", ports.lo).map((l) => [l.ip, l.family, l.v6only, l.comm]);
    expect(got.sort()).toEqual([
      ["127.0.0.1", 4, false, "srv-lo4"],
      ["::1", 6, true, "srv-lo6"],
    ]);
  });

  it("leave out a listener in another network namespace (a container's 0.0.0.0:P is not the host's)", () => {
    expect(listeners.flatMap((f) => f.listeners).filter((l) => l.comm === "srv-netns")).toEqual([]);
  });

  it("report each one's close when its process is stopped", () => {
    expect(entries("close", ports.pair).map((l) => l.comm).sort()).toEqual(["srv-v4", "srv-v6"]);
    expect(entries("close", ports.lo).map((l) => l.comm).sort()).toEqual(["srv-lo4", "srv-lo6"]);
  });
});
