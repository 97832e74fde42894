// When NATS_URL is not set, adi runs its own nats-server with JetStream on loopback, its store under
// ADI_DATA_DIR, and stops it on exit. It is a child process, not a library: the real server, with its real
// file store, so that what a user replays later is exactly what was written.
import { spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { mkdirSync, existsSync } from "node:fs";
import { createConnection } from "node:net";
import { join } from "node:path";
import type { Logger } from "pino";
import { adiError } from "../errors.ts";

export interface EmbeddedNats {
  url: string;
  pid: number;
  stop(): Promise<void>;
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

export async function startEmbeddedNats(opts: { dataDir: string; port: number; log: Logger }): Promise<EmbeddedNats> {
  const bin = findNatsServer();
  if (!bin) throw adiError("ADI_ERR_NATS_SERVER_MISSING", "nats-server is not on PATH nor in /usr/sbin");
  if (await portAccepts(opts.port)) {
    throw adiError(
      "ADI_ERR_NATS_UNREACHABLE",
      `port ${opts.port} is already taken: set NATS_URL=nats://127.0.0.1:${opts.port} to use that server, or ADI_NATS_PORT to another port`,
    );
  }
  const storeDir = join(opts.dataDir, "nats");
  mkdirSync(storeDir, { recursive: true, mode: 0o700 });
  const args = ["-js", "-sd", storeDir, "-a", "127.0.0.1", "-p", String(opts.port)];
  // The broker dies with us, even on SIGKILL: setpriv (util-linux) sets the parent-death signal and execs it.
  // Without it, a killed `adi up` left the broker running and the next start found its port taken.
  const setpriv = SETPRIV.find((p) => existsSync(p));
  const child: ChildProcess = spawn(setpriv ?? bin, setpriv ? ["--pdeathsig", "TERM", "--", bin, ...args] : args, {
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
    await new Promise((r) => setTimeout(r, 50));
  }
  const url = `nats://127.0.0.1:${opts.port}`;
  opts.log.info({ url, storeDir, pid: child.pid }, "embedded nats-server started");
  return {
    url,
    pid: child.pid!,
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
