// The enricher's container side against the real Docker engine (scripts/docker.sh) and a real nats-server:
// - a runtime socket missing at start is waited for (the enricher starts, says so once, and follows the socket
//   when it appears 3 s later), never a reason to exit;
// - containers stopped or removed while the event stream was down are marked exited / removed by the resync;
// - the events path publishes start, die and destroy (state removed), and facts carry the gateway addresses.
// Also the ENV_OUTPUT_PATH side of the same service: only the networked process of a start script is written.
import { setTimeout as sleep } from "node:timers/promises";
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { jetstream } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import pino from "pino";
import type { StartedTestContainer } from "testcontainers";
import { parseAllDocuments } from "yaml";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "@adi/shared";
import { connectNats } from "@adi/shared/nats";
import { encodeFact, factSubject } from "@adi/shared/wire";
import type { ContainerFact, ProcessFact } from "@adi/shared/wire";
import { startEnricher } from "../src/main.ts";
import type { Enricher } from "../src/main.ts";
import { startContainerEnrichment } from "../src/adapters/container-enrichment.ts";
import { BUSYBOX_IMAGE, DOCKER_CLI, ensureBusyboxImage, LocalContainer, removeOrphans, startSocketProxy, waitFor } from "../../../test/support/images.ts";
import { NatsServerFixture } from "../../../test/support/nats-server.ts";
import { readFacts } from "../../../test/support/stream.ts";

const run = promisify(execFile);
const docker = (...args: string[]) => run(DOCKER_CLI, args, { timeout: 30_000 }).then((r) => r.stdout.trim());
const SOCKET = "/var/run/docker.sock";
const suffix = randomBytes(4).toString("hex");
const BOOT = "393a8351-01d1-4c4f-84ed-e7c686d9ae26";
const started: StartedTestContainer[] = [];
const names: string[] = [];

/** A running busybox container named adi-ce-<what>-<suffix>, sleeping; removed in afterAll. */
async function sleeper(what: string): Promise<{ id: string; name: string }> {
  const name = `adi-ce-${what}-${suffix}`;
  names.push(name);
  const c = await new LocalContainer(BUSYBOX_IMAGE).withName(name).withCommand(["sleep", "120"]).start();
  started.push(c);
  return { id: c.getId(), name };
}

/** A logger whose lines the test can read (pino's JSON, one object per line). */
function memoryLog(): { log: pino.Logger; lines: () => Record<string, unknown>[] } {
  const out: string[] = [];
  const log = pino({ level: "debug" }, { write: (s: string) => void out.push(s) });
  return { log, lines: () => out.map((l) => JSON.parse(l) as Record<string, unknown>) };
}

beforeAll(async () => {
  await docker("info").catch((err: unknown) => {
    throw new Error(`Docker does not answer on ${SOCKET}: run scripts/docker.sh first (${String(err)})`);
  });
  await removeOrphans();
  await ensureBusyboxImage();
}, 120_000);

afterAll(async () => {
  for (const c of started) await c.stop({ timeout: 1000 }).catch(() => undefined);
  for (const name of names) await docker("rm", "-f", name).catch(() => undefined);
});

describe("container enrichment against the real Docker engine", () => {
  it("marks containers stopped or removed while the event stream was down as exited and removed, within one resync", async () => {
    const stopped = await sleeper("stopped");
    const removed = await sleeper("removed");
    const proxy = await startSocketProxy(SOCKET);
    const facts: ContainerFact[] = [];
    const { log } = memoryLog();
    const enrichment = startContainerEnrichment({
      socket: proxy.path,
      log,
      stamp: () => ({ ts: "2026-11-30T19:00:00.000000000Z", host: "h", bootId: BOOT }),
      publish: async (f) => void facts.push(f),
      resyncMs: 600_000, // only the resync after the reconnect can see what happened meanwhile
    });
    try {
      expect(await enrichment.firstAttempt).toBe(true);
      expect(enrichment.runtime).toBe("docker");
      for (const c of [stopped, removed]) {
        expect(facts.find((f) => f.container_id === c.id)).toMatchObject({ event: "snapshot", state: "running", container_name: c.name });
      }
      const gateway = await docker("inspect", "-f", "{{range .NetworkSettings.Networks}}{{.Gateway}}{{end}}", stopped.id);
      expect(facts.find((f) => f.container_id === stopped.id)!.gateways).toEqual([gateway]);

      await proxy.stop(); // the engine "restarts": no events reach the enricher meanwhile
      await docker("stop", "-t", "1", stopped.name);
      await docker("rm", "-f", removed.name);
      const before = facts.length;
      await proxy.start();
      await waitFor(() => facts.some((f) => f.container_id === removed.id && f.event === "destroy"), "the removed container marked removed", 20_000);
      await waitFor(() => facts.some((f) => f.container_id === stopped.id && f.event === "die"), "the stopped container marked exited", 20_000);
      const after = facts.slice(before);
      expect(after.find((f) => f.container_id === stopped.id)).toMatchObject({ event: "die", state: "exited", pid: null });
      expect(after.find((f) => f.container_id === removed.id)).toMatchObject({ event: "destroy", state: "removed", pid: null, container_name: removed.name });
      // Marked once: a second resync publishes nothing new about them.
      const count = facts.length;
      await enrichment.resync();
      expect(facts.slice(count).filter((f) => f.container_id === stopped.id || f.container_id === removed.id)).toEqual([]);
      // Removed later, with the stream up: the event says so.
      await docker("rm", stopped.name);
      await waitFor(() => facts.some((f) => f.container_id === stopped.id && f.event === "destroy" && f.state === "removed"), "destroy of the stopped one");
    } finally {
      await enrichment.stop();
      await proxy.stop();
    }
  }, 90_000);

  it("republishes a container connected to another network at once, with its new address and gateway", async () => {
    const facts: ContainerFact[] = [];
    const network = `adi-ce-net-${suffix}`;
    const enrichment = startContainerEnrichment({
      socket: SOCKET,
      log: memoryLog().log,
      stamp: () => ({ ts: "2026-11-30T19:00:00.000000000Z", host: "h", bootId: BOOT }),
      publish: async (f) => void facts.push(f),
      resyncMs: 600_000, // the event, not a resync
    });
    try {
      await docker("network", "create", network);
      const c = await sleeper("netjoin");
      await enrichment.ready;
      await waitFor(() => facts.some((f) => f.container_id === c.id), "its first fact");
      const first = facts.filter((f) => f.container_id === c.id).at(-1)!;
      expect(first.gateways).toHaveLength(1);
      await sleep(300); // the event stream opens
      await docker("network", "connect", network, c.name);
      const gateway = await docker("network", "inspect", "-f", "{{range .IPAM.Config}}{{.Gateway}}{{end}}", network);
      await waitFor(() => facts.some((f) => f.container_id === c.id && f.gateways?.includes(gateway)), "a fact with the new gateway", 10_000);
      const joined = facts.filter((f) => f.container_id === c.id).at(-1)!;
      expect(joined).toMatchObject({ event: "snapshot", state: "running" });
      expect(joined.gateways).toEqual([...first.gateways!, gateway]);
      expect(joined.ips).toHaveLength(2);
    } finally {
      await enrichment.stop();
      for (const name of names.filter((n) => n.includes("netjoin"))) await docker("rm", "-f", name).catch(() => undefined);
      await docker("network", "rm", network).catch(() => undefined);
    }
  }, 60_000);

  it("finds the same gateway through containerd (moby namespace), from the container's network namespace", async () => {
    const c = await sleeper("moby");
    const { ContainerdRuntime } = await import("../src/adapters/containerd.ts");
    const containerd = new ContainerdRuntime({ namespaces: ["moby"] });
    try {
      const mine = (await containerd.list()).find((i) => i.container_id === c.id);
      const gateway = await docker("inspect", "-f", "{{range .NetworkSettings.Networks}}{{.Gateway}}{{end}}", c.id);
      expect(mine).toMatchObject({ runtime: "containerd", gateways: [gateway] });
    } finally {
      containerd.close();
    }
  });

  it("publishes again at the next resync what the broker refused (a death is not lost)", async () => {
    const facts: ContainerFact[] = [];
    let away = false; // the broker refuses every publish meanwhile
    let refused = 0;
    const { log, lines } = memoryLog();
    const enrichment = startContainerEnrichment({
      socket: SOCKET,
      log,
      stamp: () => ({ ts: "2026-11-30T19:00:00.000000000Z", host: "h", bootId: BOOT }),
      publish: async (f) => {
        if (away) {
          refused++;
          throw new Error("503 no responders (the broker is away)");
        }
        facts.push(f);
      },
      resyncMs: 600_000,
    });
    try {
      const c = await sleeper("refused");
      await enrichment.ready;
      await waitFor(() => facts.some((f) => f.container_id === c.id), "its first fact");
      away = true;
      await docker("stop", "-t", "1", c.name);
      await waitFor(() => refused > 0, "the refused die");
      await sleep(1000); // and the network disconnect's re-inspection, refused too
      away = false;
      expect(facts.some((f) => f.container_id === c.id && f.event === "die")).toBe(false);
      expect(lines().some((l) => l.msg === "could not publish a container event")).toBe(true);
      await enrichment.resync();
      expect(facts.filter((f) => f.container_id === c.id).at(-1)).toMatchObject({ event: "die", state: "exited", pid: null });
    } finally {
      await enrichment.stop();
    }
  }, 60_000);

  it("publishes start, die and destroy from Docker's events", async () => {
    const facts: ContainerFact[] = [];
    const enrichment = startContainerEnrichment({
      socket: SOCKET,
      log: memoryLog().log,
      stamp: () => ({ ts: "2026-11-30T19:00:00.000000000Z", host: "h", bootId: BOOT }),
      publish: async (f) => void facts.push(f),
    });
    try {
      await enrichment.ready;
      await sleep(300); // the event stream opens
      const c = await sleeper("events");
      await waitFor(() => facts.some((f) => f.container_id === c.id && f.event === "start"), "start fact");
      await docker("stop", "-t", "1", c.name);
      await waitFor(() => facts.some((f) => f.container_id === c.id && f.event === "die"), "die fact");
      await docker("rm", c.name);
      await waitFor(() => facts.some((f) => f.container_id === c.id && f.event === "destroy"), "destroy fact");
      expect(facts.filter((f) => f.container_id === c.id).map((f) => [f.event, f.state])).toEqual([
        ["start", "running"],
        ["die", "exited"],
        ["destroy", "removed"],
      ]);
    } finally {
      await enrichment.stop();
    }
  }, 60_000);
});

describe("the enricher service with a runtime socket that appears 3 s after start", () => {
  let server: NatsServerFixture;
  let nc: NatsConnection;
  let enricher: Enricher | undefined;
  const dir = mkdtempSync(join(tmpdir(), "adi-enricher-"));

  beforeAll(async () => {
    server = await NatsServerFixture.start();
  });

  afterAll(async () => {
    await enricher?.stop();
    await nc?.close();
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("starts without it, warns once, then follows it and publishes its containers; writes only networked processes", async () => {
    const socket = join(dir, "engine.sock"); // nothing there yet: as `podman system service` after its idle exit
    const cfg = loadConfig({
      NATS_URL: server.url,
      ADI_HOST: `t${suffix}`,
      ENV_OUTPUT_PATH: join(dir, "env.yaml"),
      DOCKER_HOST: `unix://${socket}`,
      LOG_LEVEL: "debug",
    });
    const { log, lines } = memoryLog();
    nc = await connectNats({ servers: cfg.natsServers!, name: "adi-test", log });
    const t0 = Date.now();
    enricher = await startEnricher(cfg, nc, log);
    expect(Date.now() - t0).toBeLessThan(3_000); // did not wait for the socket
    expect(enricher.runtime).toBeNull();
    const mine = await sleeper("late");

    // Item 9 on the same service: a start script's helpers and its one networked program.
    const js = jetstream(nc);
    const proc = (over: Partial<ProcessFact>): ProcessFact => ({
      v: 1, type: "process", event: "exec", ts: "2026-11-30T19:00:01.000000000Z", host: cfg.host, boot_id: BOOT, pid: 500, start_ticks: 9,
      ppid: 1, comm: "sh", exe: null, cmdline: "sh start.sh", cgroup: null, container_id: null, adi_profile_match: "dev",
      adi_profile_name: null, optin: "yes", env: {}, env_redacted: true, error: null, exit_code: null, ...over,
    });
    const processFacts = [
      proc({ pid: 500 }),
      proc({ pid: 501, comm: "sleep", cmdline: "sleep 1", error: "open /proc/501/environ: no such file or directory" }),
      proc({ pid: 502, event: "fork" }),
      proc({ pid: 503, event: "net", comm: "curl", cmdline: "curl -s http://127.0.0.1:9/", ts: "2026-11-30T19:00:02.000000000Z", env: { MODE: "net" } }),
      proc({ pid: 503, comm: "curl", cmdline: "curl -s http://127.0.0.1:9/", env: { MODE: "net" } }), // its exec, after
    ];
    for (const f of processFacts) await js.publish(factSubject(cfg.host, "process"), encodeFact(f));

    await sleep(3_000);
    symlinkSync(SOCKET, socket); // the engine's socket appears
    await waitFor(() => enricher!.runtime === "docker", "the enricher to follow the socket", 10_000);
    await waitFor(
      async () => (await readFacts(nc)).some((f) => f.type === "container" && f.container_id === mine.id && f.state === "running"),
      "the container's fact on the stream",
      10_000,
    );
    const warnings = lines().filter((l) => l.msg === "container runtime not reachable; will retry");
    expect(warnings).toHaveLength(1); // said once, though retried several times
    expect(lines().filter((l) => l.msg === "container runtime still not reachable").length).toBeGreaterThan(0);

    await enricher.flush();
    await waitFor(() => {
      try {
        return readFileSync(cfg.envOutputPath, "utf8").includes("curl");
      } catch {
        return false;
      }
    }, "ENV_OUTPUT_PATH written");
    await enricher.flush();
    const docs = parseAllDocuments(readFileSync(cfg.envOutputPath, "utf8")).map((d) => d.toJS());
    expect(docs).toEqual([{ adi_profile_pid: 503, adi_profile_match: "dev", adi_profile_cmdline: "curl -s http://127.0.0.1:9/", adi_profile_env: { MODE: "net" } }]);
  }, 60_000);
});
