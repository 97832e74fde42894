// Servers that make a client send a password, for the "secrets stay hidden" end-to-end test: each is started (or
// given a user) by the test with a password of the run, so a real client's real login carries it over the wire.
// - PostgreSQL: a cluster of its own (initdb in a temporary directory, its own port) whose host connections use the
//   `password` method, so the client's PasswordMessage holds the password in clear (the machine's cluster trusts
//   loopback: a login there sends no password at all; md5 and SCRAM send only proofs).
// - Redis: a redis-server of its own with `requirepass` (AUTH <password> in clear, RESP).
// - NATS: a nats-server of its own with --user/--pass (CONNECT {"user":...,"pass":...} in clear).
// - MariaDB: a user of the machine's server (scripts/services.sh), mysql_native_password (a scrambled proof).
// - RabbitMQ: a user of the machine's broker (AMQP 0-9-1 PLAIN: "\0user\0password" in clear).
// None of these server processes is opted in: only the clients are captured.
import { execFile, spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { findNatsServer } from "@adi/shared/nats";
import { freePort, waitForPort } from "./nats-server.ts";

const run = promisify(execFile);

export interface LoginServer {
  port: number;
  stop(): Promise<void>;
}

async function stopChild(child: ChildProcess, signal: NodeJS.Signals): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const gone = new Promise((r) => child.once("exit", r));
  child.kill(signal);
  await gone;
}

/** The newest PostgreSQL server binaries installed (Debian: /usr/lib/postgresql/<major>/bin). */
function postgresBin(): string {
  const root = "/usr/lib/postgresql";
  const majors = existsSync(root) ? readdirSync(root).filter((v) => existsSync(join(root, v, "bin", "initdb"))) : [];
  const newest = majors.sort((a, b) => Number(b) - Number(a))[0];
  if (!newest) throw new Error("PostgreSQL server binaries not found under /usr/lib/postgresql: run scripts/services.sh");
  return join(root, newest, "bin");
}

/**
 * A PostgreSQL cluster of its own as the `postgres` system user: superuser `postgres` with `password`, host
 * connections on 127.0.0.1 authenticated by the `password` method (pg_hba), fsync off. ~2 s.
 */
export async function startPasswordPostgres(password: string): Promise<LoginServer> {
  const bin = postgresBin();
  const dir = mkdtempSync(join(tmpdir(), "adi-pg-"));
  const uid = Number((await run("id", ["-u", "postgres"])).stdout.trim());
  const gid = Number((await run("id", ["-g", "postgres"])).stdout.trim());
  chownSync(dir, uid, gid);
  const pwfile = join(dir, "pwfile");
  writeFileSync(pwfile, `${password}\n`, { mode: 0o600 });
  chownSync(pwfile, uid, gid);
  const asPostgres = ["--reuid=postgres", "--regid=postgres", "--init-groups"];
  await run("setpriv", [...asPostgres, join(bin, "initdb"), "-D", join(dir, "data"), "-U", "postgres", "--auth-local=trust", "--auth-host=password", `--pwfile=${pwfile}`, "-N"]);
  rmSync(pwfile);
  const port = await freePort();
  const child = spawn("setpriv", [...asPostgres, join(bin, "postgres"), "-D", join(dir, "data"), "-p", String(port), "-k", dir, "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off"], { stdio: "ignore" });
  await waitForPort(port, "127.0.0.1", 20_000);
  return {
    port,
    async stop() {
      await stopChild(child, "SIGQUIT"); // immediate shutdown: the cluster is thrown away
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A redis-server of its own on a free port, no persistence, `requirepass password`. */
export async function startRedisWithPassword(password: string): Promise<LoginServer> {
  const port = await freePort();
  const child = spawn("redis-server", ["--bind", "127.0.0.1", "--port", String(port), "--save", "", "--appendonly", "no", "--requirepass", password], { stdio: "ignore" });
  await waitForPort(port);
  return { port, stop: () => stopChild(child, "SIGKILL") };
}

/** A nats-server of its own (no JetStream) admitting only `user` with `password`. */
export async function startNatsWithUser(user: string, password: string): Promise<LoginServer> {
  const bin = findNatsServer();
  if (!bin) throw new Error("nats-server not found: run scripts/setup.sh");
  const port = await freePort();
  const child = spawn(bin, ["-a", "127.0.0.1", "-p", String(port), "--user", user, "--pass", password], { stdio: "ignore" });
  await waitForPort(port);
  return { port, stop: () => stopChild(child, "SIGKILL") };
}

/** A MariaDB user `user`@127.0.0.1 identified by `password` on the machine's server (3306); stop drops it. */
export async function createMariaDbUser(user: string, password: string): Promise<LoginServer> {
  const sql = (s: string) => run("mariadb", ["-uroot", "-e", s]);
  await sql(`DROP USER IF EXISTS '${user}'@'127.0.0.1'; CREATE USER '${user}'@'127.0.0.1' IDENTIFIED BY '${password}'`);
  return { port: 3306, stop: async () => void (await sql(`DROP USER IF EXISTS '${user}'@'127.0.0.1'`)) };
}

/** A RabbitMQ user with `password` and every permission on vhost / of the machine's broker (5672); stop deletes it. */
export async function createRabbitUser(user: string, password: string): Promise<LoginServer> {
  await run("rabbitmqctl", ["-q", "add_user", user, password]);
  await run("rabbitmqctl", ["-q", "set_permissions", "-p", "/", user, ".*", ".*", ".*"]);
  return { port: 5672, stop: async () => void (await run("rabbitmqctl", ["-q", "delete_user", user])) };
}
