// The page's model from hand-built maps: which nodes (and of which kind), which edges with which figures, and what
// each element drills down to, exactly.
import { describe, expect, it } from "vitest";
import { DURATION_BOUNDS_MS, mapGraph } from "@adi/mapper";
import type { ConnectionEntry, EndpointEntry, ServiceMap } from "@adi/mapper";
import type { ProcessFact } from "@adi/shared/wire";
import { buildViewModel, serviceNameOf } from "../src/index.ts";

const T0 = "2026-11-27T09:00:00.000000000Z";
const T1 = "2026-11-27T09:00:05.000000000Z";

/** `n` calls timed in the bucket whose upper bound is `upperMs`. */
function timed(upperMs: number, n: number) {
  const counts = new Array<number>(DURATION_BOUNDS_MS.length + 1).fill(0);
  counts[DURATION_BOUNDS_MS.indexOf(upperMs)] = n;
  return { bounds_ms: DURATION_BOUNDS_MS, counts, count: n, sum_ms: upperMs * n };
}

function endpoint(destination: string, method: string, path: string, o: { codes: Record<string, number>; errors?: number; upperMs: number; p50: number; p99: number; request?: EndpointEntry["request_schema"]; response?: EndpointEntry["response_schema"]; type?: "container" | "external"; timed?: number }): EndpointEntry {
  const count = Object.values(o.codes).reduce((a, b) => a + b, 0);
  return {
    destination,
    destination_type: o.type ?? "external",
    method,
    path,
    request_schema: o.request ?? null,
    response_schema: o.response ?? null,
    first_seen: T0,
    last_seen: T1,
    count,
    stats: { status_codes: o.codes, errors: o.errors ?? 0, duration: timed(o.upperMs, o.timed ?? count), p50_ms: o.p50, p99_ms: o.p99 },
    example: null,
  };
}

function connection(destination: string, protocol: string, category: string, port: number, count = 1): ConnectionEntry {
  return { destination, destination_type: "external", protocol, category, port, confidence: 90, reason: `${protocol} fingerprint`, first_seen: T0, last_seen: T1, count };
}

function processFact(pid: number, comm: string, name: string | null, env: Record<string, string> = {}): ProcessFact {
  return {
    v: 1,
    ts: T0,
    host: "h1",
    boot_id: "00000000-0000-4000-8000-000000000001",
    type: "process",
    event: "net",
    pid,
    start_ticks: 100 + pid,
    ppid: 1,
    comm,
    exe: `/usr/bin/${comm}`,
    cmdline: `${comm} --serve`,
    cgroup: null,
    container_id: null,
    adi_profile_match: "local",
    adi_profile_name: name,
    optin: "yes",
    env,
    env_redacted: true,
    error: null,
    exit_code: null,
  };
}

const healthz = endpoint("http-service", "GET", "/healthz", { codes: { "200": 4 }, upperMs: 10, p50: 8.75, p99: 9.975, response: { status: "string" } });
const echo = endpoint("http-service", "POST", "/echo", { codes: { "200": 3, "500": 1 }, errors: 1, upperMs: 100, p50: 87.5, p99: 99.75, request: { message: "string" }, response: { message: "string" } });

const MAP: ServiceMap = {
  generated_at: T1,
  services: [
    { name: "external", image: null, endpoints: [endpoint("http-service", "GET", "/", { codes: { "200": 1 }, upperMs: 10, p50: 8.75, p99: 9.975 })], connections: [], first_seen: T0, last_seen: T1 },
    { name: "http-service", image: null, endpoints: [], connections: [connection("nats-server", "nats", "message_bus", 4222)], first_seen: T0, last_seen: T1 },
    {
      name: "traffic-generator",
      image: null,
      endpoints: [healthz, echo, endpoint("python3", "GET", "/items/{id}", { codes: { none: 2 }, errors: 2, upperMs: 10, timed: 0, p50: 0, p99: 0 })],
      connections: [connection("postgres", "postgres", "database", 5432, 2), connection("redis-server", "redis", "cache", 6379), connection("redis-server", "redis", "cache", 6380, 3)],
      first_seen: T0,
      last_seen: T1,
    },
    { name: "web", image: "myorg/web:1.0", endpoints: [endpoint("api", "GET", "/v1", { codes: { "200": 1 }, upperMs: 10, p50: 8.75, p99: 9.975, type: "container" })], connections: [connection("10.0.0.9:9999", "tls", "web", 9999)], first_seen: T0, last_seen: T1 },
  ],
};

// python3 has a process in the inventory (an opted-in server that makes no calls); "ghost" matches no node.
const PROCESSES = [processFact(10, "node", "traffic-generator", { ADI_PROFILE: "local", DB_PASSWORD: "[REDACTED]" }), processFact(11, "python3", null), processFact(12, "ghost", null)];

describe("buildViewModel", () => {
  const model = buildViewModel(MAP, PROCESSES);

  it("draws every source and destination once, its kind by the rules", () => {
    expect(model.nodes).toEqual([
      { id: "n:10.0.0.9:9999", label: "10.0.0.9:9999", kind: "external", image: null },
      { id: "n:api", label: "api", kind: "container", image: null },
      { id: "n:external", label: "external", kind: "external", image: null },
      { id: "n:http-service", label: "http-service", kind: "service", image: null },
      { id: "n:nats-server", label: "nats-server", kind: "message_bus", image: null },
      { id: "n:postgres", label: "postgres", kind: "database", image: null },
      { id: "n:python3", label: "python3", kind: "service", image: null },
      { id: "n:redis-server", label: "redis-server", kind: "cache", image: null },
      { id: "n:traffic-generator", label: "traffic-generator", kind: "service", image: null },
      { id: "n:web", label: "web", kind: "container", image: "myorg/web:1.0" },
    ]);
  });

  it("makes one HTTP edge per source and destination with summed counts, error rate and merged quantiles", () => {
    const edge = model.edges.find((e) => e.id === 'e:["http","traffic-generator","http-service"]');
    // 4 calls in (7.5, 10] and 4 in (75, 100]: p50 at the top of the first bucket, p99 inside the second.
    expect(edge).toEqual({
      id: 'e:["http","traffic-generator","http-service"]',
      source: "n:traffic-generator",
      target: "n:http-service",
      kind: "http",
      protocol: "http",
      count: 8,
      errors: 1,
      error_rate: 0.125,
      status_codes: { "200": 7, "500": 1 },
      p50_ms: 10,
      p99_ms: 99.5,
      label: "http ×8 · 13% err · p50 10 ms · p99 100 ms",
    });
  });

  it("gives an edge whose calls were never answered no quantiles and a full error rate", () => {
    const edge = model.edges.find((e) => e.id === 'e:["http","traffic-generator","python3"]')!;
    expect(edge).toMatchObject({ count: 2, errors: 2, error_rate: 1, status_codes: { none: 2 }, label: "http ×2 · 100% err" });
    expect(edge.p50_ms).toBeNull();
  });

  it("makes one edge per source, destination and protocol for classified connections, ports listed", () => {
    expect(model.edges.filter((e) => e.kind === "connection").map((e) => [e.source, e.target, e.protocol, e.count, e.label, e.errors, e.p50_ms])).toEqual([
      ["n:http-service", "n:nats-server", "nats", 1, "nats:4222 ×1", null, null],
      ["n:traffic-generator", "n:postgres", "postgres", 2, "postgres:5432 ×2", null, null],
      ["n:traffic-generator", "n:redis-server", "redis", 4, "redis:6379,6380 ×4", null, null],
      ["n:web", "n:10.0.0.9:9999", "tls", 1, "tls:9999 ×1", null, null],
    ]);
    expect(model.edges.map((e) => e.id)).toEqual([...model.edges.map((e) => e.id)].sort());
    expect(model.edges).toHaveLength(8);
  });

  it("drills a node down to the calls it made and received, its connections and its redacted environment", () => {
    const d = model.details["n:traffic-generator"]!;
    expect(d.endpoints.map((i) => `${model.endpoints[i]!.method} ${model.endpoints[i]!.path} -> ${model.endpoints[i]!.destination}`)).toEqual([
      "GET /healthz -> http-service",
      "POST /echo -> http-service",
      "GET /items/{id} -> python3",
    ]);
    expect(d.connections.map((i) => model.connections[i]!)).toEqual([
      { source: "traffic-generator", ...connection("postgres", "postgres", "database", 5432, 2) },
      { source: "traffic-generator", ...connection("redis-server", "redis", "cache", 6379) },
      { source: "traffic-generator", ...connection("redis-server", "redis", "cache", 6380, 3) },
    ]);
    expect(d.processes.map((i) => model.processes[i])).toEqual([
      {
        service: "traffic-generator",
        host: "h1",
        pid: 10,
        comm: "node",
        cmdline: "node --serve",
        adi_profile_match: "local",
        adi_profile_name: "traffic-generator",
        container_id: null,
        env: { ADI_PROFILE: "local", DB_PASSWORD: "[REDACTED]" },
        error: null,
      },
    ]);
    const server = model.details["n:http-service"]!;
    expect(server.endpoints.map((i) => `${model.endpoints[i]!.source} ${model.endpoints[i]!.path}`)).toEqual(["external /", "traffic-generator /healthz", "traffic-generator /echo"]);
    expect(server.connections.map((i) => model.connections[i]!.destination)).toEqual(["nats-server"]);
    expect(server.processes).toEqual([]);
  });

  it("keeps each endpoint's schemas and figures as the map has them, without the histogram", () => {
    const i = model.details['e:["http","traffic-generator","http-service"]']!.endpoints[1]!;
    expect(model.endpoints[i]).toEqual({
      source: "traffic-generator",
      destination: "http-service",
      destination_type: "external",
      method: "POST",
      path: "/echo",
      request_schema: { message: "string" },
      response_schema: { message: "string" },
      count: 4,
      status_codes: { "200": 3, "500": 1 },
      errors: 1,
      p50_ms: 87.5,
      p99_ms: 99.75,
      first_seen: T0,
      last_seen: T1,
      example: null,
    });
    expect(JSON.stringify(model)).not.toContain("bounds_ms");
  });

  it("drills an edge down to its own entries and its source's environment", () => {
    expect(model.details['e:["http","traffic-generator","http-service"]']).toEqual({ endpoints: [1, 2], connections: [], processes: [0] });
    expect(model.details['e:["connection","redis","traffic-generator","redis-server"]']).toEqual({ endpoints: [], connections: [2, 3], processes: [0] });
    expect(Object.keys(model.details).sort()).toEqual([...model.nodes.map((n) => n.id), ...model.edges.map((e) => e.id)].sort());
  });

  it("lists every process of the inventory, matched or not, and draws none that matches nothing", () => {
    expect(model.processes.map((p) => p.service)).toEqual(["traffic-generator", "python3", "ghost"]);
    expect(model.details["n:python3"]!.processes).toEqual([1]);
    expect(model.nodes.some((n) => n.label === "ghost")).toBe(false);
  });

  it("is the same for the same input, and empty for an empty map", () => {
    expect(buildViewModel(MAP, PROCESSES)).toEqual(model);
    expect(buildViewModel({ generated_at: null, services: [] }, [])).toEqual({ generated_at: null, nodes: [], edges: [], endpoints: [], connections: [], processes: [], details: {} });
  });
});

describe("node kinds: the view and the exports (mapGraph) agree", () => {
  it("gives every kind of node the same kind in both", () => {
    const ok = { codes: { "200": 1 }, upperMs: 10, p50: 8.75, p99: 9.975 };
    const map: ServiceMap = {
      generated_at: T1,
      services: [
        {
          name: "client",
          image: null,
          endpoints: [endpoint("items-api", "GET", "/a", ok), endpoint("api", "GET", "/v1", { ...ok, type: "container" }), endpoint("api.example.com", "GET", "/", ok)],
          connections: [connection("postgres", "postgres", "database", 5432), connection("redis-server", "redis", "cache", 6379), connection("nats-server", "nats", "message_bus", 4222)],
          first_seen: T0,
          last_seen: T1,
        },
        { name: "web", image: "myorg/web:1.0", endpoints: [endpoint("client", "GET", "/", ok)], connections: [], first_seen: T0, last_seen: T1 },
      ],
    };
    const processes = [processFact(20, "python3", "items-api"), processFact(21, "curl", "client")];
    const view = Object.fromEntries(buildViewModel(map, processes).nodes.map((n) => [n.label, n.kind]));
    const graph = Object.fromEntries(mapGraph(map, { processNames: processes.map(serviceNameOf) }).nodes.map((n) => [n.name, n.kind]));
    expect(view).toEqual({
      api: "container",
      "api.example.com": "external",
      client: "service",
      "items-api": "service",
      "nats-server": "message_bus",
      postgres: "database",
      "redis-server": "cache",
      web: "container",
    });
    expect(graph).toEqual(view);
  });
});

describe("serviceNameOf", () => {
  it("names a process as the mapper names a source: ADI_PROFILE_NAME, else comm, else pid-<pid>", () => {
    expect(serviceNameOf({ adi_profile_name: "web", comm: "node", pid: 7 })).toBe("web");
    expect(serviceNameOf({ adi_profile_name: null, comm: "node", pid: 7 })).toBe("node");
    expect(serviceNameOf({ adi_profile_name: "", comm: "", pid: 7 })).toBe("pid-7");
  });
});
