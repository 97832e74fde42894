// `adi export openapi`: what each service was seen to serve, as an OpenAPI 3.1 document per service.
//
// The map is organised by the client: services[i].endpoints are the calls service i made, each naming the server
// in `destination`. A server's document gathers every entry, from every client, whose destination it is:
//
//   ServiceMap ─► entries by destination ─► by (method, path) ─► an Operation: path parameters from the template,
//                                                               the request body, one response per status seen,
//                                                               counts and latencies as x-adi-* extensions
//
// Bodies: the map's body schemas (BodySchema, the Go tool's "JSON with type names") become JSON Schema 2020-12,
// OpenAPI 3.1's dialect. Pure and deterministic: operations sorted by path then method, names by UTF-16 code units.
import { STATUS_CODES } from "node:http";
import { Document, isScalar, visit } from "yaml";
import { Validator } from "@seriousme/openapi-schema-validator";
import { NON_JSON, schemaKey } from "@adi/shared/wire";
import type { BodySchema, JsonSchema } from "@adi/shared/wire";
import { durationQuantileMs, mergeHistograms } from "../call-stats.ts";
import type { EndpointEntry, EndpointExample, ServiceMap } from "../map-types.ts";
import { VARIES } from "../schema.ts";
import { compare } from "./graph.ts";

/** The OpenAPI version written (the latest 3.1 patch: JSON Schema 2020-12 bodies). */
export const OPENAPI_VERSION = "3.1.1";

/** A JSON Schema (2020-12) as written here: the subset the map's body schemas need. */
export interface SchemaObject {
  type?: string | string[];
  properties?: Record<string, SchemaObject>;
  patternProperties?: Record<string, SchemaObject>;
  items?: SchemaObject;
  anyOf?: SchemaObject[];
  description?: string;
}

export interface MediaTypeObject {
  schema?: SchemaObject;
  example?: unknown;
}

export interface ResponseObject {
  description: string;
  content?: Record<string, MediaTypeObject>;
  "x-adi-count"?: number;
}

export interface ParameterObject {
  name: string;
  in: "path" | "query";
  required: boolean;
  description: string;
  schema: SchemaObject;
  example?: string;
}

export interface OperationObject {
  operationId: string;
  parameters?: ParameterObject[];
  requestBody?: { required: boolean; content: Record<string, MediaTypeObject> };
  responses: Record<string, ResponseObject>;
  "x-adi-count": number;
  "x-adi-callers": string[];
  "x-adi-errors": number;
  "x-adi-no-response"?: number;
  "x-adi-p50-ms"?: number;
  "x-adi-p99-ms"?: number;
  "x-adi-first-seen": string;
  "x-adi-last-seen": string;
}

/** The Path Item fields of operations (OpenAPI 3.1's fixed set). */
export type OperationField = "get" | "put" | "post" | "delete" | "options" | "head" | "patch" | "trace";

export type PathItemObject = { parameters?: ParameterObject[] } & { [F in OperationField]?: OperationObject };

/** A call OpenAPI 3.1 has no place for: a method without a Path Item field, or a target that is not a path. */
export interface UnlistedOperation {
  method: string;
  path: string;
  count: number;
  callers: string[];
}

export interface OpenApiDocument {
  openapi: string;
  info: { title: string; version: string; description: string; "x-adi-window"?: { since: string | null; until: string | null } };
  paths: Record<string, PathItemObject>;
  "x-adi-unlisted"?: UnlistedOperation[];
}

export interface OpenApiOptions {
  /** The window the map was folded over (ISO 8601, as given to --since/--until), recorded in info; null: open. */
  since?: string | null;
  until?: string | null;
}

/**
 * Path Item fields by request method: the methods OpenAPI 3.1 can describe. Methods are case-sensitive (RFC 9110
 * 9.1): `get` is not GET, and like PROPFIND or a custom method it is listed in x-adi-unlisted.
 */
const PATH_ITEM_METHODS: Readonly<Record<string, OperationField>> = {
  GET: "get",
  PUT: "put",
  POST: "post",
  DELETE: "delete",
  OPTIONS: "options",
  HEAD: "head",
  PATCH: "patch",
  TRACE: "trace",
};
const METHOD_ORDER = Object.keys(PATH_ITEM_METHODS);

/** The body schema names (shared/src/wire/body-schema.ts) that are JSON Schema type names as they are. */
const JSON_TYPES: ReadonlySet<string> = new Set(["string", "number", "boolean", "null", "object", "array"]);
/** Media types by what the body was: JSON, or bytes whose type the map does not know. */
const JSON_MEDIA = "application/json";
const BYTES_MEDIA = "application/octet-stream";

/**
 * Keys that identify or refer to schemas in JSON Schema 2020-12 ($ref, $id...). A body field of that name is a
 * plain property in `properties`, but OpenAPI tools (the validator among them) resolve every "$ref" they meet,
 * wherever it is: such a field is described under `patternProperties` (the same meaning), and an example holding
 * one is left out.
 */
const REFERENCE_KEYWORDS: ReadonlySet<string> = new Set(["$ref", "$id", "$anchor", "$dynamicRef", "$dynamicAnchor", "$schema"]);

/** A response key: a status code OpenAPI accepts (100-599), else the calls go under "default". */
const STATUS_KEY = /^[1-5]\d\d$/;

/** The names of the services that serve HTTP endpoints in `map` (destinations of its endpoint entries), sorted. */
export function servingServices(map: ServiceMap): string[] {
  return [...new Set(map.services.flatMap((s) => s.endpoints.map((e) => e.destination)))].sort(compare);
}

/** One document per serving service (servingServices' order). */
export function openApiDocuments(map: ServiceMap, opts: OpenApiOptions = {}): OpenApiDocument[] {
  return servingServices(map).map((name) => openApiDocument(map, name, opts) as OpenApiDocument);
}

/**
 * The OpenAPI 3.1 document of what `service` served: every endpoint entry of the map (any client) whose
 * destination is `service`, one operation per (method, path). null when it served nothing in the map.
 *
 * - Path parameters: each `{name}` of the path template (the map's /items/{id}), required, a string; its example
 *   the segment of the earliest example call's concrete path.
 * - Request body: the entries' distinct request schemas: JSON schemas under application/json (several: anyOf),
 *   "non-json" as application/octet-stream without a schema, "varies" as an unconstrained schema saying so; none
 *   when no call had a body; `required` only when every variant had one.
 * - Responses: one per status code the calls got (EndpointStats.status_codes; "none", no response, is counted in
 *   x-adi-no-response), with the response schemas of the variants that got it; "default" when no status is known.
 * - Examples: the entries' `example`s (a call's redacted bodies), the earliest (by capture time) that has the
 *   body, JSON parsed where it is JSON.
 * - Extensions: x-adi-count, x-adi-callers (client services), x-adi-errors (5xx or no response), x-adi-p50-ms and
 *   x-adi-p99-ms (merged duration histograms), x-adi-first-seen, x-adi-last-seen; at the root, x-adi-unlisted for
 *   calls 3.1 cannot describe (PATH_ITEM_METHODS, targets not starting with "/").
 */
export function openApiDocument(map: ServiceMap, service: string, opts: OpenApiOptions = {}): OpenApiDocument | null {
  const groups = new Map<string, { method: string; path: string; entries: { entry: EndpointEntry; caller: string }[] }>();
  for (const source of map.services) {
    for (const entry of source.endpoints) {
      if (entry.destination !== service) continue;
      const key = JSON.stringify([entry.method, entry.path]);
      let group = groups.get(key);
      if (group === undefined) groups.set(key, (group = { method: entry.method, path: entry.path, entries: [] }));
      group.entries.push({ entry, caller: source.name });
    }
  }
  if (groups.size === 0) return null;
  const sorted = [...groups.values()].sort((a, b) => compare(a.path, b.path) || methodRank(a.method) - methodRank(b.method) || compare(a.method, b.method));
  const paths: Record<string, PathItemObject> = {};
  const unlisted: UnlistedOperation[] = [];
  const operationIds = new Set<string>();
  for (const { method, path, entries } of sorted) {
    entries.sort((a, b) => compare(a.entry.first_seen, b.entry.first_seen) || compare(a.caller, b.caller));
    const field = PATH_ITEM_METHODS[method];
    if (field === undefined || !path.startsWith("/")) {
      unlisted.push({ method, path, count: sum(entries.map((e) => e.entry.count)), callers: callersOf(entries) });
      continue;
    }
    const item = (paths[path] ??= pathItem(path, sorted.filter((g) => g.path === path).flatMap((g) => g.entries.map((e) => e.entry))));
    item[field] = operation(method, path, entries, operationIds);
  }
  const all = sorted.flatMap((g) => g.entries.map((e) => e.entry));
  const first = earliest(all.map((e) => e.first_seen));
  const last = latest(all.map((e) => e.last_seen));
  const window = opts.since || opts.until ? { "x-adi-window": { since: opts.since ?? null, until: opts.until ?? null } } : {};
  return {
    openapi: OPENAPI_VERSION,
    info: {
      title: service,
      version: `observed ${first}/${last}`,
      description:
        `What ${service} was seen to serve, from ${first} to ${last}, as adi observed its clients' calls (eBPF, no code changes). ` +
        "Schemas are inferred from the bodies seen, examples are calls' redacted bodies; x-adi-* extensions give counts, callers and latencies.",
      ...window,
    },
    paths,
    ...(unlisted.length > 0 ? { "x-adi-unlisted": unlisted } : {}),
  };
}

/**
 * A Path Item with the template's variables as required path parameters (each name once, in order), each with the
 * value it had in the earliest example call of `entries` (the path's entries, every method) when that call's
 * concrete path has the template's segments.
 */
function pathItem(path: string, entries: readonly EndpointEntry[]): PathItemObject {
  const names = [...new Set([...path.matchAll(/\{([^{}/]+)\}/g)].map((m) => m[1] as string))];
  if (names.length === 0) return {};
  const template = path.split("/");
  const called = examplesOf(entries)
    .map((x) => x.path.split("/"))
    .find((segments) => segments.length === template.length);
  const values = new Map<string, string>();
  template.forEach((segment, i) => {
    const name = /^\{([^{}/]+)\}$/.exec(segment)?.[1];
    if (name !== undefined && called !== undefined && !values.has(name)) values.set(name, called[i]!);
  });
  return {
    parameters: names.map((name) => ({
      name,
      in: "path",
      required: true,
      description: "A path segment whose value varied between calls.",
      schema: { type: "string" },
      ...(values.has(name) ? { example: values.get(name)! } : {}),
    })),
  };
}

function operation(method: string, path: string, entries: { entry: EndpointEntry; caller: string }[], taken: Set<string>): OperationObject {
  const all = entries.map((e) => e.entry);
  const examples = examplesOf(all);
  const statuses = new Map<string, { count: number; schemas: BodySchema[]; codes: Set<number> }>();
  let noResponse = 0;
  for (const entry of all) {
    for (const [code, n] of Object.entries(entry.stats.status_codes)) {
      if (code === "none") {
        noResponse += n;
        continue;
      }
      const key = STATUS_KEY.test(code) ? code : "default";
      const s = statuses.get(key) ?? { count: 0, schemas: [], codes: new Set() };
      s.count += n;
      s.schemas.push(entry.response_schema);
      s.codes.add(Number(code));
      statuses.set(key, s);
    }
  }
  const responses: Record<string, ResponseObject> = {};
  const keys = [...statuses.keys()].sort((a, b) => (a === "default" ? 1 : b === "default" ? -1 : Number(a) - Number(b)));
  for (const key of keys) {
    const s = statuses.get(key)!;
    const description = key === "default" ? "Statuses outside 100-599" : (STATUS_CODES[Number(key)] ?? `Status ${key}`);
    const example = examples.find((x) => x.status !== null && s.codes.has(x.status) && x.response_body !== null)?.response_body ?? null;
    responses[key] = { description, ...content(s.schemas, example), "x-adi-count": s.count };
  }
  if (keys.length === 0) {
    responses.default = { description: "No response was seen (the connection closed, was reset or was still open)", ...content(all.map((e) => e.response_schema), null) };
  }
  const requestSchemas = unique(all.map((e) => e.request_schema));
  const withBody = requestSchemas.filter((s) => s !== null);
  const requestExample = examples.find((x) => x.request_body !== null)?.request_body ?? null;
  const requestBody = withBody.length > 0 ? { requestBody: { required: withBody.length === requestSchemas.length, content: content(withBody, requestExample).content ?? {} } } : {};
  const duration = all.map((e) => e.stats.duration).reduce((a, b) => mergeHistograms(a, b));
  const p50 = durationQuantileMs(duration, 0.5);
  const p99 = durationQuantileMs(duration, 0.99);
  // Query parameters seen on some calls: optional (a name seen once may be absent from the next call), values
  // not described (they are the data; the classifier redacted the secret ones).
  const query = [...new Set(all.flatMap((e) => e.query_params ?? []))].sort(compare);
  const parameters: ParameterObject[] = query.map((name) => ({ name, in: "query", required: false, description: "A query parameter seen on calls of this operation.", schema: { type: "string" } }));
  return {
    operationId: operationId(method, path, taken),
    ...(parameters.length > 0 ? { parameters } : {}),
    ...requestBody,
    responses,
    "x-adi-count": sum(all.map((e) => e.count)),
    "x-adi-callers": callersOf(entries),
    "x-adi-errors": sum(all.map((e) => e.stats.errors)),
    ...(noResponse > 0 ? { "x-adi-no-response": noResponse } : {}),
    ...(p50 !== null ? { "x-adi-p50-ms": p50 } : {}),
    ...(p99 !== null ? { "x-adi-p99-ms": p99 } : {}),
    "x-adi-first-seen": earliest(all.map((e) => e.first_seen)),
    "x-adi-last-seen": latest(all.map((e) => e.last_seen)),
  };
}

/** The entries' examples, earliest call first (capture time, then path: the same order whatever the entries'). */
function examplesOf(entries: readonly EndpointEntry[]): EndpointExample[] {
  return entries
    .map((e) => e.example)
    .filter((x): x is EndpointExample => x !== null && x !== undefined)
    .sort((a, b) => compare(a.ts, b.ts) || compare(a.path, b.path) || compare(String(a.status), String(b.status)));
}

/**
 * The `content` of a request body or response for the body schemas of its variants (null ones: no body, left
 * out): JSON ones under application/json (one schema, or anyOf the distinct ones: a body of either shape is
 * valid, where oneOf would refuse a body both describe), "non-json" as application/octet-stream; `example` (a
 * body's text) on the JSON media type when it parses as JSON, else on the octet-stream one. No content: {}.
 */
function content(schemas: readonly BodySchema[], example: string | null): { content?: Record<string, MediaTypeObject> } {
  const distinct = unique(schemas).filter((s): s is JsonSchema => s !== null);
  const json = distinct.filter((s) => s !== NON_JSON).map(bodySchema);
  const bytes = distinct.includes(NON_JSON);
  if (json.length === 0 && !bytes) return {};
  const parsed = example === null ? undefined : parseJson(example);
  if (parsed !== undefined && holdsReferenceKeyword(parsed)) return content(schemas, null);
  const out: Record<string, MediaTypeObject> = {};
  if (json.length > 0) out[JSON_MEDIA] = { schema: json.length === 1 ? json[0]! : { anyOf: json }, ...(parsed !== undefined ? { example: parsed } : {}) };
  if (bytes) out[BYTES_MEDIA] = example !== null && (parsed === undefined || json.length === 0) ? { example } : {};
  return { content: out };
}

/** A whole body's schema: "varies" says so in an unconstrained schema; others as jsonSchema. */
function bodySchema(schema: JsonSchema): SchemaObject {
  if (schema === VARIES) return { description: "Bodies of more shapes than adi lists for one endpoint (their schemas were folded: varies)." };
  return jsonSchema(schema);
}

/**
 * A body schema as JSON Schema: a type name or union of them ("number|string") as `type`, an object as `type:
 * object` with its fields' `properties` (which fields are always present is not known: no `required`), an array
 * as `items` of its elements' merged schema ([] when only empty arrays were seen: no `items`).
 */
export function jsonSchema(schema: JsonSchema): SchemaObject {
  if (typeof schema === "string") {
    const names = schema.split("|");
    if (!names.every((n) => JSON_TYPES.has(n))) return { description: `Observed as ${JSON.stringify(schema)}.` };
    return { type: names.length === 1 ? names[0]! : names };
  }
  if (Array.isArray(schema)) return schema.length === 0 ? { type: "array" } : { type: "array", items: jsonSchema(schema[0]!) };
  const keys = Object.keys(schema).sort(compare);
  const plain = keys.filter((k) => !REFERENCE_KEYWORDS.has(k));
  const keywords = keys.filter((k) => REFERENCE_KEYWORDS.has(k));
  // fromEntries defines own properties, so a "__proto__" field stays an ordinary one.
  return {
    type: "object",
    properties: Object.fromEntries(plain.map((k) => [k, jsonSchema(schema[k]!)])),
    ...(keywords.length > 0 ? { patternProperties: Object.fromEntries(keywords.map((k) => [`^\\${k}$`, jsonSchema(schema[k]!)])) } : {}),
  };
}

/** A JSON value with a REFERENCE_KEYWORDS key in some object of it. */
function holdsReferenceKeyword(value: unknown): boolean {
  if (Array.isArray(value)) return value.some(holdsReferenceKeyword);
  if (value === null || typeof value !== "object") return false;
  return Object.entries(value).some(([k, v]) => REFERENCE_KEYWORDS.has(k) || holdsReferenceKeyword(v));
}

/** `method`_`path` as an identifier ("get_items_id"), made unique in the document with _2, _3... */
function operationId(method: string, path: string, taken: Set<string>): string {
  const words = path.replace(/[^A-Za-z0-9]+/g, "_").replace(/^_+|_+$/g, "");
  const base = `${method.toLowerCase().replace(/[^a-z0-9]+/g, "_")}_${words === "" ? "root" : words}`;
  let id = base;
  for (let n = 2; taken.has(id); n++) id = `${base}_${n}`;
  taken.add(id);
  return id;
}

function methodRank(method: string): number {
  const i = METHOD_ORDER.indexOf(method);
  return i < 0 ? METHOD_ORDER.length : i;
}

function callersOf(entries: readonly { caller: string }[]): string[] {
  return [...new Set(entries.map((e) => e.caller))].sort(compare);
}

/** Distinct schemas (schemaKey), in first-seen order. */
function unique(schemas: readonly BodySchema[]): BodySchema[] {
  const seen = new Map<string, BodySchema>();
  for (const s of schemas) if (!seen.has(schemaKey(s))) seen.set(schemaKey(s), s);
  return [...seen.values()];
}

/** The earliest and latest of RFC 3339 UTC times of one form (the map's: nine fractional digits): text order. */
function earliest(times: readonly string[]): string {
  return times.reduce((a, b) => (b < a ? b : a));
}

function latest(times: readonly string[]): string {
  return times.reduce((a, b) => (b > a ? b : a));
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

function sum(values: readonly number[]): number {
  return values.reduce((a, b) => a + b, 0);
}

/** Thrown when a document adi made does not validate: a bug in this export, never the user's. */
export class InvalidOpenApiError extends Error {
  override readonly name = "InvalidOpenApiError";
  readonly errors: unknown;

  constructor(title: string, errors: unknown) {
    super(`the OpenAPI document of ${JSON.stringify(title)} does not validate against the OpenAPI 3.1 schema (a bug in adi export): ${describeErrors(errors)}`);
    this.errors = errors;
  }
}

let validator: Validator | null = null;

/**
 * Checks `doc` against the OpenAPI 3.1 schema (@seriousme/openapi-schema-validator: the specification's JSON
 * Schema, JSON Schema 2020-12 bodies, and its internal references). Throws InvalidOpenApiError with the first
 * errors (JSON pointer and message) when it does not validate.
 */
export async function validateOpenApi(doc: OpenApiDocument): Promise<void> {
  validator ??= new Validator();
  // A copy: the validator keeps (and may annotate) what it is given.
  const result = await validator.validate(structuredClone(doc) as unknown as Record<string, unknown>);
  if (!result.valid || validator.version !== "3.1") throw new InvalidOpenApiError(doc.info.title, result.errors ?? `read as OpenAPI ${validator.version}`);
}

function describeErrors(errors: unknown): string {
  if (!Array.isArray(errors)) return String(errors);
  return errors
    .slice(0, 5)
    .map((e: { instancePath?: string; message?: string; params?: unknown }) => `${e.instancePath || "/"} ${e.message ?? "?"} ${JSON.stringify(e.params ?? {})}`)
    .join("; ");
}

/**
 * The documents as YAML: one document, or a stream of them separated by `---` (nothing for none). Timestamps are
 * quoted, so a YAML 1.1 reader keeps them strings; shared schema objects are written out, never as aliases.
 */
export function openApiYaml(docs: readonly OpenApiDocument[]): string {
  return docs
    .map((d) => {
      const doc = new Document(d, { aliasDuplicateObjects: false });
      visit(doc, {
        Scalar(_key, node) {
          if (isScalar(node) && typeof node.value === "string" && /^\d{4}-\d\d-\d\dT/.test(node.value)) node.type = "QUOTE_DOUBLE";
        },
      });
      return doc.toString({ lineWidth: 0 });
    })
    .join("---\n");
}
