// A saved service map (SERVICE_MAP_PATH, or the one `adi replay` rebuilds) read back into the map's entries: the Go
// tool's layout as service-map-yaml.ts writes it, validated with zod. What the file does not hold (the endpoints'
// RED figures and examples) the entries do not have. Pure: the caller reads the file.
import { parse, YAMLParseError } from "yaml";
import { z } from "zod";
import type { ConnectionEntry, EndpointEntry, ServiceEntry } from "./map-types.ts";
import type { BodySchema } from "./schema.ts";

/** An endpoint entry as SERVICE_MAP_PATH holds it. */
export type SavedEndpointEntry = Omit<EndpointEntry, "stats" | "example">;
export interface SavedServiceEntry extends Omit<ServiceEntry, "endpoints"> {
  endpoints: SavedEndpointEntry[];
}
export interface SavedServiceMap {
  generated_at: string | null;
  services: SavedServiceEntry[];
}

/** The file does not hold a service map. `at`: where in it (services[0].endpoints[2].path), null for the whole. */
export class SavedMapError extends Error {
  override readonly name = "SavedMapError";
  readonly file: string;
  readonly at: string | null;

  constructor(file: string, at: string | null, detail: string, options?: { cause?: unknown }) {
    super(`${file}${at === null ? "" : ` at ${at}`}: ${detail}`, options);
    this.file = file;
    this.at = at;
  }
}

/**
 * Nesting a saved map may have: the map's own levels (services, their lists, an entry) and a body schema's, which the
 * classifier stops at MAX_SCHEMA_DEPTH (128). Deeper, the file was not written by adi; checked without recursion so
 * such a file is refused with its place, not a stack overflow in the validation.
 */
const MAX_DEPTH = 256;

/**
 * A body schema (shared/src/wire/body-schema.ts): null, a type name, [element] or [], or field -> schema. Checked by
 * a walk of its own rather than a zod union, so an error names the bad value's place inside the schema, not the
 * schema's root.
 */
const BODY_SCHEMA = "expected a body schema: null, a type name, a list of one schema, or a map of field to schema";

const bodySchema = z.unknown().superRefine((value, ctx) => {
  const bad = badSchemaPlace(value, []);
  if (bad !== null) ctx.addIssue({ code: "custom", path: bad, message: `${value === undefined ? "missing: " : ""}${BODY_SCHEMA}` });
}) as unknown as z.ZodType<BodySchema>;

/** The place of the first value in `value` that is no body schema, or null. Depth is bounded (MAX_DEPTH) before. */
function badSchemaPlace(value: unknown, at: PropertyKey[]): PropertyKey[] | null {
  if (value === null) return null;
  if (typeof value === "string") return value === "" ? at : null;
  if (typeof value !== "object") return at;
  const entries: [PropertyKey, unknown][] = Array.isArray(value) ? value.map((v, i) => [i, v]) : Object.entries(value);
  for (const [key, item] of entries) {
    const bad = badSchemaPlace(item, [...at, key]);
    if (bad !== null) return bad;
  }
  return null;
}

const text = z.string();
const timestamp = z.string({ error: "expected a timestamp string (quoted RFC 3339)" });
const count = z.number().int().nonnegative();
const destinationType = z.enum(["container", "external"]);

const endpoint = z.object({
  destination: text,
  destination_type: destinationType,
  method: z.string().min(1),
  path: text,
  request_schema: bodySchema,
  response_schema: bodySchema,
  first_seen: timestamp,
  last_seen: timestamp,
  count,
}) satisfies z.ZodType<SavedEndpointEntry>;

const connection = z.object({
  destination: text,
  destination_type: destinationType,
  protocol: z.string().min(1),
  category: text,
  port: z.number().int().min(0).max(65535),
  confidence: z.number(),
  reason: text,
  first_seen: timestamp,
  last_seen: timestamp,
  count,
}) satisfies z.ZodType<ConnectionEntry>;

const savedMap = z.object({
  generated_at: timestamp.nullable(),
  services: z.array(
    z.object({
      name: z.string().min(1),
      image: z.string().nullable(),
      // As in the Go README, a service without endpoints (or connections) has no such key.
      endpoints: z.array(endpoint).default([]),
      connections: z.array(connection).default([]),
      first_seen: timestamp,
      last_seen: timestamp,
    }),
  ),
}) satisfies z.ZodType<SavedServiceMap>;

/**
 * The service map `yamlText` (the content of `file`, named in errors) holds: the layout toYaml writes (the Go tool's),
 * keys it does not know ignored. Throws SavedMapError naming the file and the first bad place: not YAML (with its line
 * and column), not a map, a missing or mistyped key (services[1].endpoints[0].method), nesting deeper than MAX_DEPTH.
 */
export function parseSavedMap(yamlText: string, file: string): SavedServiceMap {
  let doc: unknown;
  try {
    // One document; aliases are expanded up to the library's limit (maxAliasCount 100), so a crafted file cannot
    // expand into an exponential value.
    doc = parse(yamlText);
  } catch (err) {
    if (err instanceof YAMLParseError) {
      const place = err.linePos?.[0];
      throw new SavedMapError(file, place ? `line ${place.line} column ${place.col}` : null, `not YAML: ${(err.message.split("\n")[0] ?? "").replace(/ at line \d+, column \d+:?$/, "")}`, { cause: err });
    }
    throw new SavedMapError(file, null, `not YAML: ${(err as Error).message}`, { cause: err });
  }
  if (doc === null || typeof doc !== "object" || Array.isArray(doc)) {
    const got = doc === null || doc === undefined ? "nothing" : Array.isArray(doc) ? "a list" : `a ${typeof doc}`;
    throw new SavedMapError(file, null, `expected a service map (generated_at, services), found ${got}`);
  }
  const tooDeep = deeperThan(doc, MAX_DEPTH);
  if (tooDeep !== null) throw new SavedMapError(file, tooDeep, `nested deeper than ${MAX_DEPTH} levels: not a service map adi wrote`);
  const result = savedMap.safeParse(doc, { error: missingKey });
  if (!result.success) {
    const issue = result.error.issues[0];
    throw new SavedMapError(file, issue && issue.path.length > 0 ? formatPath(issue.path) : null, issue?.message ?? "not a service map");
  }
  return result.data;
}

/** A key the layout requires and the file lacks, said so (zod's own words for the others: "expected string, received number"). */
function missingKey(issue: z.core.$ZodRawIssue): string | undefined {
  if (issue.input !== undefined) return undefined;
  if (issue.code === "invalid_type") return `missing (expected ${issue.expected})`;
  if (issue.code === "invalid_value") return `missing (expected one of ${issue.values.map((v) => JSON.stringify(v)).join(", ")})`;
  return undefined;
}

/** services[0].endpoints[2].response_schema.items: how the errors name a place. */
function formatPath(path: readonly PropertyKey[]): string {
  let out = "";
  for (const step of path) {
    if (typeof step === "number") out += `[${step}]`;
    else {
      const key = String(step);
      out += /^[A-Za-z_$][\w$-]*$/.test(key) ? `${out === "" ? "" : "."}${key}` : `[${JSON.stringify(key)}]`;
    }
  }
  return out;
}

/** The place of the first value nested deeper than `max` levels in `value` (a plain parsed YAML tree), or null. */
function deeperThan(value: unknown, max: number): string | null {
  const stack: { value: unknown; path: PropertyKey[] }[] = [{ value, path: [] }];
  while (stack.length > 0) {
    const { value: v, path } = stack.pop() as { value: unknown; path: PropertyKey[] };
    if (v === null || typeof v !== "object") continue;
    if (path.length >= max) return formatPath(path);
    if (Array.isArray(v)) v.forEach((item, i) => stack.push({ value: item, path: [...path, i] }));
    else for (const [key, item] of Object.entries(v)) stack.push({ value: item, path: [...path, key] });
  }
  return null;
}
