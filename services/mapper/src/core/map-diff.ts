// What changed between two service maps (`adi diff`): edges, endpoints and body-schema fields added, removed or
// retyped. Pure: two maps in (each built from a window of the stream, or read back from a SERVICE_MAP_PATH file),
// a sorted list of changes out, and its text lines.
//
//   edge      (source, destination, protocol): "http" for the endpoints it called, else a connection's protocol
//   endpoint  (source, destination, method, path): its entries (one per body-schema variant) merged into one
//   field     a path into a body and the set of types seen there, over every variant of the endpoint:
//             request / response (the body itself), response.items (a key), response.items[] (an array's elements)
//
// Each change is reported once, at the coarsest level: an endpoint new in B is "endpoint added", never also its
// fields; a field new in B whose parent is new too is not listed (its parent is); an edge new in B is "edge added"
// AND each endpoint it called is "endpoint added" (the edge is the new dependency, the endpoints say what it calls;
// a new connection is only its edge, as a connection has nothing below it).
import { printable } from "@adi/shared";
import type { ConnectionEntry, EndpointEntry } from "./map-types.ts";
import { VARIES } from "./schema.ts";
import type { BodySchema } from "./schema.ts";

/** What a diff reads of an endpoint entry: a saved map holds no RED figures, and the diff needs none. */
export type DiffEndpoint = Pick<EndpointEntry, "destination" | "method" | "path" | "request_schema" | "response_schema">;
export type DiffConnection = Pick<ConnectionEntry, "destination" | "protocol">;
/** A ServiceMap, or a map read back from a file (saved-map.ts), as the diff reads it. */
export interface DiffableMap {
  services: readonly { name: string; endpoints: readonly DiffEndpoint[]; connections: readonly DiffConnection[] }[];
}

/** The protocol of the edge an endpoint belongs to. */
export const HTTP_EDGE = "http";

/**
 * The type name of a side of the call that had no body (schema null): "null" is a JSON body holding null, and
 * "non-json" / "varies" keep the schema's own names.
 */
export const NO_BODY = "empty";

export const CHANGE_KINDS = ["edge_added", "edge_removed", "endpoint_added", "endpoint_removed", "field_added", "field_removed", "field_type_changed"] as const;
export type ChangeKind = (typeof CHANGE_KINDS)[number];

/** One change from map A to map B. Type sets are the type names sorted and joined with "|" ("number|string"). */
export interface MapChange {
  change: ChangeKind;
  source: string;
  destination: string;
  /** Edges: "http" (HTTP_EDGE) or the connection's protocol (postgres, redis...). */
  protocol?: string;
  /** Endpoints and fields. */
  method?: string;
  path?: string;
  /** Fields: request or response, then .key and [] steps (a key that is not a plain name as ["key"]). */
  field?: string;
  /** field_removed, field_type_changed: A's types. */
  from?: string;
  /** field_added, field_type_changed: B's types. */
  to?: string;
}

/**
 * The changes from `a` to `b`, sorted by source, destination, then edges before endpoints and fields, then path,
 * method, field (code-unit order: the same maps give the same list).
 *
 * Endpoints are matched by (source, destination, method, path). A path the other map does not list but one of its
 * templates fits (/items/7 and /items/{id}: a window with more distinct ids folded them) is taken as that template's,
 * so a window's traffic volume does not show as endpoints added and removed. Variants of one endpoint are merged
 * (types unioned per field path). A body schema "varies" (a route with too many variants, folded by the mapper)
 * hides its fields: under a path that varies on either side only the path's own types are compared.
 */
export function diffMaps(a: DiffableMap, b: DiffableMap): MapChange[] {
  const sideA = indexMap(a);
  const sideB = indexMap(b);
  alignTemplates(sideA.routes, sideB.routes);
  const changes: MapChange[] = [];
  for (const [key, edge] of sideB.edges) if (!sideA.edges.has(key)) changes.push({ change: "edge_added", ...edge });
  for (const [key, edge] of sideA.edges) if (!sideB.edges.has(key)) changes.push({ change: "edge_removed", ...edge });
  for (const [key, routeB] of sideB.routes) {
    const routeA = sideA.routes.get(key);
    for (const [path, fieldsB] of routeB.paths) {
      const endpoint = { source: routeB.source, destination: routeB.destination, method: routeB.method, path };
      const fieldsA = routeA?.paths.get(path);
      if (fieldsA === undefined) changes.push({ change: "endpoint_added", ...endpoint });
      else for (const field of diffFields(fieldsA, fieldsB)) changes.push({ ...field, ...endpoint });
    }
  }
  for (const [key, routeA] of sideA.routes) {
    const routeB = sideB.routes.get(key);
    for (const path of routeA.paths.keys()) {
      if (routeB?.paths.has(path) !== true) changes.push({ change: "endpoint_removed", source: routeA.source, destination: routeA.destination, method: routeA.method, path });
    }
  }
  return changes.sort(byPlace);
}

/** How each change kind reads: its sign (+ added, - removed, ~ changed), what changed, and how, for the summary. */
const CHANGE_TEXT: Readonly<Record<ChangeKind, { sign: string; noun: string; verb: string }>> = {
  edge_added: { sign: "+", noun: "edge", verb: "added" },
  edge_removed: { sign: "-", noun: "edge", verb: "removed" },
  endpoint_added: { sign: "+", noun: "endpoint", verb: "added" },
  endpoint_removed: { sign: "-", noun: "endpoint", verb: "removed" },
  field_added: { sign: "+", noun: "field", verb: "added" },
  field_removed: { sign: "-", noun: "field", verb: "removed" },
  field_type_changed: { sign: "~", noun: "field", verb: "changed type" },
};

/**
 * One change as a line, diff-style:
 *   + edge traffic-generator -> postgres postgres
 *   + endpoint traffic-generator -> http-service GET /new
 *   ~ field traffic-generator -> http-service GET /slow response.slow: boolean -> string
 */
export function formatChange(c: MapChange): string {
  return printable(formatChangeRaw(c));
}

/** formatChange before its control characters are escaped (names and paths are chosen by whoever sends traffic). */
function formatChangeRaw(c: MapChange): string {
  const { sign, noun } = CHANGE_TEXT[c.change];
  const head = `${sign} ${noun} ${c.source} -> ${c.destination}`;
  if (noun === "edge") return `${head} ${c.protocol}`;
  if (noun === "endpoint") return `${head} ${c.method} ${c.path}`;
  const types = c.change === "field_type_changed" ? `${c.from} -> ${c.to}` : (c.to ?? c.from);
  return `${head} ${c.method} ${c.path} ${c.field}: ${types}`;
}

/** "no changes", or "3 changes: 2 endpoints added, 1 field changed type" (kinds in CHANGE_KINDS order). */
export function diffSummary(changes: readonly MapChange[]): string {
  if (changes.length === 0) return "no changes";
  const parts: string[] = [];
  for (const kind of CHANGE_KINDS) {
    const n = changes.filter((c) => c.change === kind).length;
    const { noun, verb } = CHANGE_TEXT[kind];
    if (n > 0) parts.push(`${n} ${noun}${n === 1 ? "" : "s"} ${verb}`);
  }
  return `${changes.length} change${changes.length === 1 ? "" : "s"}: ${parts.join(", ")}`;
}

// ---- One map, indexed --------------------------------------------------------------------------------------------

/** A field path's types (over every variant) and the path it lies in (null for request / response). */
interface FieldTypes {
  types: Set<string>;
  parent: string | null;
}
type Fields = Map<string, FieldTypes>;

/** One (source, destination, method): its endpoints' fields by path. */
interface Route {
  source: string;
  destination: string;
  method: string;
  paths: Map<string, Fields>;
}

interface Side {
  edges: Map<string, { source: string; destination: string; protocol: string }>;
  routes: Map<string, Route>;
}

/** The body schemas an endpoint entry holds, by the field path each is the root of. */
const ROOTS = [
  ["request", "request_schema"],
  ["response", "response_schema"],
] as const;

function indexMap(map: DiffableMap): Side {
  const side: Side = { edges: new Map(), routes: new Map() };
  const addEdge = (source: string, destination: string, protocol: string) => side.edges.set(JSON.stringify([source, destination, protocol]), { source, destination, protocol });
  for (const service of map.services) {
    const source = service.name;
    for (const e of service.endpoints) {
      addEdge(source, e.destination, HTTP_EDGE);
      const key = JSON.stringify([source, e.destination, e.method]);
      let route = side.routes.get(key);
      if (!route) side.routes.set(key, (route = { source, destination: e.destination, method: e.method, paths: new Map() }));
      let fields = route.paths.get(e.path);
      if (!fields) route.paths.set(e.path, (fields = new Map()));
      for (const [root, schema] of ROOTS) addSchema(fields, root, null, e[schema]);
    }
    for (const c of service.connections) addEdge(source, c.destination, c.protocol);
  }
  return side;
}

/** Unions `schema`'s types into `fields`, at `path` and below. */
function addSchema(fields: Fields, path: string, parent: string | null, schema: BodySchema): void {
  let at = fields.get(path);
  if (!at) fields.set(path, (at = { types: new Set(), parent }));
  if (schema === null) at.types.add(NO_BODY);
  else if (typeof schema === "string") for (const type of schema.split("|")) at.types.add(type);
  else if (Array.isArray(schema)) {
    at.types.add("array");
    // [] is an array only seen empty; a schema holds one element shape (a hand-written file may hold more: merged).
    for (const element of schema) addSchema(fields, `${path}[]`, path, element);
  } else {
    at.types.add("object");
    for (const [key, value] of Object.entries(schema)) addSchema(fields, fieldPath(path, key), path, value);
  }
}

/** A plain key as .key, any other ("a.b", "", "x y", "[]") as its JSON string in brackets: paths stay unambiguous. */
function fieldPath(parent: string, key: string): string {
  return /^[A-Za-z_$][\w$-]*$/.test(key) ? `${parent}.${key}` : `${parent}[${JSON.stringify(key)}]`;
}

function mergeFields(into: Fields, from: Fields): void {
  for (const [path, f] of from) {
    const at = into.get(path);
    if (at) for (const type of f.types) at.types.add(type);
    else into.set(path, { types: new Set(f.types), parent: f.parent });
  }
}

// ---- Templates -----------------------------------------------------------------------------------------------------

/** A placeholder segment as routes.ts writes them: {id}, {param}, {id2}... */
const PARAM = /^\{(?:id|param)\d*\}$/;

/**
 * Moves each path of B that A lacks into the template of A it fits, then each path of A that B (now) lacks into the
 * template of B it fits, merging the fields. In this order, so two templates that fit each other ({id} and {param})
 * end under one name rather than swapping.
 */
function alignTemplates(a: Map<string, Route>, b: Map<string, Route>): void {
  for (const [key, routeB] of b) {
    const routeA = a.get(key);
    if (routeA) moveIntoTemplates(routeB.paths, routeA.paths);
  }
  for (const [key, routeA] of a) {
    const routeB = b.get(key);
    if (routeB) moveIntoTemplates(routeA.paths, routeB.paths);
  }
}

function moveIntoTemplates(mine: Map<string, Fields>, theirs: ReadonlyMap<string, Fields>): void {
  const templates = [...theirs.keys()].filter((path) => path.split("/").some((s) => PARAM.test(s)));
  if (templates.length === 0) return;
  for (const [path, fields] of [...mine]) {
    if (theirs.has(path)) continue;
    const template = bestTemplate(path, templates);
    if (template === null) continue;
    mine.delete(path);
    const known = mine.get(template);
    if (known) mergeFields(known, fields);
    else mine.set(template, fields);
  }
}

/** The template fitting `path` with the fewest placeholders (then the first in code-unit order), or null. */
function bestTemplate(path: string, templates: readonly string[]): string | null {
  const segments = path.split("/");
  let best: string | null = null;
  let bestParams = Infinity;
  for (const template of templates) {
    const parts = template.split("/");
    if (parts.length !== segments.length || !parts.every((p, i) => p === segments[i] || PARAM.test(p))) continue;
    const params = parts.filter((p) => PARAM.test(p)).length;
    if (params < bestParams || (params === bestParams && best !== null && template < best)) {
      best = template;
      bestParams = params;
    }
  }
  return best;
}

// ---- Fields --------------------------------------------------------------------------------------------------------

/** The field changes of one endpoint seen in both maps, without its place (the caller adds it). */
function diffFields(a: Fields, b: Fields): Pick<MapChange, "change" | "field" | "from" | "to">[] {
  const out: Pick<MapChange, "change" | "field" | "from" | "to">[] = [];
  const hidden = (path: string) => isUnderVaries(path, a, b);
  for (const [path, fb] of b) {
    if (hidden(path)) continue;
    const fa = a.get(path);
    if (fa === undefined) {
      if (fb.parent === null || a.has(fb.parent)) out.push({ change: "field_added", field: path, to: typeNames(fb.types) });
    } else if (typeNames(fa.types) !== typeNames(fb.types)) {
      out.push({ change: "field_type_changed", field: path, from: typeNames(fa.types), to: typeNames(fb.types) });
    }
  }
  for (const [path, fa] of a) {
    if (b.has(path) || hidden(path)) continue;
    if (fa.parent === null || b.has(fa.parent)) out.push({ change: "field_removed", field: path, from: typeNames(fa.types) });
  }
  return out;
}

/** Whether a path lies below one whose types include "varies" in either map: what is there is not known. */
function isUnderVaries(path: string, a: Fields, b: Fields): boolean {
  let parent = (a.get(path) ?? b.get(path))?.parent ?? null;
  while (parent !== null) {
    const pa = a.get(parent);
    const pb = b.get(parent);
    if (pa?.types.has(VARIES) || pb?.types.has(VARIES)) return true;
    parent = (pa ?? pb)?.parent ?? null;
  }
  return false;
}

function typeNames(types: ReadonlySet<string>): string {
  return [...types].sort().join("|");
}

// ---- Order ---------------------------------------------------------------------------------------------------------

function placeKey(c: MapChange): string[] {
  const isEdge = c.change === "edge_added" || c.change === "edge_removed";
  return [c.source, c.destination, isEdge ? "0" : "1", c.protocol ?? "", c.path ?? "", c.method ?? "", c.field ?? "", String(CHANGE_KINDS.indexOf(c.change))];
}

function byPlace(x: MapChange, y: MapChange): number {
  const kx = placeKey(x);
  const ky = placeKey(y);
  for (let i = 0; i < kx.length; i++) {
    const a = kx[i] as string;
    const b = ky[i] as string;
    if (a !== b) return a < b ? -1 : 1;
  }
  return 0;
}
