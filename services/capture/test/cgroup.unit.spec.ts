import { describe, expect, it } from "vitest";
import { parseCgroupFile } from "../src/core/cgroup.ts";

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
