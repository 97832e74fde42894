import { describe, expect, it } from "vitest";
import { ConnectionObservationSchema, nsToIso, ProcessFactSchema } from "@adi/shared/wire";
import type { ConnectionObservation, Endpoint, ProcessFact } from "@adi/shared/wire";
import { NameResolver } from "../src/core/names.ts";

const BOOT = "11111111-2222-4333-8444-555555555555";
const at = (ms: number) => nsToIso(1_712_600_650_000_000_000n + BigInt(ms) * 1_000_000n);

function fact(o: { host?: string; pid: number; comm: string; name?: string; ms?: number; optin?: "yes" | "none"; container?: string; event?: ProcessFact["event"] }): ProcessFact {
  return ProcessFactSchema.parse({
    v: 1, type: "process", event: o.event ?? "scan", ts: at(o.ms ?? 0), host: o.host ?? "a", boot_id: BOOT,
    pid: o.pid, start_ticks: 100, ppid: 1, comm: o.comm, exe: null, cmdline: `/bin/${o.comm}`, cgroup: null,
    container_id: o.container ?? null, adi_profile_match: "local", adi_profile_name: o.name ?? null,
    optin: o.optin ?? "yes", env: {}, env_redacted: true, error: null, exit_code: null,
  });
}

function observation(o: { host: string; pid: number; side: "client" | "server"; client: Endpoint; server: Endpoint; ms?: number }): ConnectionObservation {
  const [local, remote] = o.side === "client" ? [o.client, o.server] : [o.server, o.client];
  return ConnectionObservationSchema.parse({
    v: 1, type: "connection", host: o.host, boot_id: BOOT, conn_id: "7", side: o.side, pid: o.pid, start_ticks: 100,
    local, remote, family: 4, transport: "tcp", ts: at(o.ms ?? 0), client: o.client, server: o.server,
    protocol: "postgres", category: "database", confidence: 90, reason: "port 5432",
    evidence: { rule: "postgres", port_match: true, fingerprint_match: true, from: "client", first_bytes_hex: "" }, tls: null,
  });
}

const ref = (pid: number, host = "a") => ({ host, boot_id: BOOT, pid, start_ticks: 100 });
const ep = (ip: string, port: number) => ({ ip, port });

describe("NameResolver: source processes", () => {
  it("names a process after ADI_PROFILE_NAME, else comm, else its pid", () => {
    const names = new NameResolver();
    names.addProcess(fact({ pid: 10, comm: "python3", name: "reviews" }));
    names.addProcess(fact({ pid: 11, comm: "ratings" }));
    expect(names.resolveProcess(ref(10))).toEqual({ name: "reviews", type: "external", container: null });
    expect(names.resolveProcess(ref(11)).name).toBe("ratings");
    expect(names.resolveProcess(ref(12)).name).toBe("pid-12");
    expect(names.resolveProcess(ref(10, "b")).name).toBe("pid-10");
  });

  it("ignores processes that did not opt in", () => {
    const names = new NameResolver();
    names.addProcess(fact({ pid: 10, comm: "bash", optin: "none" }));
    expect(names.processInfo(ref(10))).toBeNull();
  });

  it("describes a process by its latest fact, whatever the order, keeping a name seen once", () => {
    const forked = fact({ pid: 10, comm: "bash", name: "svc", ms: 1, event: "fork" });
    const execd = { ...fact({ pid: 10, comm: "server", ms: 2, event: "exec" }), adi_profile_name: null };
    for (const order of [[forked, execd], [execd, forked]]) {
      const names = new NameResolver();
      for (const f of order) names.addProcess(f);
      expect(names.processInfo(ref(10))).toMatchObject({ comm: "server", adi_profile_name: "svc" });
    }
  });

  it("prefers a container identity (the enricher's hook) over ADI_PROFILE_NAME", () => {
    const names = new NameResolver();
    names.addProcess(fact({ pid: 10, comm: "python3", name: "reviews", container: "abc123" }));
    const identity = { container_id: "abc123", service: "reviews-v1", image: "istio/reviews:1.20", container_name: "reviews-1", ips: ["172.17.0.5"] };
    names.addIdentity(identity);
    expect(names.resolveProcess(ref(10))).toEqual({ name: "reviews-v1", type: "container", container: identity });
    expect(names.resolveEndpoint("a", ep("172.17.0.5", 9080))).toMatchObject({ name: "reviews-v1", type: "container" });
    expect(names.resolveRemote("172.17.0.5").name).toBe("reviews-v1");
  });
});

describe("NameResolver: destinations", () => {
  it("learns listeners from server-side observations; a known process is an external destination by name", () => {
    const names = new NameResolver();
    names.addProcess(fact({ pid: 20, comm: "http-service" }));
    names.observe(observation({ host: "a", pid: 20, side: "server", client: ep("10.0.0.1", 40000), server: ep("10.0.0.1", 8080) }), at(0));
    expect(names.resolveEndpoint("a", ep("10.0.0.1", 8080))).toEqual({ name: "http-service", type: "external", container: null });
    expect(names.resolveEndpoint("a", ep("10.0.0.1", 8081))).toBeNull();
    // A client's local end is not a listener.
    expect(names.resolveEndpoint("a", ep("10.0.0.1", 40000))).toBeNull();
  });

  it("treats loopback as the viewer's own host", () => {
    const names = new NameResolver();
    names.addProcess(fact({ host: "a", pid: 20, comm: "on-a" }));
    names.observe(observation({ host: "a", pid: 20, side: "server", client: ep("127.0.0.1", 40000), server: ep("127.0.0.1", 8080) }), at(0));
    expect(names.resolveEndpoint("a", ep("127.0.0.1", 8080))?.name).toBe("on-a");
    expect(names.resolveEndpoint("b", ep("127.0.0.1", 8080))).toBeNull();
    expect(names.resolveEndpoint("a", ep("127.0.0.2", 8080))?.name).toBe("on-a"); // same port on that host
  });

  it("matches 0.0.0.0 and :: listeners to any local address of their host", () => {
    const names = new NameResolver();
    names.addListener("a", "0.0.0.0", 5432, "postgres");
    names.addListener("a", "::", 6379, "redis");
    names.observe(observation({ host: "a", pid: 30, side: "client", client: ep("10.0.0.1", 40000), server: ep("10.9.9.9", 5432) }), at(0));
    expect(names.resolveEndpoint("a", ep("10.0.0.1", 5432))?.name).toBe("postgres");
    expect(names.resolveEndpoint("a", ep("127.0.0.1", 5432))?.name).toBe("postgres");
    expect(names.resolveEndpoint("a", ep("::1", 6379))?.name).toBe("redis");
    expect(names.resolveEndpoint("a", ep("10.9.9.9", 5432))).toBeNull(); // not an address of host a
  });

  it("finds a listener on another host by the addresses that host was seen using", () => {
    const names = new NameResolver();
    names.addProcess(fact({ host: "b", pid: 20, comm: "ratings" }));
    names.observe(observation({ host: "b", pid: 20, side: "server", client: ep("10.0.0.1", 40000), server: ep("10.0.0.2", 9080) }), at(0));
    expect(names.resolveEndpoint("a", ep("10.0.0.2", 9080))?.name).toBe("ratings");
  });

  it("names listeners from a listeners fact, by process facts when known, else by the fact's own names", () => {
    const names = new NameResolver();
    names.addProcess(fact({ pid: 40, comm: "node", name: "gateway" }));
    names.addListeners({
      v: 1, type: "listeners", ts: at(0), host: "a", boot_id: BOOT,
      listeners: [
        { ip: "0.0.0.0", port: 80, pid: 40, start_ticks: 100, comm: "node", adi_profile_name: null },
        { ip: "127.0.0.1", port: 5432, pid: 41, start_ticks: 7, comm: "postgres", adi_profile_name: null },
        { ip: "127.0.0.1", port: 9000, pid: null, start_ticks: null, comm: null, adi_profile_name: null },
      ],
    });
    expect(names.resolveEndpoint("a", ep("127.0.0.1", 80))?.name).toBe("gateway");
    expect(names.resolveEndpoint("a", ep("127.0.0.1", 5432))?.name).toBe("postgres");
    expect(names.resolveEndpoint("a", ep("127.0.0.1", 9000))).toBeNull();
  });

  it("picks the listener seen latest, whatever the order it was learned in", () => {
    const events: [string, string][] = [["old", at(1)], ["new", at(2)]];
    for (const order of [events, [...events].reverse()]) {
      const names = new NameResolver();
      for (const [name, ts] of order) names.addListener("a", "127.0.0.1", 8080, name, ts);
      expect(names.resolveEndpoint("a", ep("127.0.0.1", 8080))?.name).toBe("new");
    }
  });

  it("calls an unknown client external", () => {
    expect(new NameResolver().resolveRemote("203.0.113.7")).toEqual({ name: "external", type: "external", container: null });
  });
});

describe("NameResolver: address families, listeners of processes gone, gateways", () => {
  type Listener = { ip: string; port: number; pid: number; comm: string; v6only?: boolean | null };
  const listeners = (ms: number, event: "scan" | "listen" | "close", ls: Listener[]) => ({
    v: 1 as const, type: "listeners" as const, event, ts: at(ms), host: "a", boot_id: BOOT,
    listeners: ls.map((l) => ({ ip: l.ip, port: l.port, pid: l.pid, start_ticks: 7, comm: l.comm, adi_profile_name: null, family: (l.ip.includes(":") ? 6 : 4) as 4 | 6, v6only: l.v6only ?? null })),
  });
  const v4: Listener = { ip: "0.0.0.0", port: 7000, pid: 50, comm: "srv4" };
  const v6: Listener = { ip: "::", port: 7000, pid: 51, comm: "srv6", v6only: true };

  it("a v4 server on 0.0.0.0:P and a v6 one on [::]:P: [::1]:P is the v6 one, 127.0.0.1:P the v4 one, whichever is newer", () => {
    for (const [t4, t6] of [[1, 2], [2, 1]] as const) {
      for (const order of ["v4 first", "v6 first"]) {
        const names = new NameResolver();
        const facts = [listeners(t4, "listen", [v4]), listeners(t6, "listen", [v6])];
        for (const f of order === "v4 first" ? facts : facts.reverse()) names.addListeners(f);
        expect(names.resolveEndpoint("a", ep("::1", 7000))?.name).toBe("srv6");
        expect(names.resolveEndpoint("a", ep("127.0.0.1", 7000))?.name).toBe("srv4");
        expect(names.resolveEndpoint("a", ep("::ffff:127.0.0.1", 7000))?.name).toBe("srv4"); // IPv4-mapped is IPv4
      }
    }
  });

  it("an IPv4 call reaches a [::] listener unless it is IPV6_V6ONLY; an IPv6 call never reaches an IPv4 listener", () => {
    const dual = new NameResolver();
    dual.addListeners(listeners(1, "scan", [{ ...v6, v6only: null }]));
    expect(dual.resolveEndpoint("a", ep("127.0.0.1", 7000))?.name).toBe("srv6");
    const only6 = new NameResolver();
    only6.addListeners(listeners(1, "listen", [v6]));
    expect(only6.resolveEndpoint("a", ep("127.0.0.1", 7000))).toBeNull();
    expect(only6.resolveEndpoint("a", ep("::1", 7000))?.name).toBe("srv6");
    const only4 = new NameResolver();
    only4.addListeners(listeners(1, "listen", [v4, { ip: "127.0.0.1", port: 7001, pid: 52, comm: "lo4" }]));
    expect(only4.resolveEndpoint("a", ep("::1", 7000))).toBeNull();
    expect(only4.resolveEndpoint("a", ep("::1", 7001))).toBeNull();
    expect(only4.resolveEndpoint("a", ep("127.0.0.1", 7001))?.name).toBe("lo4");
  });

  it("prefers the exact address over the wildcard of its family: ::1 and 127.0.0.1 listeners beside [::] and 0.0.0.0", () => {
    const names = new NameResolver();
    names.addListeners(listeners(5, "scan", [v4, { ...v6, v6only: false }]));
    names.addListeners(listeners(1, "listen", [{ ip: "::1", port: 7000, pid: 60, comm: "lo6" }, { ip: "127.0.0.1", port: 7000, pid: 61, comm: "lo4" }]));
    expect(names.resolveEndpoint("a", ep("::1", 7000))?.name).toBe("lo6");
    expect(names.resolveEndpoint("a", ep("127.0.0.1", 7000))?.name).toBe("lo4");
  });

  it("a listener seen once names calls after its process exited, and the latest owner of the address wins", () => {
    const names = new NameResolver();
    // A server that is not opted in: one listen record (the kernel's), then it is gone; no scan ever lists it.
    names.addListeners(listeners(1, "listen", [{ ip: "127.0.0.1", port: 7100, pid: 70, comm: "oneshot" }]));
    names.addListeners(listeners(3, "close", [{ ip: "127.0.0.1", port: 7100, pid: 70, comm: "oneshot" }]));
    names.addListeners(listeners(4, "scan", []));
    expect(names.resolveEndpoint("a", ep("127.0.0.1", 7100))?.name).toBe("oneshot");
    names.addListeners(listeners(9, "listen", [{ ip: "127.0.0.1", port: 7100, pid: 71, comm: "successor" }]));
    expect(names.resolveEndpoint("a", ep("127.0.0.1", 7100))?.name).toBe("successor");
  });

  describe("published ports called through a container network's gateway", () => {
    const identity = (o: { id: string; service: string; port: number; hostIp?: string | null; gateways?: string[]; host?: string }) => ({
      container_id: o.id, service: o.service, image: `${o.service}:1`, container_name: `${o.service}-1`, ips: [`10.88.0.${o.port % 200}`],
      host: o.host ?? "a", published_ports: [{ host_ip: o.hostIp === undefined ? "0.0.0.0" : o.hostIp, host_port: o.port }], gateways: o.gateways ?? [],
    });

    it("Podman's 10.88.0.1:P and Docker's 172.17.0.1:P resolve to the container publishing P", () => {
      const names = new NameResolver();
      names.addIdentity(identity({ id: "p1", service: "ratings", port: 9080, gateways: ["10.88.0.1"] }));
      names.addIdentity(identity({ id: "d1", service: "details", port: 9081, gateways: ["172.17.0.1"] }));
      expect(names.resolveEndpoint("a", ep("10.88.0.1", 9080))).toMatchObject({ name: "ratings", type: "container" });
      expect(names.resolveEndpoint("a", ep("172.17.0.1", 9081))).toMatchObject({ name: "details", type: "container" });
      // Any gateway of that host reaches any published port (the host routes it), loopback too.
      expect(names.resolveEndpoint("a", ep("172.17.0.1", 9080))?.name).toBe("ratings");
      expect(names.resolveEndpoint("a", ep("127.0.0.1", 9081))?.name).toBe("details");
    });

    it("is not fooled: an address that is no gateway, another host's gateway, a port not published, a port bound to loopback", () => {
      const names = new NameResolver();
      names.addIdentity(identity({ id: "p1", service: "ratings", port: 9080, gateways: ["10.88.0.1"] }));
      names.addIdentity(identity({ id: "p2", service: "private", port: 9090, hostIp: "127.0.0.1", gateways: ["10.88.0.1"] }));
      names.addIdentity(identity({ id: "b1", service: "elsewhere", port: 9095, gateways: ["10.89.0.1"], host: "b" }));
      expect(names.resolveEndpoint("a", ep("10.88.0.7", 9080))).toBeNull();
      expect(names.resolveEndpoint("a", ep("10.88.0.1", 9081))).toBeNull();
      expect(names.resolveEndpoint("a", ep("10.89.0.1", 9095))).toBeNull();
      expect(names.resolveEndpoint("a", ep("10.88.0.1", 9090))).toBeNull();
      expect(names.resolveEndpoint("a", ep("127.0.0.1", 9090))?.name).toBe("private");
    });

    it("two containers publishing one port on different host addresses: each at its own", () => {
      const names = new NameResolver();
      names.addIdentity(identity({ id: "c1", service: "lo-only", port: 8000, hostIp: "127.0.0.1", gateways: ["172.17.0.1"] }));
      names.addIdentity(identity({ id: "c2", service: "public", port: 8000, hostIp: "172.17.0.1", gateways: ["172.17.0.1"] }));
      expect(names.resolveEndpoint("a", ep("127.0.0.1", 8000))?.name).toBe("lo-only");
      expect(names.resolveEndpoint("a", ep("172.17.0.1", 8000))?.name).toBe("public");
    });
  });

  it("a net mark or an exit never replaces what an exec said, in any order", () => {
    const execd = fact({ pid: 90, comm: "server", name: "svc", ms: 1, event: "exec" });
    const net = { ...fact({ pid: 90, comm: "", ms: 5, event: "net" }), cmdline: "", adi_profile_name: null };
    const exit = { ...fact({ pid: 90, comm: "server", ms: 9, event: "exit" }), cmdline: "" };
    for (const order of [[execd, net, exit], [net, exit, execd], [exit, execd, net]]) {
      const names = new NameResolver();
      for (const f of order) names.addProcess(f);
      expect(names.processInfo(ref(90))).toMatchObject({ comm: "server", cmdline: "/bin/server", adi_profile_name: "svc" });
    }
    const alone = new NameResolver();
    alone.addProcess({ ...net, comm: "curl", adi_profile_name: "probe" });
    expect(alone.resolveProcess(ref(90)).name).toBe("probe");
  });
});
