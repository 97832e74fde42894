// DockerRuntime against the real Docker Engine (scripts/docker.sh installs and starts it), with a container that
// looks like a compose service: labels, a published port, a host pid. Also: the same container seen through
// containerd's `moby` namespace, and the event stream surviving the socket going away. Containers are started
// with testcontainers on the offline-built busybox image (test/support/images.ts: LocalContainer never pulls).
import { setTimeout as sleep } from "node:timers/promises";
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { promisify } from "node:util";
import { Wait } from "testcontainers";
import type { StartedTestContainer } from "testcontainers";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ContainerdRuntime } from "../src/adapters/containerd.ts";
import { detectRuntime } from "../src/adapters/detect.ts";
import { DockerRuntime } from "../src/adapters/docker.ts";
import { openRuntime } from "../src/adapters/runtime.ts";
import type { RuntimeEvent } from "../src/adapters/runtime.ts";
import { BUSYBOX_IMAGE, DOCKER_CLI, ensureBusyboxImage, LocalContainer, removeOrphans, startSocketProxy, waitFor } from "../../../test/support/images.ts";
import { freePort } from "../../../test/support/nats-server.ts";

const run = promisify(execFile);
const docker = (...args: string[]) => run(DOCKER_CLI, args, { timeout: 30_000 }).then((r) => r.stdout.trim());
const SOCKET = "/var/run/docker.sock";
const suffix = randomBytes(4).toString("hex");
const created: string[] = [];
const started: StartedTestContainer[] = [];

/** Starts `container` named `name` (registered first, so afterAll removes it even if the start half-fails). */
async function runContainer(name: string, container: LocalContainer): Promise<StartedTestContainer> {
  created.push(name);
  const c = await container.withName(name).start();
  started.push(c);
  return c;
}

/** The busybox image running `sleep 60`. */
const sleeper = () => new LocalContainer(BUSYBOX_IMAGE).withCommand(["sleep", "60"]);

describe("DockerRuntime against the real engine", () => {
  let id = "";
  let port = 0;
  const runtime = new DockerRuntime({ socketPath: SOCKET });

  beforeAll(async () => {
    await docker("info").catch((err: unknown) => {
      throw new Error(`Docker does not answer on ${SOCKET}: run scripts/docker.sh first (${String(err)})`);
    });
    await removeOrphans();
    await ensureBusyboxImage();
    port = await freePort();
    id = await runContainer(
      `adi-rt-web-${suffix}`,
      new LocalContainer(BUSYBOX_IMAGE)
        .withLabels({ "com.docker.compose.service": "web", "com.docker.compose.project": "demo" })
        .withExposedPorts({ container: 8080, host: port })
        // Published on loopback only (testcontainers binds every address): the adapter must report the host ip.
        .withHostConfig({ PortBindings: { "8080/tcp": [{ HostIp: "127.0.0.1", HostPort: String(port) }] } })
        .withCommand(["busybox", "httpd", "-f", "-p", "8080"])
        .withWaitStrategy(Wait.forListeningPorts()),
    ).then((c) => c.getId());
  });

  afterAll(async () => {
    runtime.close();
    for (const c of started) await c.stop({ timeout: 1000 }).catch(() => undefined);
    for (const name of created) await docker("rm", "-f", name).catch(() => undefined); // one whose start half-failed
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
      image: BUSYBOX_IMAGE,
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
      await sleep(300); // let the event stream open
      const short = await runContainer(name, sleeper());
      const shortId = short.getId();
      await waitFor(() => events.some((e) => e.id === shortId && e.action === "start"), "start event");
      await short.stop({ timeout: 1000, remove: false }); // stopped, not removed: the adapter inspects it on `die`
      await waitFor(() => events.some((e) => e.id === shortId && e.action === "die"), "die event");
      const die = events.find((e) => e.id === shortId && e.action === "die")!;
      expect(die.identity).toMatchObject({ container_name: name, state: "exited", pid: null });
      await docker("rm", name);
      await waitFor(() => events.some((e) => e.id === shortId && e.action === "destroy"), "destroy event");
      // The lifecycle in order; `change` (the engine's network connect/disconnect around start and die) may come between.
      expect(events.filter((e) => e.id === shortId && e.action !== "change").map((e) => e.action)).toEqual(["start", "die", "destroy"]);
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
      await sleep(300);
      await proxy.stop(); // as when the engine restarts: the stream ends, connects are refused
      await sleep(800);
      await proxy.start();
      await waitFor(() => reconnects > 0, "reconnect", 15_000);
      const afterId = (await runContainer(`adi-rt-after-${suffix}`, sleeper())).getId();
      await waitFor(() => events.some((e) => e.id === afterId && e.action === "start"), "start event after reconnect");
    } finally {
      stop();
      watched.close();
      await proxy.stop();
    }
  });
});
