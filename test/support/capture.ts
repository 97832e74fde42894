// Runs the real capture agent in the test process against a NatsServerFixture, with configuration given
// as environment variables exactly as a user would (nothing from the test's own environment leaks in).
import { randomBytes } from "node:crypto";
import { setTimeout as timersSleep } from "node:timers/promises";
import { spawn } from "node:child_process";
import type { ChildProcess, SpawnOptions } from "node:child_process";
import type { NatsConnection } from "@nats-io/transport-node";
import { startCaptureAgent } from "@adi/capture";
import type { CaptureAgent } from "@adi/capture";
import { loadConfig, createLogger, waitForPort } from "@adi/shared";
import { connectNats } from "@adi/shared/nats";

export interface RunningCapture {
  agent: CaptureAgent;
  nc: NatsConnection;
  host: string;
  stop(): Promise<void>;
}

/**
 * Starts the agent with `env` over the test defaults. ADI_TEST_CAPTURE_HOOKS, when set (the e2e-syscall vitest
 * project sets it to "syscall"), becomes the agent's ADI_CAPTURE_HOOKS unless the test passes its own: CI runs
 * the capture suite on each kernel path.
 */
export async function startCapture(natsUrl: string, env: Record<string, string> = {}): Promise<RunningCapture> {
  const host = `t${randomBytes(4).toString("hex")}`;
  const hooks = process.env.ADI_TEST_CAPTURE_HOOKS;
  const cfg = loadConfig({
    NATS_URL: natsUrl,
    ADI_HOST: host,
    LOG_LEVEL: "warn",
    ADI_FLUSH_INTERVAL_MS: "20",
    ...(hooks ? { ADI_CAPTURE_HOOKS: hooks } : {}),
    ...env,
  });
  const log = createLogger("capture-test", cfg.logLevel);
  const nc = await connectNats({ servers: cfg.natsServers!, auth: cfg.natsAuth, name: "adi-test", log });
  const agent = await startCaptureAgent(cfg, nc, log);
  let stopped = false;
  return {
    agent,
    nc,
    host,
    async stop() {
      if (stopped) return;
      stopped = true;
      await agent.stop(10_000);
    },
  };
}

/** The environment of a process that opts in (or not): PATH and the given variables only. */
export function processEnv(vars: Record<string, string>): NodeJS.ProcessEnv {
  return { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: "/root", ...vars };
}

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
  pid: number;
}

export function run(cmd: string, args: string[], opts: SpawnOptions = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { ...opts, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "", stderr = "";
    child.stdout!.on("data", (d) => (stdout += d));
    child.stderr!.on("data", (d) => (stderr += d));
    child.on("error", reject);
    child.on("exit", (code) => resolve({ code, stdout, stderr, pid: child.pid! }));
  });
}

export function startBackground(cmd: string, args: string[], opts: SpawnOptions = {}): ChildProcess {
  return spawn(cmd, args, { stdio: "ignore", ...opts });
}

export async function stopBackground(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const gone = new Promise((r) => child.once("exit", r));
  child.kill("SIGTERM");
  await gone;
}

/** Waits `ms` (node:timers/promises). */
export const sleep = (ms: number): Promise<void> => timersSleep(ms);

/**
 * Issue 10's start script, under a capture agent it starts (and stops): sh, with `env`, forks helpers that never
 * touch the network (sleep, sed, a subshell, true) and one networked program, curl to a local http.server on
 * `port` that did not opt in. Resolves with the stopped capture (its connection still open, to read what it
 * stored) and the script's result, for the test to check.
 */
export async function captureForkingScript(natsUrl: string, port: number, env: Record<string, string>): Promise<{ cap: RunningCapture; script: RunResult }> {
  const cap = await startCapture(natsUrl);
  const server = startBackground("python3", ["-m", "http.server", String(port), "--bind", "127.0.0.1"], { cwd: "/tmp", env: processEnv({}) });
  try {
    await waitForPort(port);
    const script = [
      "sleep 0.05",
      "echo hello | sed s/h/j/ > /dev/null",
      "( echo sub > /dev/null; true )",
      "/bin/true",
      `curl -sS --fail -o /dev/null http://127.0.0.1:${port}/`,
      "echo done | sed s/d/D/",
    ].join("\n");
    const result = await run("sh", ["-c", script], { env: processEnv(env) });
    await sleep(300);
    return { cap, script: result };
  } finally {
    await stopBackground(server);
    await cap.stop();
  }
}
