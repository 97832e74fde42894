// One projection, one writer (issue 12, item 3). Each output file is the projection of a pure fold kept by its
// service's core: the traffic log and the service map of the mapper's MapperOutputs, the environment inventory of
// the enricher's EnvInventory. The fold takes events (facts, derived observations) and only counts a `version`;
// this module is the one place that turns a projection into a file, for the live mapper and enricher and for
// `adi replay` alike:
//
//   append-lines    the traffic log: lines that became final are taken from the fold and appended
//                   (AppendingFileWriter: a new empty file at open, or a staged one renamed into place at close)
//   atomic-rewrite  the service map, the inventory: the whole file rendered and replaced atomically
//                   (AtomicFileWriter)
//
// `changed()` after folding schedules each file whose projection's version moved (a fact that changes nothing
// renders nothing); the writers debounce, bound, retry, flush and close as output-file.ts describes.
import type { AtomicFileWriterOptions, Content } from "./output-file.ts";
import { AppendingFileWriter, AtomicFileWriter, checkOutputPath } from "./output-file.ts";

/** What a projection of either kind has: a counter its fold bumps on every change that alters the file. */
interface Versioned {
  /** Bumped by the fold on every change; the writer renders only when it moved since the last schedule. */
  readonly version: number;
}

/**
 * An append-only file of lines (the traffic log). `takeLines(all)` hands over, in order, the lines that became
 * final since the last call and forgets them; `all`: the stream went quiet or the writer flushes, so every line
 * pending is made final first. Each string is one or more whole lines, `\n`-terminated.
 */
export interface LinesProjection extends Versioned {
  readonly kind: "append-lines";
  takeLines(all: boolean): Iterable<string>;
}

/** A file rewritten whole (the service map, the inventory): `render()` is its full content now. */
export interface DocumentProjection extends Versioned {
  readonly kind: "atomic-rewrite";
  render(): Content;
}

export type Projection = LinesProjection | DocumentProjection;

/** One output file: where it goes, the setting that named it (for the one-line error), and what it shows. */
export interface OutputTarget {
  path: string;
  /** OUTPUT_PATH, SERVICE_MAP_PATH, ENV_OUTPUT_PATH, or "--out file" for replay. */
  variable: string;
  projection: Projection;
}

export interface OutputFilesOptions extends Omit<AtomicFileWriterOptions, "variable" | "onError"> {
  /** A timed write failed (it stays pending and is retried): the error and the target's variable. */
  onError?: (error: unknown, variable: string) => void;
  /**
   * Append-lines files keep a temporary name until close() renames them to their path, and discard() removes them
   * (`adi replay`: the output directory never holds half a log).
   */
  staged?: boolean;
}

interface OpenFile {
  target: OutputTarget;
  /** The projection's version when last scheduled. */
  scheduled: number;
  writer: AppendingFileWriter | AtomicFileWriter;
}

/**
 * The writer of every output file. Open it with the targets in the order they should be written at close (the
 * traffic log first: its rename comes before the map a reader may compare it with). Files are mode 0600 and only
 * ever created by us (output-file.ts).
 */
export class OutputFiles {
  readonly #files: OpenFile[];

  private constructor(files: OpenFile[]) {
    this.#files = files;
  }

  /**
   * Checks every path (checkOutputPath: AdiError ADI_ERR_OUTPUT_PATH, exit 2, naming the target's variable), then
   * opens them: an append-lines file is created empty now (staged: under a temporary name), an atomic-rewrite
   * file is first written when its projection changes. On a failure, what was opened is discarded and the error
   * thrown as is.
   */
  static async open(targets: readonly OutputTarget[], options: OutputFilesOptions = {}): Promise<OutputFiles> {
    for (const t of targets) checkOutputPath(t.variable, t.path);
    const { onError, staged, ...timing } = options;
    const files: OpenFile[] = [];
    try {
      for (const target of targets) {
        const writerOptions = { ...timing, variable: target.variable, onError: (err: unknown) => onError?.(err, target.variable) };
        if (target.projection.kind === "append-lines") {
          const writer = new AppendingFileWriter(target.path, writerOptions);
          files.push({ target, scheduled: target.projection.version, writer });
          await writer.open({ staged });
        } else {
          files.push({ target, scheduled: target.projection.version, writer: new AtomicFileWriter(target.path, writerOptions) });
        }
      }
    } catch (err) {
      await Promise.all(files.map((f) => f.writer.discard()));
      throw err;
    }
    return new OutputFiles(files);
  }

  /** The paths, in order. */
  get paths(): string[] {
    return this.#files.map((f) => f.target.path);
  }

  /**
   * Call after folding: each file whose projection's version moved is scheduled (written per the timing). `all`:
   * every file, moved or not (replay's end: each file is written even when the window held nothing).
   */
  changed(opts: { all?: boolean } = {}): void {
    for (const f of this.#files) {
      const p = f.target.projection;
      if (p.version === f.scheduled && opts.all !== true) continue;
      f.scheduled = p.version;
      if (p.kind === "append-lines") (f.writer as AppendingFileWriter).schedule((quiet) => p.takeLines(quiet));
      else (f.writer as AtomicFileWriter).schedule(() => p.render());
    }
  }

  /**
   * Appends the lines that are final now to the append-lines files and waits for the writes (back-pressure for a
   * reader faster than the disk: memory then holds the fold's window, not the stream). Whole-file rewrites wait
   * for their timer, flush or close. Rejects with the write's error (the lines stay pending).
   */
  async drain(): Promise<void> {
    for (const f of this.#files) if (f.writer instanceof AppendingFileWriter) await f.writer.drain();
  }

  /** Writes every pending change now (all pending lines made final), in order, and waits (SIGINT/SIGTERM). */
  async flush(): Promise<void> {
    for (const f of this.#files) await f.writer.flush();
  }

  /** Flushes and closes every file in order (a staged one renamed into place); further changes are ignored. */
  async close(): Promise<void> {
    for (const f of this.#files) await f.writer.close();
  }

  /** Gives up every file without writing what is pending (staged files removed). Never throws. */
  async discard(): Promise<void> {
    for (const f of this.#files) await f.writer.discard();
  }

  /** Resolves when no write is in progress (tests). */
  async idle(): Promise<void> {
    await Promise.all(this.#files.map((f) => f.writer.idle()));
  }
}
