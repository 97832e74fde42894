// Writes an output file whole and atomically (temp file in the same directory, fsync, rename), mode 0600,
// coalescing updates. The debounce restarts on each update, as the Go tool's did, but is bounded: under
// steady traffic the Go tool's map was never written; here a dirty file is written at least every
// maxDelayMs.
import { chmod, open, rename, unlink } from "node:fs/promises";
import type { FileHandle } from "node:fs/promises";
import { basename, dirname, join } from "node:path";

export interface AtomicFileWriterOptions {
  /** File mode, also applied to a file already there. Default 0600: outputs can hold captured payloads. */
  mode?: number;
  /** Quiet time after the last update before writing. Default 2000 (the Go tool's). */
  debounceMs?: number;
  /** Longest time a pending update waits, however steady the updates. Default 10000. */
  maxDelayMs?: number;
  /** A timed write failed. Any failed write stays pending and is retried after the debounce. */
  onError?: (error: unknown) => void;
}

export class AtomicFileWriter {
  readonly path: string;
  readonly #mode: number;
  readonly #debounceMs: number;
  readonly #maxDelayMs: number;
  readonly #onError: (error: unknown) => void;
  #render: (() => Content) | null = null;
  /** When the oldest unwritten update came (Date.now), null when nothing is pending. */
  #dirtySince: number | null = null;
  #timer: ReturnType<typeof setTimeout> | null = null;
  /** Writes run one at a time, in order. */
  #writing: Promise<void> = Promise.resolve();
  #tempCounter = 0;
  #closed = false;

  constructor(path: string, options: AtomicFileWriterOptions = {}) {
    this.path = path;
    this.#mode = options.mode ?? 0o600;
    this.#debounceMs = options.debounceMs ?? 2000;
    this.#maxDelayMs = options.maxDelayMs ?? 10_000;
    this.#onError = options.onError ?? (() => {});
  }

  /** Marks the file out of date; `render` (the latest given) produces its content when the write happens. */
  schedule(render: () => Content): void {
    if (this.#closed) return;
    this.#render = render;
    this.#dirtySince ??= Date.now();
    this.#arm();
  }

  /** Writes now if an update is pending, and waits for any write in progress (for SIGINT/SIGTERM). */
  async flush(): Promise<void> {
    this.#disarm();
    if (this.#dirtySince !== null) await this.#enqueueWrite();
    else await this.#writing;
  }

  /** Flushes, then ignores further updates. */
  async close(): Promise<void> {
    try {
      await this.flush();
    } finally {
      this.#closed = true;
      this.#disarm();
    }
  }

  /** Resolves when no write is in progress (tests, and callers that want to observe a timed write). */
  async idle(): Promise<void> {
    await this.#writing;
  }

  #arm(): void {
    this.#disarm();
    const untilMax = (this.#dirtySince as number) + this.#maxDelayMs - Date.now();
    const delay = Math.max(0, Math.min(this.#debounceMs, untilMax));
    this.#timer = setTimeout(() => {
      this.#timer = null;
      this.#enqueueWrite().catch((error: unknown) => this.#onError(error));
    }, delay);
  }

  #disarm(): void {
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
  }

  #enqueueWrite(): Promise<void> {
    const run = this.#writing.then(() => this.#writeIfDirty());
    // The chain continues after a failure; the failure is reported to this call's caller.
    this.#writing = run.catch(() => {});
    return run;
  }

  async #writeIfDirty(): Promise<void> {
    if (this.#dirtySince === null || this.#render === null) return;
    // Taken before rendering: an update during the write marks the file dirty again.
    this.#dirtySince = null;
    try {
      await this.#writeAtomically(this.#render());
    } catch (error) {
      // Still pending: retried after the debounce, the bound counting from this failure (no tight loop).
      this.#dirtySince = Date.now();
      if (!this.#closed) this.#arm();
      throw error;
    }
  }

  async #writeAtomically(content: Content): Promise<void> {
    const dir = dirname(this.path);
    const temp = join(dir, `.${basename(this.path)}.${process.pid}.${++this.#tempCounter}.tmp`);
    try {
      const file = await open(temp, "w", this.#mode);
      try {
        if (typeof content === "string") await file.writeFile(content, "utf8");
        else await writeChunks(file, content);
        await file.chmod(this.#mode); // open's mode passes through the umask: set it exactly
        await file.sync();
      } finally {
        await file.close();
      }
      // Tighten an existing file before it is replaced, so an old wide mode never lingers on a hard link.
      await chmod(this.path, this.#mode).catch(() => {});
      await rename(temp, this.path);
    } catch (error) {
      await unlink(temp).catch(() => {});
      throw error;
    }
    await syncDirectory(dir);
  }
}

/** A file's content: one string, or pieces (a file too large to hold as one string). */
export type Content = string | Iterable<string>;

const WRITE_SIZE = 1 << 20;

/** Writes the pieces in writes of about 1 MiB: no single string of the whole file is ever built. */
async function writeChunks(file: FileHandle, chunks: Iterable<string>): Promise<void> {
  let pending: string[] = [];
  let size = 0;
  for (const chunk of chunks) {
    pending.push(chunk);
    size += chunk.length;
    if (size >= WRITE_SIZE) {
      await file.write(pending.join(""), null, "utf8");
      pending = [];
      size = 0;
    }
  }
  if (pending.length > 0) await file.write(pending.join(""), null, "utf8");
}

/** Makes the rename itself durable; best effort (some filesystems refuse to fsync a directory). */
async function syncDirectory(dir: string): Promise<void> {
  try {
    const handle = await open(dir, "r");
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  } catch {
    // ignored
  }
}
