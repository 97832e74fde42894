// OutputFiles, the one writer of every output file (a temp directory, fake timers): projections written only when
// their version moved, append-lines vs atomic-rewrite, drain (what is final now), staged files (replay) and discard.
import { mkdtemp, readdir, readFile, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { OutputFiles } from "../src/output-files.ts";
import type { DocumentProjection, LinesProjection } from "../src/output-files.ts";
import { isAdiError } from "../src/errors.ts";

let dir: string;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "adi-output-files-"));
  vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout", "Date"] });
});

afterEach(async () => {
  vi.useRealTimers();
  await rm(dir, { recursive: true, force: true });
});

/**
 * A toy fold: each event is a number; the log's line for n is final once an event 2 higher came (or `all`); the
 * document lists the sum. It counts its renders, so a test can tell a render that should not have happened.
 */
function toyFold() {
  let version = 0;
  const pending: number[] = [];
  let newest = -Infinity;
  let sum = 0;
  const renders = { log: 0, doc: 0 };
  const log: LinesProjection = {
    kind: "append-lines",
    get version() {
      return version;
    },
    takeLines(all) {
      renders.log++;
      const final = pending.filter((n) => all || n <= newest - 2).sort((a, b) => a - b);
      pending.splice(0, pending.length, ...pending.filter((n) => !final.includes(n)));
      return final.map((n) => `${n}\n`);
    },
  };
  const doc: DocumentProjection = {
    kind: "atomic-rewrite",
    get version() {
      return version;
    },
    render() {
      renders.doc++;
      return `sum: ${sum}\n`;
    },
  };
  return {
    log,
    doc,
    renders,
    fold(n: number) {
      pending.push(n);
      newest = Math.max(newest, n);
      sum += n;
      version++;
    },
    /** An event that changes nothing (the agent's counters): the version stays. */
    foldNothing() {},
  };
}

describe("OutputFiles", () => {
  it("writes each projection by its kind, only when its version moved, debounced like the writers", async () => {
    const f = toyFold();
    const files = await OutputFiles.open(
      [
        { path: join(dir, "t.log"), variable: "OUTPUT_PATH", projection: f.log },
        { path: join(dir, "m.yaml"), variable: "SERVICE_MAP_PATH", projection: f.doc },
      ],
      { debounceMs: 100, maxDelayMs: 1000 },
    );
    expect(await readFile(join(dir, "t.log"), "utf8")).toBe(""); // the log is a new empty file from open
    await expect(stat(join(dir, "m.yaml"))).rejects.toMatchObject({ code: "ENOENT" }); // the map waits for a change
    f.foldNothing();
    files.changed();
    vi.advanceTimersByTime(500);
    await files.idle();
    expect(f.renders).toEqual({ log: 0, doc: 0 });
    for (const n of [1, 2, 3, 4]) {
      f.fold(n);
      files.changed();
    }
    vi.advanceTimersByTime(100);
    await files.idle();
    expect(await readFile(join(dir, "m.yaml"), "utf8")).toBe("sum: 10\n");
    // Quiet: everything pending is made final.
    expect(await readFile(join(dir, "t.log"), "utf8")).toBe("1\n2\n3\n4\n");
    expect((await stat(join(dir, "m.yaml"))).mode & 0o777).toBe(0o600);
    await files.close();
  });

  it("drain appends what is final now, not the rest; close makes the rest final; untimed files write nothing by themselves", async () => {
    const f = toyFold();
    const files = await OutputFiles.open(
      [
        { path: join(dir, "t.log"), variable: "OUTPUT_PATH", projection: f.log },
        { path: join(dir, "m.yaml"), variable: "SERVICE_MAP_PATH", projection: f.doc },
      ],
      { timed: false },
    );
    for (const n of [5, 1, 4]) f.fold(n);
    files.changed();
    vi.advanceTimersByTime(60_000);
    await files.idle();
    expect(await readFile(join(dir, "t.log"), "utf8")).toBe("");
    await files.drain();
    expect(await readFile(join(dir, "t.log"), "utf8")).toBe("1\n");
    await expect(stat(join(dir, "m.yaml"))).rejects.toMatchObject({ code: "ENOENT" }); // drain leaves documents alone
    await files.close();
    expect(await readFile(join(dir, "t.log"), "utf8")).toBe("1\n4\n5\n");
    expect(await readFile(join(dir, "m.yaml"), "utf8")).toBe("sum: 10\n");
    expect(f.renders.doc).toBe(1);
  });

  it("staged: the log appears at its path only at close; discard leaves the directory as it was", async () => {
    const f = toyFold();
    const path = join(dir, "t.log");
    const staged = await OutputFiles.open([{ path, variable: "--out file", projection: f.log }], { staged: true, timed: false });
    f.fold(1);
    f.fold(3);
    staged.changed();
    await staged.drain();
    await expect(stat(path)).rejects.toMatchObject({ code: "ENOENT" });
    const temps = await readdir(dir);
    expect(temps).toHaveLength(1);
    expect(await readFile(join(dir, temps[0]!), "utf8")).toBe("1\n");
    await staged.close();
    expect(await readdir(dir)).toEqual(["t.log"]);
    expect(await readFile(path, "utf8")).toBe("1\n3\n");

    const g = toyFold();
    const other = join(dir, "u.log");
    const failed = await OutputFiles.open([{ path: other, variable: "--out file", projection: g.log }], { staged: true, timed: false });
    g.fold(7);
    failed.changed();
    await failed.discard();
    expect(await readdir(dir)).toEqual(["t.log"]);
    expect(g.renders.log).toBe(0);
  });

  it("refuses an unusable path before creating anything, naming its variable", async () => {
    const f = toyFold();
    const err = await OutputFiles.open(
      [
        { path: join(dir, "t.log"), variable: "OUTPUT_PATH", projection: f.log },
        { path: dir, variable: "SERVICE_MAP_PATH", projection: f.doc },
      ],
      {},
    ).catch((e: unknown) => e);
    expect(isAdiError(err) && err.code).toBe("ADI_ERR_OUTPUT_PATH");
    expect((err as Error).message).toMatch(/^SERVICE_MAP_PATH=".*": is a directory/);
    expect(await readdir(dir)).toEqual([]);
  });
});
