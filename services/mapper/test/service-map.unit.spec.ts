import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ConnectionObservationSchema, HttpExchangeSchema } from "@adi/shared/wire/derived";
import type { ConnectionObservation, Endpoint, HttpExchange } from "@adi/shared/wire/derived";
import { nsToIso, ProcessFactSchema } from "@adi/shared/wire/facts";
import type { ProcessFact } from "@adi/shared/wire/facts";
import { ServiceMapBuilder, toYaml } from "../src/core/service-map.ts";
import type { ServiceMap } from "../src/core/service-map.ts";
import { routeOf } from "../src/core/observation.ts";

const BOOT = "11111111-2222-4333-8444-555555555555";
const at = (ms: number) => nsToIso(1_712_600_650_000_000_000n + BigInt(Math.round(ms * 1000)) * 1000n);
const HOST_IP = "10.0.0.1";
const SERVER: Endpoint = { ip: HOST_IP, port: 8080 };
const PIDS = { generator: 10, service: 20, logger: 30, db: 40 };

function processFact(pid: number, name: string, ms = 0): ProcessFact {
  return ProcessFactSchema.parse({
    v: 1, type: "process", event: "scan", ts: at(ms), host: "a", boot_id: BOOT, pid, start_ticks: 100, ppid: 1,
    comm: name.slice(0, 15), exe: null, cmdline: `/bin/${name}`, cgroup: null, container_id: null,
    adi_profile_match: "local", adi_profile_name: name, optin: "yes", env: {}, env_redacted: true, error: null, exit_code: null,
  });
}

interface CallSpec {
  clientPort: number;
  ms: number;
  clientPid?: number;
  server?: Endpoint;
  seq?: number;
  method?: string;
  target?: string;
  host?: string | null;
  reqBody?: string | null;
  respBody?: string | null;
}

function message(ms: number, body: string | null, headers: [string, string][]) {
  return { ts: at(ms), end_ts: at(ms + 0.2), version: "1.1", headers, body, body_size: body?.length ?? 0, body_truncated: false, body_binary: false, raw: "" };
}

/** One side's observation of a call; the server reads the request 50 µs after the client wrote it. */
function view(call: CallSpec, side: "client" | "server"): HttpExchange {
  const client = { ip: HOST_IP, port: call.clientPort };
  const server = call.server ?? SERVER;
  const [local, remote] = side === "client" ? [client, server] : [server, client];
  const ms = call.ms + (side === "server" ? 0.05 : 0);
  const headers: [string, string][] = call.host === null ? [] : [["Host", call.host ?? `${server.ip}:${server.port}`]];
  return HttpExchangeSchema.parse({
    v: 1, type: "http_exchange", host: "a", boot_id: BOOT, conn_id: String(call.clientPort * 2 + (side === "server" ? 1 : 0)), side,
    pid: side === "client" ? (call.clientPid ?? PIDS.generator) : PIDS.service, start_ticks: 100, local, remote, family: 4, transport: "tcp",
    seq: call.seq ?? 0, client, server,
    request: { ...message(ms, call.reqBody ?? null, headers), method: call.method ?? "GET", target: call.target ?? "/healthz" },
    response: { ...message(ms + 5, call.respBody === undefined ? '{"status":"ok"}' : call.respBody, []), status: 200, reason: "OK" },
    latency_ns: 5_000_000,
  });
}

function connection(clientPort: number, ms: number, side: "client" | "server", overrides: Partial<ConnectionObservation> = {}): ConnectionObservation {
  const client = { ip: HOST_IP, port: clientPort };
  const server = { ip: HOST_IP, port: 5432 };
  const [local, remote] = side === "client" ? [client, server] : [server, client];
  return ConnectionObservationSchema.parse({
    v: 1, type: "connection", host: "a", boot_id: BOOT, conn_id: String(clientPort * 2 + (side === "server" ? 1 : 0)), side,
    pid: side === "client" ? PIDS.generator : PIDS.db, start_ticks: 100, local, remote, family: 4, transport: "tcp",
    ts: at(ms + (side === "server" ? 0.05 : 0)), client, server, protocol: "postgres", category: "database", confidence: 90,
    reason: "port 5432, valid Postgres startup/SSLRequest header",
    evidence: { rule: "postgres", port_match: true, fingerprint_match: true, from: "client", first_bytes_hex: "" }, tls: null,
    ...overrides,
  });
}

function builderWithNames(options = {}): ServiceMapBuilder {
  const builder = new ServiceMapBuilder(options);
  builder.addProcess(processFact(PIDS.generator, "traffic-generator"));
  builder.addProcess(processFact(PIDS.service, "http-service"));
  builder.addProcess(processFact(PIDS.logger, "request-logger"));
  builder.addProcess(processFact(PIDS.db, "postgres"));
  return builder;
}

const endpointsOf = (map: ServiceMap, name: string) => map.services.find((s) => s.name === name)?.endpoints ?? [];

describe("ServiceMapBuilder: HTTP endpoints", () => {
  it("counts a call seen by both ends once, under the client's name, with the server's name as destination", () => {
    const builder = builderWithNames();
    builder.addExchange(view({ clientPort: 40000, ms: 0 }, "server"));
    builder.addExchange(view({ clientPort: 40000, ms: 0 }, "client"));
    const map = builder.build();
    expect(map.services.map((s) => s.name)).toEqual(["traffic-generator"]);
    expect(map.services[0]).toEqual({
      name: "traffic-generator",
      image: null,
      endpoints: [{
        destination: "http-service", destination_type: "external", method: "GET", path: "/healthz",
        request_schema: null, response_schema: { status: "string" }, first_seen: at(0), last_seen: at(0), count: 1,
      }],
      connections: [],
      first_seen: at(0),
      last_seen: at(0),
    });
    expect(map.generated_at).toBe(at(5.25)); // the server's view of the response ends last
  });

  it("counts distinct calls: next exchange on a connection, and a reused port later on", () => {
    const builder = builderWithNames();
    for (const call of [{ clientPort: 40000, ms: 0 }, { clientPort: 40000, ms: 10, seq: 1 }, { clientPort: 40000, ms: 5000 }]) {
      builder.addExchange(view(call, "client"));
      builder.addExchange(view(call, "server"));
    }
    expect(endpointsOf(builder.build(), "traffic-generator")).toMatchObject([{ count: 3, first_seen: at(0), last_seen: at(5000) }]);
  });

  it("ignores an observation delivered twice", () => {
    const builder = builderWithNames();
    builder.addExchange(view({ clientPort: 40000, ms: 0 }, "client"));
    builder.addExchange(view({ clientPort: 40000, ms: 0 }, "client"));
    expect(endpointsOf(builder.build(), "traffic-generator")[0]?.count).toBe(1);
  });

  it("files a server-only call under the client's name from its address, else external", () => {
    const builder = builderWithNames();
    builder.addExchange(view({ clientPort: 40000, ms: 0 }, "server"));
    expect(builder.build().services.map((s) => [s.name, s.endpoints[0]?.destination])).toEqual([["external", "http-service"]]);
    builder.names.addIdentity({ container_id: "c1", service: "frontend", image: "frontend:3", container_name: "frontend-1", ips: [HOST_IP] });
    const map = builder.build();
    expect(map.services.map((s) => [s.name, s.image])).toEqual([["frontend", "frontend:3"]]);
  });

  it("names an unknown destination after the Host header, else its address", () => {
    const builder = builderWithNames();
    builder.addExchange(view({ clientPort: 40000, ms: 0, server: { ip: "93.184.215.14", port: 443 }, host: "api.example.com" }, "client"));
    builder.addExchange(view({ clientPort: 40001, ms: 0, server: { ip: "93.184.215.14", port: 80 }, host: null }, "client"));
    expect(endpointsOf(builder.build(), "traffic-generator").map((e) => [e.destination, e.destination_type])).toEqual([
      ["93.184.215.14:80", "external"],
      ["api.example.com", "external"],
    ]);
  });

  it("keeps schema variants apart, and the same shape with other values together", () => {
    const builder = builderWithNames();
    const calls: CallSpec[] = [
      { clientPort: 40000, ms: 0, method: "POST", target: "/echo?id=1", reqBody: '{"message":"a"}', respBody: '{"echo":"a"}' },
      { clientPort: 40001, ms: 1, method: "POST", target: "/echo?id=2", reqBody: '{"message":"b"}', respBody: '{"echo":"b"}' },
      { clientPort: 40002, ms: 2, method: "POST", target: "/echo", reqBody: '{"message":"c"}', respBody: '{"error":"too long","code":413}' },
      { clientPort: 40003, ms: 3, method: "POST", target: "/echo", reqBody: "not json", respBody: "" },
    ];
    for (const call of calls) builder.addExchange(view(call, "client"));
    const schemas = endpointsOf(builder.build(), "traffic-generator").map((e) => [e.path, e.request_schema, e.response_schema, e.count]);
    expect(schemas).toHaveLength(3);
    expect(schemas).toEqual(expect.arrayContaining([
      ["/echo", { message: "string" }, { echo: "string" }, 2],
      ["/echo", { message: "string" }, { code: "number", error: "string" }, 1],
      ["/echo", "non-json", null, 1],
    ]));
  });

  it("names a process learned after its calls", () => {
    const builder = new ServiceMapBuilder();
    builder.addExchange(view({ clientPort: 40000, ms: 0, clientPid: 77 }, "client"));
    expect(builder.build().services[0]?.name).toBe("pid-77");
    builder.addProcess(processFact(77, "late-comer"));
    expect(builder.build().services[0]?.name).toBe("late-comer");
  });

  it("counts correctly across settling, and pairs views that arrive within the window", () => {
    const builder = builderWithNames({ settleAfterMs: 1000 });
    for (let i = 0; i < 50; i++) {
      const call = { clientPort: 40000 + i, ms: i * 300 };
      builder.addExchange(view(call, i % 2 ? "client" : "server"));
      builder.addExchange(view(call, i % 2 ? "server" : "client"));
    }
    expect(endpointsOf(builder.build(), "traffic-generator")).toMatchObject([{ count: 50, first_seen: at(0), last_seen: at(49 * 300) }]);
  });
});

describe("ServiceMapBuilder: routes (paths that differ only in ids)", () => {
  it("tells id segments from route segments", () => {
    expect(routeOf("/api/items/42")).toBe("/api/items/{id}");
    expect(routeOf("/api/items/42/reviews/7")).toBe("/api/items/{id}/reviews/{id}");
    expect(routeOf("/users/3f2504e0-4f89-41d3-9a0c-0305e82c3301")).toBe("/users/{id}");
    expect(routeOf("/objects/507f1f77bcf86cd799439011")).toBe("/objects/{id}");
    expect(routeOf("/files/aGVsbG8gd29ybGQ2MDAwMDAwMDA")).toBe("/files/{id}");
    for (const path of ["/", "/healthz", "/api/v2/items", "/reviews", "/api/users/me", "/s3/bucket", "/a/b/c"]) expect(routeOf(path)).toBe(path);
  });

  const calls = (n: number, ms = 0) => Array.from({ length: n }, (_, i) => view({ clientPort: 41000 + i, ms: ms + i, target: `/items/${i}?full=1` }, "client"));

  it("lists paths as seen (the Go tool's behaviour) up to 20 per route", () => {
    const builder = new ServiceMapBuilder();
    for (const c of calls(20)) builder.addExchange(c);
    const endpoints = builder.build().services[0]!.endpoints;
    expect(endpoints.map((e) => e.path).sort()).toEqual(Array.from({ length: 20 }, (_, i) => `/items/${i}`).sort());
    expect(endpoints.every((e) => e.count === 1)).toBe(true);
  });

  it("shows a route with more distinct paths once, as /items/{id}, with every call counted", () => {
    const builder = new ServiceMapBuilder();
    for (const c of calls(500)) builder.addExchange(c);
    builder.addExchange(view({ clientPort: 42000, ms: 600, target: "/items" }, "client"));
    const endpoints = builder.build().services[0]!.endpoints;
    expect(endpoints.map((e) => [e.path, e.count])).toEqual([["/items", 1], ["/items/{id}", 500]]);
    expect(endpoints[1]).toMatchObject({ first_seen: at(0), last_seen: at(499), response_schema: { status: "string" } });
  });

  it("collapses the same way whatever the order, also across the settled and the pending part", () => {
    const events = calls(60, 0).concat(calls(60, 30_000).map((c, i) => ({ ...c, conn_id: `9${i}` })));
    const render = (order: HttpExchange[]) => {
      const b = new ServiceMapBuilder();
      for (const e of order) b.addExchange(e);
      return toYaml(b.build());
    };
    const expected = render(events);
    expect(expected).toContain("path: /items/{id}");
    expect(expected).toContain("count: 120");
    fc.assert(
      fc.property(fc.integer(), (seed) => {
        expect(render(shuffle(events, seed))).toBe(expected);
      }),
      { seed: 11, numRuns: 30 },
    );
  });

  it("never collapses routes without id segments, however many there are", () => {
    const builder = new ServiceMapBuilder();
    const names = Array.from({ length: 40 }, (_, i) => `/reports/${String.fromCharCode(97 + (i % 26))}${"x".repeat(Math.floor(i / 26))}`);
    names.forEach((target, i) => builder.addExchange(view({ clientPort: 43000 + i, ms: i, target }, "client")));
    expect(builder.build().services[0]!.endpoints).toHaveLength(40);
  });
});

describe("ServiceMapBuilder: connections", () => {
  it("counts a connection seen by both ends once, and keeps the Go map's categories", () => {
    const builder = builderWithNames();
    builder.addConnection(connection(50000, 0, "client"));
    builder.addConnection(connection(50000, 0, "server"));
    builder.addConnection(connection(50001, 20, "client", { confidence: 60, reason: "port 5432" }));
    builder.addConnection(connection(50002, 30, "client", { protocol: "http", category: "web", server: { ip: HOST_IP, port: 5432 } }));
    const map = builder.build();
    expect(map.services).toHaveLength(1);
    expect(map.services[0]?.connections).toEqual([{
      destination: "postgres", destination_type: "external", protocol: "postgres", category: "database", port: 5432, confidence: 90,
      reason: "port 5432, valid Postgres startup/SSLRequest header", first_seen: at(0), last_seen: at(20), count: 2,
    }]);
    expect(map.generated_at).toBe(at(30));
  });

  it("lists other categories when asked", () => {
    const builder = builderWithNames({ connectionCategories: ["web"] });
    builder.addConnection(connection(50002, 30, "client", { protocol: "tls", category: "web", tls: { sni: "api.stripe.com" }, server: { ip: "54.1.2.3", port: 443 }, remote: { ip: "54.1.2.3", port: 443 } }));
    expect(builder.build().services[0]?.connections.map((c) => [c.destination, c.port])).toEqual([["api.stripe.com", 443]]);
  });

  it("builds an empty map before anything was seen", () => {
    expect(new ServiceMapBuilder().build()).toEqual({ generated_at: null, services: [] });
  });
});

describe("ServiceMapBuilder: order independence", () => {
  const callArb = fc.record({
    client: fc.constantFrom(PIDS.generator, PIDS.logger),
    target: fc.constantFrom("/", "/healthz", "/echo?x=1", "/slow"),
    seenBy: fc.constantFrom("client", "server", "both") as fc.Arbitrary<"client" | "server" | "both">,
    // Within the pairing window (10 s): order independence holds for calls whose views are not later than it.
    ms: fc.integer({ min: 0, max: 9_000 }),
    respBody: fc.constantFrom('{"a":1}', '{"b":"x"}', "", "<html>"),
    redelivered: fc.boolean(),
  });

  it("builds the same map from the same events in any order", () => {
    fc.assert(
      fc.property(fc.array(callArb, { minLength: 1, maxLength: 25 }), fc.array(fc.integer({ min: 0, max: 9_000 }), { maxLength: 5 }), fc.integer(), (calls, conns, seed) => {
        const events: (() => (b: ServiceMapBuilder) => void)[] = [];
        calls.forEach((c, i) => {
          const spec: CallSpec = { clientPort: 40000 + i, ms: c.ms, clientPid: c.client, target: c.target, respBody: c.respBody };
          const sides = c.seenBy === "both" ? (["client", "server"] as const) : [c.seenBy];
          for (const side of sides) events.push(() => (b) => b.addExchange(view(spec, side)));
          if (c.redelivered) events.push(() => (b) => b.addExchange(view(spec, sides[0])));
        });
        conns.forEach((ms, i) => events.push(() => (b) => b.addConnection(connection(50000 + i, ms, i % 2 ? "client" : "server"))));
        const facts = [PIDS.generator, PIDS.service, PIDS.logger, PIDS.db].map((pid, i) => processFact(pid, ["traffic-generator", "http-service", "request-logger", "postgres"][i] as string));
        facts.forEach((f) => events.push(() => (b) => b.addProcess(f)));

        const inOrder = new ServiceMapBuilder();
        for (const e of events) e()(inOrder);
        const shuffled = new ServiceMapBuilder();
        for (const e of shuffle(events, seed)) e()(shuffled);

        const map = shuffled.build();
        expect(map).toEqual(inOrder.build());
        expect(toYaml(map)).toBe(toYaml(inOrder.build()));
        const total = map.services.flatMap((s) => s.endpoints).reduce((n, e) => n + e.count, 0);
        expect(total).toBe(calls.length);
      }),
      { seed: 4242, numRuns: 200 },
    );
  });
});

/** Deterministic Fisher-Yates from a fast-check integer (fast-check owns the randomness and the seed). */
function shuffle<T>(items: T[], seed: number): T[] {
  const out = [...items];
  let state = seed >>> 0;
  for (let i = out.length - 1; i > 0; i--) {
    state = (Math.imul(state, 1_664_525) + 1_013_904_223) >>> 0;
    const j = state % (i + 1);
    [out[i], out[j]] = [out[j] as T, out[i] as T];
  }
  return out;
}
