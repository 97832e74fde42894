// The mapper's output files, mode 0600, with updates coalesced. The debounce restarts on each update, as the
// Go tool's did, but is bounded: under steady traffic the Go tool's map was never written; here a dirty file
// is written at least every maxDelayMs.
//
//   AtomicFileWriter     the service map: rewritten whole and atomically (temp file, fsync, rename)
//   AppendingFileWriter  the traffic log: truncated at start (the mapper rebuilds it from the stream), then
//                        only the lines that became final are appended; a failed append is retried, not lost
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

/**
 * Runs `write` after updates go quiet for debounceMs, or maxDelayMs after the first unwritten one, one write at a
 * time. `quiet` tells the write whether updates had stopped (or a flush asked for it) rather than the bound ran out.
 */
class DebouncedWrites {
  readonly #debounceMs: number;
  readonly #maxDelayMs: number;
  readonly #onError: (error: unknown) => void;
  /** Resolves true when the write left something for a later, quiet one (the traffic log's lines not final yet). */
  readonly #write: (quiet: boolean) => Promise<boolean | void>;
  /** When the oldest unwritten update came (Date.now), null when nothing is pending. */
  #dirtySince: number | null = null;
  #timer: ReturnType<typeof setTimeout> | null = null;
  /** Writes run one at a time, in order. */
  #writing: Promise<void> = Promise.resolve();
  #closed = false;

  constructor(options: AtomicFileWriterOptions, write: (quiet: boolean) => Promise<boolean | void>) {
    this.#debounceMs = options.debounceMs ?? 2000;
    this.#maxDelayMs = options.maxDelayMs ?? 10_000;
    this.#onError = options.onError ?? (() => {});
    this.#write = write;
  }

  get closed(): boolean {
    return this.#closed;
  }

  update(): void {
    if (this.#closed) return;
    this.#dirtySince ??= Date.now();
    this.#arm();
  }

  async flush(): Promise<void> {
    this.#disarm();
    if (this.#dirtySince !== null) await this.#enqueueWrite(true);
    else await this.#writing;
  }

  async close(): Promise<void> {
    try {
      await this.flush();
    } finally {
      this.#closed = true;
      this.#disarm();
    }
  }

  async idle(): Promise<void> {
    await this.#writing;
  }

  #arm(): void {
    this.#disarm();
    const untilMax = (this.#dirtySince as number) + this.#maxDelayMs - Date.now();
    const quiet = this.#debounceMs <= untilMax;
    const delay = Math.max(0, Math.min(this.#debounceMs, untilMax));
    this.#timer = setTimeout(() => {
      this.#timer = null;
      this.#enqueueWrite(quiet).catch((error: unknown) => this.#onError(error));
    }, delay);
  }

  #disarm(): void {
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
  }

  #enqueueWrite(quiet: boolean): Promise<void> {
    const run = this.#writing.then(() => this.#writeIfDirty(quiet));
    // The chain continues after a failure; the failure is reported to this call's caller.
    this.#writing = run.catch(() => {});
    return run;
  }

  async #writeIfDirty(quiet: boolean): Promise<void> {
    if (this.#dirtySince === null) return;
    // Taken before writing: an update during the write marks the file dirty again.
    this.#dirtySince = null;
    try {
      // Written because the bound ran out, with more to come once updates stop: stay dirty for that quiet write.
      if ((await this.#write(quiet)) === true && !quiet) {
        this.#dirtySince ??= Date.now();
        if (!this.#closed) this.#arm();
      }
    } catch (error) {
      // Still pending: retried after the debounce, the bound counting from this failure (no tight loop).
      this.#dirtySince = Date.now();
      if (!this.#closed) this.#arm();
      throw error;
    }
  }
}

export class AtomicFileWriter {
  readonly path: string;
  readonly #mode: number;
  readonly #writes: DebouncedWrites;
  #render: (() => Content) | null = null;
  #tempCounter = 0;

  constructor(path: string, options: AtomicFileWriterOptions = {}) {
    this.path = path;
    this.#mode = options.mode ?? 0o600;
    this.#writes = new DebouncedWrites(options, async () => {
      if (this.#render !== null) await this.#writeAtomically(this.#render());
    });
  }

  /** Marks the file out of date; `render` (the latest given) produces its content when the write happens. */
  schedule(render: () => Content): void {
    if (this.#writes.closed) return;
    this.#render = render;
    this.#writes.update();
  }

  /** Writes now if an update is pending, and waits for any write in progress (for SIGINT/SIGTERM). */
  flush(): Promise<void> {
    return this.#writes.flush();
  }

  /** Flushes, then ignores further updates. */
  close(): Promise<void> {
    return this.#writes.close();
  }

  /** Resolves when no write is in progress (tests, and callers that want to observe a timed write). */
  idle(): Promise<void> {
    return this.#writes.idle();
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

/**
 * The traffic log. `schedule(take)` marks it out of date; when the write happens, `take(quiet)` returns the lines
 * to append (quiet: updates stopped, or a flush: everything may be made final). Lines taken but not written
 * (a full disk, say) are kept and written first next time, from the byte where the failed write stopped.
 */
export class AppendingFileWriter {
  readonly path: string;
  readonly #mode: number;
  readonly #writes: DebouncedWrites;
  #take: ((quiet: boolean) => Iterable<string>) | null = null;
  #file: FileHandle | null = null;
  /** Taken, not yet written. */
  #unwritten: Buffer[] = [];

  constructor(path: string, options: AtomicFileWriterOptions = {}) {
    this.path = path;
    this.#mode = options.mode ?? 0o600;
    this.#writes = new DebouncedWrites(options, (quiet) => this.#append(quiet));
  }

  /** Creates the file, or empties one left by an earlier run (its content is rebuilt from the stream). */
  async open(): Promise<void> {
    await chmod(this.path, this.#mode).catch(() => {});
    this.#file = await open(this.path, "w", this.#mode);
    await this.#file.chmod(this.#mode); // open's mode passes through the umask: set it exactly
  }

  schedule(take: (quiet: boolean) => Iterable<string>): void {
    if (this.#writes.closed) return;
    this.#take = take;
    this.#writes.update();
  }

  flush(): Promise<void> {
    return this.#writes.flush();
  }

  /** Flushes, then closes the file and ignores further updates. */
  async close(): Promise<void> {
    try {
      await this.#writes.close();
      await this.#file?.sync();
    } finally {
      await this.#file?.close();
      this.#file = null;
    }
  }

  idle(): Promise<void> {
    return this.#writes.idle();
  }

  /** Resolves true unless this was a quiet write: `take` may have left lines to be final later. */
  async #append(quiet: boolean): Promise<boolean> {
    if (this.#file === null) throw new Error(`${this.path}: not open`);
    if (this.#take !== null) this.#unwritten.push(...chunked(this.#take(quiet)));
    while (this.#unwritten.length > 0) {
      const buffer = this.#unwritten[0] as Buffer;
      const { bytesWritten } = await this.#file.write(buffer, 0, buffer.length, null);
      if (bytesWritten < buffer.length) this.#unwritten[0] = buffer.subarray(bytesWritten);
      else this.#unwritten.shift();
    }
    return !quiet;
  }
}

/** A file's content: one string, or pieces (a file too large to hold as one string). */
export type Content = string | Iterable<string>;

const WRITE_SIZE = 1 << 20;

/** Pieces joined into buffers of about 1 MiB, one at a time: no single string of the whole file is ever built. */
function* chunked(pieces: Iterable<string>): Generator<Buffer> {
  let pending: string[] = [];
  let size = 0;
  for (const piece of pieces) {
    pending.push(piece);
    size += piece.length;
    if (size >= WRITE_SIZE) {
      yield Buffer.from(pending.join(""), "utf8");
      pending = [];
      size = 0;
    }
  }
  if (pending.length > 0) yield Buffer.from(pending.join(""), "utf8");
}

async function writeChunks(file: FileHandle, pieces: Iterable<string>): Promise<void> {
  for (const chunk of chunked(pieces)) await file.write(chunk);
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
