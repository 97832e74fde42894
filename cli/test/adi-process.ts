// `adi` as a test runs it: started through its launcher as a user (or npx) would, its log lines watched, and the
// processes of one run found in /proc by a marker in their environment (every adi process of the run, the
// capture child of `adi up` included, inherits it), so that other adi processes on the machine are not counted.
import { setTimeout as sleep } from "node:timers/promises";
import { spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { readdirSync, readFileSync, realpathSync } from "node:fs";
import { fileURLToPath } from "node:url";

/** bin/adi: the package's bin (what `npx adi` runs). */
export const ADI = fileURLToPath(new URL("../../bin/adi", import.meta.url));
/** bin/adi.mjs: kept for callers that run `node bin/adi.mjs`. */
export const ADI_MJS = fileURLToPath(new URL("../../bin/adi.mjs", import.meta.url));
/** cli/main.ts as the launcher names it (symlinks resolved): every adi process has it in its command line. */
export const CLI_MAIN = realpathSync(fileURLToPath(new URL("../main.ts", import.meta.url)));

const MARKER_VAR = "ADI_TEST_MARKER";

export interface AdiRun {
  child: ChildProcess;
  /** The value of ADI_TEST_MARKER in the environment of every process of this run. */
  marker: string;
  /** Everything written to stdout so far (JSON log lines). */
  stdout(): string;
  stderr(): string;
  /** Resolves with the first log line whose `msg` is `msg`; rejects if the process exits first or after `timeoutMs`. */
  waitForLog(msg: string, timeoutMs?: number): Promise<Record<string, unknown>>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** The first JSON log line of `stdout` whose `msg` is `msg`, if it was logged already. */
export function findLogLine(stdout: string, msg: string): Record<string, unknown> | undefined {
  for (const line of stdout.split("\n")) {
    if (!line.startsWith("{")) continue;
    try {
      const parsed = JSON.parse(line) as Record<string, unknown>;
      if (parsed.msg === msg) return parsed;
    } catch {
      // a partial line
    }
  }
  return undefined;
}

/**
 * Starts `cmd args` (e.g. ADI, ["up"]) with PATH, HOME, `env` and a fresh marker, stdout and stderr piped and
 * collected.
 */
export function startAdi(cmd: string, args: string[], env: Record<string, string>): AdiRun {
  const marker = randomBytes(6).toString("hex");
  const child = spawn(cmd, args, {
    env: { PATH: process.env.PATH!, HOME: process.env.HOME ?? "/root", ...env, [MARKER_VAR]: marker },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  let err = "";
  const waiters: (() => void)[] = [];
  child.stdout!.on("data", (d: Buffer) => {
    out += d.toString("utf8");
    for (const w of waiters) w();
  });
  child.stderr!.on("data", (d: Buffer) => (err += d.toString("utf8")));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once("exit", (code, signal) => resolve({ code, signal })));
  const find = (msg: string) => findLogLine(out, msg);
  return {
    child,
    marker,
    stdout: () => out,
    stderr: () => err,
    exited,
    waitForLog(msg, timeoutMs = 60_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const hit = find(msg);
          if (hit) resolve(hit);
        };
        waiters.push(check);
        check();
        const timer = setTimeout(() => reject(new Error(`no "${msg}" log line in ${timeoutMs} ms; stderr: ${err.slice(-1000)}`)), timeoutMs);
        void exited.then((e) => {
          clearTimeout(timer);
          if (!find(msg)) reject(new Error(`exited (${JSON.stringify(e)}) before logging "${msg}"; stderr: ${err.slice(-1000)}`));
        });
      });
    },
  };
}

/** Live processes running the CLI (cli/main.ts) with `marker` in their environment: pid and parent pid. */
export function processesOf(marker: string): { pid: number; ppid: number; argv: string[] }[] {
  const out: { pid: number; ppid: number; argv: string[] }[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const argv = readFileSync(`/proc/${entry}/cmdline`, "utf8").split("\0");
      if (!argv.includes(CLI_MAIN)) continue;
      if (!readFileSync(`/proc/${entry}/environ`, "utf8").split("\0").includes(`${MARKER_VAR}=${marker}`)) continue;
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      // pid (comm) state ppid ...: comm may hold spaces, so read after the last ')'
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      if (stat.slice(stat.lastIndexOf(")") + 2).startsWith("Z")) continue; // a zombie is gone, only not yet reaped
      out.push({ pid: Number(entry), ppid, argv });
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

/** Polls until no process of `marker` is left; resolves with how long it took, rejects with the survivors. */
export async function waitUntilNoneLeft(marker: string, timeoutMs: number): Promise<number> {
  const started = Date.now();
  for (;;) {
    const left = processesOf(marker);
    if (left.length === 0) return Date.now() - started;
    if (Date.now() - started > timeoutMs) throw new Error(`still running after ${timeoutMs} ms: ${JSON.stringify(left)}`);
    await sleep(50);
  }
}

/** Kills whatever of `marker` is left (clean-up after a failed assertion). */
export function killAll(marker: string): void {
  for (const p of processesOf(marker)) {
    try {
      process.kill(p.pid, "SIGKILL");
    } catch {
      // gone
    }
  }
}
