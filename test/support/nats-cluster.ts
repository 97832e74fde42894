// Three real nats-servers with JetStream clustered on loopback: what a user runs when one host is not enough.
import { setTimeout as sleep } from "node:timers/promises";
import { spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect } from "@nats-io/transport-node";
import { jetstreamManager } from "@nats-io/jetstream";
import { findNatsServer } from "@adi/shared/nats";
import { freePort, waitForPort } from "./nats-server.ts";

export class NatsClusterFixture {
  readonly urls: string[];
  readonly #children: ChildProcess[];
  readonly #dir: string;

  private constructor(urls: string[], children: ChildProcess[], dir: string) {
    this.urls = urls;
    this.#children = children;
    this.#dir = dir;
  }

  static async start(size = 3): Promise<NatsClusterFixture> {
    const bin = findNatsServer();
    if (!bin) throw new Error("nats-server not found: run scripts/setup.sh");
    const dir = mkdtempSync(join(tmpdir(), "adi-cluster-"));
    const ports: number[] = [];
    const clusterPorts: number[] = [];
    for (let i = 0; i < size; i++) {
      ports.push(await freePort());
      clusterPorts.push(await freePort());
    }
    const routes = clusterPorts.map((p) => `nats://127.0.0.1:${p}`).join(",");
    const children = ports.map((port, i) =>
      spawn(
        bin,
        ["-js", "-sd", join(dir, `n${i}`), "-a", "127.0.0.1", "-p", String(port), "-n", `n${i}`,
          "--cluster_name", "adi", "--cluster", `nats://127.0.0.1:${clusterPorts[i]}`, "--routes", routes],
        { stdio: "ignore", detached: true },
      ),
    );
    const f = new NatsClusterFixture(ports.map((p) => `nats://127.0.0.1:${p}`), children, dir);
    for (const p of ports) await waitForPort(p);
    await f.#waitForMetaLeader();
    return f;
  }

  /**
   * JetStream answers once the cluster has elected a meta leader, but places a 3-replica stream only once every
   * peer has joined: wait until a probe stream with as many replicas as servers can be created.
   */
  async #waitForMetaLeader(): Promise<void> {
    const nc = await connect({ servers: this.urls });
    try {
      const deadline = Date.now() + 30_000;
      for (;;) {
        try {
          const jsm = await jetstreamManager(nc, { timeout: 2000 });
          await jsm.getAccountInfo();
          await jsm.streams.add({ name: "ADI_CLUSTER_PROBE", subjects: ["adi.cluster.probe"], num_replicas: this.urls.length });
          await jsm.streams.delete("ADI_CLUSTER_PROBE");
          return;
        } catch (err) {
          if (Date.now() > deadline) throw new Error(`JetStream cluster not ready: ${(err as Error).message}`);
          await sleep(250);
        }
      }
    } finally {
      await nc.close();
    }
  }

  async stop(): Promise<void> {
    await Promise.all(
      this.#children.map(
        (c) =>
          new Promise<void>((resolve) => {
            if (c.exitCode !== null || c.signalCode !== null) return resolve();
            c.once("exit", () => resolve());
            c.kill("SIGTERM");
          }),
      ),
    );
    rmSync(this.#dir, { recursive: true, force: true });
  }
}
