// Output paths as root meets them: nothing that is not ours is ever truncated, chmod'ed or followed (issue 10:
// OUTPUT_PATH=/tmp had /tmp chmod'ed 0600; a symlink had its target truncated). Real files in a temp directory.
import { execFileSync } from "node:child_process";
import { linkSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, utimesSync, writeFileSync, chmodSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { AdiError, formatFatal } from "../src/errors.ts";
import { AppendingFileWriter, AtomicFileWriter, checkOutputPath } from "../src/output-file.ts";

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "adi-output-path-"));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

/** What must not change about a file that is not ours: content, mode, mtime, inode. */
function fingerprint(path: string) {
  const st = lstatSync(path);
  return { content: st.isFile() ? readFileSync(path, "utf8") : null, mode: st.mode, mtimeMs: st.mtimeMs, ino: st.ino, nlink: st.nlink };
}

/** A file that is not ours: content, mode 0644, an old mtime. */
function victim(name = "victim.conf"): string {
  const path = join(dir, name);
  writeFileSync(path, "root:secret\n");
  chmodSync(path, 0o644);
  utimesSync(path, new Date("2020-01-02T03:04:05Z"), new Date("2020-01-02T03:04:05Z"));
  return path;
}

function refusal(fn: () => unknown): AdiError {
  try {
    fn();
  } catch (err) {
    if (err instanceof AdiError) return err;
    throw err;
  }
  throw new Error("not refused");
}

async function asyncRefusal(p: Promise<unknown>): Promise<AdiError> {
  const err = await p.then(
    () => new Error("not refused"),
    (e: unknown) => e,
  );
  if (err instanceof AdiError) return err;
  throw err;
}

// Each way a path can be unusable, and what the one line says.
const cases: { name: string; make: () => string; why: RegExp }[] = [
  {
    name: "a directory",
    make: () => {
      const d = join(dir, "somedir");
      mkdirSync(d, { mode: 0o755 });
      chmodSync(d, 0o1777); // like /tmp
      return d;
    },
    why: /: is a directory/,
  },
  { name: "a symlink to a file that is not ours", make: () => symlinkTo(victim()), why: /: is a symbolic link/ },
  { name: "a dangling symlink", make: () => symlinkTo(join(dir, "would-be-created")), why: /: is a symbolic link/ },
  { name: "a symlink to a directory", make: () => symlinkTo(dir), why: /: is a symbolic link/ },
  { name: "a path in a missing directory", make: () => join(dir, "missing", "traffic.log"), why: /: its directory .*missing does not exist/ },
  { name: "a path under a regular file", make: () => join(victim(), "traffic.log"), why: /not a directory/ },
  {
    name: "a named pipe (opening it for writing would block)",
    make: () => {
      const p = join(dir, "fifo");
      execFileSync("mkfifo", ["-m", "0644", p]);
      return p;
    },
    why: /: is a named pipe, not a regular file/,
  },
  { name: "a character device", make: () => "/dev/null", why: /: is a character device, not a regular file/ },
];

function symlinkTo(target: string): string {
  const p = join(dir, "link");
  symlinkSync(target, p);
  return p;
}

describe("checkOutputPath", () => {
  for (const c of cases) {
    it(`refuses ${c.name} in one line, exit 2, touching nothing`, () => {
      const path = c.make();
      const before = readdirSync(dir).map((n) => [n, fingerprint(join(dir, n))]);
      const devBefore = path.startsWith("/dev/") ? fingerprint(path) : null;
      const err = refusal(() => checkOutputPath("OUTPUT_PATH", path));
      expect(err.code).toBe("ADI_ERR_OUTPUT_PATH");
      const { line, exitCode } = formatFatal(err);
      expect(exitCode).toBe(2);
      expect(line).toMatch(new RegExp(`^adi: ADI_ERR_OUTPUT_PATH: OUTPUT_PATH=${JSON.stringify(path).replace(/[.*+?^${}()|[\]\\/]/g, "\\$&")}`));
      expect(line).toMatch(c.why);
      expect(line).not.toMatch(/\n/);
      expect(readdirSync(dir).map((n) => [n, fingerprint(join(dir, n))])).toEqual(before);
      if (devBefore) expect(fingerprint(path)).toEqual(devBefore);
    });
  }

  it("accepts a new file in an existing directory, one reached through a symlinked directory, and a regular file", () => {
    expect(() => checkOutputPath("OUTPUT_PATH", join(dir, "new.log"))).not.toThrow();
    mkdirSync(join(dir, "real"));
    symlinkSync(join(dir, "real"), join(dir, "via"));
    expect(() => checkOutputPath("OUTPUT_PATH", join(dir, "via", "new.log"))).not.toThrow();
    writeFileSync(join(dir, "old.log"), "x");
    expect(() => checkOutputPath("SERVICE_MAP_PATH", join(dir, "old.log"))).not.toThrow();
  });
});

describe("AppendingFileWriter.open (the traffic log)", () => {
  for (const c of cases.filter((x) => !x.make.toString().includes("/dev/"))) {
    it(`refuses ${c.name}: nothing created, truncated or chmod'ed`, async () => {
      const path = c.make();
      const before = readdirSync(dir).map((n) => [n, fingerprint(join(dir, n))]);
      const err = await asyncRefusal(new AppendingFileWriter(path, { variable: "OUTPUT_PATH" }).open());
      expect(err.code).toBe("ADI_ERR_OUTPUT_PATH");
      expect(err.message).toMatch(c.why);
      expect(readdirSync(dir).map((n) => [n, fingerprint(join(dir, n))])).toEqual(before);
    });
  }

  it("replaces a log left by an earlier run with a new empty 0600 file; a hard link to the old one keeps its content and mode", async () => {
    const path = join(dir, "traffic.log");
    writeFileSync(path, "an earlier run's line\n");
    chmodSync(path, 0o644);
    const other = join(dir, "hard-link-elsewhere");
    linkSync(path, other);
    const otherBefore = fingerprint(other);
    const writer = new AppendingFileWriter(path, { variable: "OUTPUT_PATH", debounceMs: 0 });
    await writer.open();
    expect(readFileSync(path, "utf8")).toBe("");
    expect(statSync(path).mode & 0o7777).toBe(0o600);
    writer.schedule(() => ["line\n"]);
    await writer.close();
    expect(readFileSync(path, "utf8")).toBe("line\n");
    expect({ ...fingerprint(other), nlink: 1 }).toEqual({ ...otherBefore, nlink: 1 }); // not truncated, not chmod'ed
    expect(readdirSync(dir).sort()).toEqual(["hard-link-elsewhere", "traffic.log"]); // no temp file left
  });

  it("creates the file 0600 whatever the umask", async () => {
    const old = process.umask(0o000);
    try {
      const writer = new AppendingFileWriter(join(dir, "t.log"));
      await writer.open();
      await writer.close();
    } finally {
      process.umask(old);
    }
    expect(statSync(join(dir, "t.log")).mode & 0o7777).toBe(0o600);
  });
});

describe("AtomicFileWriter (the service map, the environment inventory)", () => {
  for (const c of cases.filter((x) => !x.make.toString().includes("/dev/") && !/missing|under a regular/.test(x.name))) {
    it(`refuses to rename over ${c.name}, leaving it untouched and no temp file behind`, async () => {
      const path = c.make();
      const before = readdirSync(dir).map((n) => [n, fingerprint(join(dir, n))]);
      const errors: unknown[] = [];
      const writer = new AtomicFileWriter(path, { variable: "SERVICE_MAP_PATH", onError: (e) => errors.push(e) });
      writer.schedule(() => "map\n");
      const err = await asyncRefusal(writer.flush());
      expect(err.code).toBe("ADI_ERR_OUTPUT_PATH");
      expect(err.message).toMatch(c.why);
      expect(readdirSync(dir).map((n) => [n, fingerprint(join(dir, n))])).toEqual(before);
    });
  }

  it("a symlink planted at the path while running: its target is never written, truncated or chmod'ed", async () => {
    const path = join(dir, "map.yaml");
    const writer = new AtomicFileWriter(path, { debounceMs: 0 });
    writer.schedule(() => "v1\n");
    await writer.flush();
    expect(readFileSync(path, "utf8")).toBe("v1\n");
    rmSync(path);
    const target = victim();
    const before = fingerprint(target);
    symlinkSync(target, path);
    writer.schedule(() => "v2\n");
    await expect(writer.flush()).rejects.toMatchObject({ code: "ADI_ERR_OUTPUT_PATH" });
    expect(fingerprint(target)).toEqual(before);
    expect(lstatSync(path).isSymbolicLink()).toBe(true);
    await writer.close().catch(() => undefined);
  });

  it("a temporary file left by a killed run with the same pid is neither in the way nor touched", async () => {
    const path = join(dir, "map.yaml");
    const stale = join(dir, `.map.yaml.${process.pid}.1.tmp`);
    writeFileSync(stale, "half a map");
    const before = fingerprint(stale);
    const writer = new AtomicFileWriter(path);
    for (const v of ["v1\n", "v2\n"]) {
      writer.schedule(() => v);
      await writer.flush();
    }
    expect(readFileSync(path, "utf8")).toBe("v2\n");
    expect(fingerprint(stale)).toEqual(before);
    expect(readdirSync(dir).sort()).toEqual([".map.yaml." + process.pid + ".1.tmp", "map.yaml"]);
  });

  it("replaces a regular file (mode 0644, hard-linked) by a new 0600 one; the other link is not changed", async () => {
    const path = join(dir, "env.yaml");
    writeFileSync(path, "old\n");
    chmodSync(path, 0o644);
    linkSync(path, join(dir, "other"));
    const otherBefore = fingerprint(join(dir, "other"));
    const writer = new AtomicFileWriter(path);
    writer.schedule(() => "new\n");
    await writer.close();
    expect(readFileSync(path, "utf8")).toBe("new\n");
    expect(statSync(path).mode & 0o7777).toBe(0o600);
    expect({ ...fingerprint(join(dir, "other")), nlink: 1 }).toEqual({ ...otherBefore, nlink: 1 });
  });
});
