import { describe, expect, it } from "vitest";
import { diffMaps, diffSummary, formatChange } from "../src/core/map-diff.ts";
import type { MapChange } from "../src/core/map-diff.ts";
import { parseSavedMap } from "../src/core/saved-map.ts";
import { toYaml } from "../src/core/service-map-yaml.ts";
import type { ConnectionEntry, EndpointEntry, ServiceEntry, ServiceMap } from "../src/core/map-types.ts";
import type { BodySchema } from "../src/core/schema.ts";

const T0 = "2026-11-27T09:00:00.000000000Z";
const T1 = "2026-11-27T10:00:00.000000000Z";
const TG = "traffic-generator";
const HS = "http-service";

function endpoint(destination: string, method: string, path: string, response_schema: BodySchema, request_schema: BodySchema = null): EndpointEntry {
  return {
    destination, destination_type: "external", method, path, request_schema, response_schema, first_seen: T0, last_seen: T1, count: 3,
    stats: { status_codes: { "200": 3 }, errors: 0, p50_ms: 1, p99_ms: 2, duration: { bounds_ms: [1, 2], counts: [2, 1, 0], count: 3, sum_ms: 4 } },
    example: null,
  };
}

function connection(destination: string, protocol: string, port: number): ConnectionEntry {
  return { destination, destination_type: "external", protocol, category: "database", port, confidence: 90, reason: "port", first_seen: T0, last_seen: T1, count: 1 };
}

function service(name: string, endpoints: EndpointEntry[], connections: ConnectionEntry[] = []): ServiceEntry {
  return { name, image: null, endpoints, connections, first_seen: T0, last_seen: T1 };
}

const map = (...services: ServiceEntry[]): ServiceMap => ({ generated_at: T1, services });

/** The window A and B: GET /a unchanged, GET /slow's `slow` from boolean to string, GET /b new. */
const WINDOW_A = map(service(TG, [endpoint(HS, "GET", "/a", { ok: "boolean" }), endpoint(HS, "GET", "/slow", { slow: "boolean" })]));
const WINDOW_B = map(service(TG, [endpoint(HS, "GET", "/a", { ok: "boolean" }), endpoint(HS, "GET", "/b", { b: "number" }), endpoint(HS, "GET", "/slow", { slow: "string" })]));

/** A change at endpoint (TG -> HS, GET path). */
const at = (path: string, change: Omit<MapChange, "source" | "destination">): MapChange => ({ source: TG, destination: HS, method: "GET", path, ...change });

describe("diffMaps", () => {
  it("the issue's case: one endpoint added and one response field retyped are exactly two changes", () => {
    const changes = diffMaps(WINDOW_A, WINDOW_B);
    expect(changes).toEqual([
      { change: "endpoint_added", source: TG, destination: HS, method: "GET", path: "/b" },
      { change: "field_type_changed", source: TG, destination: HS, method: "GET", path: "/slow", field: "response.slow", from: "boolean", to: "string" },
    ]);
    expect(changes.map(formatChange)).toEqual([`+ endpoint ${TG} -> ${HS} GET /b`, `~ field ${TG} -> ${HS} GET /slow response.slow: boolean -> string`]);
    expect(diffSummary(changes)).toBe("2 changes: 1 endpoint added, 1 field changed type");
  });

  it("the same map, or the reverse direction, as expected", () => {
    expect(diffMaps(WINDOW_A, WINDOW_A)).toEqual([]);
    expect(diffSummary([])).toBe("no changes");
    expect(diffMaps(WINDOW_B, WINDOW_A)).toEqual([
      { change: "endpoint_removed", source: TG, destination: HS, method: "GET", path: "/b" },
      { change: "field_type_changed", source: TG, destination: HS, method: "GET", path: "/slow", field: "response.slow", from: "string", to: "boolean" },
    ]);
  });

  it("a field removed; a removed object is one change, not one per field inside it", () => {
    const a = map(service(TG, [endpoint(HS, "GET", "/u", { id: "number", name: "string", owner: { id: "number", tags: ["string"] } })]));
    const b = map(service(TG, [endpoint(HS, "GET", "/u", { id: "number" })]));
    const changes = diffMaps(a, b);
    expect(changes).toEqual([
      at("/u", { change: "field_removed", field: "response.name", from: "string" }),
      at("/u", { change: "field_removed", field: "response.owner", from: "object" }),
    ]);
    expect(changes.map(formatChange)).toEqual([`- field ${TG} -> ${HS} GET /u response.name: string`, `- field ${TG} -> ${HS} GET /u response.owner: object`]);
    expect(diffMaps(b, a).map((c) => [c.change, c.field, c.to])).toEqual([
      ["field_added", "response.name", "string"],
      ["field_added", "response.owner", "object"],
    ]);
  });

  it("types changed inside arrays: an element's field, an element's union, an array now seen with elements", () => {
    const a = map(service(TG, [endpoint(HS, "GET", "/cart", { items: [{ price: "number", sku: "string" }], tags: ["string"], empty: [] })]));
    const b = map(service(TG, [endpoint(HS, "GET", "/cart", { items: [{ price: "string", sku: "string" }], tags: ["number|string"], empty: ["number"] })]));
    expect(diffMaps(a, b)).toEqual([
      at("/cart", { change: "field_added", field: "response.empty[]", to: "number" }),
      at("/cart", { change: "field_type_changed", field: "response.items[].price", from: "number", to: "string" }),
      at("/cart", { change: "field_type_changed", field: "response.tags[]", from: "string", to: "number|string" }),
    ]);
  });

  it("the request side too, and a type change from a structure to a scalar lists what the structure held", () => {
    const a = map(service(TG, [endpoint(HS, "POST", "/orders", { id: "number" }, { qty: "number", item: { sku: "string" } })]));
    const b = map(service(TG, [endpoint(HS, "POST", "/orders", { id: "number" }, { qty: "number", item: "string" })]));
    expect(diffMaps(a, b)).toEqual([
      { ...at("/orders", { change: "field_type_changed", field: "request.item", from: "object", to: "string" }), method: "POST" },
      { ...at("/orders", { change: "field_removed", field: "request.item.sku", from: "string" }), method: "POST" },
    ]);
  });

  it("variants of one endpoint are merged before they are compared: same fields, other variants, no change", () => {
    const a = map(service(TG, [endpoint(HS, "GET", "/v", { a: "number" }), endpoint(HS, "GET", "/v", { b: "string" })]));
    const b = map(service(TG, [endpoint(HS, "GET", "/v", { a: "number", b: "string" })]));
    expect(diffMaps(a, b)).toEqual([]);
    const fewer = map(service(TG, [endpoint(HS, "GET", "/v", { a: "number" })]));
    expect(diffMaps(a, fewer)).toEqual([at("/v", { change: "field_removed", field: "response.b", from: "string" })]);
    // A variant with no body (a 204, an error without one) is a type of the body itself.
    const withEmpty = map(service(TG, [endpoint(HS, "GET", "/v", { a: "number", b: "string" }), endpoint(HS, "GET", "/v", null)]));
    expect(diffMaps(b, withEmpty)).toEqual([at("/v", { change: "field_type_changed", field: "response", from: "object", to: "empty|object" })]);
  });

  it("a scalar body, null and non-json are the body's types; a JSON null body is not an empty one", () => {
    const a = map(service(TG, [endpoint(HS, "GET", "/s", "string"), endpoint(HS, "GET", "/n", "non-json"), endpoint(HS, "GET", "/e", null)]));
    const b = map(service(TG, [endpoint(HS, "GET", "/s", "number"), endpoint(HS, "GET", "/n", { a: "number" }), endpoint(HS, "GET", "/e", "null")]));
    expect(diffMaps(a, b)).toEqual([
      at("/e", { change: "field_type_changed", field: "response", from: "empty", to: "null" }),
      at("/n", { change: "field_type_changed", field: "response", from: "non-json", to: "object" }),
      at("/n", { change: "field_added", field: "response.a", to: "number" }),
      at("/s", { change: "field_type_changed", field: "response", from: "string", to: "number" }),
    ]);
  });

  it('"varies" (a route with too many variants) hides its fields: only the body\'s own type is compared', () => {
    const a = map(service(TG, [endpoint(HS, "GET", "/x", { a: "number", b: { c: "string" } })]));
    const b = map(service(TG, [endpoint(HS, "GET", "/x", "varies", "varies")]));
    expect(diffMaps(a, b)).toEqual([
      at("/x", { change: "field_type_changed", field: "request", from: "empty", to: "varies" }),
      at("/x", { change: "field_type_changed", field: "response", from: "object", to: "varies" }),
    ]);
    expect(diffMaps(b, b)).toEqual([]);
  });

  it("an endpoint added or removed is one change, never also its fields", () => {
    const a = map(service(TG, [endpoint(HS, "GET", "/keep", { k: "string" }), endpoint(HS, "DELETE", "/old", { gone: { deep: ["number"] } })]));
    const b = map(service(TG, [endpoint(HS, "GET", "/keep", { k: "string" }), endpoint(HS, "POST", "/new", { id: "number", tags: ["string"] }, { name: "string" })]));
    expect(diffMaps(a, b)).toEqual([
      { change: "endpoint_added", source: TG, destination: HS, method: "POST", path: "/new" },
      { change: "endpoint_removed", source: TG, destination: HS, method: "DELETE", path: "/old" },
    ]);
  });

  it("edges: added or removed only when all their endpoints or connections are; a new http edge also lists its endpoints", () => {
    const a = map(
      service(TG, [endpoint(HS, "GET", "/a", null), endpoint(HS, "GET", "/gone", null)], [connection("postgres", "postgres", 5432), connection("redis", "redis", 6379)]),
      service("old-caller", [endpoint(HS, "GET", "/a", null)]),
    );
    const b = map(
      // postgres on another port is the same edge; /gone gone but /a still called: the http edge stays.
      service(TG, [endpoint(HS, "GET", "/a", null), endpoint("payments", "POST", "/pay", { ok: "boolean" })], [connection("postgres", "postgres", 5433), connection("nats", "nats", 4222)]),
    );
    const changes = diffMaps(a, b);
    expect(changes).toEqual([
      { change: "edge_removed", source: "old-caller", destination: HS, protocol: "http" },
      { change: "endpoint_removed", source: "old-caller", destination: HS, method: "GET", path: "/a" },
      { change: "endpoint_removed", source: TG, destination: HS, method: "GET", path: "/gone" },
      { change: "edge_added", source: TG, destination: "nats", protocol: "nats" },
      { change: "edge_added", source: TG, destination: "payments", protocol: "http" },
      { change: "endpoint_added", source: TG, destination: "payments", method: "POST", path: "/pay" },
      { change: "edge_removed", source: TG, destination: "redis", protocol: "redis" },
    ]);
    expect(changes.filter((c) => c.change.startsWith("edge")).map(formatChange)).toEqual([
      `- edge old-caller -> ${HS} http`,
      `+ edge ${TG} -> nats nats`,
      `+ edge ${TG} -> payments http`,
      `- edge ${TG} -> redis redis`,
    ]);
    expect(diffSummary(changes)).toBe("7 changes: 2 edges added, 2 edges removed, 1 endpoint added, 2 endpoints removed");
  });

  it("a path the other map folded into a template is that template's endpoint (a window's volume is not a change)", () => {
    const a = map(service(TG, [endpoint(HS, "GET", "/items/{id}", { id: "number", price: "number" })]));
    const b = map(service(TG, [endpoint(HS, "GET", "/items/3", { id: "number", price: "number" }), endpoint(HS, "GET", "/items/4", { id: "number", price: "string" })]));
    expect(diffMaps(a, b)).toEqual([at("/items/{id}", { change: "field_type_changed", field: "response.price", from: "number", to: "number|string" })]);
    expect(diffMaps(b, a)).toEqual([at("/items/{id}", { change: "field_type_changed", field: "response.price", from: "number|string", to: "number" })]);
    // {id} and {param} of one route meet under one name, whatever the direction.
    const param = map(service(TG, [endpoint(HS, "GET", "/items/{param}", { id: "number", price: "number" })]));
    expect(diffMaps(a, param)).toEqual([]);
    expect(diffMaps(param, a)).toEqual([]);
    // A path no template fits is its own endpoint.
    const other = map(service(TG, [endpoint(HS, "GET", "/items/{id}", { id: "number", price: "number" }), endpoint(HS, "GET", "/items/3/reviews", null)]));
    expect(diffMaps(a, other)).toEqual([{ change: "endpoint_added", source: TG, destination: HS, method: "GET", path: "/items/3/reviews" }]);
  });

  it("keys that are not plain names are quoted in the field path", () => {
    const a = map(service(TG, [endpoint(HS, "GET", "/k", { "a.b": "number", "": "string", "x-id": "string" })]));
    const b = map(service(TG, [endpoint(HS, "GET", "/k", { "a.b": "string", "": "number", "x-id": "number" })]));
    expect(diffMaps(a, b).map((c) => c.field)).toEqual(["response.x-id", 'response[""]', 'response["a.b"]']);
  });

  it("is deterministic: the order of services and entries does not change the list", () => {
    const a = map(service("z", [endpoint("d", "GET", "/1", { a: "number" })]), service(TG, [endpoint(HS, "GET", "/a", { ok: "boolean" }), endpoint(HS, "GET", "/slow", { slow: "boolean" })]));
    const b = map(service(TG, [endpoint(HS, "GET", "/slow", { slow: "string" }), endpoint(HS, "PUT", "/a", null), endpoint(HS, "GET", "/b", null)]), service("z", [endpoint("d", "GET", "/1", { a: "string" })]));
    const reversed = (m: ServiceMap): ServiceMap => ({ ...m, services: [...m.services].reverse().map((s) => ({ ...s, endpoints: [...s.endpoints].reverse() })) });
    const changes = diffMaps(a, b);
    expect(diffMaps(reversed(a), reversed(b))).toEqual(changes);
    expect(changes.map(formatChange)).toEqual([
      `- endpoint ${TG} -> ${HS} GET /a`,
      `+ endpoint ${TG} -> ${HS} PUT /a`,
      `+ endpoint ${TG} -> ${HS} GET /b`,
      `~ field ${TG} -> ${HS} GET /slow response.slow: boolean -> string`,
      "~ field z -> d GET /1 response.a: number -> string",
    ]);
  });

  it("saved maps give the same diff as the maps in memory (toYaml, then read back)", () => {
    const cases: [ServiceMap, ServiceMap][] = [
      [WINDOW_A, WINDOW_B],
      [map(service(TG, [endpoint(HS, "GET", "/cart", { items: [{ price: "number" }], "a.b": "number" })], [connection("pg", "postgres", 5432)])), map(service(TG, [endpoint(HS, "GET", "/cart", { items: [{ price: "string" }] }), endpoint(HS, "GET", "/x", "varies", "varies")]))],
    ];
    for (const [a, b] of cases) {
      const savedA = parseSavedMap(toYaml(a), "a.yaml");
      const savedB = parseSavedMap(toYaml(b), "b.yaml");
      expect(diffMaps(savedA, savedB)).toEqual(diffMaps(a, b));
      expect(diffMaps(savedA, savedB).length).toBeGreaterThan(0);
    }
  });
});

describe("formatChange on a terminal", () => {
  it("escapes control characters of names and paths chosen by whoever sends traffic", () => {
    const line = formatChange({ change: "endpoint_added", source: "esc\u001b]0;PWNED\u0007", destination: "api", method: "GET", path: "/a\u001b[2J" } as MapChange);
    expect(line).toBe("+ endpoint esc\\x1b]0;PWNED\\x07 -> api GET /a\\x1b[2J");
  });
});
