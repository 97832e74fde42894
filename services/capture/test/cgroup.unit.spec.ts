import { describe, expect, it } from "vitest";
import { CgroupPathCache, cgroupPathOf, findCgroup2Mount, parseCgroupFile, parseCgroupPath } from "../src/core/cgroup.ts";

const ID = "4a7b1e0c2d3f4a5b6c7d8e9f0a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6e7f8a9b";
const ID2 = "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff";
const POD = "pod0f1e2d3c_4b5a_6978_8796_a5b4c3d2e1f0";

describe("parseCgroupFile", () => {
  it.each([
    ["docker, cgroup v2 systemd driver", `0::/system.slice/docker-${ID}.scope\n`, "docker"],
    ["docker, cgroup v2 cgroupfs driver", `0::/docker/${ID}\n`, "docker"],
    ["containerd CRI, systemd driver", `0::/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-${POD}.slice/cri-containerd-${ID}.scope\n`, "containerd"],
    ["cri-o, systemd driver", `0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-${POD}.slice/crio-${ID}.scope\n`, "crio"],
    ["docker under kubernetes, systemd driver", `0::/kubepods.slice/kubepods-${POD}.slice/docker-${ID}.scope\n`, "docker"],
    ["kubernetes cgroupfs driver (runtime unknown)", `0::/kubepods/burstable/pod0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0/${ID}\n`, "kubepods"],
    ["podman rootful", `0::/machine.slice/libpod-${ID}.scope\n`, "podman"],
    ["podman with a sub-cgroup", `0::/machine.slice/libpod-${ID}.scope/container\n`, "podman"],
    ["podman rootless", `0::/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-${ID}.scope\n`, "podman"],
    ["nerdctl, systemd driver", `0::/nerdctl.slice/nerdctl-${ID}.scope\n`, "containerd"],
    ["nerdctl/ctr namespace cgroup", `0::/default/${ID}\n`, "containerd"],
    ["containerd k8s.io namespace", `0::/k8s.io/${ID}\n`, "containerd"],
    ["systemd inside docker", `0::/system.slice/docker-${ID}.scope/init.scope\n`, "docker"],
  ])("%s", (_name, text, runtime) => {
    const info = parseCgroupFile(text);
    expect(info).toEqual({ path: text.trim().slice(3), containerId: ID, runtime });
  });

  it("reads cgroup v1 files", () => {
    const text = [
      `12:memory:/docker/${ID}`,
      `11:cpu,cpuacct:/docker/${ID}`,
      `1:name=systemd:/docker/${ID}`,
      "",
    ].join("\n");
    expect(parseCgroupFile(text)).toEqual({ path: `/docker/${ID}`, containerId: ID, runtime: "docker" });
  });

  it("reads hybrid files where only the v1 lines name the container", () => {
    const text = [`12:pids:/docker/${ID}`, `1:name=systemd:/docker/${ID}`, "0::/", ""].join("\n");
    expect(parseCgroupFile(text)).toEqual({ path: `/docker/${ID}`, containerId: ID, runtime: "docker" });
  });

  it("resolves docker in docker to the innermost container", () => {
    const info = parseCgroupFile(`0::/docker/${ID}/docker/${ID2}\n`);
    expect(info.containerId).toBe(ID2);
    expect(info.runtime).toBe("docker");
  });

  it("reports an unknown layout's id with no runtime", () => {
    expect(parseCgroupFile(`0::/ecs/task-1234/${ID}\n`)).toEqual({
      path: `/ecs/task-1234/${ID}`,
      containerId: ID,
      runtime: null,
    });
  });

  it.each([
    ["a host service", "0::/system.slice/nginx.service\n", "/system.slice/nginx.service"],
    ["a user session", "0::/user.slice/user-1000.slice/session-3.scope\n", "/user.slice/user-1000.slice/session-3.scope"],
    ["the root cgroup", "0::/\n", "/"],
    ["the containerd daemon itself", "0::/system.slice/containerd.service\n", "/system.slice/containerd.service"],
    ["a short hex name", "0::/docker/4a7b1e0c2d3f\n", "/docker/4a7b1e0c2d3f"],
    ["uppercase hex", `0::/docker/${ID.toUpperCase()}\n`, `/docker/${ID.toUpperCase()}`],
    ["a prefix that only looks like one", `0::/system.slice/mydocker-${ID}.scope\n`, `/system.slice/mydocker-${ID}.scope`],
  ])("finds no container in %s", (_name, text, path) => {
    expect(parseCgroupFile(text)).toEqual({ path, containerId: null, runtime: null });
  });

  it("prefers name=systemd's path on v1 when no container matches", () => {
    const text = ["12:memory:/user.slice", "1:name=systemd:/user.slice/user-0.slice/session-1.scope", ""].join("\n");
    expect(parseCgroupFile(text).path).toBe("/user.slice/user-0.slice/session-1.scope");
  });

  it("keeps ':' inside the path", () => {
    expect(parseCgroupFile("0::/weird:name/x\n").path).toBe("/weird:name/x");
  });

  it("returns nulls for empty or malformed content", () => {
    expect(parseCgroupFile("")).toEqual({ path: null, containerId: null, runtime: null });
    expect(parseCgroupFile("garbage\n")).toEqual({ path: null, containerId: null, runtime: null });
  });
});

const MOUNTINFO_V2 = `22 1 0:21 / /sys rw,nosuid,nodev,noexec,relatime shared:7 - sysfs sysfs rw
26 22 0:23 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:9 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot
`;
const MOUNTINFO_HYBRID = `25 22 0:24 / /sys/fs/cgroup ro,nosuid,nodev,noexec shared:9 - tmpfs tmpfs ro,mode=755
26 25 0:25 / /sys/fs/cgroup/unified rw,nosuid,nodev,noexec,relatime shared:10 - cgroup2 cgroup2 rw,nsdelegate
27 25 0:26 / /sys/fs/cgroup/systemd rw,nosuid,nodev,noexec,relatime shared:11 - cgroup cgroup rw,xattr,name=systemd
30 25 0:29 / /sys/fs/cgroup/memory rw,nosuid,nodev,noexec,relatime shared:14 - cgroup cgroup rw,memory
`;
const MOUNTINFO_V1 = `25 22 0:24 / /sys/fs/cgroup ro,nosuid,nodev,noexec shared:9 - tmpfs tmpfs ro,mode=755
30 25 0:29 / /sys/fs/cgroup/memory rw,nosuid,nodev,noexec,relatime shared:14 - cgroup cgroup rw,memory
`;

describe("findCgroup2Mount", () => {
  it("finds /sys/fs/cgroup on a cgroup v2 host", () => {
    expect(findCgroup2Mount(MOUNTINFO_V2)).toEqual({ mountPoint: "/sys/fs/cgroup", root: "/" });
  });

  it("finds the unified hierarchy of a hybrid host", () => {
    expect(findCgroup2Mount(MOUNTINFO_HYBRID)).toEqual({ mountPoint: "/sys/fs/cgroup/unified", root: "/" });
  });

  it("finds nothing on a v1-only host, or in an empty table", () => {
    expect(findCgroup2Mount(MOUNTINFO_V1)).toBeNull();
    expect(findCgroup2Mount("")).toBeNull();
  });

  it("prefers /sys/fs/cgroup over any other cgroup2 mount, else takes the first", () => {
    const elsewhere = "40 22 0:23 / /mnt/cg rw - cgroup2 cgroup2 rw\n41 22 0:23 / /run/cg2 rw - cgroup2 cgroup2 rw\n";
    expect(findCgroup2Mount(elsewhere + MOUNTINFO_V2)).toEqual({ mountPoint: "/sys/fs/cgroup", root: "/" });
    expect(findCgroup2Mount(elsewhere)).toEqual({ mountPoint: "/mnt/cg", root: "/" });
  });

  it("keeps a subtree mount's root and decodes octal escapes", () => {
    const text = "50 22 0:23 /kubepods.slice /host\\040cgroup rw,relatime master:9 - cgroup2 cgroup2 rw\n";
    expect(findCgroup2Mount(text)).toEqual({ mountPoint: "/host cgroup", root: "/kubepods.slice" });
  });

  it("reads /proc/self/mounts lines too", () => {
    const mounts = "tmpfs /sys/fs/cgroup tmpfs ro 0 0\ncgroup2 /sys/fs/cgroup/unified cgroup2 rw,nsdelegate 0 0\ncgroup /sys/fs/cgroup/memory cgroup rw,memory 0 0\n";
    expect(findCgroup2Mount(mounts)).toEqual({ mountPoint: "/sys/fs/cgroup/unified", root: "/" });
    expect(findCgroup2Mount("cgroup /sys/fs/cgroup/memory cgroup rw,memory 0 0\n")).toBeNull();
  });
});

describe("cgroup paths from the kernel's id", () => {
  it("joins a directory to its mount's root as /proc/PID/cgroup shows it", () => {
    expect(cgroupPathOf("/", "")).toBe("/");
    expect(cgroupPathOf("/", `system.slice/docker-${ID}.scope`)).toBe(`/system.slice/docker-${ID}.scope`);
    expect(cgroupPathOf("/kubepods.slice", "pod/x")).toBe("/kubepods.slice/pod/x");
    expect(cgroupPathOf("/kubepods.slice", "")).toBe("/kubepods.slice");
  });

  it("reads a resolved path like the v2 line of /proc/PID/cgroup", () => {
    expect(parseCgroupPath(`/system.slice/docker-${ID}.scope`)).toEqual({ path: `/system.slice/docker-${ID}.scope`, containerId: ID, runtime: "docker" });
    expect(parseCgroupPath(`/docker/${ID}`)).toEqual({ path: `/docker/${ID}`, containerId: ID, runtime: "docker" });
    expect(parseCgroupPath("/user.slice")).toEqual({ path: "/user.slice", containerId: null, runtime: null });
  });
});

describe("CgroupPathCache", () => {
  /** A hierarchy the test changes, a clock it moves, and a count of walks. */
  function fixture(initial: [bigint, string][], minRescanMs = 200) {
    const tree = new Map<bigint, string>(initial);
    let now = 1_000;
    let walks = 0;
    let failing = false;
    const cache = new CgroupPathCache(
      () => {
        walks++;
        if (failing) throw new Error("EACCES");
        return new Map(tree);
      },
      { minRescanMs, now: () => now, maxUnknown: 3 },
    );
    return {
      cache,
      tree,
      walks: () => walks,
      advance: (ms: number) => (now += ms),
      fail: (on: boolean) => (failing = on),
    };
  }

  it("answers from one walk", () => {
    const f = fixture([[1n, "/"], [44n, `/docker/${ID}`]]);
    expect(f.cache.refresh()).toBe(true);
    expect(f.cache.resolve(44n)).toBe(`/docker/${ID}`);
    expect(f.cache.resolve(1n)).toBe("/");
    expect(f.cache.resolve(44n)).toBe(`/docker/${ID}`);
    expect(f.walks()).toBe(1);
    expect(f.cache.stats()).toMatchObject({ walks: 1, hits: 3, misses: 0, size: 2 });
  });

  it("walks on the first lookup when nobody warmed it", () => {
    const f = fixture([[44n, "/a"]]);
    expect(f.cache.resolve(44n)).toBe("/a");
    expect(f.walks()).toBe(1);
  });

  it("resolves 0 (unknown on the wire) to null without walking", () => {
    const f = fixture([[1n, "/"]]);
    expect(f.cache.resolve(0n)).toBeNull();
    expect(f.walks()).toBe(0);
  });

  it("walks again on a miss: a cgroup created since (a new container)", () => {
    const f = fixture([[1n, "/"]]);
    f.cache.refresh();
    f.tree.set(50n, `/system.slice/docker-${ID}.scope`);
    f.advance(250);
    expect(f.cache.resolve(50n)).toBe(`/system.slice/docker-${ID}.scope`);
    expect(f.walks()).toBe(2);
  });

  it("walks at most once per minRescanMs, however many misses", () => {
    const f = fixture([[1n, "/"]]);
    f.cache.refresh();
    f.tree.set(50n, "/new");
    f.advance(100);
    for (let i = 0; i < 100; i++) expect(f.cache.resolve(50n)).toBeNull();
    expect(f.walks()).toBe(1);
    f.advance(100);
    expect(f.cache.resolve(50n)).toBe("/new");
    expect(f.walks()).toBe(2);
  });

  it("remembers an id a fresh walk did not find (outside the mount), so it never walks for it again", () => {
    const f = fixture([[1n, "/"]]);
    f.cache.refresh();
    f.advance(1_000);
    expect(f.cache.resolve(999n)).toBeNull();
    expect(f.walks()).toBe(2);
    f.advance(1_000);
    expect(f.cache.resolve(999n)).toBeNull();
    expect(f.walks()).toBe(2);
    // Another unknown id still walks (it may be new); the remembered set is bounded (maxUnknown 3).
    for (const id of [1001n, 1002n, 1003n]) {
      f.advance(1_000);
      expect(f.cache.resolve(id)).toBeNull();
    }
    expect(f.walks()).toBe(5);
    f.advance(1_000);
    f.tree.set(999n, "/late");
    expect(f.cache.resolve(999n)).toBe("/late"); // forgotten when the set was full, so walked again
  });

  it("still resolves a cgroup removed by the last walk (late records of a container that ended)", () => {
    const f = fixture([[1n, "/"], [44n, "/gone-soon"]]);
    f.cache.refresh();
    f.tree.delete(44n);
    f.tree.set(45n, "/new");
    f.advance(300);
    expect(f.cache.resolve(45n)).toBe("/new");
    expect(f.cache.resolve(44n)).toBe("/gone-soon");
  });

  it("survives a failing walk: keeps what it knew, answers null for the rest", () => {
    const f = fixture([[1n, "/"]]);
    f.cache.refresh();
    f.fail(true);
    f.advance(300);
    expect(f.cache.resolve(1n)).toBe("/");
    expect(f.cache.resolve(7n)).toBeNull();
    expect(f.cache.stats()).toMatchObject({ walks: 2, walkFailures: 1 });
    f.fail(false);
    f.tree.set(7n, "/seven");
    f.advance(300);
    expect(f.cache.resolve(7n)).toBe("/seven"); // a failed walk does not mark the id unknown
  });
});
