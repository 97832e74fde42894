import { describe, expect, it } from "vitest";
import { fromContainerd, fromDockerInspect, normaliseAddress, parseNetnsAddresses, parseNetnsGateways } from "../src/core/identity.ts";
import type { DockerInspect } from "../src/core/identity.ts";

// The shape Docker Engine 20.10 returns for GET /containers/{id}/json (fields trimmed to those that matter,
// plus a few that do not, to show they are ignored), for a compose service with two networks and a port
// published on both IPv4 and IPv6.
const ID = "cb055721733405fa3f8ed9e9066447cd77daeb7e47bc60cbf87b9c5e94446557";
const composeWeb = {
  Id: ID,
  Name: "/demo-web-1",
  Image: "sha256:8a01edb9a3472686b3769c27a28247bc2145ade684f7b8b1cb0d47a44934c8bc",
  State: { Status: "running", Running: true, Paused: false, Pid: 24774, ExitCode: 0 },
  Config: {
    Hostname: "cb0557217334",
    Image: "myorg/app:1.0",
    Cmd: ["busybox", "httpd", "-f", "-p", "8080"],
    ExposedPorts: { "8080/tcp": {}, "9090/tcp": {} },
    Labels: {
      "com.docker.compose.project": "demo",
      "com.docker.compose.service": "web",
      "com.docker.compose.container-number": "1",
    },
  },
  NetworkSettings: {
    Bridge: "",
    IPAddress: "",
    GlobalIPv6Address: "",
    Ports: {
      "8080/tcp": [
        { HostIp: "0.0.0.0", HostPort: "18080" },
        { HostIp: "::", HostPort: "18080" },
      ],
      "9090/tcp": null, // exposed, not published
      "53/udp": [{ HostIp: "::ffff:127.0.0.1", HostPort: "5353" }],
    },
    Networks: {
      demo_default: { IPAddress: "172.18.0.3", GlobalIPv6Address: "", Gateway: "172.18.0.1" },
      demo_backend: { IPAddress: "::ffff:172.19.0.2", GlobalIPv6Address: "fd00:dead::3", Gateway: "172.19.0.1" },
    },
  },
};

describe("fromDockerInspect", () => {
  it("maps a running compose container", () => {
    expect(fromDockerInspect(composeWeb)).toEqual({
      runtime: "docker",
      namespace: null,
      container_id: ID,
      container_name: "demo-web-1",
      image: "myorg/app:1.0",
      service: "web",
      project: "demo",
      labels: composeWeb.Config.Labels,
      pid: 24774,
      ips: ["172.18.0.3", "172.19.0.2", "fd00:dead::3"],
      ports: [
        { container_port: 8080, protocol: "tcp", host_ip: "0.0.0.0", host_port: 18080 },
        { container_port: 8080, protocol: "tcp", host_ip: "::", host_port: 18080 },
        { container_port: 53, protocol: "udp", host_ip: "127.0.0.1", host_port: 5353 },
      ],
      gateways: ["172.18.0.1", "172.19.0.1"],
      state: "running",
    });
  });

  it("takes every network's gateway, IPv6 ones and the legacy top-level one included, once each", () => {
    const identity = fromDockerInspect({
      Id: ID,
      NetworkSettings: {
        Gateway: "172.17.0.1",
        IPv6Gateway: "",
        Networks: {
          bridge: { IPAddress: "172.17.0.4", Gateway: "172.17.0.1", IPv6Gateway: "fd00:17::1" },
          host: { IPAddress: "", Gateway: "" }, // host networking: no gateway of its own
          internal: { IPAddress: "10.30.0.2" }, // an --internal network has none either
        },
      },
    });
    expect(identity.gateways).toEqual(["172.17.0.1", "fd00:17::1"]);
    expect(fromDockerInspect({ Id: ID }).gateways).toEqual([]);
  });

  it("reads Podman 4.3's compat inspect: its network's gateway 10.88.0.1 (recorded from `podman system service`)", () => {
    // GET /v1.41/containers/{id}/json from Podman 4.3.1 (Debian 12), trimmed to the fields identity reads.
    const podman: DockerInspect = {
      Id: "50bf3c6da853c5424e6b772522429da4dfa58d726f07d89ab64815140154056d",
      Name: "/d2pod1",
      State: { Status: "running", Running: true, Pid: 14313 },
      Config: { Image: "localhost/adi-test/busybox:1", Labels: null },
      NetworkSettings: {
        Gateway: "10.88.0.1",
        IPAddress: "10.88.0.6",
        Ports: { "8080/tcp": [{ HostIp: "127.0.0.1", HostPort: "18089" }] },
        Networks: { podman: { IPAddress: "10.88.0.6", Gateway: "10.88.0.1", IPv6Gateway: "", GlobalIPv6Address: "" } },
      },
    };
    expect(fromDockerInspect(podman, "podman")).toMatchObject({
      runtime: "podman",
      container_name: "d2pod1",
      ips: ["10.88.0.6"],
      gateways: ["10.88.0.1"],
      ports: [{ container_port: 8080, protocol: "tcp", host_ip: "127.0.0.1", host_port: 18089 }],
      state: "running",
    });
  });

  it("maps a stopped plain container: no pid, no ports, no service, sha id as a last-resort image", () => {
    const exited: DockerInspect = {
      Id: ID,
      Name: "/quirky_turing",
      Image: "sha256:8a01edb9",
      State: { Status: "exited", Running: false, Pid: 0 },
      Config: { Image: "", Labels: null },
      NetworkSettings: { IPAddress: "", Ports: {}, Networks: { bridge: { IPAddress: "" } } },
    };
    expect(fromDockerInspect(exited)).toMatchObject({
      container_name: "quirky_turing",
      image: "sha256:8a01edb9",
      service: null,
      project: null,
      labels: {},
      pid: null,
      ips: [],
      ports: [],
      state: "exited",
    });
  });

  it("takes the legacy top-level address and Podman's states", () => {
    const podman: DockerInspect = {
      Id: ID,
      Name: "web",
      State: { Status: "stopped", Pid: 0 },
      Config: { Image: "localhost/app:2", Labels: { "com.docker.compose.service": "api" } },
      NetworkSettings: { IPAddress: "10.88.0.5", Ports: null, Networks: null },
    };
    const identity = fromDockerInspect(podman, "podman");
    expect(identity).toMatchObject({ runtime: "podman", container_name: "web", ips: ["10.88.0.5"], state: "exited", service: "api" });
    expect(fromDockerInspect({ Id: ID, State: { Status: "configured" } }, "podman").state).toBe("created");
    expect(fromDockerInspect({ Id: ID, State: { Status: "weird" } }).state).toBe("unknown");
    expect(fromDockerInspect({ Id: ID }).container_name).toBe(ID.slice(0, 12));
  });
});

describe("fromContainerd", () => {
  // As @grpc/proto-loader decodes containers.v1.Container and tasks.v1 Process (keepCase, enums as names).
  const container = {
    id: "worker-1",
    image: "docker.io/myorg/worker:3.1",
    labels: {
      "com.docker.compose.service": "worker",
      "com.docker.compose.project": "demo",
      "nerdctl/name": "demo-worker-1",
      "nerdctl/ports": '[{"HostPort":8081,"ContainerPort":80,"Protocol":"tcp","HostIP":"0.0.0.0"}]',
    },
  };

  it("maps a running nerdctl compose container with its task", () => {
    expect(fromContainerd(container, { pid: 4242, status: "RUNNING" }, "default", ["10.4.0.7"])).toEqual({
      runtime: "containerd",
      namespace: "default",
      container_id: "worker-1",
      container_name: "demo-worker-1",
      image: "docker.io/myorg/worker:3.1",
      service: "worker",
      project: "demo",
      labels: container.labels,
      pid: 4242,
      ips: ["10.4.0.7"],
      ports: [{ container_port: 80, protocol: "tcp", host_ip: "0.0.0.0", host_port: 8081 }],
      gateways: [],
      state: "running",
    });
  });

  it("a stopped task or none: no pid; numeric statuses; unreadable port labels ignored", () => {
    const plain = { id: "abc", image: "", labels: { "nerdctl/ports": "not json" } };
    expect(fromContainerd(plain, { pid: 77, status: "STOPPED" }, "moby")).toMatchObject({ pid: null, state: "exited", ports: [], container_name: "abc" });
    expect(fromContainerd(plain, null)).toMatchObject({ pid: null, state: "created", namespace: null });
    expect(fromContainerd(plain, { pid: 9, status: 2 }).state).toBe("running");
    expect(fromContainerd(plain, { pid: 9, status: 4 }).state).toBe("paused");
    expect(fromContainerd({ id: "k", labels: { "io.kubernetes.container.name": "nginx" } }).container_name).toBe("nginx");
  });
});

describe("addresses", () => {
  it("writes IPv4-mapped IPv6 as IPv4 and leaves others alone", () => {
    expect(normaliseAddress("::ffff:10.1.2.3")).toBe("10.1.2.3");
    expect(normaliseAddress("::FFFF:192.168.0.1")).toBe("192.168.0.1");
    expect(normaliseAddress("FD00::1")).toBe("fd00::1");
    expect(normaliseAddress("::ffff:abcd:1")).toBe("::ffff:abcd:1");
  });

  it("finds a network namespace's own addresses in /proc/PID/net", () => {
    const fibTrie = [
      "Main:",
      "  +-- 0.0.0.0/0 3 0 4",
      "     +-- 127.0.0.0/8 2 0 2",
      "        +-- 127.0.0.0/31 1 0 0",
      "           |-- 127.0.0.1",
      "              /32 host LOCAL",
      "     +-- 172.17.0.0/16 2 0 2",
      "        +-- 172.17.0.0/30 2 0 2",
      "           |-- 172.17.0.0",
      "              /16 link UNICAST",
      "           |-- 172.17.0.2",
      "              /32 host LOCAL",
      "        |-- 172.17.255.255",
      "           /32 link BROADCAST",
      "Local:",
      "  +-- 0.0.0.0/0 3 0 4",
      "           |-- 172.17.0.2",
      "              /32 host LOCAL",
    ].join("\n");
    const ifInet6 = [
      "00000000000000000000000000000001 01 80 10 80       lo",
      "fd000000000000000000000000000002 04 40 00 82     eth0",
      "20010db8000100000000000000000abc 04 40 00 00     eth0",
      "fe8000000000000000fc00fffe000001 04 40 20 80     eth0",
    ].join("\n");
    expect(parseNetnsAddresses(fibTrie, ifInet6)).toEqual(["172.17.0.2", "fd00::2", "2001:db8:1::abc"]);
    expect(parseNetnsAddresses("")).toEqual([]);
  });

  it("finds a network namespace's default gateways in /proc/PID/net/route and ipv6_route", () => {
    // Recorded in a Docker container on the default bridge (kernel 6.18), plus an IPv6 default route.
    const route = [
      "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT",
      "eth0\t00000000\t010011AC\t0003\t0\t0\t0\t00000000\t0\t0\t0",
      "eth0\t000011AC\t00000000\t0001\t0\t0\t0\t0000FFFF\t0\t0\t0",
    ].join("\n");
    const ipv6Route = [
      "00000000000000000000000000000000 00 00000000000000000000000000000000 00 fd000000000000000000000000000001 00000400 00000001 00000000 00000003     eth0",
      "fd000000000000000000000000000000 40 00000000000000000000000000000000 00 00000000000000000000000000000000 00000100 00000001 00000000 00000001     eth0",
      "00000000000000000000000000000000 00 00000000000000000000000000000000 00 00000000000000000000000000000000 ffffffff 00000001 00000000 00200200       lo",
    ].join("\n");
    expect(parseNetnsGateways(route, ipv6Route)).toEqual(["172.17.0.1", "fd00::1"]);
    // A namespace with only a link route (no gateway flag), or none at all: no gateway.
    expect(parseNetnsGateways([route.split("\n")[0], "eth0\t00000000\t00000000\t0001\t0\t0\t0\t00000000\t0\t0\t0"].join("\n"))).toEqual([]);
    expect(parseNetnsGateways("")).toEqual([]);
  });

  it("gives a containerd container the gateways found in its namespace", () => {
    expect(fromContainerd({ id: "n1" }, { pid: 5, status: "RUNNING" }, "default", ["10.4.0.7"], ["10.4.0.1"]).gateways).toEqual(["10.4.0.1"]);
  });
});
