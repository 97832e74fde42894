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
  object: ObjectShape | null;
  /** present: an array was seen; element null: only empty arrays were seen. */
  array: { element: Shape | null } | null;
  // For a field (a shape in ObjectShape.fields), else "", "", false, null, 0:
  /** Its key. */
  key: string;
  /** Its key as JSON text (JSON.stringify). */
  name: string;
  /** The key's JSON text needs no escape (it is the key in quotes): the scanner can check the text against it. */
  plain: boolean;
  /** The field that followed it in the last object the scanner read it in: the guess for the next key. */
  next: Shape | null;
  /** Number of the last JSON object (counted by the scanner) that gave it a value: tells a duplicate key. */
  stamp: number;
}

/**
 * Merged objects: the shape of each key seen (found by a look along the few fields of most objects, by `index` past
 * LINEAR_FIELDS), and the first field of the last object scanned in: with Shape.next, the scanner's guesses (an
 * array's objects mostly repeat their keys in one order, so the scanner checks the text against the guessed key
 * before it cuts the key out of the text and looks it up).
 */
interface ObjectShape {
  fields: Shape[];
  index: Map<string, Shape> | null;
  first: Shape | null;
}

/** Fields an object shape finds by a look along them (comparing fresh strings), before it hashes them. */
const LINEAR_FIELDS = 24;

const SCALARS: readonly ScalarTypeName[] = ["boolean", "null", "number", "string"]; // sorted: rendered in this order
const BIT = { boolean: 1, null: 2, number: 4, string: 8 } as const;
/** Bits of a shape's kinds past its scalars, to index KIND_NAMES. */
const OBJECT_BIT = 16;
const ARRAY_BIT = 32;

/**
 * The union type name of each set of kinds (scalar bits | OBJECT_BIT | ARRAY_BIT): the kinds' names sorted and
 * joined with "|" ("array|null|number"). A table, as the render of a union runs for every merged array element.
 */
const KIND_NAMES: readonly string[] = Array.from({ length: 64 }, (_, mask) => {
  const kinds: string[] = SCALARS.filter((name) => (mask & BIT[name]) !== 0);
  if (mask & OBJECT_BIT) kinds.push("object");
  if (mask & ARRAY_BIT) kinds.push("array");
  return kinds.sort().join("|");
});
/** schemaKey() of each KIND_NAMES entry. */
const KIND_KEYS: readonly string[] = KIND_NAMES.map((name) => JSON.stringify(name));

/** schemaKey(NON_JSON). */
const NON_JSON_KEY = JSON.stringify(NON_JSON);

/**
 * Nesting a schema describes: an object or array inside MAX_SCHEMA_DEPTH others is typed by its kind only,
 * "object" or "array", as a union member is. A body nested thousands of levels deep (a 20 KB `[[[[...`) would
 * otherwise overflow the stack of every recursive walk, and a RangeError on the classifier's hot path dead-letters
 * the whole batch it came in and stops `adi replay`. A count, not the stack's end, so the same body gets the same
 * schema wherever it is inferred.
 */
export const MAX_SCHEMA_DEPTH = 128;

/**
 * A body's schema: null when the body is null or blank (JS trim), NON_JSON when it is binary or not JSON (what
 * JSON.parse rejects, a body the capture truncated among them), else the structure of the JSON value, structures
 * nested deeper than MAX_SCHEMA_DEPTH typed by their kind. Never throws for any string.
 */
export function inferSchema(body: string | null, binary: boolean): BodySchema {
  const shape = bodyShape(body, binary);
  if (shape === null || shape === NON_JSON) return shape;
  const whole = shape === TOO_DEEP ? deepShape(body as string) : shape;
  return whole === NON_JSON ? NON_JSON : render(whole);
}

/**
 * schemaKey(inferSchema(body, binary)), without building the parsed value, the schema or a second walk to
 * stringify it: the scanner reads the body's text once into its shape, whose key is written directly (the
 * classifier runs this for every body it decodes). Equal to the two-step form, and to the key of the value
 * JSON.parse makes of the body, for every body: property tests against that form pin it
 * (shared/test/body-schema-scan.unit.spec.ts). Never throws, as inferSchema.
 */
export function inferSchemaKey(body: string | null, binary: boolean): string {
  const shape = bodyShape(body, binary);
  if (shape === null) return "null";
  if (shape === NON_JSON) return NON_JSON_KEY;
  if (shape !== TOO_DEEP) return shapeKey(shape);
  const deep = deepShape(body as string);
  return deep === NON_JSON ? NON_JSON_KEY : shapeKey(deep);
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

/**
 * The shared prelude of inferSchema and inferSchemaKey: null for a null or blank body, NON_JSON for a binary one
 * or one JSON.parse rejects, else the body's shape; TOO_DEEP for a body nested deeper than MAX_SCHEMA_DEPTH.
 */
function bodyShape(body: string | null, binary: boolean): Shape | typeof NON_JSON | typeof TOO_DEEP | null {
  if (body === null) return null;
  let start = 0;
  let c = body.charCodeAt(0);
  while (c === SPACE || c === LF || c === CR || c === TAB) c = body.charCodeAt(++start);
  // A JSON value starts here, so the body is not blank. Anything else: blank is what JS trim says (wider than
  // JSON's whitespace: a body of U+00A0 is empty, as it always was), and a body that is not blank is not JSON.
  const last = LAST[c] ?? 0;
  if (last === 0) return body.trim() === "" ? null : NON_JSON;
  if (binary) return NON_JSON;
  // A body cut short (as the capture cuts a long one) mostly ends in another character: not JSON, without a scan.
  let end = body.length - 1;
  let e = body.charCodeAt(end);
  while (e === SPACE || e === LF || e === CR || e === TAB) e = body.charCodeAt(--end);
  if (last === DIGIT ? !(e >= ZERO && e <= NINE) : e !== last) return NON_JSON;
  return scanBody(body, start);
}

function emptyShape(): Shape {
  return { scalars: 0, object: null, array: null, key: "", name: "", plain: false, next: null, stamp: 0 };
}

function emptyObject(): ObjectShape {
  return { fields: [], index: null, first: null };
}

/**
 * The shape of `key`'s values in `object`, added if new. `plain`: the caller knows the key's JSON text is the key
 * in quotes (no character JSON.stringify escapes); false when it does not know.
 */
function field(object: ObjectShape, key: string, plain: boolean): Shape {
  const { fields, index } = object;
  if (index === null) {
    for (let i = 0; i < fields.length; i++) if ((fields[i] as Shape).key === key) return fields[i] as Shape;
  } else {
    const found = index.get(key);
    if (found !== undefined) return found;
  }
  const child = emptyShape();
  child.key = key;
  child.name = plain ? `"${key}"` : JSON.stringify(key);
  child.plain = plain || child.name.length === key.length + 2;
  fields.push(child);
  if (index !== null) index.set(key, child);
  else if (fields.length > LINEAR_FIELDS) object.index = new Map(fields.map((f) => [f.key, f]));
  return child;
}

/**
 * An object shape's fields sorted by key as Array.prototype.sort() sorts strings (by UTF-16 code units, which
 * `<` compares), in place. Insertion sort for the few fields of most objects: no comparator calls.
 */
function sortedFields(object: ObjectShape): Shape[] {
  const fields = object.fields;
  if (fields.length > LINEAR_FIELDS) return fields.sort(byKey);
  for (let i = 1; i < fields.length; i++) {
    const field = fields[i] as Shape;
    let j = i - 1;
    for (; j >= 0 && (fields[j] as Shape).key > field.key; j--) fields[j + 1] = fields[j] as Shape;
    fields[j + 1] = field;
  }
  return fields;
}

function byKey(a: Shape, b: Shape): number {
  return a.key < b.key ? -1 : a.key > b.key ? 1 : 0;
}

/**
 * Unions `value`'s shape into `shape`. `depth`: structures around it; at MAX_SCHEMA_DEPTH a structure is typed
 * by its kind only (an OBJECT_BIT or ARRAY_BIT among the scalars: rendered as the name, never descended).
 */
function addValue(shape: Shape, value: unknown, depth = 0): void {
  if (value === null) shape.scalars |= BIT.null;
  else if (typeof value === "string") shape.scalars |= BIT.string;
  else if (typeof value === "number") shape.scalars |= BIT.number;
  else if (typeof value === "boolean") shape.scalars |= BIT.boolean;
  else if (Array.isArray(value)) {
    if (depth >= MAX_SCHEMA_DEPTH) shape.scalars |= ARRAY_BIT;
    else {
      shape.array ??= { element: null };
      for (const item of value) addValue((shape.array.element ??= emptyShape()), item, depth + 1);
    }
  } else if (typeof value === "object") {
    if (depth >= MAX_SCHEMA_DEPTH) shape.scalars |= OBJECT_BIT;
    else {
      const object = (shape.object ??= emptyObject());
      // Keys missing from some elements are kept: the schema tells every key the array's objects can have.
      for (const key in value) {
        if (Object.hasOwn(value, key)) addValue(field(object, key, false), (value as Record<string, unknown>)[key], depth + 1);
      }
    }
  }
}

/** The kinds of a shape as an index of KIND_NAMES. */
function kindMask(shape: Shape): number {
  return shape.scalars | (shape.object ? OBJECT_BIT : 0) | (shape.array ? ARRAY_BIT : 0);
}

/** One structure (object or array), possibly sometimes null: rendered as that structure. */
function isStructure(shape: Shape): boolean {
  // One structure that is sometimes null keeps its structure: a union string would lose every key in it.
  return (shape.object ? 1 : 0) + (shape.array ? 1 : 0) === 1 && (shape.scalars & ~BIT.null) === 0;
}

function render(shape: Shape): JsonSchema {
  if (!isStructure(shape)) return KIND_NAMES[kindMask(shape)] as string;
  // fromEntries defines own properties, so a "__proto__" key in a body stays an ordinary key.
  if (shape.object) return Object.fromEntries(sortedFields(shape.object).map((f) => [f.key, render(f)]));
  const element = shape.array?.element ?? null;
  return element === null ? [] : [render(element)];
}

/** stableStringify(render(shape)), written directly. */
function shapeKey(shape: Shape): string {
  if (!isStructure(shape)) return KIND_KEYS[kindMask(shape)] as string;
  if (shape.object) {
    const fields = sortedFields(shape.object);
    let out = "{";
    for (let i = 0; i < fields.length; i++) {
      const child = fields[i] as Shape;
      out += `${i === 0 ? "" : ","}${child.name}:${shapeKey(child)}`;
    }
    return `${out}}`;
  }
  const element = shape.array?.element ?? null;
  return element === null ? "[]" : `[${shapeKey(element)}]`;
}

// ---- The scanner: the body's text read once into its shape, without JSON.parse building the value ----------------
//
// It accepts exactly what JSON.parse accepts (ECMA-262 JSON.parse, i.e. RFC 8259's grammar: whitespace is only
// space, tab, LF and CR; numbers -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?; in strings no raw U+0000-U+001F and
// only the escapes \" \\ \/ \b \f \n \r \t \uXXXX; no trailing commas), and a key is the decoded string JSON.parse
// would make (lone surrogates kept). A body nested deeper than its stack goes the way before it (end of the file).

const SPACE = 0x20;
const TAB = 0x09;
const LF = 0x0a;
const CR = 0x0d;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const COLON = 0x3a;
const MINUS = 0x2d;
const PLUS = 0x2b;
const DOT = 0x2e;
const ZERO = 0x30;
const NINE = 0x39;
const LOWER_E = 0x65;
const UPPER_E = 0x45;
const LOWER_U = 0x75;
const LOWER_T = 0x74;
const LOWER_F = 0x66;
const LOWER_N = 0x6e;
const OPEN_OBJECT = 0x7b;
const CLOSE_OBJECT = 0x7d;
const OPEN_ARRAY = 0x5b;
const CLOSE_ARRAY = 0x5d;

/**
 * By the character a JSON value can start with ({ [ " - 0-9 t f n), the character JSON text of that value ends
 * with (DIGIT: any digit); 0 where no value starts.
 */
const LAST = new Uint8Array(128);
const DIGIT = 1;
for (const [first, last] of Object.entries({ "{": "}", "[": "]", '"': '"', t: "e", f: "e", n: "l" })) {
  LAST[first.charCodeAt(0)] = last.charCodeAt(0);
}
for (const first of "-0123456789") LAST[first.charCodeAt(0)] = DIGIT;

/** The code unit each one-character escape stands for (by the character after the backslash), -1 if none. */
const ESCAPED = new Int16Array(128).fill(-1);
for (const [c, code] of Object.entries({ '"': 0x22, "\\": 0x5c, "/": 0x2f, b: 0x08, f: 0x0c, n: 0x0a, r: 0x0d, t: 0x09 })) {
  ESCAPED[c.charCodeAt(0)] = code;
}

/** The value of each hex digit (by char code), -1 if none. */
const HEX = new Int8Array(128).fill(-1);
for (let d = 0; d < 16; d++) {
  HEX[d.toString(16).charCodeAt(0)] = d;
  HEX[d.toString(16).toUpperCase().charCodeAt(0)] = d;
}

/** Thrown by the scanner: JSON.parse would reject the body. Not an Error: nothing to capture, it never escapes. */
const NOT_JSON: unique symbol = Symbol("not JSON");
/** Thrown by the scanner: a key repeats in one object (see scanObjectCarefully). */
const DUPLICATE_KEY: unique symbol = Symbol("duplicate key");

/** The text being scanned and the position of the next character to read: the scanner's state, for one body. */
let text = "";
let at = 0;
/** The last key scanKey read is known to need no escape in JSON. */
let keyPlain = false;
/** This body repeats a key in an object: objects are read by scanObjectCarefully. */
let careful = false;
/** Objects scanned so far (stamps them, see Shape.stamp). */
let objects = 0;
/** Structures open around the scanner's position: past MAX_SCHEMA_DEPTH it stops (TOO_DEEP). */
let nesting = 0;

/**
 * The shape of the JSON value `body` holds from `start` (the first character past leading whitespace), or
 * NON_JSON where JSON.parse would throw. A body with a repeated key in an object is read again, carefully (see
 * scanObjectCarefully). TOO_DEEP: nested deeper than the scanner's stack goes.
 */
function scanBody(body: string, start: number): Shape | typeof NON_JSON | typeof TOO_DEEP {
  text = body;
  try {
    try {
      return scanText(start);
    } catch (error) {
      if (error !== DUPLICATE_KEY) throw error;
      careful = true;
      return scanText(start);
    }
  } catch (error) {
    if (error === NOT_JSON) return NON_JSON;
    if (error === TOO_DEEP) return TOO_DEEP;
    throw error;
  } finally {
    text = ""; // do not hold the body
    careful = false;
    nesting = 0;
  }
}

/** scanBody's one reading of `text` from `start`. */
function scanText(start: number): Shape | typeof NON_JSON {
  at = start;
  nesting = 0;
  const shape = emptyShape();
  scanValue(shape);
  return skipSpace() === text.length ? shape : NON_JSON;
}

/** Skips whitespace; returns the position of the next character (text.length at the end). */
function skipSpace(): number {
  // Locals in the loops here and below: the module's `text` and `at` are context slots, a load or store each.
  const s = text;
  let i = at;
  let c = s.charCodeAt(i);
  while (c <= SPACE && (c === SPACE || c === LF || c === CR || c === TAB)) c = s.charCodeAt(++i);
  return (at = i);
}

/** Scans the value at `at` (whitespace first) and unions its shape into `shape`. */
function scanValue(shape: Shape): void {
  const c = text.charCodeAt(skipSpace());
  switch (c) {
    case OPEN_OBJECT:
      if (++nesting > MAX_SCHEMA_DEPTH) throw TOO_DEEP;
      scanObject((shape.object ??= emptyObject()));
      nesting--;
      return;
    case OPEN_ARRAY:
      if (++nesting > MAX_SCHEMA_DEPTH) throw TOO_DEEP;
      scanArray((shape.array ??= { element: null }));
      nesting--;
      return;
    case QUOTE:
      skipString();
      shape.scalars |= BIT.string;
      return;
    case LOWER_T:
      skipWord("true");
      shape.scalars |= BIT.boolean;
      return;
    case LOWER_F:
      skipWord("false");
      shape.scalars |= BIT.boolean;
      return;
    case LOWER_N:
      skipWord("null");
      shape.scalars |= BIT.null;
      return;
    default:
      skipNumber(); // or NOT_JSON: nothing else starts a value
      shape.scalars |= BIT.number;
  }
}

/** Skips the literal `word` at `at`. */
function skipWord(word: string): void {
  if (!text.startsWith(word, at)) throw NOT_JSON;
  at += word.length;
}

/** Scans the object at `at` (its "{") into `object`: each key's value is unioned into that key's shape. */
function scanObject(object: ObjectShape): void {
  if (careful) return scanObjectCarefully(object);
  const stamp = ++objects;
  at++;
  if (text.charCodeAt(skipSpace()) === CLOSE_OBJECT) {
    at++;
    return;
  }
  let guess = object.first;
  let previous: Shape | null = null;
  for (;;) {
    if (text.charCodeAt(at) !== QUOTE) throw NOT_JSON;
    // A guessed key has no quote, backslash or control character: text that is the key and a quote is that key.
    let child: Shape;
    if (guess !== null && guess.plain && isKeyAt(guess.key, at + 1)) {
      child = guess;
      at += guess.key.length + 2;
    } else {
      const key = scanKey();
      child = field(object, key, keyPlain);
    }
    if (child.stamp === stamp) throw DUPLICATE_KEY;
    child.stamp = stamp;
    if (previous === null) object.first = child;
    else previous.next = child;
    previous = child;
    guess = child.next;
    if (text.charCodeAt(skipSpace()) !== COLON) throw NOT_JSON;
    at++;
    scanValue(child);
    const c = text.charCodeAt(skipSpace());
    at++;
    if (c === CLOSE_OBJECT) return;
    if (c !== COMMA) throw NOT_JSON;
    skipSpace();
  }
}

/**
 * scanObject for a body that repeats a key in an object: JSON.parse keeps the key's last value, and a shape cannot
 * take back a value unioned into it, so each key's value is read into a shape of its own (a repeat replaces it)
 * and the object's values are merged in at its end.
 */
function scanObjectCarefully(object: ObjectShape): void {
  at++;
  if (text.charCodeAt(skipSpace()) === CLOSE_OBJECT) {
    at++;
    return;
  }
  const values = new Map<string, Shape>();
  for (;;) {
    if (text.charCodeAt(at) !== QUOTE) throw NOT_JSON;
    const key = scanKey();
    if (text.charCodeAt(skipSpace()) !== COLON) throw NOT_JSON;
    at++;
    const value = emptyShape();
    scanValue(value);
    values.set(key, value);
    const c = text.charCodeAt(skipSpace());
    at++;
    if (c === CLOSE_OBJECT) break;
    if (c !== COMMA) throw NOT_JSON;
    skipSpace();
  }
  for (const [key, value] of values) {
    const into = field(object, key, false);
    // A key this object shape has no value for yet takes the fresh shape as it is: merging it would copy it again
    // at every level of a nested body (quadratic: 140x slower for a 50 KB body with one repeated key, found by a
    // break test). The fresh shape is this scan's own, held nowhere else.
    if (into.scalars === 0 && into.object === null && into.array === null) {
      into.scalars = value.scalars;
      into.object = value.object;
      into.array = value.array;
    } else mergeShape(into, value);
  }
}

/** Unions shape `from` into `into`. */
function mergeShape(into: Shape, from: Shape): void {
  into.scalars |= from.scalars;
  if (from.object) {
    const object = (into.object ??= emptyObject());
    for (const child of from.object.fields) mergeShape(field(object, child.key, child.plain), child);
  }
  if (from.array) {
    const array = (into.array ??= { element: null });
    if (from.array.element) mergeShape((array.element ??= emptyShape()), from.array.element);
  }
}

/** Scans the array at `at` (its "[") into `array`: every element is unioned into its one element shape. */
function scanArray(array: { element: Shape | null }): void {
  at++;
  if (text.charCodeAt(skipSpace()) === CLOSE_ARRAY) {
    at++;
    return;
  }
  for (;;) {
    scanValue((array.element ??= emptyShape()));
    const c = text.charCodeAt(skipSpace());
    at++;
    if (c === CLOSE_ARRAY) return;
    if (c !== COMMA) throw NOT_JSON;
  }
}

/** Skips the string at `at` (its opening quote), checking it as JSON.parse would. */
function skipString(): void {
  const s = text;
  let i = at + 1;
  for (;;) {
    const c = s.charCodeAt(i);
    if (c === QUOTE) break;
    if (c === BACKSLASH) i = skipEscape(i);
    else if (c >= SPACE) i++;
    else throw NOT_JSON; // a raw control character, or the end of the text (NaN)
  }
  at = i + 1;
}

/** Checks the escape at `i` (its backslash); returns the position past it. */
function skipEscape(i: number): number {
  const e = text.charCodeAt(i + 1);
  if (e === LOWER_U) {
    hex4(i + 2);
    return i + 6;
  }
  if ((ESCAPED[e] ?? -1) < 0) throw NOT_JSON;
  return i + 2;
}

/** The text at `i` is `key` and a closing quote (`key` has no character that JSON escapes). */
function isKeyAt(key: string, i: number): boolean {
  const s = text;
  const length = key.length;
  if (s.charCodeAt(i + length) !== QUOTE) return false;
  for (let k = 0; k < length; k++) if (key.charCodeAt(k) !== s.charCodeAt(i + k)) return false;
  return true;
}

/** The key string at `at` (its opening quote), decoded as JSON.parse decodes it; sets keyPlain. */
function scanKey(): string {
  const s = text;
  const start = at + 1;
  let i = start;
  let units = 0; // every code unit or'ed: below 0xD800, there is no surrogate (that JSON.stringify could escape)
  for (;;) {
    const c = s.charCodeAt(i);
    if (c === QUOTE) break;
    if (c === BACKSLASH) {
      keyPlain = false;
      return decodeKey(start, i);
    }
    if (!(c >= SPACE)) throw NOT_JSON;
    units |= c;
    i++;
  }
  at = i + 1;
  // No escape, so no quote, backslash or control character: only a (lone) surrogate could need one.
  keyPlain = units < 0xd800;
  return s.slice(start, i);
}

/** The key that starts at `start` with its first escape at `i`: decoded one escape at a time (rare in keys). */
function decodeKey(start: number, i: number): string {
  let out = "";
  let from = start; // start of the run of plain characters not yet in `out`
  for (;;) {
    const c = text.charCodeAt(i);
    if (c === QUOTE) break;
    if (c === BACKSLASH) {
      const e = text.charCodeAt(i + 1);
      const code = e === LOWER_U ? hex4(i + 2) : (ESCAPED[e] ?? -1);
      if (code < 0) throw NOT_JSON;
      out += text.slice(from, i) + String.fromCharCode(code); // a lone surrogate stays one, as in JSON.parse
      i += e === LOWER_U ? 6 : 2;
      from = i;
    } else if (c >= SPACE) i++;
    else throw NOT_JSON;
  }
  at = i + 1;
  return out + text.slice(from, i);
}

/** The code unit of the 4 hex digits at `i` (of a \u escape). */
function hex4(i: number): number {
  let code = 0;
  for (let k = i; k < i + 4; k++) {
    const digit = HEX[text.charCodeAt(k)] ?? -1;
    if (digit < 0) throw NOT_JSON;
    code = code * 16 + digit;
  }
  return code;
}

/** Skips the number at `at`, checking its grammar; anything that is not one is NOT_JSON. */
function skipNumber(): void {
  let i = at;
  if (text.charCodeAt(i) === MINUS) i++;
  // No leading zeros: "01" is a 0 followed by a stray digit, which the caller rejects.
  i = text.charCodeAt(i) === ZERO ? i + 1 : skipDigits(i);
  let c = text.charCodeAt(i);
  if (c === DOT) {
    i = skipDigits(i + 1);
    c = text.charCodeAt(i);
  }
  if (c === LOWER_E || c === UPPER_E) {
    c = text.charCodeAt(++i);
    if (c === PLUS || c === MINUS) i++;
    i = skipDigits(i);
  }
  at = i;
}

/** Skips one or more digits from `i`; returns the position past them. */
function skipDigits(i: number): number {
  const s = text;
  let c = s.charCodeAt(i);
  if (!(c >= ZERO && c <= NINE)) throw NOT_JSON;
  do c = s.charCodeAt(++i);
  while (c >= ZERO && c <= NINE);
  return i;
}

// ---- Bodies nested deeper than MAX_SCHEMA_DEPTH ------------------------------------------------------------------
//
// JSON.parse (iterative in V8: any depth), then addValue, which types the structures past MAX_SCHEMA_DEPTH by their
// kind. Only here: V8's JSON.parse (Node 24, V8 13.6) can misread an escaped key ("\u0061" as "\\") after an
// earlier object, in the same parse or an earlier one, had a key holding a backslash at the same place; the scanner
// decodes every key itself.

/** Thrown by the scanner, and returned by scanBody, for a body nested deeper than MAX_SCHEMA_DEPTH. */
const TOO_DEEP: unique symbol = Symbol("too deep");

/** The shape of a body nested deeper than MAX_SCHEMA_DEPTH, or NON_JSON where JSON.parse throws. */
function deepShape(body: string): Shape | typeof NON_JSON {
  let value: unknown;
  try {
    value = JSON.parse(body);
  } catch {
    return NON_JSON;
  }
  const shape = emptyShape();
  addValue(shape, value);
  return shape;
}
