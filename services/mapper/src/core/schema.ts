// Body schemas as the Go tool printed them in the service map: the JSON structure with every value
// replaced by its type name. "non-json" for bodies that are not JSON (or binary), null for empty bodies.
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
 * of the elements cannot change the result.
 */
interface Shape {
  scalars: Set<ScalarTypeName>;
  object: Map<string, Shape> | null;
  /** present: an array was seen; element null: only empty arrays were seen. */
  array: { element: Shape | null } | null;
}

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
  return render(shapeOf(value));
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
  return { scalars: new Set(), object: null, array: null };
}

function shapeOf(value: unknown): Shape {
  const shape = emptyShape();
  if (value === null) shape.scalars.add("null");
  else if (typeof value === "string") shape.scalars.add("string");
  else if (typeof value === "number") shape.scalars.add("number");
  else if (typeof value === "boolean") shape.scalars.add("boolean");
  else if (Array.isArray(value)) {
    let element: Shape | null = null;
    for (const item of value) element = element === null ? shapeOf(item) : merge(element, shapeOf(item));
    shape.array = { element };
  } else if (typeof value === "object") {
    shape.object = new Map(Object.entries(value).map(([key, child]) => [key, shapeOf(child)]));
  }
  return shape;
}

function merge(a: Shape, b: Shape): Shape {
  const merged: Shape = { scalars: new Set([...a.scalars, ...b.scalars]), object: null, array: null };
  if (a.object && b.object) {
    // Keys missing from some elements are kept: the schema tells every key the array's objects can have.
    const keys = new Map(a.object);
    for (const [key, child] of b.object) {
      const existing = keys.get(key);
      keys.set(key, existing ? merge(existing, child) : child);
    }
    merged.object = keys;
  } else {
    merged.object = a.object ?? b.object;
  }
  if (a.array && b.array) {
    const [x, y] = [a.array.element, b.array.element];
    merged.array = { element: x && y ? merge(x, y) : (x ?? y) };
  } else {
    merged.array = a.array ?? b.array;
  }
  return merged;
}

function render(shape: Shape): JsonSchema {
  const structures = (shape.object ? 1 : 0) + (shape.array ? 1 : 0);
  const onlyNull = shape.scalars.size === 0 || (shape.scalars.size === 1 && shape.scalars.has("null"));
  // One structure that is sometimes null keeps its structure: a union string would lose every key in it.
  if (structures === 1 && onlyNull) {
    if (shape.object) return renderObject(shape.object);
    const element = shape.array?.element ?? null;
    return element === null ? [] : [render(element)];
  }
  const kinds: string[] = [...shape.scalars];
  if (shape.object) kinds.push("object");
  if (shape.array) kinds.push("array");
  return kinds.sort().join("|");
}

function renderObject(fields: Map<string, Shape>): { [key: string]: JsonSchema } {
  const keys = [...fields.keys()].sort();
  // fromEntries defines own properties, so a "__proto__" key in a body stays an ordinary key.
  return Object.fromEntries(keys.map((key) => [key, render(fields.get(key) as Shape)]));
}
