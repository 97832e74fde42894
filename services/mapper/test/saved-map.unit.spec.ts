import { describe, expect, it } from "vitest";
import { parseSavedMap, SavedMapError } from "../src/core/saved-map.ts";
import { toYaml } from "../src/core/service-map-yaml.ts";
import type { EndpointEntry, ServiceMap } from "../src/core/map-types.ts";

const T0 = "2024-04-08T18:24:10.000000000Z";
const T1 = "2024-04-08T18:30:00.000000000Z";

function endpoint(path: string, response_schema: EndpointEntry["response_schema"]): EndpointEntry {
  return {
    destination: "reviews", destination_type: "container", method: "GET", path, request_schema: null, response_schema, first_seen: T0, last_seen: T1, count: 150,
    stats: { status_codes: { "200": 150 }, errors: 0, p50_ms: 1, p99_ms: 2, duration: { bounds_ms: [1, 2], counts: [75, 75, 0], count: 150, sum_ms: 200 } },
    example: { ts: T0, path, status: 200, request_body: null, response_body: "{}" },
  };
}

const MAP: ServiceMap = {
  generated_at: T1,
  services: [
    {
      name: "productpage",
      image: "docker.io/istio/examples-bookinfo-productpage-v1:1.20.1",
      endpoints: [endpoint("/reviews/{id}", { id: "string", reviews: [{ reviewer: "string", stars: "null|number" }], "a.b": [] }), endpoint("/health", "non-json")],
      connections: [
        { destination: "postgres", destination_type: "container", protocol: "postgres", category: "database", port: 5432, confidence: 90, reason: "port 5432", first_seen: T0, last_seen: T1, count: 1 },
      ],
      first_seen: T0,
      last_seen: T1,
    },
    { name: "reviews", image: null, endpoints: [endpoint("/ratings", "varies")], connections: [], first_seen: T0, last_seen: T1 },
    { name: "idle", image: null, endpoints: [], connections: [], first_seen: T0, last_seen: T1 },
  ],
};

/** The message of the SavedMapError `yaml` (as file "m.yaml") raises. */
function refusal(yaml: string): string {
  try {
    parseSavedMap(yaml, "m.yaml");
  } catch (err) {
    expect(err).toBeInstanceOf(SavedMapError);
    expect((err as SavedMapError).file).toBe("m.yaml");
    return (err as Error).message;
  }
  throw new Error("accepted");
}

const ENDPOINT_YAML = (extra: string) =>
  `generated_at: null\nservices:\n  - name: s\n    image: null\n    first_seen: "${T0}"\n    last_seen: "${T1}"\n    endpoints:\n      - destination: d\n        destination_type: external\n        method: GET\n        path: /a\n        request_schema: null\n        first_seen: "${T0}"\n        last_seen: "${T1}"\n        count: 1\n${extra}`;

describe("parseSavedMap", () => {
  it("reads back what toYaml writes: the entries without what the file does not hold (RED figures, examples)", () => {
    const saved = parseSavedMap(toYaml(MAP), "map.yaml");
    const expected = { ...MAP, services: MAP.services.map((s) => ({ ...s, endpoints: s.endpoints.map(({ stats: _s, example: _e, ...e }) => e) })) };
    // "idle" has neither key in the file (as in the Go README): both lists are empty again.
    expect(saved).toEqual(expected);
  });

  it("ignores keys it does not know, so a file from a later version still reads", () => {
    const saved = parseSavedMap(ENDPOINT_YAML("        response_schema: {a: number}\n        stats: {p50_ms: 3}\n") + "future: true\n", "m.yaml");
    expect(saved.services[0]!.endpoints[0]).toEqual({ destination: "d", destination_type: "external", method: "GET", path: "/a", request_schema: null, response_schema: { a: "number" }, first_seen: T0, last_seen: T1, count: 1 });
    expect(saved.services[0]!.connections).toEqual([]);
  });

  it("refuses garbage with the file and the place: not YAML, not a map, a missing or mistyped key, a bad schema", () => {
    expect(refusal("services: [\n  {name: a")).toMatch(/^m\.yaml at line 2 column \d+: not YAML: /);
    expect(refusal("a: 1\na: 2\n")).toMatch(/^m\.yaml at line 2 column 1: not YAML: Map keys must be unique$/);
    expect(refusal("")).toBe("m.yaml: expected a service map (generated_at, services), found nothing");
    expect(refusal("hello")).toBe("m.yaml: expected a service map (generated_at, services), found a string");
    expect(refusal("- 1\n- 2\n")).toBe("m.yaml: expected a service map (generated_at, services), found a list");
    expect(refusal("generated_at: null\n")).toBe("m.yaml at services: missing (expected array)");
    expect(refusal(ENDPOINT_YAML(""))).toBe("m.yaml at services[0].endpoints[0].response_schema: missing: expected a body schema: null, a type name, a list of one schema, or a map of field to schema");
    expect(refusal(ENDPOINT_YAML("        response_schema: null\n").replace("        method: GET\n", ""))).toBe("m.yaml at services[0].endpoints[0].method: missing (expected string)");
    expect(refusal(ENDPOINT_YAML("        response_schema: null\n").replace("        destination_type: external\n", ""))).toBe(
      'm.yaml at services[0].endpoints[0].destination_type: missing (expected one of "container", "external")',
    );
    expect(refusal(ENDPOINT_YAML("        response_schema: {items: [{price: 5}]}\n"))).toBe(
      "m.yaml at services[0].endpoints[0].response_schema.items[0].price: expected a body schema: null, a type name, a list of one schema, or a map of field to schema",
    );
    expect(refusal(ENDPOINT_YAML("        response_schema: null\n").replace("destination_type: external", "destination_type: process"))).toMatch(
      /^m\.yaml at services\[0\]\.endpoints\[0\]\.destination_type: .*"container"\|"external"/,
    );
    expect(refusal(ENDPOINT_YAML("        response_schema: null\n").replace("count: 1", "count: -1"))).toMatch(/^m\.yaml at services\[0\]\.endpoints\[0\]\.count: /);
  });

  it("refuses a file nested deeper than any map adi writes, without overflowing the stack", () => {
    const deep = `${"[".repeat(300)}1${"]".repeat(300)}`;
    expect(refusal(ENDPOINT_YAML(`        response_schema: ${deep}\n`))).toMatch(/^m\.yaml at services\[0\]\.endpoints\[0\]\.response_schema(\[0\])+: nested deeper than 256 levels/);
  });
});
