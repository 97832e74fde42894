// `adi export openapi` from hand-built service maps: every document validates against the OpenAPI 3.1 schema, and
// says exactly which paths, methods, parameters, status codes and schemas each server was seen to serve.
import { describe, expect, it } from "vitest";
import { parseAllDocuments } from "yaml";
import { callStats, endpointStats, mergeStats, NO_RESPONSE } from "../src/core/call-stats.ts";
import type { ConnectionEntry, EndpointEntry, EndpointExample, EndpointStats, ServiceEntry, ServiceMap } from "../src/core/map-types.ts";
import { InvalidOpenApiError, jsonSchema, openApiDocument, openApiDocuments, openApiYaml, servingServices, validateOpenApi } from "../src/core/exports/index.ts";
import type { OpenApiDocument } from "../src/core/exports/index.ts";

const T = (s: number) => `2026-03-01T10:00:${String(s).padStart(2, "0")}.000000000Z`;

/** Figures of calls given as [status (NO_RESPONSE: none), duration ms or null]. */
function stats(...calls: [number, number | null][]): EndpointStats {
  return endpointStats(calls.map(([status, ms]) => callStats(status, ms === null ? null : ms * 1000)).reduce(mergeStats));
}

type EntrySpec = Pick<EndpointEntry, "destination" | "method" | "path"> & Partial<EndpointEntry>;

function entry(spec: EntrySpec): EndpointEntry {
  const s = spec.stats ?? stats([200, 1]);
  const count = Object.values(s.status_codes).reduce((a, b) => a + b, 0);
  return { destination_type: "external", request_schema: null, response_schema: null, first_seen: T(0), last_seen: T(0), count, stats: s, example: null, ...spec };
}

function example(ts: number, path: string, status: number | null, request_body: string | null, response_body: string | null): EndpointExample {
  return { ts: T(ts), path, status, request_body, response_body };
}

function service(name: string, endpoints: EndpointEntry[], connections: ConnectionEntry[] = []): ServiceEntry {
  return { name, image: null, endpoints, connections, first_seen: T(0), last_seen: T(9) };
}

const POSTGRES: ConnectionEntry = {
  destination: "db", destination_type: "external", protocol: "postgres", category: "database", port: 5432, confidence: 90,
  reason: "port 5432", first_seen: T(0), last_seen: T(1), count: 1,
};

/** Two clients (web, cron) of `api`, web also of `other`, cron also of a database. */
function shopMap(): ServiceMap {
  const web = service("web", [
    entry({
      destination: "api", method: "GET", path: "/items/{id}", response_schema: { id: "number", name: "string" }, first_seen: T(1), last_seen: T(5),
      stats: stats([200, 2], [200, 4]), example: example(1, "/items/42", 200, null, '{"id":42,"name":"[REDACTED]"}'),
    }),
    entry({
      destination: "api", method: "GET", path: "/items/{id}", response_schema: { error: "string" }, first_seen: T(2), last_seen: T(2),
      stats: stats([404, 1]), example: example(2, "/items/9", 404, null, '{"error":"not found"}'),
    }),
    entry({
      destination: "api", method: "POST", path: "/items", request_schema: { name: "string", tags: ["string"] }, response_schema: { id: "number" },
      first_seen: T(3), last_seen: T(3), stats: stats([201, 10]), example: example(3, "/items", 201, '{"name":"[REDACTED]","tags":["a"]}', '{"id":7}'),
    }),
    entry({
      destination: "api", method: "PUT", path: "/files/{id}/{id2}", request_schema: "non-json", first_seen: T(6), last_seen: T(6),
      stats: stats([204, 3]), example: example(6, "/files/a1/b2", 204, "plain text", null),
    }),
    entry({ destination: "other", method: "GET", path: "/ping", response_schema: "string", stats: stats([200, 1]) }),
  ]);
  const cron = service(
    "cron",
    [
      entry({
        destination: "api", method: "GET", path: "/items/{id}", response_schema: { id: "number", name: "string", tags: ["string"] }, first_seen: T(0), last_seen: T(0),
        stats: stats([200, 2]), example: example(0, "/items/7", 200, null, '{"id":7,"name":"x","tags":[]}'),
      }),
      entry({ destination: "api", method: "GET", path: "/health", stats: stats([NO_RESPONSE, null], [NO_RESPONSE, null]), first_seen: T(4), last_seen: T(8) }),
      entry({
        destination: "api", method: "DELETE", path: "/items/{id}", response_schema: "non-json", first_seen: T(4), last_seen: T(4),
        stats: stats([500, 5]), example: example(4, "/items/3", 500, null, "Internal Server Error"),
      }),
      entry({ destination: "api", method: "GET", path: "/search", response_schema: "varies", stats: stats([200, 1]) }),
    ],
    [POSTGRES],
  );
  return { generated_at: T(9), services: [cron, web] };
}

const VARIED = "A path segment whose value varied between calls.";
const param = (name: string, example: string) => ({ name, in: "path" as const, required: true as const, description: VARIED, schema: { type: "string" }, example });

const API: OpenApiDocument = {
  openapi: "3.1.1",
  info: {
    title: "api",
    version: `observed ${T(0)}/${T(8)}`,
    description: expect.stringContaining(`What api was seen to serve, from ${T(0)} to ${T(8)}`) as unknown as string,
  },
  paths: {
    "/files/{id}/{id2}": {
      parameters: [param("id", "a1"), param("id2", "b2")],
      put: {
        operationId: "put_files_id_id2",
        requestBody: { required: true, content: { "application/octet-stream": { example: "plain text" } } },
        responses: { "204": { description: "No Content", "x-adi-count": 1 } },
        "x-adi-count": 1, "x-adi-callers": ["web"], "x-adi-errors": 0, "x-adi-p50-ms": 2.75, "x-adi-p99-ms": 2.995,
        "x-adi-first-seen": T(6), "x-adi-last-seen": T(6),
      },
    },
    "/health": {
      get: {
        operationId: "get_health",
        responses: { default: { description: "No response was seen (the connection closed, was reset or was still open)" } },
        "x-adi-count": 2, "x-adi-callers": ["cron"], "x-adi-errors": 2, "x-adi-no-response": 2,
        "x-adi-first-seen": T(4), "x-adi-last-seen": T(8),
      },
    },
    "/items": {
      post: {
        operationId: "post_items",
        requestBody: {
          required: true,
          content: {
            "application/json": {
              schema: { type: "object", properties: { name: { type: "string" }, tags: { type: "array", items: { type: "string" } } } },
              example: { name: "[REDACTED]", tags: ["a"] },
            },
          },
        },
        responses: {
          "201": { description: "Created", content: { "application/json": { schema: { type: "object", properties: { id: { type: "number" } } }, example: { id: 7 } } }, "x-adi-count": 1 },
        },
        "x-adi-count": 1, "x-adi-callers": ["web"], "x-adi-errors": 0, "x-adi-p50-ms": 8.75, "x-adi-p99-ms": 9.975,
        "x-adi-first-seen": T(3), "x-adi-last-seen": T(3),
      },
    },
    "/items/{id}": {
      // The earliest example call of the path, any method: cron's GET /items/7 at T(0).
      parameters: [param("id", "7")],
      get: {
        operationId: "get_items_id",
        responses: {
          "200": {
            description: "OK",
            content: {
              "application/json": {
                // Both clients' variants that got a 200, the earliest first; a body of either shape is valid.
                schema: {
                  anyOf: [
                    { type: "object", properties: { id: { type: "number" }, name: { type: "string" }, tags: { type: "array", items: { type: "string" } } } },
                    { type: "object", properties: { id: { type: "number" }, name: { type: "string" } } },
                  ],
                },
                example: { id: 7, name: "x", tags: [] },
              },
            },
            "x-adi-count": 3,
          },
          "404": {
            description: "Not Found",
            content: { "application/json": { schema: { type: "object", properties: { error: { type: "string" } } }, example: { error: "not found" } } },
            "x-adi-count": 1,
          },
        },
        // Calls of 2, 4, 1 and 2 ms, merged: p50 in (1.5, 2] at rank 2 of 4, p99 in (3, 4].
        "x-adi-count": 4, "x-adi-callers": ["cron", "web"], "x-adi-errors": 0, "x-adi-p50-ms": 1.75, "x-adi-p99-ms": 3.96,
        "x-adi-first-seen": T(0), "x-adi-last-seen": T(5),
      },
      delete: {
        operationId: "delete_items_id",
        responses: { "500": { description: "Internal Server Error", content: { "application/octet-stream": { example: "Internal Server Error" } }, "x-adi-count": 1 } },
        "x-adi-count": 1, "x-adi-callers": ["cron"], "x-adi-errors": 1, "x-adi-p50-ms": 4.5, "x-adi-p99-ms": 4.99,
        "x-adi-first-seen": T(4), "x-adi-last-seen": T(4),
      },
    },
    "/search": {
      get: {
        operationId: "get_search",
        responses: {
          "200": {
            description: "OK",
            content: { "application/json": { schema: { description: "Bodies of more shapes than adi lists for one endpoint (their schemas were folded: varies)." } } },
            "x-adi-count": 1,
          },
        },
        "x-adi-count": 1, "x-adi-callers": ["cron"], "x-adi-errors": 0, "x-adi-p50-ms": 0.875, "x-adi-p99-ms": 0.9975,
        "x-adi-first-seen": T(0), "x-adi-last-seen": T(0),
      },
    },
  },
};

describe("OpenAPI 3.1 per serving service", () => {
  it("lists the services that serve endpoints, from every client's calls", () => {
    expect(servingServices(shopMap())).toEqual(["api", "other"]);
    expect(openApiDocuments(shopMap()).map((d) => d.info.title)).toEqual(["api", "other"]);
    expect(openApiDocument(shopMap(), "web")).toBeNull(); // a client only: it serves nothing
    expect(openApiDocument(shopMap(), "db")).toBeNull(); // a database: connections, not endpoints
  });

  it("describes exactly the paths, methods, parameters, bodies and status codes seen, and validates", async () => {
    const doc = openApiDocument(shopMap(), "api")!;
    expect(doc).toEqual(API);
    // Path keys and method keys in a reader's order: by path, then GET before DELETE.
    expect(Object.keys(doc.paths)).toEqual(["/files/{id}/{id2}", "/health", "/items", "/items/{id}", "/search"]);
    expect(Object.keys(doc.paths["/items/{id}"]!)).toEqual(["parameters", "get", "delete"]);
    await validateOpenApi(doc);
  });

  it("describes the query parameters seen (names from every variant, optional), and validates", async () => {
    const map: ServiceMap = {
      generated_at: T(9),
      services: [
        service("web", [
          entry({ destination: "api", method: "GET", path: "/search", response_schema: { hits: "number" }, query_params: ["page", "q"] }),
          entry({ destination: "api", method: "GET", path: "/search", response_schema: "non-json", query_params: ["q", "sort by"] }),
        ]),
      ],
    };
    const doc = openApiDocument(map, "api")!;
    expect(doc.paths["/search"]!.get!.parameters).toEqual(
      ["page", "q", "sort by"].map((name) => ({ name, in: "query", required: false, description: "A query parameter seen on calls of this operation.", schema: { type: "string" } })),
    );
    await validateOpenApi(doc);
  });

  it("is the same document whatever the order of services and entries in the map", () => {
    const map = shopMap();
    const reversed: ServiceMap = { ...map, services: map.services.map((s) => ({ ...s, endpoints: [...s.endpoints].reverse() })).reverse() };
    expect(openApiDocument(reversed, "api")).toEqual(openApiDocument(map, "api"));
  });

  it("records the window asked for in info", async () => {
    const doc = openApiDocument(shopMap(), "other", { since: "2026-03-01T10:00:00Z", until: null })!;
    expect(doc.info["x-adi-window"]).toEqual({ since: "2026-03-01T10:00:00Z", until: null });
    expect(doc.paths["/ping"]!.get).toMatchObject({ responses: { "200": { content: { "application/json": { schema: { type: "string" } } } } } });
    await validateOpenApi(doc);
  });

  it("lists calls OpenAPI 3.1 cannot describe apart, and still validates", async () => {
    const map: ServiceMap = {
      generated_at: T(1),
      services: [
        service("client", [
          entry({ destination: "dav", method: "PROPFIND", path: "/files" }),
          entry({ destination: "dav", method: "get", path: "/files" }), // methods are case-sensitive
          entry({ destination: "dav", method: "OPTIONS", path: "*" }),
          entry({ destination: "dav", method: "GET", path: "/files", stats: stats([200, 1], [600, 2], [NO_RESPONSE, null]) }),
        ]),
      ],
    };
    const doc = openApiDocument(map, "dav")!;
    expect(doc["x-adi-unlisted"]).toEqual([
      { method: "OPTIONS", path: "*", count: 1, callers: ["client"] },
      { method: "PROPFIND", path: "/files", count: 1, callers: ["client"] },
      { method: "get", path: "/files", count: 1, callers: ["client"] },
    ]);
    expect(Object.keys(doc.paths["/files"]!)).toEqual(["get"]);
    // A status OpenAPI has no key for (600) goes under "default"; the unanswered call is counted apart.
    expect(doc.paths["/files"]!.get).toMatchObject({
      responses: { "200": { description: "OK", "x-adi-count": 1 }, default: { description: "Statuses outside 100-599", "x-adi-count": 1 } },
      "x-adi-no-response": 1,
      "x-adi-errors": 2, // 600 (at or above 500) and the unanswered one, as the map counts them
    });
    await validateOpenApi(doc);
  });

  it("makes operationIds unique where two paths read alike", async () => {
    const map: ServiceMap = { generated_at: T(0), services: [service("c", [entry({ destination: "s", method: "GET", path: "/a_b" }), entry({ destination: "s", method: "GET", path: "/a-b" }), entry({ destination: "s", method: "GET", path: "/" })])] };
    const doc = openApiDocument(map, "s")!;
    expect(Object.entries(doc.paths).map(([path, item]) => [path, item.get!.operationId])).toEqual([
      ["/", "get_root"],
      ["/a-b", "get_a_b"],
      ["/a_b", "get_a_b_2"],
    ]);
    await validateOpenApi(doc);
  });

  it("keeps odd names and fields (quotes, spaces, unicode, $ref, __proto__) valid", async () => {
    const odd = 'we"b ☕ café "x"';
    const fields = JSON.parse('{"$ref":"string","__proto__":{"a b":"number"},"ключ":"boolean|null","$id":["string"]}') as Record<string, never>;
    const map: ServiceMap = {
      generated_at: T(0),
      services: [
        service("client", [
          entry({
            destination: odd, method: "POST", path: "/ünï/{id}", request_schema: fields, response_schema: fields, stats: stats([200, 1]),
            example: example(0, "/ünï/ж", 200, '{"$ref":"#/x","ключ":true}', '{"ключ":null}'),
          }),
        ]),
      ],
    };
    const doc = openApiDocument(map, odd)!;
    expect(doc.info.title).toBe(odd);
    const post = doc.paths["/ünï/{id}"]!.post as { requestBody: { content: Record<string, { schema: unknown; example?: unknown }> }; responses: Record<string, { content: Record<string, { schema: unknown; example?: unknown }> }> };
    const schema = post.requestBody.content["application/json"]!.schema as { properties: Record<string, unknown>; patternProperties: Record<string, unknown> };
    expect(Object.keys(schema.properties)).toEqual(["__proto__", "ключ"]);
    expect(Object.getPrototypeOf(schema.properties)).toBe(Object.prototype); // an own field, not a prototype
    expect(schema.properties["__proto__"]).toEqual({ type: "object", properties: { "a b": { type: "number" } } });
    expect(schema.properties["ключ"]).toEqual({ type: ["boolean", "null"] });
    // Fields named like JSON Schema's reference keywords: described by an anchored pattern, same meaning.
    expect(schema.patternProperties).toEqual({ "^\\$id$": { type: "array", items: { type: "string" } }, "^\\$ref$": { type: "string" } });
    expect(new RegExp(Object.keys(schema.patternProperties)[1]!).test("$ref")).toBe(true);
    // An example holding "$ref" would be read as a reference by OpenAPI tools: left out; the other one is kept.
    expect(post.requestBody.content["application/json"]!.example).toBeUndefined();
    expect(post.responses["200"]!.content["application/json"]!.example).toEqual({ ключ: null });
    expect(doc.paths["/ünï/{id}"]!.parameters).toEqual([param("id", "ж")]);
    await validateOpenApi(doc);
    // And through YAML as written.
    const [parsed] = parseAllDocuments(openApiYaml([doc])).map((d) => d.toJS() as unknown);
    expect(parsed).toEqual(JSON.parse(JSON.stringify(doc)));
  });

  it("refuses a document that does not validate (the check can fail)", async () => {
    const doc = openApiDocument(shopMap(), "other")!;
    const broken = { ...doc, paths: { ...doc.paths, "ping": doc.paths["/ping"]! } };
    await expect(validateOpenApi(broken)).rejects.toThrow(InvalidOpenApiError);
    await expect(validateOpenApi(broken)).rejects.toThrow(/OpenAPI document of "other" does not validate/);
    const badSchema = structuredClone(doc);
    (badSchema.paths["/ping"]!.get as { responses: Record<string, unknown> }).responses["200"] = { content: {} }; // no description
    await expect(validateOpenApi(badSchema)).rejects.toThrow(InvalidOpenApiError);
  });
});

describe("body schemas as JSON Schema 2020-12", () => {
  it("turns type names, unions, objects and arrays into their JSON Schema", () => {
    expect(jsonSchema("string")).toEqual({ type: "string" });
    expect(jsonSchema("null")).toEqual({ type: "null" });
    expect(jsonSchema("array|null|number")).toEqual({ type: ["array", "null", "number"] });
    expect(jsonSchema([])).toEqual({ type: "array" });
    expect(jsonSchema([{ b: "number", a: ["boolean"] }])).toEqual({
      type: "array",
      items: { type: "object", properties: { a: { type: "array", items: { type: "boolean" } }, b: { type: "number" } } },
    });
    expect(Object.keys(jsonSchema({ b: "number", a: "string" }).properties!)).toEqual(["a", "b"]);
    expect(jsonSchema({})).toEqual({ type: "object", properties: {} });
    expect(jsonSchema("uuid")).toEqual({ description: 'Observed as "uuid".' });
  });
});

describe("OpenAPI as YAML", () => {
  it("writes one document per service, separated by ---, timestamps quoted, read back as written", () => {
    const docs = openApiDocuments(shopMap());
    const text = openApiYaml(docs);
    expect(text.split("\n").filter((l) => l === "---")).toHaveLength(1);
    expect(text.startsWith("openapi: 3.1.1\n")).toBe(true);
    expect(text).toContain(`      x-adi-first-seen: "${T(6)}"\n`);
    expect(parseAllDocuments(text).map((d) => d.toJS() as unknown)).toEqual(JSON.parse(JSON.stringify(docs)));
    expect(openApiYaml([])).toBe("");
  });
});
