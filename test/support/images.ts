// Container test fixtures. A tiny image built offline (these machines cannot pull from any registry): a rootfs
// holding busybox-static and a few applet links, imported into Docker once per machine and, on demand, into
// containerd. Needs scripts/docker.sh to have run (it installs docker.io and busybox-static, starts both daemons).
// Containers are started with testcontainers (LocalContainer below: never pulled, cleaned up without Ryuk).
// Also a unix-socket proxy, to make an engine's socket go away and come back without restarting the engine.
import { setTimeout as sleep } from "node:timers/promises";
import { execFile, spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, copyFileSync, chmodSync } from "node:fs";
import { createConnection, createServer } from "node:net";
import type { Server, Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import type { HostConfig } from "dockerode";
import { GenericContainer, Network, PullPolicy } from "testcontainers";
import type { StartedNetwork } from "testcontainers";

// testcontainers' reaper, Ryuk, is an image on Docker Hub, which these machines cannot pull: with it on, the first
// container start would fail trying. It is turned off for every test that imports this module (read at the first
// start, so setting it here, after the import, is in time); removeOrphans() does its job instead.
process.env.TESTCONTAINERS_RYUK_DISABLED = "true";
// The host testcontainers dials to wait for a published port is "localhost" on a unix socket, which may resolve to
// ::1 first; the tests publish on 127.0.0.1 (a container port bound there only was never reached: a 60 s timeout).
process.env.TESTCONTAINERS_HOST_OVERRIDE ??= "127.0.0.1";

/** Label on every LocalContainer: the pid of the test process that made it (removeOrphans() reads it). */
export const OWNER_LABEL = "adi.test.owner-pid";
/** Networks made by startNetwork() are named `adi-test-<owner pid>-<name>`, for the same reason. */
const NETWORK_PREFIX = "adi-test-";

export const BUSYBOX_IMAGE = "adi-test/busybox:1";
/** The same image as containerd names it after `ctr images import` (the docker.io/ prefix is added). */
export const BUSYBOX_CONTAINERD_REF = `docker.io/${BUSYBOX_IMAGE}`;

const APPLETS = ["sh", "sleep", "nc", "wget", "httpd", "cat", "ls"];
const run = promisify(execFile);

/** Debian's client when present: /usr/local/bin may hold a newer CLI than the daemon it talks to. */
export const DOCKER_CLI = existsSync("/usr/bin/docker") ? "/usr/bin/docker" : "docker";

async function succeeds(cmd: string, args: string[]): Promise<boolean> {
  try {
    await run(cmd, args, { timeout: 30_000 });
    return true;
  } catch {
    return false;
  }
}

/** Runs `left | right`, each a command with arguments; rejects with the failing side's stderr. */
function pipe(left: string[], right: string[], timeoutMs = 60_000): Promise<void> {
  return new Promise((resolve, reject) => {
    const a = spawn(left[0]!, left.slice(1), { stdio: ["ignore", "pipe", "pipe"] });
    const b = spawn(right[0]!, right.slice(1), { stdio: ["pipe", "ignore", "pipe"] });
    let errors = "";
    a.stderr.on("data", (d: Buffer) => (errors += d.toString()));
    b.stderr.on("data", (d: Buffer) => (errors += d.toString()));
    a.stdout.pipe(b.stdin);
    const timer = setTimeout(() => {
      a.kill();
      b.kill();
    }, timeoutMs);
    let leftCode: number | null = null;
    a.on("close", (code) => (leftCode = code));
    a.on("error", reject);
    b.on("error", reject);
    b.on("close", (code) => {
      clearTimeout(timer);
      if (code === 0 && leftCode === 0) resolve();
      else reject(new Error(`${left.join(" ")} | ${right.join(" ")} failed (${leftCode}/${code}): ${errors.trim()}`));
    });
  });
}

let dockerImage: Promise<string> | undefined;

/** Imports the busybox image into Docker unless it is already there; resolves to its name. */
export function ensureBusyboxImage(): Promise<string> {
  dockerImage ??= buildBusyboxImage().catch((err: unknown) => {
    dockerImage = undefined; // a later call may retry, e.g. after the engine came up
    throw err;
  });
  return dockerImage;
}

async function buildBusyboxImage(): Promise<string> {
  if (await succeeds(DOCKER_CLI, ["image", "inspect", BUSYBOX_IMAGE])) return BUSYBOX_IMAGE;
  if (!existsSync("/bin/busybox")) throw new Error("/bin/busybox is missing: run scripts/docker.sh (busybox-static)");
  const dir = mkdtempSync(join(tmpdir(), "adi-busybox-"));
  try {
    const rootfs = join(dir, "rootfs");
    mkdirSync(join(rootfs, "bin"), { recursive: true });
    for (const d of ["tmp", "proc", "sys", "dev", "etc", "www"]) mkdirSync(join(rootfs, d));
    copyFileSync("/bin/busybox", join(rootfs, "bin", "busybox"));
    chmodSync(join(rootfs, "bin", "busybox"), 0o755);
    for (const applet of APPLETS) symlinkSync("busybox", join(rootfs, "bin", applet));
    // Concurrent test files may both import: harmless, the tag just points at the last (identical) image.
    await pipe(["tar", "-C", rootfs, "-c", "."], [DOCKER_CLI, "import", "-c", 'CMD ["sh"]', "-", BUSYBOX_IMAGE]);
    return BUSYBOX_IMAGE;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Imports the same image into a containerd namespace unless present; resolves to containerd's ref for it. */
export async function ensureContainerdImage(namespace: string): Promise<string> {
  const { stdout } = await run("ctr", ["-n", namespace, "images", "ls", "-q"], { timeout: 30_000 });
  if (stdout.split("\n").includes(BUSYBOX_CONTAINERD_REF)) return BUSYBOX_CONTAINERD_REF;
  await ensureBusyboxImage();
  await pipe([DOCKER_CLI, "save", BUSYBOX_IMAGE], ["ctr", "-n", namespace, "images", "import", "-"]);
  return BUSYBOX_CONTAINERD_REF;
}

export interface SocketProxy {
  readonly path: string;
  /** Listens again (after stop) on the same path. */
  start(): Promise<void>;
  /** Closes the listener, cuts every connection through it (as an engine restart would) and removes the socket. */
  stop(): Promise<void>;
}

/** A byte-level proxy in front of a unix socket (HTTP or gRPC alike), on a fresh path, already listening. */
export async function startSocketProxy(target: string): Promise<SocketProxy> {
  const dir = mkdtempSync(join(tmpdir(), "adi-sock-"));
  const path = join(dir, "proxy.sock");
  const open = new Set<Socket>();
  let server: Server | null = null;
  const proxy: SocketProxy = {
    path,
    async start() {
      mkdirSync(dir, { recursive: true });
      rmSync(path, { force: true });
      server = createServer((client) => {
        const upstream = createConnection(target);
        for (const [a, b] of [[client, upstream], [upstream, client]] as const) {
          open.add(a);
          a.pipe(b);
          a.on("error", () => b.destroy());
          a.on("close", () => (open.delete(a), b.destroy()));
        }
      });
      await new Promise<void>((resolve, reject) => server!.once("error", reject).listen(path, resolve));
    },
    async stop() {
      const s = server;
      server = null;
      for (const socket of open) socket.destroy();
      if (s) await new Promise((resolve) => s.close(resolve));
      rmSync(dir, { recursive: true, force: true });
    },
  };
  await proxy.start();
  return proxy;
}

/** Polls `check` until it holds; fails naming `what` after `timeoutMs`. */
export async function waitFor(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(50);
  }
}

/**
 * A testcontainers GenericContainer for an image built on this machine. Never pulled (pull policy "never": no
 * registry answers here, so a missing image fails at once, naming it, instead of after a registry timeout);
 * labelled OWNER_LABEL = this process's pid, so removeOrphans() can remove it after a killed run; and able to set
 * the Docker HostConfig fields testcontainers has no method for (`PidMode`, `RestartPolicy`, a port binding on
 * one host address). Use it as a GenericContainer: `.withCommand(...)`, `.start()`, `.stop()`.
 */
export class LocalContainer extends GenericContainer {
  constructor(image: string) {
    super(image);
    this.withPullPolicy(PullPolicy.neverPull()).withLabels({ [OWNER_LABEL]: String(process.pid) });
  }

  /** Sets fields of the container's Docker HostConfig (Engine API `ContainerCreate`), over testcontainers' own. */
  withHostConfig(fields: HostConfig): this {
    Object.assign(this.hostConfig, fields);
    return this;
  }
}

/** A user-defined bridge network (testcontainers' Network) named `adi-test-<pid>-<name>`, so removeOrphans() finds it. */
export function startNetwork(name: string): Promise<StartedNetwork> {
  return new Network({ nextUuid: () => `${NETWORK_PREFIX}${process.pid}-${name}` }).start();
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * Ryuk's job without Ryuk: removes the containers (OWNER_LABEL) and networks (`adi-test-<pid>-…`) whose owning test
 * process is gone, e.g. killed by a timeout before its afterAll ran. Those of live processes (another test file
 * running now) are left alone. Resolves with how many of each it removed; errors of single removals are ignored
 * (another run may be removing the same leftovers).
 */
export async function removeOrphans(): Promise<{ containers: number; networks: number }> {
  const docker = (...args: string[]) => run(DOCKER_CLI, args, { timeout: 60_000 }).then((r) => r.stdout.trim());
  const rows = (await docker("ps", "-a", "--filter", `label=${OWNER_LABEL}`, "--format", `{{.ID}} {{.Label "${OWNER_LABEL}"}}`)).split("\n").filter(Boolean);
  const deadContainers = rows.map((r) => r.split(" ")).filter(([, pid]) => !alive(Number(pid))).map(([id]) => id!);
  if (deadContainers.length > 0) await docker("rm", "-f", "-v", ...deadContainers).catch(() => undefined);
  const networks = (await docker("network", "ls", "--filter", `name=${NETWORK_PREFIX}`, "--format", "{{.Name}}")).split("\n").filter(Boolean);
  const deadNetworks = networks.filter((n) => {
    const pid = /^adi-test-(\d+)-/.exec(n)?.[1];
    return pid !== undefined && !alive(Number(pid));
  });
  for (const n of deadNetworks) await docker("network", "rm", n).catch(() => undefined);
  return { containers: deadContainers.length, networks: deadNetworks.length };
}
