// The body scanner (inferSchemaKey and inferSchema read the body's text once, without JSON.parse) against the
// JSON.parse form it replaced, kept below as the oracle: same key and schema for every body, so the same bodies are
// "non-json" (JSON.parse rejects them) and every other body has the schema of the value JSON.parse makes of it.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { inferSchema, inferSchemaKey, MAX_SCHEMA_DEPTH, schemaKey } from "../src/wire/body-schema.ts";
import type { BodySchema, JsonSchema } from "../src/wire/body-schema.ts";

// ---- The oracle: body-schema.ts as it was before the scanner (JSON.parse, then a walk of the value) -------------

/**
 * JSON.parse(body), for the oracle. JSON.parse decides what is JSON; the value is built from the text's tokens
 * (build), because V8's JSON.parse (Node 24, V8 13.6) can misread an escaped key ("\u0061" as "\\") after an
 * earlier object, in the same parse or an earlier one, had a key holding a backslash at the same place. A body
 * without a backslash has no escaped key: there its built value is checked against JSON.parse's.
 */
function parse(body: string): { value: unknown } | null {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    return null;
  }
  const built = build(body);
  if (!body.includes("\\") && !sameValue(built, parsed)) expect(built).toEqual(parsed); // fails, showing both
  return { value: built };
}

/** Tokens of JSON text: a string, a punctuator, or a number or literal, after whitespace. */
const TOKEN = /[ \t\n\r]*("(?:[^"\\]|\\.)*"|[{}[\],:]|[^ \t\n\r{}[\],:]+)/y;

/**
 * The value of `body`, JSON text JSON.parse accepts, built as ECMA-262's JSON.parse builds it: objects by
 * CreateDataProperty (own properties, "__proto__" too; a repeated key keeps its first place and takes its last
 * value), every string, number and literal token decoded by JSON.parse on its own (no object key involved).
 */
function build(body: string): unknown {
  TOKEN.lastIndex = 0;
  const next = (): string => (TOKEN.exec(body) as RegExpExecArray)[1] as string;
  const value = (token: string): unknown => {
    if (token === "[") {
      const array: unknown[] = [];
      for (let t = next(); t !== "]"; t = next()) array.push(value(t === "," ? next() : t));
      return array;
    }
    if (token !== "{") return JSON.parse(token);
    const object = {};
    for (let t = next(); t !== "}"; t = next()) {
      const key = JSON.parse(t === "," ? next() : t) as string;
      next(); // ":"
      Object.defineProperty(object, key, { value: value(next()), enumerable: true, writable: true, configurable: true });
    }
    return object;
  };
  return value(next());
}

interface OracleShape {
  scalars: number;
  object: Map<string, OracleShape> | null;
  array: { element: OracleShape | null } | null;
}
const SCALARS = ["boolean", "null", "number", "string"] as const;
const BIT = { boolean: 1, null: 2, number: 4, string: 8 } as const;

function oracleSchema(body: string | null, binary: boolean): BodySchema {
  if (body === null || body.trim() === "") return null;
  if (binary) return "non-json";
  const parsed = parse(body);
  if (parsed === null) return "non-json";
  const shape: OracleShape = { scalars: 0, object: null, array: null };
  addValue(shape, parsed.value);
  return render(shape);
}

function oracleKey(body: string | null, binary: boolean): string {
  if (body === null || body.trim() === "") return "null";
  if (binary) return '"non-json"';
  const parsed = parse(body);
  return parsed === null ? '"non-json"' : valueKey(parsed.value);
}

function valueKey(value: unknown): string {
  if (value === null) return '"null"';
  const scalar = ({ string: '"string"', number: '"number"', boolean: '"boolean"' } as Record<string, string>)[typeof value];
  if (scalar !== undefined) return scalar;
  if (Array.isArray(value)) {
    const shape: OracleShape = { scalars: 0, object: null, array: null };
    addValue(shape, value);
    return stableStringify(render(shape));
  }
  const object = value as Record<string, unknown>;
  const keys = Object.keys(object).sort();
  return `{${keys.map((key) => `${JSON.stringify(key)}:${valueKey(object[key])}`).join(",")}}`;
}

function stableStringify(value: BodySchema): string {
  if (value === null || typeof value === "string") return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(stableStringify).join(",")}]`;
  const keys = Object.keys(value).sort();
  return `{${keys.map((key) => `${JSON.stringify(key)}:${stableStringify(value[key] as JsonSchema)}`).join(",")}}`;
}

function addValue(shape: OracleShape, value: unknown): void {
  if (value === null) shape.scalars |= BIT.null;
  else if (typeof value === "string") shape.scalars |= BIT.string;
  else if (typeof value === "number") shape.scalars |= BIT.number;
  else if (typeof value === "boolean") shape.scalars |= BIT.boolean;
  else if (Array.isArray(value)) {
    shape.array ??= { element: null };
    for (const item of value) addValue((shape.array.element ??= { scalars: 0, object: null, array: null }), item);
  } else if (typeof value === "object") {
    const fields = (shape.object ??= new Map());
    for (const key in value) {
      if (!Object.hasOwn(value, key)) continue;
      let child = fields.get(key);
      if (child === undefined) fields.set(key, (child = { scalars: 0, object: null, array: null }));
      addValue(child, (value as Record<string, unknown>)[key]);
    }
  }
}

function render(shape: OracleShape): JsonSchema {
  const structures = (shape.object ? 1 : 0) + (shape.array ? 1 : 0);
  if (structures === 1 && (shape.scalars & ~BIT.null) === 0) {
    if (shape.object) {
      const fields = shape.object;
      return Object.fromEntries([...fields.keys()].sort().map((key) => [key, render(fields.get(key) as OracleShape)]));
    }
    const element = shape.array?.element ?? null;
    return element === null ? [] : [render(element)];
  }
  const kinds: string[] = SCALARS.filter((name) => (shape.scalars & BIT[name]) !== 0);
  if (shape.object) kinds.push("object");
  if (shape.array) kinds.push("array");
  return kinds.sort().join("|");
}

/**
 * The same value, exactly: kinds, prototypes, own keys in their order. Not toStrictEqual: it compares objects'
 * `constructor` properties by identity, and a body's "constructor" key makes that an own property.
 */
function sameValue(a: unknown, b: unknown): boolean {
  if (typeof a !== "object" || a === null || typeof b !== "object" || b === null) return Object.is(a, b);
  if (Object.getPrototypeOf(a) !== Object.getPrototypeOf(b)) return false;
  const keys = Reflect.ownKeys(a);
  const other = Reflect.ownKeys(b);
  if (keys.length !== other.length || keys.some((key, i) => key !== other[i])) return false;
  return keys.every((key) => sameValue(Reflect.get(a, key), Reflect.get(b, key)));
}

/** The scanner and the oracle agree on `body`: key, schema, and the key of the schema. */
function agree(body: string | null, binary = false): void {
  const key = oracleKey(body, binary);
  expect(inferSchemaKey(body, binary)).toBe(key);
  const schema = inferSchema(body, binary);
  const expected = oracleSchema(body, binary);
  if (!sameValue(schema, expected)) expect(schema).toEqual(expected); // fails, showing both
  expect(sameValue(schema, expected)).toBe(true);
  expect(schemaKey(schema)).toBe(key);
}

// ---- Generated JSON text: whitespace anywhere JSON allows it, every escape, the number grammar, repeated keys ----

const ws = fc.string({ unit: fc.constantFrom(" ", "\t", "\n", "\r"), maxLength: 2 });
const hexEscape = fc
  .tuple(fc.integer({ min: 0, max: 0xffff }), fc.boolean())
  .map(([code, upper]) => `\\u${upper ? code.toString(16).padStart(4, "0").toUpperCase() : code.toString(16).padStart(4, "0")}`);
const escape = fc.oneof(fc.constantFrom('\\"', "\\\\", "\\/", "\\b", "\\f", "\\n", "\\r", "\\t"), hexEscape);
// Any code unit a string may hold raw: no quote, backslash or control character; lone surrogates included.
const rawUnit = fc
  .integer({ min: 0x20, max: 0xffff })
  .filter((c) => c !== 0x22 && c !== 0x5c)
  .map((c) => String.fromCharCode(c));
const stringText = fc
  .array(fc.oneof({ weight: 4, arbitrary: fc.constantFrom("a", "b", "z", "_", " ", "0", "é") }, rawUnit, escape), { maxLength: 6 })
  .map((parts) => `"${parts.join("")}"`);
// A small pool, so objects repeat keys (merged in arrays, duplicates in one object), written raw and escaped.
const keyText = fc.oneof(
  {
    weight: 3,
    arbitrary: fc.constantFrom('"a"', '"b"', '"c"', '"\\u0061"', '"__proto__"', '"\\u005f_proto__"', '"constructor"'),
  },
  fc.constantFrom('"1"', '"10"', '"9"', '""', '"\\u0000"', '"\\ud800"', '"\\uDC00\\uD800"', '"\\uD83D\\uDE00"', '"😀"', '"a\\"b"', '"\ud800"'),
  stringText,
);
const digits = (min: number) => fc.string({ unit: fc.constantFrom(..."0123456789"), minLength: min, maxLength: 4 });
const numberText = fc
  .tuple(
    fc.boolean(),
    fc.oneof(fc.constant("0"), fc.tuple(fc.constantFrom(..."123456789"), digits(0)).map(([a, b]) => a + b)),
    fc.option(digits(1).map((d) => `.${d}`), { nil: "" }),
    fc.option(fc.tuple(fc.constantFrom("e", "E"), fc.constantFrom("", "+", "-"), digits(1)).map((p) => p.join("")), { nil: "" }),
  )
  .map(([minus, int, fraction, exponent]) => `${minus ? "-" : ""}${int}${fraction}${exponent}`);
const scalarText = fc.oneof(stringText, numberText, fc.constantFrom("true", "false", "null"));

const { value: valueText } = fc.letrec<{ value: string; array: string; object: string }>((tie) => ({
  value: fc.oneof({ depthSize: "small", withCrossShrink: true }, scalarText, tie("array"), tie("object")),
  array: fc
    .tuple(ws, fc.array(fc.tuple(ws, tie("value"), ws), { maxLength: 5 }))
    .map(([empty, items]) => (items.length === 0 ? `[${empty}]` : `[${items.map((i) => i.join("")).join(",")}]`)),
  object: fc
    .tuple(ws, fc.array(fc.tuple(ws, keyText, ws, ws, tie("value"), ws), { maxLength: 5 }))
    .map(([empty, members]) =>
      members.length === 0 ? `{${empty}}` : `{${members.map(([a, k, b, c, v, d]) => `${a}${k}${b}:${c}${v}${d}`).join(",")}}`,
    ),
}));
const bodyText = fc.tuple(ws, valueText, ws).map((parts) => parts.join(""));

// Arrays of records: one key order, keys left out, reordered now and then (what the scanner's key guesses meet).
const recordsText = fc
  .tuple(
    fc.uniqueArray(keyText, { minLength: 1, maxLength: 6 }),
    fc.array(fc.tuple(fc.array(fc.boolean(), { minLength: 6, maxLength: 6 }), fc.boolean(), fc.array(scalarText, { minLength: 6, maxLength: 6 })), {
      maxLength: 6,
    }),
  )
  .map(([keys, rows]) => {
    const records = rows.map(([keep, reverse, values]) => {
      const members = keys.map((key, i) => (keep[i] ? `${key}:${values[i]}` : "")).filter((m) => m !== "");
      return `{${(reverse ? members.reverse() : members).join(",")}}`;
    });
    return `{"data":[${records.join(",")}]}`;
  });

// Edits that keep or break a body: cut, a character dropped, inserted or replaced by one JSON cares about.
const interesting = [..."{}[]\",:0123456789-+.eEtfnul \t\n\r\\/x", "\u0000", "\u001f", "\u00a0", "\ufeff", "\ud800"];
const mutated = fc
  .tuple(fc.oneof(bodyText, recordsText), fc.nat(), fc.constantFrom(...interesting), fc.constantFrom("cut", "drop", "insert", "replace"))
  .map(([body, n, char, edit]) => {
    const i = n % (body.length + 1);
    if (edit === "cut") return body.slice(0, i);
    if (edit === "drop") return body.slice(0, i) + body.slice(i + 1);
    if (edit === "insert") return body.slice(0, i) + char + body.slice(i);
    return body.slice(0, i) + char + body.slice(i + 1);
  });

describe("body scanner against JSON.parse", () => {
  it("agrees on generated JSON text (whitespace, escapes, numbers, repeated and duplicate keys)", () => {
    fc.assert(fc.property(bodyText, (body) => agree(body)), { numRuns: 3_000 });
  });

  it("agrees on arrays of records with keys left out and reordered", () => {
    fc.assert(fc.property(recordsText, (body) => agree(body)), { numRuns: 1_000 });
  });

  it("agrees on edited JSON text: rejected exactly where JSON.parse rejects it", () => {
    fc.assert(fc.property(mutated, (body) => agree(body)), { numRuns: 5_000 });
  });

  it("agrees on JSON.stringify of any value, compact and indented", () => {
    fc.assert(
      fc.property(fc.jsonValue(), fc.constantFrom(undefined, 2, "\t"), (value, indent) => agree(JSON.stringify(value, null, indent))),
      { numRuns: 1_000 },
    );
  });

  it("agrees on any text made of JSON's characters", () => {
    const unit = fc.constantFrom(..."{}[]\",:01-.etrufalsn \\u", "\u00a0");
    fc.assert(fc.property(fc.string({ unit, maxLength: 12 }), fc.boolean(), (body, binary) => agree(body, binary)), { numRuns: 3_000 });
  });

  it.each([
    // Blank and whitespace: JSON whitespace is space, tab, LF, CR; blank is what JS trim says.
    "", " ", " \t\n\r", "\u00a0", "\ufeff", " \u2028 ", "\u00a0{}", "{}\u00a0", "\ufeff[]", "\v1", "1\f", " \t\n\r{} \t\n\r",
    // Duplicate keys: JSON.parse keeps the last value (and the first position, which sorting hides).
    '{"a":1,"a":"x"}', '{"a":{"b":1},"a":[1]}', '{"a":1,"\\u0061":null}', '[{"a":1,"a":"x"},{"a":true}]',
    '[{"a":1},{"b":2,"a":[],"a":{}}]', '{"x":[{"a":1,"b":2,"a":null}]}',
    // __proto__: an own key like any other, in objects and in arrays' merged objects.
    '{"__proto__":1}', '{"__proto__":{"x":1}}', '[{"__proto__":{"x":1}},{"__proto__":null}]', '{"__proto__":1,"__proto__":"x"}',
    '{"\\u005f_proto__":[]}', '{"constructor":1,"toString":"x","hasOwnProperty":null}',
    // Keys with escapes, lone surrogates, characters JSON.stringify escapes or not.
    '{"\\u0000":1}', '{"\\ud800":1}', '{"\\udc00\\ud800":1}', '{"\\uD83D\\uDE00":1,"😀":2}', '{"\ud800":1,"\udfff":2}',
    '{"\\"":1,"\\\\":2,"\\/":3,"\\b\\f\\n\\r\\t":4}', '{"\u2028\u2029":1}', '{"\u007f":1}', '{"é":1,"e":2,"z":3,"É":4}',
    '{"10":1,"9":2,"1":3,"":4,"a":5,"A":6}', '[{"\\u0061":1},{"a":"x"}]',
    // Strings: bad escapes, raw control characters (DEL is allowed), the end inside a string.
    '"\\x"', '"\\u12"', '"\\u12G4"', '"\\U0041"', '{"\\a":1}', '"\\', '"abc', '"\u0000"', '"a\tb"', '"\n"', '{"a\u001f":1}',
    '"\u007f"', '"\\u0000"', '"\ud800"',
    // Numbers.
    "-0", "0", "1e5", "1E+5", "1e-5", "0.5", "-0.0e0", "1e999", "-1e-999", "01", "-01", "00", "1.", ".5", "+1", "-", "1e", "1e+",
    "0x10", "Infinity", "-Infinity", "NaN", "1.e5", "- 1", "1 2", "[01]", "[1.]", "[-]", "[0.5e]", '{"a":-}',
    // Literals.
    "true", "false", "null", "tru", "nul", "nulll", "True", "NULL", "null x", "[true,false,null]", "[truefalse]", "[nul]",
    // Commas, colons, brackets.
    "[1,]", '{"a":1,}', "[,1]", '{,"a":1}', "[1,,2]", '{"a":1 "b":2}', '{"a" 1}', "{a:1}", "{'a':1}", "[1 2]", "{}{}", "[] []",
    "[", "{", "]", "}", '{"a":', '{"a"', "[1", '{"a":1', '{"a":1}}', "[[]", "[]]", '{"a":[}', '[{"a":1]}',
    // Empty structures, alone and merged.
    "{}", "[]", "[[]]", "[{}]", '{"a":[]}', "[[],[1]]", "[null,{}]", "[{},[]]", '[[],[{"a":1}],[{"b":null}]]', '[null,[]]',
    '[{"a":null},{"a":{"b":1}},{"a":{"c":[]}}]', '[1,"a",true,null,{},[]]',
  ])("%j", (body) => {
    agree(body);
    agree(body, true);
  });

  it("agrees on nesting up to MAX_SCHEMA_DEPTH", () => {
    for (const depth of [1, 2, MAX_SCHEMA_DEPTH - 1, MAX_SCHEMA_DEPTH]) {
      agree(`${"[".repeat(depth)}1${"]".repeat(depth)}`);
      agree(`${'{"a":'.repeat(depth)}1${"}".repeat(depth)}`);
      agree(`${"[".repeat(depth)}1${"]".repeat(depth - 1)}`); // one bracket short
    }
    agree(`${'[{"a":'.repeat(MAX_SCHEMA_DEPTH / 2)}null${"}]".repeat(MAX_SCHEMA_DEPTH / 2)}`);
  });

  it("types a structure past MAX_SCHEMA_DEPTH by its kind, at any depth, never throwing (a hostile 20 KB [[[[...)", () => {
    const M = MAX_SCHEMA_DEPTH;
    for (const depth of [M + 1, M + 2, 1000, 10_000, 200_000]) {
      const cases: [string, string][] = [
        [`${"[".repeat(depth)}1${"]".repeat(depth)}`, `${"[".repeat(M)}"array"${"]".repeat(M)}`],
        [`${'{"a":'.repeat(depth)}1${"}".repeat(depth)}`, `${'{"a":'.repeat(M)}"object"${"}".repeat(M)}`],
        [`${"[".repeat(depth)}1${"]".repeat(depth - 1)}`, '"non-json"'],
        // Past the cap the union still holds: an array whose elements are sometimes a deep array, sometimes a number.
        [`${"[".repeat(M)}[[1]],2${"]".repeat(M)}`, `${"[".repeat(M)}"array|number"${"]".repeat(M)}`],
      ];
      for (const [body, key] of cases) {
        expect(inferSchemaKey(body, false)).toBe(key);
        expect(schemaKey(inferSchema(body, false))).toBe(key);
      }
    }
  });

  it("keeps only a repeated key's last value, found in the middle of an array (the body is read again)", () => {
    const rows = Array.from({ length: 50 }, (_, i) => (i === 25 ? '{"a":1,"b":"x","a":[true]}' : `{"a":${i},"b":null}`));
    const body = `[${rows.join(",")}]`;
    agree(body);
    expect(inferSchemaKey(body, false)).toBe('[{"a":"array|number","b":"null|string"}]');
    expect(inferSchemaKey('[{"a":1,"a":"x"},{"a":true}]', false)).toBe('[{"a":"boolean|string"}]');
    expect(inferSchemaKey('{"a":{"b":1},"a":{"c":[{"d":1,"d":null}]}}', false)).toBe('{"a":{"c":[{"d":"null"}]}}');
  });

  it("reads escaped keys itself, where V8's JSON.parse misreads them after a key holding a backslash", () => {
    JSON.parse(String.raw`{"p":1,"\\":2}`); // what a body with such a key did to later parses in this realm
    expect(inferSchemaKey(String.raw`{"p":1,"\\":2}`, false)).toBe(String.raw`{"\\":"number","p":"number"}`);
    expect(inferSchemaKey(String.raw`{"p":1,"\u0061":2}`, false)).toBe('{"a":"number","p":"number"}');
    expect(inferSchemaKey(String.raw`[{"p":1,"\n":2}]`, false)).toBe(String.raw`[{"\n":"number","p":"number"}]`);
  });
});
