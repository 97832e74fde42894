// The cgroup2 walk over a fixture directory tree (inodes of plain directories stand in for cgroup ids), the
// mount lookup over a fixture /proc/self, and the resolver's behaviour without cgroup2.
import { mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { locateCgroup2, openCgroupResolver, walkCgroupTree } from "../src/adapters/cgroupfs.ts";

const ID = "4a7b1e0c2d3f4a5b6c7d8e9f0a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6e7f8a9b";

function recordingLog() {
  const lines: { level: string; msg: string; obj: object }[] = [];
  return {
    lines,
    info: (obj: object, msg: string) => void lines.push({ level: "info", msg, obj }),
    warn: (obj: object, msg: string) => void lines.push({ level: "warn", msg, obj }),
  };
}

let root: string;
const ino = (rel: string) => statSync(join(root, rel), { bigint: true }).ino;

beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), "adi-cgroupfs-"));
  mkdirSync(join(root, `system.slice/docker-${ID}.scope`), { recursive: true });
  mkdirSync(join(root, "user.slice/user-1000.slice/session-1.scope"), { recursive: true });
  writeFileSync(join(root, "cgroup.procs"), "1\n"); // files are not cgroups
  writeFileSync(join(root, "system.slice/cgroup.procs"), "");
});

afterAll(() => rmSync(root, { recursive: true, force: true }));

describe("walkCgroupTree", () => {
  it("maps each directory's inode to its cgroup path", () => {
    const { paths, truncated } = walkCgroupTree({ mountPoint: root, root: "/" });
    expect(truncated).toBe(false);
    expect(paths.get(ino(""))).toBe("/");
    expect(paths.get(ino(`system.slice/docker-${ID}.scope`))).toBe(`/system.slice/docker-${ID}.scope`);
    expect(paths.get(ino("user.slice/user-1000.slice/session-1.scope"))).toBe("/user.slice/user-1000.slice/session-1.scope");
    expect(paths.size).toBe(6);
  });

  it("prefixes the mount's root (a subtree mount)", () => {
    const { paths } = walkCgroupTree({ mountPoint: join(root, "system.slice"), root: "/system.slice" });
    expect([...paths.values()].sort()).toEqual(["/system.slice", `/system.slice/docker-${ID}.scope`]);
  });

  it("stops at the depth and entry limits and says so", () => {
    const shallow = walkCgroupTree({ mountPoint: root, root: "/" }, { maxDepth: 1 });
    expect(shallow.truncated).toBe(true);
    expect([...shallow.paths.values()].sort()).toEqual(["/", "/system.slice", "/user.slice"]);
    const few = walkCgroupTree({ mountPoint: root, root: "/" }, { maxEntries: 3 });
    expect(few.truncated).toBe(true);
    expect(few.paths.size).toBeLessThanOrEqual(3);
  });

  it("fails when the mount itself is missing", () => {
    expect(() => walkCgroupTree({ mountPoint: join(root, "nope"), root: "/" })).toThrow(/ENOENT/);
  });
});

describe("locateCgroup2", () => {
  it("reads mountinfo, then mounts", () => {
    const self = join(root, "..", `${root.split("/").pop()}-self`);
    mkdirSync(self);
    try {
      writeFileSync(join(self, "mounts"), "cgroup2 /sys/fs/cgroup/unified cgroup2 rw 0 0\n");
      expect(locateCgroup2(self)).toEqual({ mountPoint: "/sys/fs/cgroup/unified", root: "/" });
      writeFileSync(join(self, "mountinfo"), "26 25 0:25 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n");
      expect(locateCgroup2(self)).toEqual({ mountPoint: "/sys/fs/cgroup", root: "/" });
      writeFileSync(join(self, "mountinfo"), "30 25 0:29 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n");
      expect(locateCgroup2(self)).toBeNull();
    } finally {
      rmSync(self, { recursive: true, force: true });
    }
  });
});

describe("openCgroupResolver", () => {
  it("resolves the ids of a walked tree, and of a cgroup created later on a miss", () => {
    const log = recordingLog();
    const resolver = openCgroupResolver(log, { mount: { mountPoint: root, root: "/" }, minRescanMs: 0 });
    expect(resolver.resolve(ino(`system.slice/docker-${ID}.scope`))).toBe(`/system.slice/docker-${ID}.scope`);
    mkdirSync(join(root, "system.slice/late.scope"));
    expect(resolver.resolve(ino("system.slice/late.scope"))).toBe("/system.slice/late.scope");
    expect(resolver.resolve(0n)).toBeNull();
    expect(resolver.stats()).toMatchObject({ walks: 2, hits: 2 });
    expect(log.lines.filter((l) => l.level === "warn")).toEqual([]);
  });

  it("resolves nothing without cgroup2, and says so once", () => {
    const log = recordingLog();
    const resolver = openCgroupResolver(log, { mount: null });
    expect(resolver.mount).toBeNull();
    expect(resolver.resolve(1n)).toBeNull();
    expect(resolver.resolve(44n)).toBeNull();
    expect(log.lines).toHaveLength(1);
    expect(log.lines[0]).toMatchObject({ level: "warn", msg: expect.stringMatching(/no cgroup2 mount/) });
  });

  it("warns once when the mount cannot be walked, and answers null", () => {
    const log = recordingLog();
    const resolver = openCgroupResolver(log, { mount: { mountPoint: join(root, "missing"), root: "/" }, minRescanMs: 0 });
    expect(resolver.resolve(5n)).toBeNull();
    expect(resolver.resolve(6n)).toBeNull();
    expect(log.lines.filter((l) => l.level === "warn")).toHaveLength(1);
  });

  it("resolves this host's own cgroup, when it has cgroup2", () => {
    const resolver = openCgroupResolver(recordingLog());
    if (!resolver.mount) return; // a v1-only host: covered above
    const self = statSync(resolver.mount.mountPoint, { bigint: true }).ino;
    expect(resolver.resolve(self)).toBe(resolver.mount.root);
  });
});
