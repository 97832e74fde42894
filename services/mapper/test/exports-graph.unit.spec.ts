// `adi export mermaid` and `adi export dot` from hand-built service maps: one graph (mapGraph) drawn twice, the
// exact text of each for a small map, and names that would break either language (quotes, spaces, unicode,
// keywords, markup) kept as labels behind plain ids.
import { describe, expect, it } from "vitest";
import { fromDot } from "ts-graphviz";
import { callStats, endpointStats } from "../src/core/call-stats.ts";
import type { ConnectionEntry, EndpointEntry, ServiceEntry, ServiceMap } from "../src/core/map-types.ts";
import { edgeLabel, mapGraph, mermaidText, toDotGraph, toMermaid } from "../src/core/exports/index.ts";

const T0 = "2026-03-01T10:00:00.000000000Z";

function http(destination: string, method: string, path: string, count: number, destination_type: EndpointEntry["destination_type"] = "external"): EndpointEntry {
  return {
    destination, destination_type, method, path, request_schema: null, response_schema: null, first_seen: T0, last_seen: T0, count,
    stats: endpointStats(callStats(200, 1000)), example: null,
  };
}

function conn(destination: string, protocol: string, category: string, port: number): ConnectionEntry {
  return { destination, destination_type: "external", protocol, category, port, confidence: 90, reason: "fingerprint", first_seen: T0, last_seen: T0, count: 1 };
}

function service(name: string, endpoints: EndpointEntry[], connections: ConnectionEntry[] = []): ServiceEntry {
  return { name, image: null, endpoints, connections, first_seen: T0, last_seen: T0 };
}

/** web calls api (a container destination) and an external host over HTTP, and a database, a cache and a bus; worker the bus. */
function smallMap(): ServiceMap {
  return {
    generated_at: T0,
    services: [
      service("worker", [], [conn("bus", "nats", "message_bus", 4222)]),
      service(
        "web",
        [http("api", "GET", "/a", 3, "container"), http("api", "GET", "/b", 1, "container"), http("api", "GET", "/a", 2, "container"), http("api.example.com", "GET", "/x", 1)],
        [conn("db", "postgres", "database", 5432), conn("cache", "redis", "cache", 6379), conn("bus", "nats", "message_bus", 4222)],
      ),
    ],
  };
}

describe("the map's graph (shared by Mermaid and DOT)", () => {
  it("has a node per service and destination, kind by what it is, and an edge per caller and destination", () => {
    expect(mapGraph(smallMap())).toEqual({
      nodes: [
        { name: "api", id: "n_api", kind: "container" },
        { name: "api.example.com", id: "n_api_example_com", kind: "external" },
        { name: "bus", id: "n_bus", kind: "message_bus" },
        { name: "cache", id: "n_cache", kind: "cache" },
        { name: "db", id: "n_db", kind: "database" },
        { name: "web", id: "n_web", kind: "service" },
        { name: "worker", id: "n_worker", kind: "service" },
      ],
      edges: [
        // Two entries of GET /a (two variants) are one endpoint; their calls add up.
        { from: "n_web", to: "n_api", http: { endpoints: 2, calls: 6 }, protocols: [], label: "HTTP 2 endpoints, 6 calls" },
        { from: "n_web", to: "n_api_example_com", http: { endpoints: 1, calls: 1 }, protocols: [], label: "HTTP 1 endpoint, 1 call" },
        { from: "n_web", to: "n_bus", http: null, protocols: ["nats"], label: "nats" },
        { from: "n_web", to: "n_cache", http: null, protocols: ["redis"], label: "redis" },
        { from: "n_web", to: "n_db", http: null, protocols: ["postgres"], label: "postgres" },
        { from: "n_worker", to: "n_bus", http: null, protocols: ["nats"], label: "nats" },
      ],
    });
  });

  it("sums HTTP and connections on one edge, and a service that is also a database stays a service", () => {
    const map: ServiceMap = {
      generated_at: T0,
      services: [service("a", [http("b", "GET", "/", 2)], [conn("b", "redis", "cache", 6379), conn("b", "postgres", "database", 5432)]), service("b", [], [])],
    };
    expect(mapGraph(map).edges.map((e) => e.label)).toEqual(["HTTP 1 endpoint, 2 calls; postgres, redis"]);
    expect(mapGraph(map).nodes.map((n) => n.kind)).toEqual(["service", "service"]);
    expect(mapGraph({ ...map, services: [map.services[0]!] }).nodes.map((n) => n.kind)).toEqual(["service", "database"]);
    expect(edgeLabel(null, [])).toBe("");
  });

  it("takes each node's kind from NODE_KIND_RULES, the inventory's process names included", () => {
    const map: ServiceMap = {
      generated_at: T0,
      services: [
        service("client", [http("items-api", "GET", "/a", 1), http("elsewhere", "GET", "/", 1)]),
        { ...service("web", [], [conn("q", "redis", "cache", 6379), conn("q", "nats", "message_bus", 4222)]), image: "org/web:1" },
        // The mapper's name for a caller known only by its address: drawn as what it is, not as a service.
        service("external", [http("client", "GET", "/in", 1)]),
      ],
    };
    const kinds = (processNames?: string[]) => Object.fromEntries(mapGraph(map, { processNames }).nodes.map((n) => [n.name, n.kind]));
    // items-api only answers: external unless an opted-in process carries its name; a name the map lacks adds no node.
    expect(kinds()).toEqual({ client: "service", elsewhere: "external", external: "external", "items-api": "external", q: "message_bus", web: "container" });
    expect(kinds(["items-api", "ghost"])).toEqual({ client: "service", elsewhere: "external", external: "external", "items-api": "service", q: "message_bus", web: "container" });
    expect(toMermaid(map, { processNames: ["items-api"] })).toContain('  n_items_api["items-api"]\n');
    expect(toDotGraph(map, { processNames: ["items-api"] })).toContain('  "n_items_api" [\n    label = "items-api";\n    shape = "box";\n');
    expect(toMermaid(map)).toContain('  n_items_api(["items-api"])\n');
  });

  it("is the same whatever the order of the map's services and entries", () => {
    const map = smallMap();
    const reversed: ServiceMap = { ...map, services: map.services.map((s) => ({ ...s, endpoints: [...s.endpoints].reverse(), connections: [...s.connections].reverse() })).reverse() };
    expect(toMermaid(reversed)).toBe(toMermaid(map));
    expect(toDotGraph(reversed)).toBe(toDotGraph(map));
  });
});

describe("Mermaid", () => {
  it("draws the small map as a left-to-right flowchart, shapes by kind", () => {
    expect(toMermaid(smallMap())).toBe(
      [
        "flowchart LR",
        '  n_api[["api"]]',
        '  n_api_example_com(["api.example.com"])',
        '  n_bus[/"bus"/]',
        '  n_cache{{"cache"}}',
        '  n_db[("db")]',
        '  n_web["web"]',
        '  n_worker["worker"]',
        '  n_web -->|"HTTP 2 endpoints, 6 calls"| n_api',
        '  n_web -->|"HTTP 1 endpoint, 1 call"| n_api_example_com',
        '  n_web -->|"nats"| n_bus',
        '  n_web -->|"redis"| n_cache',
        '  n_web -->|"postgres"| n_db',
        '  n_worker -->|"nats"| n_bus',
        "",
      ].join("\n"),
    );
  });

  it("escapes odd names in labels and keeps ids plain and unique", () => {
    const odd = ['a b', "a_b", "café ☕", "end", "x|y<z>#1%\\`&", "two\nlines"];
    const map: ServiceMap = { generated_at: T0, services: [service('we"b', odd.map((d) => http(d, "GET", "/", 1)))] };
    expect(toMermaid(map)).toBe(
      [
        "flowchart LR",
        '  n_a_b(["a b"])',
        '  n_a_b_2(["a_b"])',
        '  n_caf___(["café ☕"])',
        '  n_end(["end"])',
        '  n_two_lines(["two lines"])',
        '  n_we_b["we#quot;b"]',
        '  n_x_y_z__1____(["x#124;y#lt;z#gt;#35;1#37;#92;#96;#amp;"])',
        '  n_we_b -->|"HTTP 1 endpoint, 1 call"| n_a_b',
        '  n_we_b -->|"HTTP 1 endpoint, 1 call"| n_a_b_2',
        '  n_we_b -->|"HTTP 1 endpoint, 1 call"| n_caf___',
        '  n_we_b -->|"HTTP 1 endpoint, 1 call"| n_end',
        '  n_we_b -->|"HTTP 1 endpoint, 1 call"| n_two_lines',
        '  n_we_b -->|"HTTP 1 endpoint, 1 call"| n_x_y_z__1____',
        "",
      ].join("\n"),
    );
    expect(mermaidText('say "hi" #1')).toBe("say #quot;hi#quot; #35;1");
  });
});

describe("DOT", () => {
  it("draws the small map as a left-to-right digraph, shapes by kind", () => {
    expect(toDotGraph(smallMap())).toBe(`digraph "adi" {
  rankdir = "LR";
  "n_api" [
    label = "api";
    shape = "box3d";
  ];
  "n_api_example_com" [
    label = "api.example.com";
    shape = "ellipse";
    style = "dashed";
  ];
  "n_bus" [
    label = "bus";
    shape = "parallelogram";
  ];
  "n_cache" [
    label = "cache";
    shape = "hexagon";
  ];
  "n_db" [
    label = "db";
    shape = "cylinder";
  ];
  "n_web" [
    label = "web";
    shape = "box";
  ];
  "n_worker" [
    label = "worker";
    shape = "box";
  ];
  "n_web" -> "n_api" [
    label = "HTTP 2 endpoints, 6 calls";
  ];
  "n_web" -> "n_api_example_com" [
    label = "HTTP 1 endpoint, 1 call";
  ];
  "n_web" -> "n_bus" [
    label = "nats";
  ];
  "n_web" -> "n_cache" [
    label = "redis";
  ];
  "n_web" -> "n_db" [
    label = "postgres";
  ];
  "n_worker" -> "n_bus" [
    label = "nats";
  ];
}
`);
  });

  it("shows the same nodes and edges as the Mermaid flowchart", () => {
    const mermaid = toMermaid(smallMap());
    const dot = fromDot(toDotGraph(smallMap()));
    const mermaidEdges = [...mermaid.matchAll(/^ {2}(\S+) -->\|"([^"]*)"\| (\S+)$/gm)].map((m) => [m[1], m[3], m[2]]);
    expect(dot.edges.map((e) => [...e.targets.map((t) => (t as { id: string }).id), e.attributes.get("label")])).toEqual(mermaidEdges);
    expect(dot.nodes.map((n) => n.id)).toEqual([...mermaid.matchAll(/^ {2}(n_\w+)[[({]/gm)].map((m) => m[1]));
  });

  it("escapes odd names so that the text parses back to the same labels", () => {
    const odd = ['a "quoted" b', "café ☕", "back\\slash", "ends in \\", "graph", "two\nlines"];
    const map: ServiceMap = { generated_at: T0, services: [service("c", odd.map((d) => http(d, "GET", "/", 1)))] };
    const text = toDotGraph(map);
    expect(text).toContain('  "n_a__quoted__b" [\n    label = "a \\"quoted\\" b";\n');
    expect(text).toContain('    label = "ends in \\\\";\n');
    expect(text).toContain('    label = "two lines";\n');
    const parsed = fromDot(text);
    // DOT keeps a label's escapes for Graphviz to read (\" is a quote, \\ a backslash): undone here as it does.
    const labels = parsed.nodes.map((n) => String(n.attributes.get("label")).replace(/\\(["\\])/g, "$1"));
    expect(labels).toEqual(["a \"quoted\" b", "back\\slash", "c", "café ☕", "ends in \\", "graph", "two lines"]);
    expect(parsed.edges).toHaveLength(odd.length);
  });
});
