// The output files of every service (the mapper's traffic log and service map, the enricher's environment
// inventory), mode 0600, with updates coalesced. The debounce restarts on each update, as the Go tool's did, but is
// bounded: under steady traffic the Go tool's map was never written; here a dirty file is written at least every
// maxDelayMs.
//
//   AtomicFileWriter     the service map, the inventory: rewritten whole and atomically (temp file, fsync, rename)
//   AppendingFileWriter  the traffic log: replaced by a new empty file at start (the mapper rebuilds it from the
//                        stream), then only the lines that became final are appended; a failed append is retried
//
// adi runs as root and the paths come from the environment, so nothing that is not ours is ever truncated or
// chmod'ed (issue 10: OUTPUT_PATH=/tmp had /tmp chmod'ed 0600; a symlink at OUTPUT_PATH had its target truncated).
// Every file we write is one we created: a new temporary file (O_CREAT|O_EXCL|O_NOFOLLOW, 0600, its mode set on our
// descriptor) renamed into place. rename(2) replaces a name and never follows a symlink there, and an existing file
// is never opened, truncated or chmod'ed. At start, checkOutputPath refuses a path that is a directory, a symlink,
// anything but a regular file, or in a missing directory: one line, ADI_ERR_OUTPUT_PATH, exit 2.
import { randomBytes } from "node:crypto";
import { constants, lstatSync, statSync } from "node:fs";
import type { Stats } from "node:fs";
import { lstat, open, rename, unlink } from "node:fs/promises";
import type { FileHandle } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { adiError } from "./errors.ts";
import type { AdiError } from "./errors.ts";

/** What stands at an output path, as lstat(2) sees it (a symlink is not followed), or nothing. */
export type PathKind = "file" | "directory" | "symlink" | "fifo" | "socket" | "block device" | "character device" | "missing";

/**
 * Why an output path cannot be used, by what is there (null: usable). The rule of issue 10, as data: only a
 * regular file (replaced, never written through) or nothing (created) is ours to write.
 */
export const OUTPUT_PATH_RULES: Readonly<Record<PathKind, string | null>> = Object.freeze({
  file: null,
  missing: null,
  directory: "is a directory",
  symlink: "is a symbolic link (not followed: write to the real path)",
  fifo: "is a named pipe, not a regular file",
  socket: "is a socket, not a regular file",
  "block device": "is a block device, not a regular file",
  "character device": "is a character device, not a regular file",
});

/** The PathKind of an lstat result. */
export function pathKind(st: Stats | undefined): PathKind {
  if (st === undefined) return "missing";
  if (st.isSymbolicLink()) return "symlink";
  if (st.isDirectory()) return "directory";
  if (st.isFIFO()) return "fifo";
  if (st.isSocket()) return "socket";
  if (st.isBlockDevice()) return "block device";
  if (st.isCharacterDevice()) return "character device";
  return "file";
}

/**
 * Checks, without touching anything, that `path` can be an output file: a regular file or nothing there, in an
 * existing directory. Throws AdiError ADI_ERR_OUTPUT_PATH (exit 2) `<variable>="<path>": <why>` otherwise.
 * `variable` names the setting (OUTPUT_PATH, ...) for the one-line error.
 */
export function checkOutputPath(variable: string, path: string): void {
  const problem = outputPathProblem(path);
  if (problem !== null) throw outputPathError(variable, path, problem);
}

function outputPathProblem(path: string): string | null {
  let st: Stats | undefined;
  try {
    st = lstatSync(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ENOTDIR") return "a component of its directory is not a directory";
    if (code !== "ENOENT") return `cannot be inspected: ${(err as Error).message}`;
  }
  const why = OUTPUT_PATH_RULES[pathKind(st)];
  if (why !== null) return why;
  if (st === undefined) {
    const dir = dirname(path);
    try {
      // The directory may be reached through a symlink (/var/run -> /run): that one is followed, it is not written.
      if (!statSync(dir).isDirectory()) return `its parent ${dir} is not a directory`;
    } catch {
      return `its directory ${dir} does not exist`;
    }
  }
  return null;
}

function outputPathError(variable: string, path: string, why: string): AdiError {
  return adiError("ADI_ERR_OUTPUT_PATH", `${variable}=${JSON.stringify(path)}: ${why}`);
}

/**
 * Creates a new file for `path` beside it (same directory, so the rename is atomic) with exactly `mode`: O_EXCL and
 * O_NOFOLLOW, so it is a file we created, never one that was there (or a link planted in its name). The name has a
 * random part: a temporary file left by a killed earlier run with the same pid (pid 1 in a container) is not in the
 * way, and is never opened or removed by us.
 */
async function createTemp(path: string, mode: number): Promise<{ temp: string; file: FileHandle }> {
  const flags = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;
  for (let attempt = 1; ; attempt++) {
    const temp = join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(6).toString("hex")}.tmp`);
    let file: FileHandle;
    try {
      file = await open(temp, flags, mode);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "EEXIST" && attempt < 5) continue;
      throw err;
    }
    try {
      await file.chmod(mode); // open's mode passes through the umask: set it exactly, on our descriptor
    } catch (err) {
      await file.close();
      await unlink(temp).catch(() => {});
      throw err;
    }
    return { temp, file };
  }
}

/**
 * Renames our `temp` over `path`. Refuses (AdiError ADI_ERR_OUTPUT_PATH) when something that is not a regular file
 * took the name meanwhile: a directory would fail anyway, and a symlink would be replaced, not followed, but it is
 * not ours to remove either.
 */
async function renameIntoPlace(temp: string, path: string, variable: string): Promise<void> {
  const st = await lstat(path).catch(() => undefined);
  const why = OUTPUT_PATH_RULES[pathKind(st)];
  if (why !== null) throw outputPathError(variable, path, why);
  await rename(temp, path);
}

export interface AtomicFileWriterOptions {
  /** Mode of the files written (never of a file already there). Default 0600: outputs can hold captured payloads. */
  mode?: number;
  /** Quiet time after the last update before writing. Default 2000 (the Go tool's). */
  debounceMs?: number;
  /** Longest time a pending update waits, however steady the updates. Default 10000. */
  maxDelayMs?: number;
  /** The setting that named the path (OUTPUT_PATH, ...), for the error when the path is refused. */
  variable?: string;
  /** A timed write failed. Any failed write stays pending and is retried after the debounce. */
  onError?: (error: unknown) => void;
  /**
   * Default true: updates are written by timer (debounceMs, maxDelayMs). false: only flush, drain and close write
   * (a reader that paces the writes itself, `adi replay`: no timer is armed per update).
   */
  timed?: boolean;
}

/**
 * Runs `write` after updates go quiet for debounceMs, or maxDelayMs after the first unwritten one, one write at a
 * time. `quiet` tells the write whether updates had stopped (or a flush asked for it) rather than the bound ran out.
 */
class DebouncedWrites {
  readonly #debounceMs: number;
  readonly #maxDelayMs: number;
  readonly #timed: boolean;
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
    this.#timed = options.timed ?? true;
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

  /** Writes now, not quiet (what is final so far), if an update is pending; waits for it. */
  async drain(): Promise<void> {
    this.#disarm();
    if (this.#dirtySince !== null) await this.#enqueueWrite(false);
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

  /** Forgets what is pending and ignores further updates; waits for a write in progress (its failure ignored). */
  async abandon(): Promise<void> {
    this.#closed = true;
    this.#disarm();
    this.#dirtySince = null;
    await this.#writing;
  }

  #arm(): void {
    this.#disarm();
    if (!this.#timed) return;
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
  readonly #variable: string;
  readonly #writes: DebouncedWrites;
  #render: (() => Content) | null = null;

  /** `path` is checked when written (see checkOutputPath for the check at start). */
  constructor(path: string, options: AtomicFileWriterOptions = {}) {
    this.path = path;
    this.#mode = options.mode ?? 0o600;
    this.#variable = options.variable ?? "output path";
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

  /** Gives up: forgets a pending update (the file keeps what it had) and ignores further ones. Never throws. */
  discard(): Promise<void> {
    return this.#writes.abandon();
  }

  async #writeAtomically(content: Content): Promise<void> {
    const { temp, file } = await createTemp(this.path, this.#mode);
    try {
      try {
        if (typeof content === "string") await file.writeFile(content, "utf8");
        else await writeChunks(file, content);
        await file.sync();
      } finally {
        await file.close();
      }
      // The old file is replaced, not changed: a hard link elsewhere keeps its content and mode, it is not ours.
      await renameIntoPlace(temp, this.path, this.#variable);
    } catch (error) {
      await unlink(temp).catch(() => {});
      throw error;
    }
    await syncDirectory(dirname(this.path));
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
  readonly #variable: string;
  readonly #writes: DebouncedWrites;
  #take: ((quiet: boolean) => Iterable<string>) | null = null;
  #file: FileHandle | null = null;
  /** open({ staged: true }): the temporary file's name until close() renames it to the path. */
  #staged: string | null = null;
  /** Taken, not yet written. */
  #unwritten: Buffer[] = [];

  constructor(path: string, options: AtomicFileWriterOptions = {}) {
    this.path = path;
    this.#mode = options.mode ?? 0o600;
    this.#variable = options.variable ?? "output path";
    this.#writes = new DebouncedWrites(options, (quiet) => this.#append(quiet));
  }

  /**
   * Puts a new empty file at the path (a log left by an earlier run is replaced: its content is rebuilt from the
   * stream) and keeps it open for appending. The earlier file is never truncated (a hard link to it is not ours).
   * Throws AdiError ADI_ERR_OUTPUT_PATH when the path is a directory, a symlink, not a regular file or in a missing
   * directory; any other error as is. `staged`: the new file keeps its temporary name until close() renames it to
   * the path (`adi replay`: the directory never holds half a log); discard() removes it instead.
   */
  async open(opts: { staged?: boolean } = {}): Promise<void> {
    checkOutputPath(this.#variable, this.path);
    const { temp, file } = await createTemp(this.path, this.#mode);
    if (opts.staged === true) {
      this.#file = file;
      this.#staged = temp;
      return;
    }
    try {
      await renameIntoPlace(temp, this.path, this.#variable);
    } catch (error) {
      await file.close();
      await unlink(temp).catch(() => {});
      throw error;
    }
    this.#file = file;
    await syncDirectory(dirname(this.path));
  }

  schedule(take: (quiet: boolean) => Iterable<string>): void {
    if (this.#writes.closed) return;
    this.#take = take;
    this.#writes.update();
  }

  flush(): Promise<void> {
    return this.#writes.flush();
  }

  /** Appends the lines final now (not quiet: the others wait) and waits for the write: back-pressure for a reader. */
  drain(): Promise<void> {
    return this.#writes.drain();
  }

  /** Flushes, then closes the file (renaming a staged one to the path) and ignores further updates. */
  async close(): Promise<void> {
    try {
      await this.#writes.close();
      await this.#file?.sync();
    } finally {
      await this.#file?.close();
      this.#file = null;
    }
    if (this.#staged !== null) {
      const temp = this.#staged;
      this.#staged = null;
      try {
        await renameIntoPlace(temp, this.path, this.#variable);
      } catch (error) {
        await unlink(temp).catch(() => {});
        throw error;
      }
      await syncDirectory(dirname(this.path));
    }
  }

  /**
   * Gives up (a replay that failed): closes the file without writing what is pending; a staged file is removed, so
   * the path keeps what it had. Never throws.
   */
  async discard(): Promise<void> {
    await this.#writes.abandon();
    await this.#file?.close().catch(() => {});
    this.#file = null;
    if (this.#staged !== null) await unlink(this.#staged).catch(() => {});
    this.#staged = null;
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
