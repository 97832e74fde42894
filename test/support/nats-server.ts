// A real nats-server with JetStream per test file: its own port and store directory, so tests never share
// state with each other or with a broker already running on the machine. It can be killed and restarted on
// the same port and store, as a broker that goes away and comes back.
import { spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { findNatsServer } from "@adi/shared/nats/embedded-server";
import { freePort, waitForPort } from "@adi/shared/net";

export { freePort, waitForPort } from "@adi/shared/net";

export class NatsServerFixture {
  readonly port: number;
  readonly storeDir: string;
  #child: ChildProcess | undefined;

  private constructor(port: number, storeDir: string) {
    this.port = port;
    this.storeDir = storeDir;
  }

  static async start(): Promise<NatsServerFixture> {
    const f = new NatsServerFixture(await freePort(), mkdtempSync(join(tmpdir(), "adi-nats-")));
    await f.restart();
    return f;
  }

  get url(): string {
    return `nats://127.0.0.1:${this.port}`;
  }

  async restart(): Promise<void> {
    const bin = findNatsServer();
    if (!bin) throw new Error("nats-server not found: run scripts/setup.sh");
    const child = spawn(bin, ["-js", "-sd", this.storeDir, "-a", "127.0.0.1", "-p", String(this.port)], {
      stdio: "ignore",
      detached: true,
    });
    this.#child = child;
    await waitForPort(this.port);
  }

  /** Kills the server (SIGKILL by default: no goodbye to clients) and waits for it to be gone. */
  async kill(signal: NodeJS.Signals = "SIGKILL"): Promise<void> {
    const child = this.#child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const gone = new Promise((r) => child.once("exit", r));
    child.kill(signal);
    await gone;
  }

  /**
   * Freezes the server (SIGSTOP): connections stay open and nothing answers, as a broker on a loaded host that
   * stalls; `resume` (SIGCONT) lets it go on where it was.
   */
  pause(): void {
    this.#child?.kill("SIGSTOP");
  }

  resume(): void {
    this.#child?.kill("SIGCONT");
  }

  /** The server's process id (undefined before the first start). */
  get pid(): number | undefined {
    return this.#child?.pid;
  }

  async stop(): Promise<void> {
    this.resume(); // a paused server never handles SIGTERM

    await this.kill("SIGTERM");
    rmSync(this.storeDir, { recursive: true, force: true });
  }
}
