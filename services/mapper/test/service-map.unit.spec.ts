import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ConnectionObservationSchema, HttpExchangeSchema, nsToIso, ProcessFactSchema } from "@adi/shared/wire";
import type { ConnectionObservation, Endpoint, HttpExchange, ProcessFact } from "@adi/shared/wire";
import { queryNames, ServiceMapBuilder, toYaml } from "../src/core/service-map.ts";
import type { ServiceMap } from "../src/core/service-map.ts";
import { isIdSegment } from "../src/core/observation.ts";
import { nextState, shuffle } from "../../../test/support/shuffle.ts";

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
        // The client's view: request at 0 ms, response's last byte at 5.2 ms (bucket 5–6 ms, interpolated).
        stats: {
          status_codes: { "200": 1 }, errors: 0, p50_ms: 5.5, p99_ms: 5.99,
          duration: expect.objectContaining({ count: 1, sum_ms: 5.2 }),
        },
        // The earliest view of the call (the client's, 50 µs before the server read it), bodies as sent.
        example: { ts: at(0), path: "/healthz", status: 200, request_body: null, response_body: '{"status":"ok"}' },
        query_params: [],
      }],
      connections: [],
      first_seen: at(0),
      last_seen: at(0),
    });
    expect(map.generated_at).toBe(at(5.25)); // the server's view of the response ends last
  });

  it("tallies status codes, errors and durations per endpoint from the client's view, whatever the order (issue 13)", () => {
    const calls: HttpExchange[] = [];
    const statuses = [200, 200, 500, 404, 0];
    statuses.forEach((status, i) => {
      for (const side of ["client", "server"] as const) {
        const x = view({ clientPort: 41000 + i, ms: i * 100 }, side);
        calls.push(status === 0 ? { ...x, response: null } : { ...x, response: { ...x.response!, status } });
      }
    });
    const build = (order: HttpExchange[]) => {
      const builder = builderWithNames();
      for (const x of order) builder.addExchange(x);
      return endpointsOf(builder.build(), "traffic-generator");
    };
    const entries = build(calls);
    // The unanswered call has no response body: an entry (variant) of its own.
    const [answered, unanswered] = [entries.find((e) => e.response_schema !== null)!, entries.find((e) => e.response_schema === null)!];
    expect(answered.count).toBe(4);
    expect(answered.stats.status_codes).toEqual({ "200": 2, "404": 1, "500": 1 });
    expect(answered.stats.errors).toBe(1);
    expect(answered.stats.duration).toMatchObject({ count: 4, sum_ms: 20.8 });
    expect(unanswered.stats).toMatchObject({ status_codes: { none: 1 }, errors: 1, p50_ms: null, duration: { count: 0 } });
    fc.assert(fc.property(fc.integer(), (seed) => {
      expect(build(shuffle(calls, seed))).toEqual(entries);
    }), { numRuns: 20 });
  });

  it("gives a templated route the earliest example whose path fits it and whose schemas are its own (issue 13)", () => {
    const builder = builderWithNames();
    // 25 ids: /items/{id}. The earliest call of each response shape is its variant's example.
    for (let i = 0; i < 25; i++) {
      builder.addExchange(view({ clientPort: 42000 + i, ms: 1000 - i, target: `/items/${i}`, respBody: i % 2 ? '{"id":1}' : '{"id":"x"}' }, "client"));
    }
    builder.addExchange(view({ clientPort: 42100, ms: 0, target: "/other", respBody: "x".repeat(600) }, "client")); // too long to show
    const entries = endpointsOf(builder.build(), "traffic-generator");
    const items = entries.filter((e) => e.path === "/items/{id}");
    expect(items.map((e) => [e.response_schema, e.example?.path, e.example?.response_body])).toEqual([
      [{ id: "number" }, "/items/23", '{"id":1}'],
      [{ id: "string" }, "/items/24", '{"id":"x"}'],
    ]);
    expect(entries.find((e) => e.path === "/other")!.example).toBeNull();
  });

  it("gives each client's entry an example of its own calls, never another client's to the same place", () => {
    const builder = builderWithNames();
    builder.addExchange(view({ clientPort: 43000, ms: 0, respBody: '{"status":"generator"}' }, "client"));
    builder.addExchange(view({ clientPort: 43001, ms: 50, clientPid: PIDS.logger, respBody: '{"status":"logger"}' }, "client"));
    const map = builder.build();
    expect(endpointsOf(map, "traffic-generator").map((e) => [e.example?.ts, e.example?.response_body])).toEqual([[at(0), '{"status":"generator"}']]);
    expect(endpointsOf(map, "request-logger").map((e) => [e.example?.ts, e.example?.response_body])).toEqual([[at(50), '{"status":"logger"}']]);
  });

  it("lists the query parameter names of a route's calls, over its concrete paths, never their values", () => {
    const builder = builderWithNames();
    for (let i = 0; i < 25; i++) builder.addExchange(view({ clientPort: 44000 + i, ms: i, target: `/items/${i}?page=${i}${i % 5 ? "" : "&sort=asc&q%20x=1&=v&"}` }, "client"));
    builder.addExchange(view({ clientPort: 44100, ms: 0, target: "/other" }, "client"));
    const entries = endpointsOf(builder.build(), "traffic-generator");
    expect(entries.find((e) => e.path === "/items/{id}")!.query_params).toEqual(["page", "q x", "sort"]);
    expect(entries.find((e) => e.path === "/other")!.query_params).toEqual([]);
  });

  it("counts distinct calls: next exchange on a connection, and a reused port later on", () => {
    const builder = builderWithNames();
    for (const call of [{ clientPort: 40000, ms: 0 }, { clientPort: 40000, ms: 10, seq: 1 }, { clientPort: 40000, ms: 5000 }]) {
      builder.addExchange(view(call, "client"));
      builder.addExchange(view(call, "server"));
    }
    expect(endpointsOf(builder.build(), "traffic-generator")).toMatchObject([{ count: 3, first_seen: at(0), last_seen: at(5000) }]);
  });

  it("pairs the two views of a call with a long target (its hash in the pairing key), and not two calls' views", () => {
    const builder = builderWithNames();
    const long = (q: string) => `/search?q=${q}&page=1&per_page=50&sort=relevance&fields=id,name,price`;
    // One call with a long target seen by both ends; on another connection, a client's call and a server's view of
    // a different target at the same index: four views, three calls.
    builder.addExchange(view({ clientPort: 40000, ms: 0, target: long("shoes") }, "client"));
    builder.addExchange(view({ clientPort: 40000, ms: 0, target: long("shoes") }, "server"));
    builder.addExchange(view({ clientPort: 40001, ms: 0, target: long("socks") }, "client"));
    builder.addExchange(view({ clientPort: 40001, ms: 0, target: long("scarf") }, "server"));
    // Two targets whose 32-bit FNV-1a hashes collide (a break test's find): still two calls.
    builder.addExchange(view({ clientPort: 40002, ms: 0, target: "/orders/list?id=199988" }, "client"));
    builder.addExchange(view({ clientPort: 40002, ms: 0, target: "/orders/list?id=1758476" }, "server"));
    const counts = builder.build().services.map((s) => [s.name, s.endpoints.reduce((n, e) => n + e.count, 0)]);
    expect(counts).toEqual([["external", 2], ["traffic-generator", 3]]); // the server-only calls: client not known
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
    for (const id of ["42", "3f2504e0-4f89-41d3-9a0c-0305e82c3301", "507f1f77bcf86cd799439011", "aGVsbG8gd29ybGQ2MDAwMDAwMDA"]) expect(isIdSegment(id)).toBe(true);
    for (const segment of ["", "healthz", "v2", "reviews", "me", "s3", "bucket", "user-profile-settings"]) expect(isIdSegment(segment)).toBe(false);
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

  it("folds a position by its number of values, not by their look: 40 report names are /reports/{param}", () => {
    const builder = new ServiceMapBuilder();
    const names = Array.from({ length: 40 }, (_, i) => `/reports/${String.fromCharCode(97 + (i % 26))}${"x".repeat(Math.floor(i / 26))}`);
    names.forEach((target, i) => builder.addExchange(view({ clientPort: 43000 + i, ms: i, target }, "client")));
    expect(builder.build().services[0]!.endpoints.map((e) => [e.path, e.count])).toEqual([["/reports/{param}", 40]]);
  });

  it("keeps 20 non-id names as they are (the Go tool's listing)", () => {
    const builder = new ServiceMapBuilder();
    for (let i = 0; i < 20; i++) builder.addExchange(view({ clientPort: 43000 + i, ms: i, target: `/reports/r${String.fromCharCode(97 + i)}` }, "client"));
    expect(builder.build().services[0]!.endpoints).toHaveLength(20);
  });
});

describe("ServiceMapBuilder: routes fold per service, by cardinality", () => {
  const WORKERS = [101, 102, 103, 104, 105, 106, 107, 108];
  const ratings = (workers: number[], ids: number, repeat = 1) =>
    Array.from({ length: ids * repeat }, (_, i) => view({ clientPort: 20000 + i, ms: i * 3, clientPid: workers[i % workers.length], target: `/ratings/${i % ids}` }, "client"));
  const named = (workers: number[], name: string, options = {}) => {
    const builder = new ServiceMapBuilder(options);
    for (const pid of workers) builder.addProcess(processFact(pid, name));
    return builder;
  };

  it("gunicorn with 8 workers calling /ratings/N for 26 ids: one route /ratings/{id} for the service", () => {
    const builder = named(WORKERS, "productpage");
    for (const e of ratings(WORKERS, 26, 3)) builder.addExchange(e);
    const map = builder.build();
    expect(map.services.map((s) => s.name)).toEqual(["productpage"]);
    expect(endpointsOf(map, "productpage").map((e) => [e.path, e.count])).toEqual([["/ratings/{id}", 78]]);
  });

  it("a server forking 4 workers that get 30 distinct ids: one route entry", () => {
    const workers = WORKERS.slice(0, 4);
    const builder = named(workers, "reviews", { settleAfterMs: 50 });
    for (const e of ratings(workers, 30)) builder.addExchange(e);
    expect(endpointsOf(builder.build(), "reviews").map((e) => [e.path, e.count])).toEqual([["/ratings/{id}", 30]]);
  });

  it("folds once the workers' names are known, as if they had been known first", () => {
    const late = new ServiceMapBuilder();
    for (const e of ratings(WORKERS, 26)) late.addExchange(e);
    // Unnamed, each worker is its own service (pid-101...) with at most 4 ids: nothing folds.
    expect(late.build().services).toHaveLength(8);
    expect(late.build().services.every((s) => s.endpoints.every((e) => !e.path.includes("{")))).toBe(true);
    for (const pid of WORKERS) late.addProcess(processFact(pid, "productpage"));
    const early = named(WORKERS, "productpage");
    for (const e of ratings(WORKERS, 26)) early.addExchange(e);
    expect(toYaml(late.build())).toBe(toYaml(early.build()));
    expect(endpointsOf(late.build(), "productpage").map((e) => e.path)).toEqual(["/ratings/{id}"]);
  });

  it("does not fold across services: two services with 13 ids each keep their paths", () => {
    const builder = new ServiceMapBuilder();
    builder.addProcess(processFact(201, "frontend"));
    builder.addProcess(processFact(202, "backoffice"));
    for (const e of ratings([201, 202], 26)) builder.addExchange(e);
    const map = builder.build();
    expect(endpointsOf(map, "frontend")).toHaveLength(13);
    expect(endpointsOf(map, "backoffice")).toHaveLength(13);
  });

  it("10,000 distinct /user/<random letters>: one route entry, tallies the size of the API", () => {
    const builder = named([PIDS.generator], "traffic-generator", { settleAfterMs: 100 });
    let state = 7;
    const word = () => {
      let w = "";
      for (let k = 0; k < 10; k++) {
        state = nextState(state);
        w += String.fromCharCode(97 + (state % 26));
      }
      return w;
    };
    let maxPending = 0;
    for (let i = 0; i < 10_000; i++) {
      builder.addExchange(view({ clientPort: 20000 + (i % 40000), ms: i, target: `/user/${word()}?q=${i}` }, "client"));
      maxPending = Math.max(maxPending, builder.size().pendingViews);
    }
    const map = builder.build();
    expect(endpointsOf(map, "traffic-generator").map((e) => [e.path, e.count])).toEqual([["/user/{param}", 10_000]]);
    expect(builder.size().tallies).toBeLessThanOrEqual(8);
    // The pairing window (100 ms here, one call per ms) holds about a window of views, not the run.
    expect(maxPending).toBeLessThanOrEqual(120);
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

describe("ServiceMapBuilder: bodies keyed by data", () => {
  it("lists up to 16 body shapes of a route, then one entry with schema varies; the schemas held stay bounded", () => {
    const builder = new ServiceMapBuilder({ settleAfterMs: 100 });
    builder.addProcess(processFact(PIDS.generator, "traffic-generator"));
    for (let i = 0; i < 3000; i++) {
      // {"<user name>": {...}}: a new shape every call.
      builder.addExchange(view({ clientPort: 20000 + i, ms: i, target: "/users/lookup", method: "POST", reqBody: '{"q":1}', respBody: `{"user${i}x":{"id":${i}}}` }, "client"));
    }
    const endpoints = endpointsOf(builder.build(), "traffic-generator");
    expect(endpoints.map((e) => [e.path, e.request_schema, e.response_schema, e.count])).toEqual([["/users/lookup", "varies", "varies", 3000]]);
    expect(builder.size().schemas).toBeLessThanOrEqual(1024 + 200);
    expect(builder.size().tallies).toBeLessThanOrEqual(10);
  });

  it("keeps 16 shapes apart, in any order", () => {
    const calls = Array.from({ length: 32 }, (_, i) => view({ clientPort: 20000 + i, ms: i, target: "/shape", respBody: `{"k${i % 16}":1}` }, "client"));
    const render = (order: HttpExchange[]) => {
      const b = new ServiceMapBuilder();
      for (const c of order) b.addExchange(c);
      return b.build().services[0]!.endpoints.map((e) => [JSON.stringify(e.response_schema), e.count]);
    };
    const expected = render(calls);
    expect(expected).toHaveLength(16);
    expect(render([...calls].reverse())).toEqual(expected);
  });
});

describe("ServiceMapBuilder: callers that are a new process per call", () => {
  // A shell loop of curl: 1,200 processes over 40 min of capture time, each started, calling twice, and gone.
  const events = (withExits: boolean) => {
    const out: ((b: ServiceMapBuilder) => void)[] = [];
    for (let k = 0; k < 1200; k++) {
      const pid = 1000 + k;
      const ms = k * 2000;
      out.push((b) => b.addProcess(processFact(pid, "prober", ms)));
      for (const j of [0, 1]) out.push((b) => b.addExchange(view({ clientPort: 30000 + ((2 * k + j) % 30000), ms: ms + j * 10, clientPid: pid, target: "/healthz" }, "client")));
      if (withExits) out.push((b) => b.addProcess({ ...processFact(pid, "prober", ms + 50), event: "exit" }));
    }
    return out;
  };

  it("keeps the tallies of processes long gone under their service: bounded, and the same map", () => {
    const compacted = new ServiceMapBuilder();
    for (const e of events(true)) e(compacted);
    const perProcess = new ServiceMapBuilder();
    for (const e of events(false)) e(perProcess);
    expect(toYaml(compacted.build())).toBe(toYaml(perProcess.build()));
    expect(endpointsOf(compacted.build(), "prober").map((e) => [e.path, e.count])).toEqual([["/healthz", 2400]]);
    // Processes gone more than 10 min ago share one tree; those of the last 10 (+1) min still have their own
    // (4 nodes each): bounded by the process rate, not the run.
    expect(perProcess.size().tallies).toBeGreaterThanOrEqual(4 * 1100); // the last 60 s are still pending pairing
    expect(compacted.size().tallies).toBeLessThanOrEqual(4 * 330 + 10);
  });

  it("gives the same map in any order (exits before execs, calls after their process was settled)", () => {
    const expected = (() => {
      const b = new ServiceMapBuilder();
      for (const e of events(false)) e(b);
      return toYaml(b.build());
    })();
    fc.assert(
      fc.property(fc.integer(), (seed) => {
        const b = new ServiceMapBuilder();
        for (const e of shuffle(events(true), seed)) e(b);
        expect(toYaml(b.build())).toBe(expected);
      }),
      { seed: 99, numRuns: 5 },
    );
  }, 60_000);

  it("names the settled tallies after a container learned later", () => {
    const builder = new ServiceMapBuilder();
    for (let k = 0; k < 400; k++) {
      const pid = 5000 + k;
      builder.addProcess({ ...processFact(pid, "job", k * 2000), container_id: "abc" });
      builder.addExchange(view({ clientPort: 30000 + k, ms: k * 2000, clientPid: pid, target: "/ping" }, "client"));
      builder.addProcess({ ...processFact(pid, "job", k * 2000 + 5), container_id: "abc", event: "exit" });
    }
    builder.names.addIdentity({ container_id: "abc", service: "batch", image: "batch:1", container_name: "batch-1", ips: [] });
    const map = builder.build();
    expect(map.services.map((s) => [s.name, s.image])).toEqual([["batch", "batch:1"]]);
    expect(endpointsOf(map, "batch").map((e) => e.count)).toEqual([400]);
  });
});

describe("queryNames", () => {
  it.each([
    ["/a", []],
    ["/a?", []],
    ["/a?x=1&y&z=2#frag&w=3", ["x", "y", "z"]],
    ["/a?a%20b=1&c+d=2&%E2%82%AC=3", ["a b", "c d", "€"]],
    ["/a?%ZZ=1&=2&&", ["%ZZ"]],
    [`/a?${"n".repeat(200)}=1&ok=2`, ["ok"]],
  ])("%s", (target, names) => {
    expect(queryNames(target)).toEqual(names);
  });
});
