import { describe, expect, it } from "vitest";
import { ConnectionObservationSchema } from "@adi/shared/wire/derived";
import type { ConnectionObservation, Endpoint } from "@adi/shared/wire/derived";
import { nsToIso, ProcessFactSchema } from "@adi/shared/wire/facts";
import type { ProcessFact } from "@adi/shared/wire/facts";
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
