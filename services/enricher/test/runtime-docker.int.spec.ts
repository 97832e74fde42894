// DockerRuntime against the real Docker Engine (scripts/docker.sh installs and starts it), with a container that
// looks like a compose service: labels, a published port, a host pid. Also: the same container seen through
// containerd's `moby` namespace, and the event stream surviving the socket going away.
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ContainerdRuntime } from "../src/adapters/containerd.ts";
import { detectRuntime } from "../src/adapters/detect.ts";
import { DockerRuntime } from "../src/adapters/docker.ts";
import { openRuntime } from "../src/adapters/runtime.ts";
import type { RuntimeEvent } from "../src/adapters/runtime.ts";
import { DOCKER_CLI, ensureBusyboxImage, startSocketProxy, waitFor } from "../../../test/support/images.ts";
import { freePort } from "../../../test/support/nats-server.ts";

const run = promisify(execFile);
const docker = (...args: string[]) => run(DOCKER_CLI, args, { timeout: 30_000 }).then((r) => r.stdout.trim());
const SOCKET = "/var/run/docker.sock";
const suffix = randomBytes(4).toString("hex");
const created: string[] = [];

async function runContainer(name: string, ...args: string[]): Promise<string> {
  created.push(name); // registered before it exists, so afterAll removes it even if `run` half-fails
  return docker("run", "-d", "--name", name, ...args);
}

describe("DockerRuntime against the real engine", () => {
  let id = "";
  let port = 0;
  const runtime = new DockerRuntime({ socketPath: SOCKET });

  beforeAll(async () => {
    await docker("info").catch((err: unknown) => {
      throw new Error(`Docker does not answer on ${SOCKET}: run scripts/docker.sh first (${String(err)})`);
    });
    await ensureBusyboxImage();
    port = await freePort();
    id = await runContainer(
      `adi-rt-web-${suffix}`,
      "--label", "com.docker.compose.service=web",
      "--label", "com.docker.compose.project=demo",
      "-p", `127.0.0.1:${port}:8080`,
      "adi-test/busybox:1", "busybox", "httpd", "-f", "-p", "8080",
    );
  });

  afterAll(async () => {
    runtime.close();
    for (const name of created) await docker("rm", "-f", name).catch(() => undefined);
  });

  it("detects Docker on its socket and opens the Docker adapter", async () => {
    expect(await detectRuntime(SOCKET)).toBe("docker");
    const opened = await openRuntime(SOCKET);
    expect(opened).toBeInstanceOf(DockerRuntime);
    expect(opened.kind).toBe("docker");
    opened.close();
  });

  it("lists the container with its compose service, image, address, published port and host pid", async () => {
    const mine = (await runtime.list()).find((c) => c.container_id === id);
    expect(mine).toMatchObject({
      runtime: "docker",
      namespace: null,
      container_name: `adi-rt-web-${suffix}`,
      image: "adi-test/busybox:1",
      service: "web",
      project: "demo",
      state: "running",
      ports: [{ container_port: 8080, protocol: "tcp", host_ip: "127.0.0.1", host_port: port }],
    });
    const ip = await docker("inspect", "-f", "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}", id);
    expect(mine!.ips).toEqual([ip]);
    // The pid is a host pid: its cgroup names this container, which is how capture's process facts join up.
    expect(readFileSync(`/proc/${mine!.pid}/cgroup`, "utf8")).toContain(id);
    expect(await runtime.inspect(id.slice(0, 12))).toEqual(mine);
    expect(await runtime.inspect(`no-such-container-${suffix}`)).toBeNull();
  });

  it("sees Docker's container in containerd's moby namespace, under the same id", async () => {
    const containerd = new ContainerdRuntime({ namespaces: ["moby"] });
    try {
      const mine = (await containerd.list()).find((c) => c.container_id === id);
      expect(mine).toMatchObject({ runtime: "containerd", namespace: "moby", state: "running" });
      expect(mine!.pid).toBe((await runtime.inspect(id))!.pid);
    } finally {
      containerd.close();
    }
  });

  it("reports die when the container stops, and destroy when it is removed", async () => {
    const name = `adi-rt-short-${suffix}`;
    const events: RuntimeEvent[] = [];
    const stop = runtime.watch((e) => events.push(e));
    try {
      await new Promise((r) => setTimeout(r, 300)); // let the event stream open
      const shortId = await runContainer(name, "adi-test/busybox:1", "sleep", "60");
      await waitFor(() => events.some((e) => e.id === shortId && e.action === "start"), "start event");
      await docker("stop", "-t", "1", name);
      await waitFor(() => events.some((e) => e.id === shortId && e.action === "die"), "die event");
      const die = events.find((e) => e.id === shortId && e.action === "die")!;
      expect(die.identity).toMatchObject({ container_name: name, state: "exited", pid: null });
      await docker("rm", name);
      await waitFor(() => events.some((e) => e.id === shortId && e.action === "destroy"), "destroy event");
      expect(events.filter((e) => e.id === shortId).map((e) => e.action)).toEqual(["start", "die", "destroy"]);
    } finally {
      stop();
    }
  });

  it("keeps watching across the socket going away and coming back", async () => {
    const proxy = await startSocketProxy(SOCKET);
    const watched = new DockerRuntime({ socketPath: proxy.path });
    const events: RuntimeEvent[] = [];
    let reconnects = 0;
    const stop = watched.watch((e) => events.push(e), { onReconnect: () => reconnects++ });
    try {
      await new Promise((r) => setTimeout(r, 300));
      await proxy.stop(); // as when the engine restarts: the stream ends, connects are refused
      await new Promise((r) => setTimeout(r, 800));
      await proxy.start();
      await waitFor(() => reconnects > 0, "reconnect", 15_000);
      const afterId = await runContainer(`adi-rt-after-${suffix}`, "adi-test/busybox:1", "sleep", "60");
      await waitFor(() => events.some((e) => e.id === afterId && e.action === "start"), "start event after reconnect");
    } finally {
      stop();
      watched.close();
      await proxy.stop();
    }
  });
});
