// A TCP listener on 127.0.0.1 that records what real clients send: each connection's first bytes (the first
// chunk plus whatever follows within a short settle time), then an optional canned reply, then close.
// Used to capture real client libraries' handshakes for protocols with no server on this machine.
import { setTimeout as sleep } from "node:timers/promises";
import { createServer } from "node:net";
import type { Server, Socket } from "node:net";

export interface RecordingOptions {
  /** Bytes written as soon as a client connects: the greeting of a server-first protocol. */
  greeting?: Buffer;
  /** Bytes written once the client's first bytes are in, so that it proceeds a step further. */
  reply?: (firstBytes: Buffer) => Buffer | null;
  /** How long to keep reading after the first chunk (clients may write a message in several chunks). */
  settleMs?: number;
}

export class RecordingListener {
  readonly port: number;
  /** First bytes of each connection, in the order the connections were made. */
  readonly recordings: Buffer[] = [];
  readonly #server: Server;
  readonly #sockets = new Set<Socket>();
  readonly #waiters: (() => void)[] = [];

  private constructor(server: Server, port: number) {
    this.#server = server;
    this.port = port;
  }

  static async start(options: RecordingOptions = {}): Promise<RecordingListener> {
    const server = createServer();
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(0, "127.0.0.1", () => resolve());
    });
    const listener = new RecordingListener(server, (server.address() as { port: number }).port);
    server.on("connection", (socket) => listener.#record(socket, options));
    return listener;
  }

  #record(socket: Socket, options: RecordingOptions): void {
    this.#sockets.add(socket);
    socket.on("close", () => this.#sockets.delete(socket));
    socket.on("error", () => {}); // clients hang up rudely once they see the reply; nothing to report
    if (options.greeting) socket.write(options.greeting);
    const chunks: Buffer[] = [];
    socket.on("data", (chunk: Buffer) => {
      chunks.push(chunk);
      if (chunks.length > 1) return;
      setTimeout(() => {
        const first = Buffer.concat(chunks);
        this.recordings.push(first);
        for (const wake of this.#waiters.splice(0)) wake();
        const reply = options.reply?.(first);
        if (reply) socket.end(reply);
        else socket.destroy();
      }, options.settleMs ?? 100);
    });
  }

  /** The first bytes of the first connection, once recorded. */
  async firstRecording(timeoutMs = 5_000): Promise<Buffer> {
    const deadline = Date.now() + timeoutMs;
    while (this.recordings.length === 0) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no client wrote to 127.0.0.1:${this.port} within ${timeoutMs} ms`);
      // A recording wakes the wait early (the waiter aborts it).
      const wake = new AbortController();
      this.#waiters.push(() => wake.abort());
      await sleep(left, undefined, { signal: wake.signal }).catch(() => undefined);
    }
    return this.recordings[0]!;
  }

  async close(): Promise<void> {
    for (const socket of this.#sockets) socket.destroy();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
}
