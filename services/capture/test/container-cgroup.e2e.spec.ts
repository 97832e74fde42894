// Issue 9, through the kernel and a real Docker engine: a container's short-lived processes (busybox wget, each
// a new process living a few milliseconds, usually gone before the agent could read /proc/PID/cgroup) call an
// opted-in server on the host. The kernel's cgroup id on each record names their container anyway: every request
// line of the traffic log carries its source_container. Capture, classifier, mapper and enricher run in-process.
// Bounded: 60 s to set up and wait (about 10 s when it works), 20 s to clean up; the container is removed.
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { networkInterfaces, tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import type { ChildProcess } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startEnricher } from "@adi/enricher";
import type { Enricher } from "@adi/enricher";
import { createLogger } from "@adi/shared";
import type { ProcessFact } from "@adi/shared/wire";
import { DOCKER_CLI, ensureBusyboxImage, waitFor } from "../../../test/support/images.ts";
import { processEnv, startBackground, stopBackground } from "../../../test/support/capture.ts";
import { freePort, NatsServerFixture, waitForPort } from "../../../test/support/nats-server.ts";
import { startPipeline } from "../../../test/support/pipeline.ts";
import type { Pipeline } from "../../../test/support/pipeline.ts";
import { readFacts } from "../../../test/support/stream.ts";

const exec = promisify(execFile);
const docker = (...args: string[]) => exec(DOCKER_CLI, args, { timeout: 30_000 }).then((r) => r.stdout.trim());
const CALLS = 20;
const suffix = randomBytes(4).toString("hex");
const NAME = `adi-cg-${suffix}`;

type Line = Record<string, unknown> & { source_container: Record<string, unknown> | null };

let nats: NatsServerFixture | undefined;
let pipe: Pipeline | undefined;
let enricher: Enricher | undefined;
let server: ChildProcess | undefined;
let created = false;
const dirs: string[] = [];
let containerId = "";
let port = 0;
let requests: Line[] = [];
let facts: ProcessFact[] = [];
let tookMs = 0;

/** The host's address on Docker's default bridge, which a container reaches the host by. */
async function bridgeGateway(): Promise<string> {
  const gw = await docker("network", "inspect", "bridge", "-f", "{{range .IPAM.Config}}{{.Gateway}}{{end}}");
  if (gw) return gw;
  // Newer engines leave the gateway out of IPAM; Node does not list a bridge that is down (no container yet).
  const up = networkInterfaces().docker0?.find((a) => a.family === "IPv4")?.address;
  if (up) return up;
  const { stdout } = await exec("ip", ["-4", "-o", "addr", "show", "dev", "docker0"], { timeout: 10_000 });
  const m = /\binet (\d+\.\d+\.\d+\.\d+)\//.exec(stdout);
  if (!m) throw new Error(`no IPv4 address on Docker's bridge (docker0): ${stdout.trim()}`);
  return m[1]!;
}

/** This run's request lines (other runs on the machine are captured too: the server's port tells them apart). */
function readRequests(path: string): Line[] {
  let text = "";
  try {
    text = readFileSync(path, "utf8");
  } catch {
    return [];
  }
  return text
    .split("\n")
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Line)
    .filter((l) => typeof l.method === "string" && l.dest_port === port && String(l.url).startsWith("/hello.txt?call="));
}

beforeAll(async () => {
  const started = Date.now();
  await docker("info").catch((err: unknown) => {
    throw new Error(`Docker does not answer: run scripts/docker.sh first (${String(err)})`);
  });
  const image = await ensureBusyboxImage();
  nats = await NatsServerFixture.start();
  const envDir = mkdtempSync(join(tmpdir(), "adi-cg-env-"));
  dirs.push(envDir);
  pipe = await startPipeline(nats.url, {
    env: { DOCKER_HOST: "unix:///var/run/docker.sock", ENV_OUTPUT_PATH: join(envDir, "env.yaml") },
  });
  dirs.push(pipe.dir);
  enricher = await startEnricher(pipe.cfg, pipe.nc, createLogger("enricher-test", pipe.cfg.logLevel));

  // The opted-in server on the host, on the bridge address only.
  const gateway = await bridgeGateway();
  port = await freePort(gateway);
  const www = mkdtempSync(join(tmpdir(), "adi-cg-www-"));
  dirs.push(www);
  writeFileSync(join(www, "hello.txt"), "hello\n");
  server = startBackground("python3", ["-m", "http.server", String(port), "--bind", gateway, "--directory", www], {
    env: processEnv({ ADI_PROFILE: "x", ADI_PROFILE_NAME: "api" }),
  });
  await waitForPort(port, gateway);

  // The container: opted in by its environment; each wget is a new process (fork of sh, exec of busybox). No
  // `wget -T`: Debian 12's busybox-static crashes with it; `docker wait` is bounded by the 30 s exec timeout.
  const loop =
    `sleep 1; i=0; while [ $i -lt ${CALLS} ]; do i=$((i+1)); ` +
    `wget -q -O /dev/null "http://${gateway}:${port}/hello.txt?call=$i" || echo "call $i failed"; done`;
  created = true; // before `run`: afterAll removes it even if `run` half-fails
  containerId = await docker("run", "-d", "--name", NAME, "-e", "ADI_PROFILE=x", image, "sh", "-c", loop);
  expect(await docker("wait", NAME)).toBe("0");
  expect(await docker("logs", NAME)).toBe("");

  // Both ends are opted in: each call is logged by the client (in the container) and by the server.
  const waited = waitFor(
    () => {
      requests = readRequests(pipe!.cfg.outputPath);
      return requests.length >= 2 * CALLS;
    },
    `${2 * CALLS} request lines in the traffic log`,
    30_000,
  );
  await waited.catch((err: Error) => {
    const sides = requests.map((l) => `${String(l.side)}:${String(l.url)}`).sort();
    throw new Error(`${err.message}; this run's request lines: ${sides.join(" ") || "none"}`);
  });
  facts = (await readFacts(pipe.nc)).filter((f): f is ProcessFact => f.type === "process");
  tookMs = Date.now() - started;
}, 60_000);

afterAll(async () => {
  if (created) await docker("rm", "-f", NAME).catch(() => undefined);
  if (server) await stopBackground(server);
  await enricher?.stop();
  await pipe?.stop();
  await pipe?.nc.close();
  await nats?.stop();
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
}, 20_000);

describe("the container of short-lived processes, from the kernel's cgroup id (issue 9)", () => {
  it("logs every call from both ends, within the time bound", () => {
    const client = requests.filter((l) => l.side === "client");
    const serverSide = requests.filter((l) => l.side === "server");
    expect(client.map((l) => l.url).sort()).toEqual(Array.from({ length: CALLS }, (_, i) => `/hello.txt?call=${i + 1}`).sort());
    expect(serverSide).toHaveLength(CALLS);
    expect(tookMs).toBeLessThan(60_000);
  });

  it("names the container on every request line, as the mapper renders it", () => {
    const expected = { container_id: containerId, container_name: NAME, service: NAME, image: "adi-test/busybox:1" };
    const missing = requests.filter((l) => l.source_container === null).map((l) => `${l.side} ${l.comm} ${l.pid} ${l.url}`);
    expect(missing, `request lines without source_container`).toEqual([]);
    for (const line of requests) expect(line.source_container).toEqual(expected);
    // The client side is the one the fix is about: the process's own fact names the container. (busybox sh runs
    // an applet by exec'ing /proc/self/exe, so the kernel's comm at exec is "exe"; the arguments say wget.)
    for (const line of requests.filter((l) => l.side === "client")) {
      expect(line).toMatchObject({ direction: "send", cmdline: expect.stringMatching(/^wget /) });
    }
  });

  it("gives every wget process fact its container, read from /proc or not", () => {
    // This run's wget processes: their exec facts carry the kernel's arguments (the server's port); then every
    // fact of those processes (fork, exec, exit).
    const key = (f: ProcessFact) => `${f.pid}/${f.start_ticks}`;
    const mine = new Set(facts.filter((f) => f.event === "exec" && f.cmdline.startsWith("wget ") && f.cmdline.includes(`:${port}/`)).map(key));
    expect(mine.size).toBe(CALLS);
    const wget = facts.filter((f) => mine.has(key(f)));
    const wrong = wget.filter((f) => f.container_id !== containerId).map((f) => `${f.event} ${f.pid} ${f.cgroup} ${f.error}`);
    expect(wrong).toEqual([]);
    for (const f of wget) expect(f.cgroup).toContain(containerId);
    const unread = wget.filter((f) => f.event === "exec" && f.error !== null).length;
    // How many processes were gone before /proc could be read: those are the ones only the kernel's id names.
    console.info(`wget exec facts: ${wget.filter((f) => f.event === "exec").length}, of which /proc unreadable: ${unread}; took ${tookMs} ms`);
  });
});
