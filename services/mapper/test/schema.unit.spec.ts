import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { inferSchema, NON_JSON, schemaKey } from "../src/core/schema.ts";

describe("inferSchema", () => {
  it("marks empty bodies null", () => {
    expect(inferSchema(null, false)).toBeNull();
    expect(inferSchema("", false)).toBeNull();
    expect(inferSchema("  \r\n", false)).toBeNull();
  });

  it("marks non-JSON, truncated JSON and binary bodies non-json", () => {
    expect(inferSchema("<html></html>", false)).toBe(NON_JSON);
    expect(inferSchema('{"a": 1, "b"', false)).toBe(NON_JSON);
    expect(inferSchema('{"a": 1}', true)).toBe("non-json");
  });

  it("replaces values by type names and sorts keys, at every level", () => {
    const schema = inferSchema('{"z": "x", "a": {"n": 1.5, "t": true, "nil": null}, "m": 0}', false);
    expect(schema).toEqual({ a: { n: "number", nil: "null", t: "boolean" }, m: "number", z: "string" });
    expect(Object.keys(schema as object)).toEqual(["a", "m", "z"]);
    expect(Object.keys((schema as Record<string, object>).a as object)).toEqual(["n", "nil", "t"]);
  });

  it("gives JSON scalars at the top level their type name", () => {
    expect(inferSchema("42", false)).toBe("number");
    expect(inferSchema('"ok"', false)).toBe("string");
    expect(inferSchema("null", false)).toBe("null");
  });

  it("merges the keys of an array's objects", () => {
    const body = JSON.stringify({ reviews: [{ reviewer: "a", text: "b" }, { reviewer: "c", rating: { stars: 5 } }] });
    expect(inferSchema(body, false)).toEqual({
      reviews: [{ rating: { stars: "number" }, reviewer: "string", text: "string" }],
    });
  });

  it("unions differing scalar types, sorted", () => {
    expect(inferSchema('[1, "a", 2, true]', false)).toEqual(["boolean|number|string"]);
    expect(inferSchema('[{"id": 1}, {"id": "x"}]', false)).toEqual([{ id: "number|string" }]);
  });

  it("keeps empty arrays empty, and merges nested arrays", () => {
    expect(inferSchema("[]", false)).toEqual([]);
    expect(inferSchema('{"tags": []}', false)).toEqual({ tags: [] });
    expect(inferSchema('[[], [1], ["a"]]', false)).toEqual([["number|string"]]);
  });

  it("keeps the structure of a sometimes-null object, names kinds when a structure meets a scalar", () => {
    expect(inferSchema('[null, {"a": 1}]', false)).toEqual([{ a: "number" }]);
    expect(inferSchema('[{"a": 1}, "x"]', false)).toEqual(["object|string"]);
    expect(inferSchema('[[1], {"a": 1}]', false)).toEqual(["array|object"]);
  });

  it("keeps a __proto__ key as an ordinary key", () => {
    const schema = inferSchema('{"__proto__": {"x": 1}}', false) as Record<string, unknown>;
    expect(Object.keys(schema)).toEqual(["__proto__"]);
    expect(Object.getPrototypeOf(schema)).toBe(Object.prototype);
  });

  it("does not depend on the order of an array's elements", () => {
    fc.assert(
      fc.property(
        fc.array(fc.jsonValue({ maxDepth: 3 }), { maxLength: 6 }).chain((items) =>
          fc.tuple(fc.constant(items), fc.shuffledSubarray(items, { minLength: items.length, maxLength: items.length })),
        ),
        ([items, shuffled]) => {
          const a = inferSchema(JSON.stringify(items), false);
          const b = inferSchema(JSON.stringify(shuffled), false);
          expect(schemaKey(a)).toBe(schemaKey(b));
        },
      ),
      { seed: 20240408, numRuns: 300 },
    );
  });
});

describe("schemaKey", () => {
  it("is the same for the same structure, whatever the key order or the values", () => {
    const a = inferSchema('{"b": 1, "a": "x"}', false);
    const b = inferSchema('{"a": "y", "b": 2}', false);
    expect(schemaKey(a)).toBe(schemaKey(b));
    expect(schemaKey({ b: "number", a: "string" })).toBe(schemaKey({ a: "string", b: "number" }));
  });

  it("tells variants apart", () => {
    const keys = [
      schemaKey(null),
      schemaKey("null"),
      schemaKey(NON_JSON),
      schemaKey({ a: "number" }),
      schemaKey({ a: "string" }),
      schemaKey([]),
      schemaKey({}),
    ];
    expect(new Set(keys).size).toBe(keys.length);
  });
});
