// The one mapper unit test that touches the filesystem (a temp directory), with fake timers.
import { chmod, mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { AppendingFileWriter, AtomicFileWriter, OUTPUT_PATH_RULES } from "../src/output-file.ts";
import type { PathKind } from "../src/output-file.ts";

let dir: string;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "adi-output-file-"));
  vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout", "Date"] });
});

afterEach(async () => {
  vi.useRealTimers();
  await rm(dir, { recursive: true, force: true });
});

/** A render function that counts its calls (one call per write) and returns the latest version. */
function renderer() {
  let version = 0;
  const render = vi.fn(() => `version ${version}\n`);
  return { render, bump: () => ++version };
}

async function advance(writer: { idle(): Promise<void> }, ms: number): Promise<void> {
  vi.advanceTimersByTime(ms);
  await writer.idle();
}

describe("AtomicFileWriter", () => {
  it("writes once after the updates go quiet for debounceMs", async () => {
    const path = join(dir, "map.yaml");
    const writer = new AtomicFileWriter(path, { debounceMs: 2000, maxDelayMs: 10_000 });
    const { render, bump } = renderer();
    for (let i = 0; i < 3; i++) {
      bump();
      writer.schedule(render);
      await advance(writer, 1500);
    }
    expect(render).not.toHaveBeenCalled();
    await advance(writer, 500);
    expect(render).toHaveBeenCalledTimes(1);
    expect(await readFile(path, "utf8")).toBe("version 3\n");
    await advance(writer, 10_000);
    expect(render).toHaveBeenCalledTimes(1); // nothing new: no write
  });

  it("writes at least every maxDelayMs under steady updates (the Go tool's map never got written)", async () => {
    const path = join(dir, "map.yaml");
    const writer = new AtomicFileWriter(path, { debounceMs: 2000, maxDelayMs: 10_000 });
    const { render, bump } = renderer();
    const writtenAt: number[] = [];
    render.mockImplementation(() => {
      writtenAt.push(Date.now());
      return `version ${bump()}\n`;
    });
    const start = Date.now();
    for (let t = 0; t < 30_000; t += 500) {
      writer.schedule(render);
      await advance(writer, 500);
    }
    expect(writtenAt.map((t) => t - start)).toEqual([10_000, 20_000, 30_000]);
    expect(await readFile(path, "utf8")).toBe("version 3\n");
  });

  it("creates the file with mode 0600 and replaces an existing 0644 file by it", async () => {
    const path = join(dir, "events.log");
    await writeFile(path, "old\n");
    await chmod(path, 0o644);
    const writer = new AtomicFileWriter(path);
    writer.schedule(() => "new\n");
    await advance(writer, 2000);
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    expect(await readFile(path, "utf8")).toBe("new\n");
    expect(await readdir(dir)).toEqual(["events.log"]); // no temp file left behind
  });

  it("honours another mode", async () => {
    const path = join(dir, "public.yaml");
    const writer = new AtomicFileWriter(path, { mode: 0o640 });
    writer.schedule(() => "x");
    await writer.flush();
    expect((await stat(path)).mode & 0o777).toBe(0o640);
  });

  it("flush writes at once when dirty, and not when clean", async () => {
    const path = join(dir, "map.yaml");
    const writer = new AtomicFileWriter(path);
    const { render } = renderer();
    await writer.flush();
    expect(render).not.toHaveBeenCalled();
    writer.schedule(render);
    await writer.flush();
    expect(render).toHaveBeenCalledTimes(1);
    await advance(writer, 20_000);
    expect(render).toHaveBeenCalledTimes(1); // the timer was disarmed by the flush
  });

  it("close flushes and then ignores updates", async () => {
    const path = join(dir, "map.yaml");
    const writer = new AtomicFileWriter(path);
    writer.schedule(() => "last\n");
    await writer.close();
    expect(await readFile(path, "utf8")).toBe("last\n");
    writer.schedule(() => "too late\n");
    await advance(writer, 20_000);
    expect(await readFile(path, "utf8")).toBe("last\n");
  });

  it("keeps an update that failed to write and retries it after the debounce", async () => {
    const path = join(dir, "missing-dir", "map.yaml");
    const errors: unknown[] = [];
    const writer = new AtomicFileWriter(path, { onError: (e) => errors.push(e) });
    writer.schedule(() => "content\n");
    await advance(writer, 2000);
    await vi.waitFor(() => expect(errors).toHaveLength(1));
    expect((errors[0] as NodeJS.ErrnoException).code).toBe("ENOENT");
    await expect(writer.flush()).rejects.toMatchObject({ code: "ENOENT" });

    const { mkdir } = await import("node:fs/promises");
    await mkdir(join(dir, "missing-dir"));
    await advance(writer, 2000);
    expect(await readFile(path, "utf8")).toBe("content\n");
  });
});

describe("AtomicFileWriter with content in pieces", () => {
  it("writes every piece, in order, atomically and with mode 0600", async () => {
    const { mkdtempSync, readFileSync, statSync } = await import("node:fs");
    const { tmpdir } = await import("node:os");
    const { join } = await import("node:path");
    const dir = mkdtempSync(join(tmpdir(), "adi-chunks-"));
    const path = join(dir, "log.jsonl");
    const writer = new AtomicFileWriter(path, { debounceMs: 0 });
    // ~3 MiB in 30,000 lines: written in several 1 MiB writes, never as one string.
    function* lines() {
      for (let i = 0; i < 30_000; i++) yield `${JSON.stringify({ i, pad: "x".repeat(90) })}\n`;
    }
    writer.schedule(() => lines());
    await writer.close();
    const text = readFileSync(path, "utf8");
    const parsed = text.trim().split("\n").map((l) => JSON.parse(l) as { i: number });
    expect(parsed).toHaveLength(30_000);
    expect(parsed.every((l, i) => l.i === i)).toBe(true);
    expect(statSync(path).mode & 0o777).toBe(0o600);
  });
});

describe("AppendingFileWriter (the traffic log)", () => {
  it("empties a log left by an earlier run, mode 0600, then appends what each write takes", async () => {
    const path = join(dir, "traffic.log");
    await writeFile(path, "an earlier run's line\n", { mode: 0o644 });
    const writer = new AppendingFileWriter(path, { debounceMs: 2000, maxDelayMs: 10_000 });
    await writer.open();
    expect(await readFile(path, "utf8")).toBe("");
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    let n = 0;
    const take = vi.fn(() => [`line ${n++}\n`, `line ${n++}\n`]);
    writer.schedule(take);
    await advance(writer, 2000);
    writer.schedule(take);
    await writer.close();
    expect(await readFile(path, "utf8")).toBe("line 0\nline 1\nline 2\nline 3\n");
    writer.schedule(take); // closed: ignored
    expect(take).toHaveBeenCalledTimes(2);
  });

  it("tells the take function whether updates went quiet (everything may be final) or the bound ran out", async () => {
    const path = join(dir, "traffic.log");
    const writer = new AppendingFileWriter(path, { debounceMs: 2000, maxDelayMs: 10_000 });
    await writer.open();
    const quiet: boolean[] = [];
    const take = (q: boolean) => {
      quiet.push(q);
      return [`${q}\n`];
    };
    // Steady updates every 500 ms for 12 s: the 10 s bound writes (not quiet); then they stop (quiet).
    for (let t = 0; t < 12_000; t += 500) {
      writer.schedule(take);
      await advance(writer, 500);
    }
    await advance(writer, 2000);
    expect(quiet).toEqual([false, true]);
    writer.schedule(take);
    await writer.flush(); // a flush (stop) takes everything
    expect(quiet).toEqual([false, true, true]);
    await writer.close();
    expect(await readFile(path, "utf8")).toBe("false\ntrue\ntrue\n");
  });

  it("follows a write forced by the bound with a quiet one: no line is left behind when updates stop", async () => {
    const path = join(dir, "traffic.log");
    const writer = new AppendingFileWriter(path, { debounceMs: 2000, maxDelayMs: 10_000 });
    await writer.open();
    let pending = 0;
    const take = (quiet: boolean) => {
      // like MapperOutputs: only part is final unless the stream is quiet
      const n = quiet ? pending : Math.floor(pending / 2);
      pending -= n;
      return Array.from({ length: n }, () => `${quiet}\n`);
    };
    // Updates every 1.5 s for exactly 10 s: the bound writes at 10 s, then no update comes again.
    for (let t = 0; t < 10_000; t += 1500) {
      pending += 10;
      writer.schedule(take);
      await advance(writer, 1500);
    }
    await advance(writer, 500);
    const afterBound = (await readFile(path, "utf8")).split("\n").filter(Boolean);
    expect(afterBound.length).toBeGreaterThan(0);
    expect(afterBound.every((l) => l === "false")).toBe(true);
    expect(pending).toBeGreaterThan(0);
    await advance(writer, 2000); // quiet now: the rest is taken without any new update
    expect(pending).toBe(0);
    expect((await readFile(path, "utf8")).split("\n").filter(Boolean)).toHaveLength(70);
    await writer.close();
  });

  it("refuses to write before open", async () => {
    const writer = new AppendingFileWriter(join(dir, "traffic.log"), { debounceMs: 0 });
    writer.schedule(() => ["x\n"]);
    await expect(writer.flush()).rejects.toThrow(/not open/);
  });
});

describe("OUTPUT_PATH_RULES", () => {
  it("lets only a regular file or nothing be an output: every other kind is refused with a reason", () => {
    const usable = (Object.keys(OUTPUT_PATH_RULES) as PathKind[]).filter((k) => OUTPUT_PATH_RULES[k] === null).sort();
    expect(usable).toEqual(["file", "missing"]);
    for (const kind of ["directory", "symlink", "fifo", "socket", "block device", "character device"] as const) {
      expect(OUTPUT_PATH_RULES[kind], kind).toMatch(/^is a /);
    }
  });
});
