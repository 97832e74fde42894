// ContainerdRuntime against the real containerd (scripts/docker.sh starts it), with a container made by `ctr`
// the way nerdctl users' containers are: labelled, in namespace `default`, no Docker involved.
import { setTimeout as sleep } from "node:timers/promises";
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ContainerdRuntime } from "../src/adapters/containerd.ts";
import { detectRuntime } from "../src/adapters/detect.ts";
import { openRuntime } from "../src/adapters/runtime.ts";
import type { RuntimeEvent } from "../src/adapters/runtime.ts";
import { ensureContainerdImage, startSocketProxy, waitFor } from "../../../test/support/images.ts";

const run = promisify(execFile);
const SOCKET = "/run/containerd/containerd.sock";
const NS = "default";
const ctr = (...args: string[]) => run("ctr", ["--address", SOCKET, "-n", NS, ...args], { timeout: 30_000 }).then((r) => r.stdout.trim());
const suffix = randomBytes(4).toString("hex");
const created: string[] = [];
let image = "";

async function runContainer(name: string, ...labels: string[]): Promise<void> {
  created.push(name); // registered first, so afterAll cleans up even a half-made container
  await ctr("run", "-d", ...labels.flatMap((l) => ["--label", l]), image, name, "sleep", "300");
}

async function remove(name: string): Promise<void> {
  await ctr("task", "rm", "-f", name).catch(() => undefined); // -f: kills a running task first
  await ctr("container", "rm", name).catch(() => undefined);
}

async function taskPid(name: string): Promise<number> {
  const line = (await ctr("task", "ls")).split("\n").find((l) => l.split(/\s+/)[0] === name);
  return Number(line?.split(/\s+/)[1]);
}

describe("ContainerdRuntime against the real containerd", () => {
  const name = `adi-rt-worker-${suffix}`;
  const runtime = new ContainerdRuntime({ socketPath: SOCKET, namespaces: [NS] });

  beforeAll(async () => {
    await ctr("version").catch((err: unknown) => {
      throw new Error(`containerd does not answer on ${SOCKET}: run scripts/docker.sh first (${String(err)})`);
    });
    image = await ensureContainerdImage(NS);
    await runContainer(name, "com.docker.compose.service=worker", "com.docker.compose.project=demo");
  });

  afterAll(async () => {
    runtime.close();
    for (const n of created) await remove(n);
  });

  it("detects containerd on its socket, and names a socket where nothing listens", async () => {
    expect(await detectRuntime(SOCKET)).toBe("containerd");
    const opened = await openRuntime(SOCKET, { namespace: NS });
    expect(opened).toBeInstanceOf(ContainerdRuntime);
    expect((opened as ContainerdRuntime).namespaces).toEqual([NS]);
    opened.close();
    await expect(detectRuntime(`/tmp/adi-no-engine-${suffix}.sock`)).rejects.toThrow(`/tmp/adi-no-engine-${suffix}.sock`);
  });

  it("lists the container with its compose service, image and host pid", async () => {
    const mine = (await runtime.list()).find((c) => c.container_id === name);
    expect(mine).toMatchObject({
      runtime: "containerd",
      namespace: NS,
      container_name: name,
      image,
      service: "worker",
      project: "demo",
      state: "running",
      ports: [],
    });
    expect(mine!.pid).toBe(await taskPid(name));
    expect(await runtime.inspect(name)).toEqual(mine);
    expect(await runtime.inspect(`no-such-container-${suffix}`)).toBeNull();
  });

  it("reports start, die when the task is killed, and destroy when the container is removed", async () => {
    const short = `adi-rt-short-${suffix}`;
    const events: RuntimeEvent[] = [];
    const stop = runtime.watch((e) => events.push(e));
    const seen = (action: string) => () => events.some((e) => e.id === short && e.action === action);
    try {
      await sleep(300); // let the subscription open
      await runContainer(short, "com.docker.compose.service=short");
      await waitFor(seen("start"), "start event");
      expect(events.find((e) => e.id === short)).toMatchObject({ namespace: NS, identity: { service: "short", state: "running" } });
      await ctr("task", "kill", "-s", "SIGKILL", short);
      await waitFor(seen("die"), "die event");
      await ctr("task", "rm", short);
      await ctr("container", "rm", short);
      await waitFor(seen("destroy"), "destroy event");
      expect(events.filter((e) => e.id === short).map((e) => e.action)).toEqual(["start", "die", "destroy"]);
    } finally {
      stop();
    }
  });

  it("keeps watching across the socket going away and coming back", async () => {
    const proxy = await startSocketProxy(SOCKET);
    const watched = new ContainerdRuntime({ socketPath: proxy.path, namespaces: [NS] });
    const after = `adi-rt-after-${suffix}`;
    const events: RuntimeEvent[] = [];
    let reconnects = 0;
    const stop = watched.watch((e) => events.push(e), { onReconnect: () => reconnects++ });
    try {
      await sleep(300);
      await proxy.stop(); // as when containerd restarts: the stream breaks, connects are refused
      await sleep(800);
      await proxy.start();
      await waitFor(() => reconnects > 0, "reconnect", 20_000);
      await runContainer(after);
      await waitFor(() => events.some((e) => e.id === after && e.action === "start"), "start event after reconnect");
      expect((await watched.list()).map((c) => c.container_id)).toContain(after);
    } finally {
      stop();
      watched.close();
      await proxy.stop();
    }
  });
});
