// The capture agent of `adi up` and `adi demo`, in a process of its own: the kernel path (ring buffer drain,
// batching, publishing) gets a whole event loop, which the consumers would otherwise starve at saturation. It is
// started exactly as a user runs `adi capture` (bin/adi: the same Node choice and flags), with this process's
// environment and NATS servers, and joined to this process by an IPC channel (cli/lifeline.ts): it dies with us.
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { isReadyMessage, STOPPED_BY_PARENT_VAR } from "./lifeline.ts";

/** bin/adi, the launcher the child is started with. */
export const LAUNCHER = fileURLToPath(new URL("../bin/adi", import.meta.url));

/** How a child process ended. */
export interface ChildExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** The capture child ended without being asked to. `exitCode` is what the parent should exit with. */
export class CaptureExitError extends Error {
  override readonly name = "CaptureExitError";
  readonly exit: ChildExit;
  readonly exitCode: number;
  /** The child printed its own `adi: <CODE>: ...` line (it exited with a documented code, 2 to 5). */
  readonly explained: boolean;

  constructor(exit: ChildExit, when: "before it was ready" | "while running") {
    super(`the capture agent (adi capture) exited ${when}: ${exit.signal ? `signal ${exit.signal}` : `exit code ${exit.code}`}`);
    this.exit = exit;
    this.explained = exit.code !== null && exit.code >= 2 && exit.code <= 5;
    this.exitCode = this.explained ? exit.code! : 1;
  }
}

export interface CaptureChild {
  readonly pid: number;
  /** Resolves when the agent is attached and publishing; rejects with a CaptureExitError if it exited first. */
  readonly ready: Promise<void>;
  /** Resolves when the child has exited, however (never rejects). */
  readonly exited: Promise<ChildExit>;
  /** SIGTERM (the agent flushes and exits), SIGKILL after `graceMs`; resolves once it has exited. */
  stop(graceMs: number): Promise<ChildExit>;
}

/**
 * Starts `adi capture` with `process.env` plus `natsEnv` (runtime.ts natsTarget: NATS_URL, and NATS_NKEY = the seed
 * file's path when this process started the embedded server; never a secret's value in the environment or argv).
 * Its stdout and stderr are ours, so its log lines and its one-line error go
 * where ours go. It ignores SIGINT (a Ctrl-C in the terminal reaches the whole process group): we stop it, first,
 * with SIGTERM. Throws only if the launcher cannot be spawned at all (no /bin/sh).
 */
export function startCaptureChild(natsEnv: Readonly<Record<string, string>>): CaptureChild {
  const child = spawn("/bin/sh", [LAUNCHER, "capture"], {
    env: { ...process.env, ...natsEnv, [STOPPED_BY_PARENT_VAR]: "1" },
    stdio: ["ignore", "inherit", "inherit", "ipc"],
    // Not detached: a session of its own is a scheduler autogroup of its own (Linux, sched_autogroup_enabled),
    // and a group is throttled to its share as a whole: at saturation the agent's busy main thread used it up and
    // its ring-buffer drain thread waited for the CPU (60k-180k kernel drops per 10 s of wrk, none in ours).
    detached: false,
  });
  const exited = new Promise<ChildExit>((resolve) => {
    child.once("exit", (code, signal) => resolve({ code, signal }));
    // spawn failed (no /bin/sh): there will be no exit event
    child.once("error", () => resolve({ code: 127, signal: null }));
  });
  let isReady = false;
  const ready = new Promise<void>((resolve, reject) => {
    child.on("message", (m: unknown) => {
      if (!isReadyMessage(m)) return;
      isReady = true;
      resolve();
    });
    void exited.then((exit) => {
      if (!isReady) reject(new CaptureExitError(exit, "before it was ready"));
    });
  });
  ready.catch(() => undefined); // observed by the caller; never an unhandled rejection
  return {
    pid: child.pid ?? -1,
    ready,
    exited,
    async stop(graceMs) {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), graceMs);
      const exit = await exited;
      clearTimeout(timer);
      return exit;
    },
  };
}
