// Body schemas as the Go tool printed them in the service map: the JSON structure with every value
// replaced by its type name. "non-json" for bodies that are not JSON (or binary), null for empty bodies.
// Part of the derived contract: the classifier infers a body's schema where it parsed the bytes and ships its
// canonical key (schemaKey) with the message, so no consumer parses the body's JSON again.
//
//   {"id": 7, "tags": ["a", 1], "owner": null}  ->  { id: "number", owner: "null", tags: ["number|string"] }

export type ScalarTypeName = "string" | "number" | "boolean" | "null";

/** A type name ("string"), a union of them ("number|string"), an object of schemas, or [element] / []. */
export type JsonSchema = string | JsonSchema[] | { [key: string]: JsonSchema };

/** What a body becomes: null when empty, "non-json" when not JSON, else its structure. */
export type BodySchema = JsonSchema | null;

export const NON_JSON = "non-json";


/**
 * Array elements are merged into one shape. A shape is a set of kinds (scalars, at most one object
 * shape, at most one array shape), so merging is a plain union: commutative and associative, the order
 * of the elements cannot change the result. Values are added into one accumulating shape (no shape per
 * element, no copies): this runs for every body the classifier decodes.
 */
interface Shape {
  /** Bit set of SCALARS. */
  scalars: number;
  object: Map<string, Shape> | null;
  /** present: an array was seen; element null: only empty arrays were seen. */
  array: { element: Shape | null } | null;
}

const SCALARS: readonly ScalarTypeName[] = ["boolean", "null", "number", "string"]; // sorted: rendered in this order
const BIT = { boolean: 1, null: 2, number: 4, string: 8 } as const;

export function inferSchema(body: string | null, binary: boolean): BodySchema {
  if (body === null || body.trim() === "") return null;
  if (binary) return NON_JSON;
  let value: unknown;
  try {
    value = JSON.parse(body);
  } catch {
    // Also what a truncated JSON body becomes: the capture cut it, so its structure is unknown.
    return NON_JSON;
  }
  const shape = emptyShape();
  addValue(shape, value);
  return render(shape);
}

/** schemaKey(NON_JSON). */
const NON_JSON_KEY = JSON.stringify(NON_JSON);

/**
 * schemaKey(inferSchema(body, binary)), in one pass: an object's key is built from its sorted keys and its values'
 * keys directly, without the intermediate shape, its rendering and a second walk to stringify it (the classifier
 * runs this for every body it decodes; equal to the two-step form for every JSON value, a property test pins it).
 * Arrays still go through the shape, which merges their elements.
 */
export function inferSchemaKey(body: string | null, binary: boolean): string {
  if (body === null || body.trim() === "") return "null";
  if (binary) return NON_JSON_KEY;
  let value: unknown;
  try {
    value = JSON.parse(body);
  } catch {
    return NON_JSON_KEY;
  }
  return valueKey(value);
}

const SCALAR_KEYS: Readonly<Record<string, string>> = { string: '"string"', number: '"number"', boolean: '"boolean"' };

function valueKey(value: unknown): string {
  if (value === null) return '"null"';
  const scalar = SCALAR_KEYS[typeof value];
  if (scalar !== undefined) return scalar;
  if (Array.isArray(value)) {
    const shape = emptyShape();
    addValue(shape, value);
    return stableStringify(render(shape));
  }
  const object = value as Record<string, unknown>;
  const keys = Object.keys(object).sort();
  let out = "{";
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i]!;
    out += `${i === 0 ? "" : ","}${JSON.stringify(key)}:${valueKey(object[key])}`;
  }
  return `${out}}`;
}

/** Canonical text of a schema (keys sorted at every level): two schemas are the same variant iff equal. */
export function schemaKey(schema: BodySchema): string {
  return stableStringify(schema);
}

function stableStringify(value: BodySchema): string {
  if (value === null || typeof value === "string") return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(stableStringify).join(",")}]`;
  const keys = Object.keys(value).sort();
  return `{${keys.map((key) => `${JSON.stringify(key)}:${stableStringify(value[key] as JsonSchema)}`).join(",")}}`;
}

function emptyShape(): Shape {
  return { scalars: 0, object: null, array: null };
}

/** Unions `value`'s shape into `shape`. */
function addValue(shape: Shape, value: unknown): void {
  if (value === null) shape.scalars |= BIT.null;
  else if (typeof value === "string") shape.scalars |= BIT.string;
  else if (typeof value === "number") shape.scalars |= BIT.number;
  else if (typeof value === "boolean") shape.scalars |= BIT.boolean;
  else if (Array.isArray(value)) {
    shape.array ??= { element: null };
    for (const item of value) addValue((shape.array.element ??= emptyShape()), item);
  } else if (typeof value === "object") {
    const fields = (shape.object ??= new Map());
    // Keys missing from some elements are kept: the schema tells every key the array's objects can have.
    for (const key in value) {
      if (!Object.hasOwn(value, key)) continue;
      let child = fields.get(key);
      if (child === undefined) fields.set(key, (child = emptyShape()));
      addValue(child, (value as Record<string, unknown>)[key]);
    }
  }
}

function render(shape: Shape): JsonSchema {
  const structures = (shape.object ? 1 : 0) + (shape.array ? 1 : 0);
  const onlyNull = (shape.scalars & ~BIT.null) === 0;
  // One structure that is sometimes null keeps its structure: a union string would lose every key in it.
  if (structures === 1 && onlyNull) {
    if (shape.object) return renderObject(shape.object);
    const element = shape.array?.element ?? null;
    return element === null ? [] : [render(element)];
  }
  const kinds: string[] = SCALARS.filter((name) => (shape.scalars & BIT[name]) !== 0);
  if (shape.object) kinds.push("object");
  if (shape.array) kinds.push("array");
  return kinds.sort().join("|");
}

function renderObject(fields: Map<string, Shape>): { [key: string]: JsonSchema } {
  const keys = [...fields.keys()].sort();
  // fromEntries defines own properties, so a "__proto__" key in a body stays an ordinary key.
  return Object.fromEntries(keys.map((key) => [key, render(fields.get(key) as Shape)]));
}
