// When NATS_URL is not set, adi runs its own nats-server with JetStream on loopback, its store under
// ADI_DATA_DIR, and stops it on exit. It is a child process, not a library: the real server, with its real
// file store, so that what a user replays later is exactly what was written.
// Loopback is not a trust boundary: every local user can dial it. The server admits one nkey user, whose seed adi
// keeps beside the store (0600, in a 0700 directory): whoever can read ADI_DATA_DIR can use the broker, no one else.
import { setTimeout as sleep } from "node:timers/promises";
import { spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { closeSync, existsSync, lstatSync, mkdirSync, openSync, readFileSync, renameSync, writeSync } from "node:fs";
import { createConnection } from "node:net";
import { join } from "node:path";
import { nkeys } from "@nats-io/transport-node";
import type { Logger } from "pino";
import { adiError } from "../errors.ts";
import { parseProcNetTcp } from "../net-listeners.ts";

export interface EmbeddedNats {
  url: string;
  /** The server's pid; undefined when attached to the server another adi command started (`attach`). */
  pid: number | undefined;
  /** The file holding the seed of the one user the server admits: NATS_NKEY for clients (the capture child). */
  nkeyFile: string;
  stop(): Promise<void>;
}

/** Where the embedded server's files live under ADI_DATA_DIR: its JetStream store, its user's seed, its config. */
export function embeddedNatsFiles(dataDir: string): { dir: string; nkeyFile: string; configFile: string } {
  const dir = join(dataDir, "nats");
  return { dir, nkeyFile: join(dir, "adi-user.nk"), configFile: join(dir, "server.conf") };
}

/**
 * Why an existing seed file must not be used, or null: a secret that others could read (group/other bits), or
 * a file we do not own or reach through a symbolic link (someone else chose what we would trust). It is refused,
 * never chmod'ed: changing what is not ours, or what someone may have already read, hides the problem.
 */
const SEED_FILE_RULES: readonly { bad: (st: { mode: number; uid: number; isFile: boolean; isLink: boolean }, euid: number) => boolean; why: string }[] = [
  { bad: (st) => st.isLink, why: "is a symbolic link" },
  { bad: (st) => !st.isFile, why: "is not a regular file" },
  { bad: (st, euid) => st.uid !== euid, why: "is not owned by the user adi runs as" },
  { bad: (st) => (st.mode & 0o077) !== 0, why: "is readable or writable by group or others" },
];

/**
 * The embedded server's user key pair: read from `nkeyFile` when it exists (after SEED_FILE_RULES), else created
 * (@nats-io/nkeys createUser) and written there with O_EXCL and mode 0600. Throws AdiError ADI_ERR_DATA_DIR for a
 * file that breaks a rule or holds no user seed.
 */
export function embeddedUserKey(nkeyFile: string): { publicKey: string; created: boolean } {
  const euid = process.geteuid?.() ?? 0;
  let st;
  try {
    st = lstatSync(nkeyFile);
  } catch {
    st = undefined;
  }
  if (st === undefined) {
    const kp = nkeys.createUser();
    const fd = openSync(nkeyFile, "wx", 0o600);
    try {
      writeSync(fd, `${new TextDecoder().decode(kp.getSeed())}\n`);
    } finally {
      closeSync(fd);
    }
    return { publicKey: kp.getPublicKey(), created: true };
  }
  const facts = { mode: st.mode, uid: st.uid, isFile: st.isFile(), isLink: st.isSymbolicLink() };
  const broken = SEED_FILE_RULES.find((r) => r.bad(facts, euid));
  if (broken) {
    throw adiError(
      "ADI_ERR_DATA_DIR",
      `${nkeyFile} (the embedded broker's key; mode ${(st.mode & 0o777).toString(8).padStart(4, "0")}, owner uid ${st.uid}) ${broken.why}`,
    );
  }
  const seed = readFileSync(nkeyFile, "utf8")
    .split(/\r?\n/)
    .map((l) => l.trim())
    .find((l) => l.startsWith("SU"));
  try {
    return { publicKey: nkeys.fromSeed(new TextEncoder().encode(seed ?? "")).getPublicKey(), created: false };
  } catch {
    throw adiError("ADI_ERR_DATA_DIR", `${nkeyFile} (the embedded broker's key) holds no user nkey seed`);
  }
}

interface DirFacts {
  mode: number;
  uid: number;
  isDir: boolean;
  isLink: boolean;
}

/**
 * What ADI_DATA_DIR must be before the broker's store and key go in it: ours, a real directory, and writable by no
 * one else (someone who can write there can swap the store or plant files). Reading is the store's business.
 */
const DATA_DIR_RULES: readonly { bad: (st: DirFacts, euid: number) => boolean; why: string }[] = [
  { bad: (st) => st.isLink, why: "is a symbolic link" },
  { bad: (st) => !st.isDir, why: "is not a directory" },
  { bad: (st, euid) => st.uid !== euid, why: "is not owned by the user adi runs as" },
  { bad: (st) => (st.mode & 0o022) !== 0, why: "is writable by group or others" },
];

/** The store holds every stream's bytes (raw payloads): nobody else may even look in (0700). */
const STORE_DIR_RULES: readonly { bad: (st: DirFacts, euid: number) => boolean; why: string }[] = [
  ...DATA_DIR_RULES.slice(0, 3),
  { bad: (st) => (st.mode & 0o077) !== 0, why: "is open to group or others (it holds every stream's bytes: it must be 0700)" },
];

/** Throws AdiError ADI_ERR_DATA_DIR naming `what` and the first rule `dir` breaks (see DATA_DIR_RULES). */
function checkPrivateDir(dir: string, what: string, rules: readonly { bad: (st: DirFacts, euid: number) => boolean; why: string }[]): void {
  const st = lstatSync(dir);
  const facts = { mode: st.mode, uid: st.uid, isDir: st.isDirectory(), isLink: st.isSymbolicLink() };
  const broken = rules.find((r) => r.bad(facts, process.geteuid?.() ?? 0));
  if (broken) {
    throw adiError(
      "ADI_ERR_DATA_DIR",
      `${dir} (${what}; mode ${(st.mode & 0o777).toString(8).padStart(4, "0")}, owner uid ${st.uid}) ${broken.why}: refused, left as it is`,
    );
  }
}

/**
 * Owners (uids) of the sockets listening on `port` at 127.0.0.1 or any IPv4 address, from /proc/net/tcp (read with
 * the parser capture uses, parseProcNetTcp). Empty when none is found or the table cannot be read.
 */
export function loopbackListenerOwners(port: number, procNetTcp = "/proc/net/tcp"): number[] {
  let text: string;
  try {
    text = readFileSync(procNetTcp, "utf8");
  } catch {
    return [];
  }
  return parseProcNetTcp(text, 4)
    .filter((l) => l.port === port && (l.ip === "127.0.0.1" || l.ip === "0.0.0.0"))
    .map((l) => l.uid);
}

/**
 * The server's configuration (nats-server config syntax): loopback only, JetStream in `storeDir`, and one user,
 * admitted by the nkey `publicKey` (nats-server 2.2+; Debian ships 2.9). Strings are JSON-quoted, which the
 * config parser reads as quoted strings.
 */
export function embeddedServerConfig(opts: { port: number; storeDir: string; publicKey: string }): string {
  return [
    "# Written by adi at each start of its embedded nats-server (ADI_DATA_DIR, ADI_NATS_PORT): edits are replaced.",
    `listen: ${JSON.stringify(`127.0.0.1:${opts.port}`)}`,
    `jetstream { store_dir: ${JSON.stringify(opts.storeDir)} }`,
    `authorization { users = [ { nkey: ${JSON.stringify(opts.publicKey)} } ] }`,
    "",
  ].join("\n");
}

/** Writes `content` to `path` with mode 0600, replacing it whole (a new file renamed over: never half-written). */
function writePrivateFile(path: string, content: string): void {
  const tmp = `${path}.${process.pid}.tmp`;
  // "wx": never through a link or over a file someone placed there.
  const fd = openSync(tmp, "wx", 0o600);
  try {
    writeSync(fd, content);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
}

const CANDIDATES = ["/usr/sbin/nats-server", "/usr/bin/nats-server", "/usr/local/bin/nats-server"];
const SETPRIV = ["/usr/bin/setpriv", "/bin/setpriv"];

export function findNatsServer(): string | undefined {
  const fromPath = (process.env.PATH ?? "").split(":").map((d) => join(d, "nats-server"));
  return [...fromPath, ...CANDIDATES].find((p) => existsSync(p));
}

function portAccepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createConnection({ host: "127.0.0.1", port }, () => {
      s.destroy();
      resolve(true);
    });
    s.on("error", () => resolve(false));
  });
}

/** Environment for the child: never opted in itself, or capture would watch its own broker. */
function childEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  for (const k of Object.keys(env)) if (k.startsWith("ADI_PROFILE")) delete env[k];
  return env;
}

/**
 * Starts the embedded server under `dataDir` on 127.0.0.1:`port` and resolves once it listens. With `attach`, a
 * port already taken while `dataDir` holds the embedded server's key means another adi command's server (an
 * `adi up` running): its url and key are returned, and stop() leaves it alone; if the server there is not ours,
 * the nkey handshake fails and the caller gets ADI_ERR_NATS_AUTH (the seed never leaves: nkey auth signs a nonce).
 * Throws ADI_ERR_NATS_SERVER_MISSING, ADI_ERR_DATA_DIR (a key file not to be trusted), or ADI_ERR_NATS_UNREACHABLE
 * (port taken without `attach` or without our key; the server exited or did not listen within 15 s).
 */
export async function startEmbeddedNats(opts: { dataDir: string; port: number; log: Logger; attach?: boolean }): Promise<EmbeddedNats> {
  const bin = findNatsServer();
  if (!bin) throw adiError("ADI_ERR_NATS_SERVER_MISSING", "nats-server is not on PATH nor in /usr/sbin");
  const taken = await portAccepts(opts.port);
  if (taken && opts.attach && existsSync(embeddedNatsFiles(opts.dataDir).nkeyFile)) {
    const { dir: storeDir, nkeyFile } = embeddedNatsFiles(opts.dataDir);
    checkPrivateDir(opts.dataDir, "ADI_DATA_DIR", DATA_DIR_RULES);
    checkPrivateDir(storeDir, "the embedded broker's store", STORE_DIR_RULES);
    embeddedUserKey(nkeyFile); // the same rules as at start: a key others could read is refused, not used
    // Any local user can listen on a free loopback port, and a server without authentication admits our nkey
    // handshake too: only a listener whose socket belongs to our uid can be the server an adi command started.
    const owners = loopbackListenerOwners(opts.port);
    const euid = process.geteuid?.() ?? 0;
    if (!owners.includes(euid)) {
      throw adiError(
        "ADI_ERR_NATS_UNREACHABLE",
        `port ${opts.port} is taken by a listener of uid ${owners.join(",") || "unknown"}, not by an adi of this user (uid ${euid}): refusing to use it; stop it, or set ADI_NATS_PORT to another port`,
      );
    }
    const url = `nats://127.0.0.1:${opts.port}`;
    opts.log.info({ url, nkeyFile }, "using the embedded nats-server another adi command started");
    return { url, pid: undefined, nkeyFile, stop: () => Promise.resolve() };
  }
  if (taken) {
    throw adiError(
      "ADI_ERR_NATS_UNREACHABLE",
      `port ${opts.port} is already taken: set NATS_URL=nats://127.0.0.1:${opts.port} (and its credentials: NATS_NKEY=${embeddedNatsFiles(opts.dataDir).nkeyFile} for another adi's embedded server) to use that server, or ADI_NATS_PORT to another port`,
    );
  }
  const { dir: storeDir, nkeyFile, configFile } = embeddedNatsFiles(opts.dataDir);
  mkdirSync(opts.dataDir, { recursive: true, mode: 0o700 });
  mkdirSync(storeDir, { recursive: true, mode: 0o700 });
  // Made by us just now, or there from before: either way, refused (never chmod'ed) if others could reach in.
  checkPrivateDir(opts.dataDir, "ADI_DATA_DIR", DATA_DIR_RULES);
  checkPrivateDir(storeDir, "the embedded broker's store", STORE_DIR_RULES);
  const user = embeddedUserKey(nkeyFile);
  if (user.created) opts.log.info({ nkeyFile }, "embedded nats-server: created its user key");
  writePrivateFile(configFile, embeddedServerConfig({ port: opts.port, storeDir, publicKey: user.publicKey }));
  const args = ["-c", configFile];
  // The broker dies with us, even on SIGKILL: setpriv (util-linux) sets the parent-death signal and execs it.
  // Without it, a killed `adi up` left the broker running and the next start found its port taken.
  const setpriv = SETPRIV.find((p) => existsSync(p));
  // It needs no privilege (its store and config are ours; the port is over 1023 unless set lower): no capability
  // survives the exec but the one to bind a low port, and no_new_privs (least privilege, issue 11).
  // (Only root holds capabilities to drop, and changing the bounding set takes CAP_SETPCAP.)
  const dropAll = process.geteuid?.() === 0 ? ["--inh-caps=-all", "--ambient-caps=-all", "--bounding-set=-all,+net_bind_service", "--no-new-privs"] : [];
  const child: ChildProcess = spawn(setpriv ?? bin, setpriv ? ["--pdeathsig", "TERM", ...dropAll, "--", bin, ...args] : args, {
    stdio: ["ignore", "ignore", "pipe"],
    env: childEnv(),
    // Its own process group: a Ctrl-C in the terminal must reach us, not the broker we still drain into.
    detached: true,
  });
  const killOnExit = () => child.kill("SIGKILL");
  process.once("exit", killOnExit);
  let stderr = "";
  child.stderr?.on("data", (d: Buffer) => {
    stderr = (stderr + d.toString()).slice(-4096);
  });
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  const deadline = Date.now() + 15_000;
  for (;;) {
    if (child.exitCode !== null) {
      throw adiError("ADI_ERR_NATS_UNREACHABLE", `embedded nats-server exited with ${child.exitCode}: ${stderr.trim()}`);
    }
    if (await portAccepts(opts.port)) break;
    if (Date.now() > deadline) {
      child.kill("SIGKILL");
      throw adiError("ADI_ERR_NATS_UNREACHABLE", `embedded nats-server did not listen on ${opts.port} within 15 s: ${stderr.trim()}`);
    }
    await sleep(50);
  }
  const url = `nats://127.0.0.1:${opts.port}`;
  // How to look at it with the nats CLI: the seed's path, never the seed.
  const natsCli = `nats --server ${url} --nkey ${nkeyFile} stream ls`;
  opts.log.info({ url, storeDir, serverPid: child.pid, nkeyFile, natsCli }, "embedded nats-server started");
  return {
    url,
    pid: child.pid!,
    nkeyFile,
    async stop() {
      process.off("exit", killOnExit);
      if (child.exitCode !== null) return;
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 5000);
      await exited;
      clearTimeout(timer);
    },
  };
}
