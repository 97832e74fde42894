// A real nats-server with JetStream per test file: its own port and store directory, so tests never share
// state with each other or with a broker already running on the machine. It can be killed and restarted on
// the same port and store, as a broker that goes away and comes back. It can be started with extra command-line
// arguments (--user/--pass, --auth) or a configuration file (nkey users, operator mode, TLS).
import { spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { findNatsServer } from "@adi/shared/nats";
import { freePort, waitForPort } from "@adi/shared";

export { freePort, waitForPort } from "@adi/shared";

export interface NatsServerOptions {
  /** Extra nats-server arguments after the defaults (e.g. ["--user", "u", "--pass", "p"], ["--auth", "tok"]). */
  args?: readonly string[];
  /**
   * A configuration file's text, written to the store directory and given with -c (after the default arguments,
   * which set listen address, port and JetStream store): nkey users, accounts, TLS blocks.
   */
  config?: (where: { port: number; storeDir: string }) => string;
  /** The URL scheme of `url`: tls for a server that requires TLS. Default nats. */
  scheme?: "nats" | "tls";
}

export class NatsServerFixture {
  readonly port: number;
  readonly storeDir: string;
  readonly #opts: NatsServerOptions;
  #child: ChildProcess | undefined;

  private constructor(port: number, storeDir: string, opts: NatsServerOptions) {
    this.port = port;
    this.storeDir = storeDir;
    this.#opts = opts;
  }

  static async start(opts: NatsServerOptions = {}): Promise<NatsServerFixture> {
    const f = new NatsServerFixture(await freePort(), mkdtempSync(join(tmpdir(), "adi-nats-")), opts);
    await f.restart();
    return f;
  }

  get url(): string {
    return `${this.#opts.scheme ?? "nats"}://127.0.0.1:${this.port}`;
  }

  async restart(): Promise<void> {
    const bin = findNatsServer();
    if (!bin) throw new Error("nats-server not found: run scripts/setup.sh");
    const args = ["-js", "-sd", this.storeDir, "-a", "127.0.0.1", "-p", String(this.port), ...(this.#opts.args ?? [])];
    if (this.#opts.config) {
      const file = join(this.storeDir, "server.conf");
      writeFileSync(file, this.#opts.config({ port: this.port, storeDir: this.storeDir }), { mode: 0o600 });
      args.unshift("-c", file);
    }
    const child = spawn(bin, args, {
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
