// The enricher against a real Podman (Debian's podman 4.3, scripts/docker.sh installs it) through its
// Docker-compatible socket, served by `podman system service` as on a host without systemd. What issue 10 found:
// Podman names a container's death `died` (libpod) and its removal `remove`, never Docker's `destroy`, so a
// stopped or removed container stayed `running`; and its socket is not there until the service runs (it exits
// after 5 s idle), which made `adi up` exit. Here: detection, identity (gateway 10.88.0.1 included), the event
// names, a resync after the service was away, and a socket that appears 3 s after the enricher started.
import { setTimeout as sleep } from "node:timers/promises";
import { execFile, spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ContainerFact } from "@adi/shared/wire";
import { startContainerEnrichment } from "../src/adapters/container-enrichment.ts";
import type { ContainerEnrichment } from "../src/adapters/container-enrichment.ts";
import { detectRuntime } from "../src/adapters/detect.ts";
import { DockerRuntime } from "../src/adapters/docker.ts";
import { openRuntime } from "../src/adapters/runtime.ts";
import { BUSYBOX_IMAGE, DOCKER_CLI, ensureBusyboxImage, waitFor } from "../../../test/support/images.ts";
import { freePort } from "../../../test/support/nats-server.ts";

const run = promisify(execFile);
// runc (installed with docker.io) and cgroupfs: crun and the systemd manager fail on a host without systemd whose
// cgroups are hybrid; the ulimits stay under this machine's hard limits (Podman's defaults exceed them).
const GLOBAL = ["--runtime", "runc", "--cgroup-manager", "cgroupfs", "--events-backend", "file"];
const podman = (...args: string[]) => run("podman", [...GLOBAL, ...args], { timeout: 60_000 }).then((r) => r.stdout.trim());
const IMAGE = `localhost/${BUSYBOX_IMAGE}`;
const BOOT = "393a8351-01d1-4c4f-84ed-e7c686d9ae26";
const suffix = randomBytes(4).toString("hex");
const dir = mkdtempSync(join(tmpdir(), "adi-podman-"));
const names: string[] = [];

async function runContainer(what: string, ...args: string[]): Promise<{ id: string; name: string }> {
  const name = `adi-pod-${what}-${suffix}`;
  names.push(name);
  const id = await podman("run", "-d", "--name", name, "--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024", ...args);
  return { id, name };
}

/** Answers once `GET /_ping` on the socket says OK. */
function pings(socketPath: string): Promise<boolean> {
  return new Promise((resolve) => {
    const req = request({ socketPath, path: "/_ping", timeout: 1000 }, (res) => {
      res.resume();
      res.on("end", () => resolve(res.statusCode === 200));
    });
    req.on("error", () => resolve(false));
    req.on("timeout", () => req.destroy());
    req.end();
  });
}

/** `podman system service` on `socketPath` until stopped (idle timeout off), as a systemd unit would run it. */
class PodmanService {
  #child: ChildProcess | null = null;
  readonly socketPath: string;
  constructor(socketPath: string) {
    this.socketPath = socketPath;
  }

  async start(): Promise<void> {
    this.#child = spawn("podman", [...GLOBAL, "system", "service", "--time", "0", `unix://${this.socketPath}`], { stdio: "ignore" });
    await waitFor(() => pings(this.socketPath), `podman system service on ${this.socketPath}`, 20_000);
  }

  /** Stops it and removes the socket, as its idle exit does. */
  async stop(): Promise<void> {
    const child = this.#child;
    this.#child = null;
    if (child && child.exitCode === null) {
      const exited = new Promise((r) => child.once("exit", r));
      child.kill("SIGTERM");
      await exited;
    }
    rmSync(this.socketPath, { force: true });
  }
}

function quietLog(): pino.Logger {
  return pino({ level: "silent" });
}

const service = new PodmanService(join(dir, "podman.sock"));

beforeAll(async () => {
  await run("podman", ["--version"]).catch((err: unknown) => {
    throw new Error(`podman is not installed: run scripts/docker.sh first (${String(err)})`);
  });
  // The offline image, moved from Docker into Podman's store (no registry answers here).
  if (!(await podman("image", "exists", IMAGE).then(() => true, () => false))) {
    await ensureBusyboxImage();
    await run("sh", ["-c", `${DOCKER_CLI} save ${BUSYBOX_IMAGE} | podman ${GLOBAL.join(" ")} load`], { timeout: 120_000 });
  }
  await service.start();
}, 180_000);

afterAll(async () => {
  for (const name of names) await podman("rm", "-f", "-t", "0", name).catch(() => undefined);
  await service.stop();
  rmSync(dir, { recursive: true, force: true });
});

function enrichment(socket: string, facts: ContainerFact[]): ContainerEnrichment {
  return startContainerEnrichment({
    socket,
    log: quietLog(),
    stamp: () => ({ ts: "2026-11-30T19:00:00.000000000Z", host: "h", bootId: BOOT }),
    publish: async (f) => void facts.push(f),
    resyncMs: 600_000,
  });
}

describe("Podman through its Docker-compatible socket", () => {
  it("is detected as Podman and lists a container with its gateway, published port and host pid", async () => {
    expect(await detectRuntime(service.socketPath)).toBe("podman");
    const rt = await openRuntime(service.socketPath);
    expect(rt).toBeInstanceOf(DockerRuntime);
    expect(rt.kind).toBe("podman");
    const port = await freePort();
    const web = await runContainer("web", "--label", "com.docker.compose.service=web", "-p", `127.0.0.1:${port}:8080`, IMAGE, "httpd", "-f", "-p", "8080");
    const mine = (await rt.list()).find((c) => c.container_id === web.id);
    expect(mine).toMatchObject({
      runtime: "podman",
      container_name: web.name,
      service: "web",
      state: "running",
      ports: [{ container_port: 8080, protocol: "tcp", host_ip: "127.0.0.1", host_port: port }],
    });
    const gateway = await podman("inspect", "-f", "{{range .NetworkSettings.Networks}}{{.Gateway}}{{end}}", web.id);
    expect(gateway).toMatch(/^\d+\.\d+\.\d+\.1$/); // 10.88.0.1 on the default network
    expect(mine!.gateways).toEqual([gateway]);
    expect(mine!.ips).toHaveLength(1);
    expect(readFileSync(`/proc/${mine!.pid}/cgroup`, "utf8")).toContain(web.id);
    rt.close();
  }, 60_000);

  it("publishes die and destroy for Podman's stop and rm (its `died`/`die` and `remove`)", async () => {
    const facts: ContainerFact[] = [];
    const e = enrichment(service.socketPath, facts);
    try {
      expect(await e.firstAttempt).toBe(true);
      expect(e.runtime).toBe("podman");
      await sleep(500); // the event stream opens
      const c = await runContainer("events", IMAGE, "sleep", "120");
      await waitFor(() => facts.some((f) => f.container_id === c.id && f.event === "start"), "start fact", 20_000);
      await podman("stop", "-t", "1", c.name);
      await waitFor(() => facts.some((f) => f.container_id === c.id && f.event === "die"), "die fact", 20_000);
      await podman("rm", c.name);
      await waitFor(() => facts.some((f) => f.container_id === c.id && f.event === "destroy"), "destroy fact", 20_000);
      expect(facts.filter((f) => f.container_id === c.id).map((f) => [f.event, f.state])).toEqual([
        ["start", "running"],
        ["die", "exited"],
        ["destroy", "removed"],
      ]);
    } finally {
      await e.stop();
    }
  }, 90_000);

  it("marks what was stopped and removed while the service was away, once it is back (resync)", async () => {
    const stopped = await runContainer("stopped", IMAGE, "sleep", "120");
    const removed = await runContainer("removed", IMAGE, "sleep", "120");
    const facts: ContainerFact[] = [];
    const e = enrichment(service.socketPath, facts);
    try {
      await e.ready;
      expect(facts.filter((f) => f.container_id === stopped.id || f.container_id === removed.id).map((f) => f.state)).toEqual(["running", "running"]);
      await service.stop(); // its idle exit: the socket is gone
      await podman("stop", "-t", "1", stopped.name);
      await podman("rm", "-f", "-t", "0", removed.name);
      await service.start();
      await waitFor(() => facts.some((f) => f.container_id === removed.id && f.event === "destroy"), "removed marked removed", 30_000);
      await waitFor(() => facts.some((f) => f.container_id === stopped.id && f.event === "die"), "stopped marked exited", 30_000);
      expect(facts.find((f) => f.container_id === stopped.id && f.event === "die")).toMatchObject({ state: "exited", pid: null });
      expect(facts.find((f) => f.container_id === removed.id && f.event === "destroy")).toMatchObject({ state: "removed", pid: null });
    } finally {
      await e.stop();
    }
  }, 120_000);

  it("follows a Podman socket that appears 3 s after the enricher started", async () => {
    const late = new PodmanService(join(dir, "late.sock"));
    const c = await runContainer("late", IMAGE, "sleep", "120");
    const facts: ContainerFact[] = [];
    const e = enrichment(late.socketPath, facts);
    try {
      expect(await e.firstAttempt).toBe(false); // nothing there: no throw, retried
      expect(existsSync(late.socketPath)).toBe(false);
      await sleep(3_000);
      await late.start();
      await waitFor(() => e.runtime === "podman", "the socket to be followed", 15_000);
      await waitFor(() => facts.some((f) => f.container_id === c.id && f.state === "running"), "its container's fact", 15_000);
    } finally {
      await e.stop();
      await late.stop();
    }
  }, 90_000);
});
