import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { toYaml } from "../src/core/service-map.ts";
import type { ConnectionEntry, EndpointEntry, ServiceMap } from "../src/core/service-map.ts";

const T0 = "2024-04-08T18:24:10.000000000Z";
const T1 = "2024-04-08T18:30:00.000000000Z";
/** One object used by two endpoints, as the builder shares interned schemas. */
const REVIEWS = { clustername: "string", id: "string", reviews: [{ reviewer: "string", text: "string" }] };

function endpoint(path: string, response_schema: EndpointEntry["response_schema"]): EndpointEntry {
  return {
    destination: "reviews", destination_type: "container", method: "GET", path, request_schema: null, response_schema,
    first_seen: T0, last_seen: T1, count: 150,
    stats: { status_codes: { "200": 150 }, errors: 0, p50_ms: 1, p99_ms: 2, duration: { bounds_ms: [1, 2], counts: [75, 75, 0], count: 150, sum_ms: 200 } },
    example: null,
  };
}

const POSTGRES: ConnectionEntry = {
  destination: "postgres", destination_type: "container", protocol: "postgres", category: "database", port: 5432,
  confidence: 90, reason: "port 5432, valid Postgres startup/SSLRequest header", first_seen: T0, last_seen: T1, count: 1,
};

/** The Go README's example, plus what it does not show: a null schema type, non-json, an empty array. */
const MAP: ServiceMap = {
  generated_at: T1,
  services: [
    {
      name: "productpage",
      image: "docker.io/istio/examples-bookinfo-productpage-v1:1.20.1",
      endpoints: [endpoint("/reviews/0", REVIEWS), endpoint("/reviews/1", REVIEWS)],
      connections: [POSTGRES],
      first_seen: T0,
      last_seen: T1,
    },
    {
      name: "reviews",
      image: null,
      endpoints: [endpoint("/ratings/0", { rating: "number", note: "null", tags: [] }), endpoint("/health", "non-json")],
      connections: [],
      first_seen: T0,
      last_seen: T1,
    },
  ],
};

describe("toYaml", () => {
  it("parses back to the same map, a service without connections having no such key (as in the Go README)", () => {
    const parsed = parse(toYaml(MAP));
    // The RED figures are the view's and the exports': SERVICE_MAP_PATH keeps the Go tool's layout.
    const withoutStats = MAP.services.map((s) => ({ ...s, endpoints: s.endpoints.map(({ stats: _stats, example: _example, ...e }) => e) }));
    const { connections: _none, ...reviews } = withoutStats[1]!;
    expect(parsed).toEqual({ ...MAP, services: [withoutStats[0], reviews] });
    expect(parsed.services[1]).not.toHaveProperty("connections");
  });

  it("keeps the Go README's key order", () => {
    const parsed = parse(toYaml(MAP));
    const [service] = parsed.services;
    expect(Object.keys(parsed)).toEqual(["generated_at", "services"]);
    expect(Object.keys(service)).toEqual(["name", "image", "endpoints", "connections", "first_seen", "last_seen"]);
    expect(Object.keys(service.endpoints[0])).toEqual([
      "destination", "destination_type", "method", "path", "request_schema", "response_schema", "first_seen", "last_seen",
      "count",
    ]);
    expect(Object.keys(service.connections[0])).toEqual([
      "destination", "destination_type", "protocol", "category", "port", "confidence", "reason", "first_seen", "last_seen",
      "count",
    ]);
  });

  it("quotes timestamps, writes schemas as nested YAML and null as null, never anchors", () => {
    const text = toYaml(MAP);
    expect(text.startsWith(`generated_at: "${T1}"\nservices:\n  - name: productpage\n`)).toBe(true);
    expect(text).toContain(`        first_seen: "${T0}"\n`);
    expect(text).toContain(`    last_seen: "${T1}"\n`);
    expect(text).toContain("        request_schema: null\n");
    expect(text).toContain(
      "        response_schema:\n          clustername: string\n          id: string\n          reviews:\n" +
        "            - reviewer: string\n              text: string\n",
    );
    expect(text).toContain('note: "null"'); // the type name, which YAML would otherwise read as null
    expect(text).toContain("tags: []");
    expect(text).toContain("response_schema: non-json");
    expect(text).toContain("reason: port 5432, valid Postgres startup/SSLRequest header\n");
    expect(text).not.toMatch(/[&*]a\d/);
    expect(text).toContain("image: null\n");
  });

  it("writes an empty map", () => {
    expect(toYaml({ generated_at: null, services: [] })).toBe("generated_at: null\nservices: []\n");
  });
});
