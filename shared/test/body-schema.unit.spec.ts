// A body's schema key in one pass (inferSchemaKey, what the classifier ships with each message) equals the
// two-step form the mapper used before v3 (schemaKey(inferSchema(...))) for every JSON value and for what is not JSON.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { inferSchema, inferSchemaKey, schemaKey } from "../src/wire/body-schema.ts";

const twoStep = (body: string | null, binary = false) => schemaKey(inferSchema(body, binary));

describe("inferSchemaKey", () => {
  it("equals schemaKey(inferSchema()) for any JSON value", () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        const body = JSON.stringify(value);
        expect(inferSchemaKey(body, false)).toBe(twoStep(body));
      }),
      { numRuns: 2_000 },
    );
  });

  it.each([
    [null, false, "null"],
    ["  ", false, "null"],
    ["{\"a\":1", false, '"non-json"'],
    ["<html>", false, '"non-json"'],
    ["{\"a\":1}", true, '"non-json"'],
    ["null", false, '"null"'],
    ['{"b":[1,"x",null],"a":{"__proto__":true},"c":[{"x":1},{"y":null}]}', false, '{"a":{"__proto__":"boolean"},"b":["null|number|string"],"c":[{"x":"number","y":"null"}]}'],
  ])("%j (binary %s) is %s", (body, binary, key) => {
    expect(inferSchemaKey(body, binary)).toBe(key);
    expect(twoStep(body, binary)).toBe(key);
  });
});
