// The testcontainers setup every container test uses (test/support/images.ts), on the real Docker engine
// (scripts/docker.sh): images are never pulled (no registry answers here), Ryuk is off, and removeOrphans() does
// its job: what a killed test process left is removed, what a live one owns is not.
import { execFile, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { promisify } from "node:util";
import type { StartedNetwork, StartedTestContainer } from "testcontainers";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BUSYBOX_IMAGE, DOCKER_CLI, ensureBusyboxImage, LocalContainer, OWNER_LABEL, removeOrphans, startNetwork } from "./images.ts";

const run = promisify(execFile);
const docker = (...args: string[]) => run(DOCKER_CLI, args, { timeout: 30_000 }).then((r) => r.stdout.trim());
const exists = (kind: "container" | "network", name: string) => docker(kind, "inspect", name).then(() => true, () => false);
const suffix = randomBytes(4).toString("hex");

describe("testcontainers on local images", () => {
  let deadPid = 0;
  let live: StartedTestContainer | undefined;
  let liveNetwork: StartedNetwork | undefined;
  const orphan = `adi-orphan-${suffix}`;

  beforeAll(async () => {
    await ensureBusyboxImage();
    // A pid that was a process and is gone: the owner of what a killed test run left.
    deadPid = spawnSync("true").pid!;
  });

  afterAll(async () => {
    await live?.stop({ timeout: 1000 }).catch(() => undefined);
    await liveNetwork?.stop().catch(() => undefined);
    await docker("rm", "-f", orphan).catch(() => undefined);
    await docker("network", "rm", `adi-test-${deadPid}-${suffix}`).catch(() => undefined);
  });

  it("never pulls: a missing image fails at once, naming it", async () => {
    const started = Date.now();
    await expect(new LocalContainer(`adi-test/no-such-image:${suffix}`).start()).rejects.toThrow(`adi-test/no-such-image:${suffix}" does not exist locally`);
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  it("starts containers without Ryuk, labelled with the owning process", async () => {
    live = await new LocalContainer(BUSYBOX_IMAGE).withCommand(["sleep", "60"]).start();
    expect(await docker("inspect", "-f", `{{index .Config.Labels "${OWNER_LABEL}"}}`, live.getId())).toBe(String(process.pid));
    expect(await docker("ps", "-q", "--filter", "ancestor=testcontainers/ryuk")).toBe("");
  });

  it("removes the containers and networks of a dead owner, and keeps a live owner's", async () => {
    liveNetwork = await startNetwork(suffix);
    expect(liveNetwork.getName()).toBe(`adi-test-${process.pid}-${suffix}`);
    await new LocalContainer(BUSYBOX_IMAGE).withName(orphan).withLabels({ [OWNER_LABEL]: String(deadPid) }).withCommand(["sleep", "60"]).start();
    await docker("network", "create", `adi-test-${deadPid}-${suffix}`);

    // Not the counts: another test file's removeOrphans() may have removed these two first (files run in parallel).
    await removeOrphans();
    expect(await exists("container", orphan)).toBe(false);
    expect(await exists("network", `adi-test-${deadPid}-${suffix}`)).toBe(false);
    expect(await exists("container", live!.getId())).toBe(true);
    expect(await exists("network", liveNetwork.getName())).toBe(true);
  });
});
