// Counts of calls by what identifies their ends, and their resolution into the service map's entries.
// Two tallies that resolve to the same names (a service restarted: new pid, same name) merge into one entry.
//
// Paths are listed as seen (the Go tool's behaviour) until one route (same ends and method, path equal but for
// id-like segments: /items/1, /items/2) has more than `maxPathsPerRoute` distinct paths; from then on the route
// is one entry, /items/{id}. That depends only on the set of calls, never on their order, and keeps the map (and
// the memory behind it) bounded by routes, not by records.
import type { ResolvedName } from "./names.ts";
import { processKey } from "./names.ts";
import { maxIso, minIso, routeOf } from "./observation.ts";
import type { BodySchema } from "./schema.ts";
import type { ConnectionEntry, DestinationRef, EndpointEntry, ServiceEntry, SourceRef } from "./service-map.ts";

interface CallBase {
  source: SourceRef;
  destination: DestinationRef;
  /** Capture time of the call (the request's first byte; a connection's first payload byte). */
  ts: string;
}

export interface EndpointCall extends CallBase {
  method: string;
  path: string;
  /** schemaKey() of the bodies' schemas. */
  requestSchema: string;
  responseSchema: string;
}

export interface ConnectionCall extends CallBase {
  protocol: string;
  category: string;
  port: number;
  confidence: number;
  reason: string;
}

interface Seen {
  first_seen: string;
  last_seen: string;
  count: number;
}

type Resolve<T> = (ref: T) => ResolvedName;

/** One service while it is being assembled: its entries keyed by their resolved identity. */
interface ServiceDraft {
  image: { last_seen: string; image: string } | null;
  endpoints: Map<string, EndpointEntry>;
  connections: Map<string, ConnectionEntry>;
}

/** The distinct paths of one route and the endpoint tallies under them, until the route is collapsed (null). */
interface RouteState {
  route: string;
  paths: Set<string> | null;
  keys: Set<string>;
}

export const DEFAULT_MAX_PATHS_PER_ROUTE = 20;

export class Tallies {
  readonly #endpoints = new Map<string, { call: EndpointCall; seen: Seen }>();
  readonly #connections = new Map<string, { call: ConnectionCall; seen: Seen }>();
  readonly #routes = new Map<string, RouteState>();
  readonly #maxPathsPerRoute: number;

  constructor(maxPathsPerRoute = DEFAULT_MAX_PATHS_PER_ROUTE) {
    this.#maxPathsPerRoute = maxPathsPerRoute;
  }

  addEndpoint(call: EndpointCall): void {
    const route = routeOf(call.path);
    if (route === call.path) {
      this.#tallyEndpoint(call);
      return;
    }
    const routeKey = JSON.stringify([sourceKey(call.source), destinationKey(call.destination), call.method, route]);
    let state = this.#routes.get(routeKey);
    if (!state) this.#routes.set(routeKey, (state = { route, paths: new Set(), keys: new Set() }));
    if (state.paths === null) {
      this.#tallyEndpoint({ ...call, path: route });
      return;
    }
    state.paths.add(call.path);
    state.keys.add(this.#tallyEndpoint(call));
    if (state.paths.size <= this.#maxPathsPerRoute) return;
    // Too many records behind one route: fold what is tallied under its paths into the route, once.
    for (const key of state.keys) {
      const { call: known, seen } = this.#endpoints.get(key)!;
      this.#endpoints.delete(key);
      this.#tallyEndpoint({ ...known, path: route }, seen);
    }
    state.paths = null;
    state.keys.clear();
  }

  /** Tallies `call` (or what `seen` sums up of calls like it) under its own path; returns the key. */
  #tallyEndpoint(call: EndpointCall, seen?: Seen): string {
    const { source, destination, method, path, requestSchema, responseSchema } = call;
    const key = JSON.stringify([sourceKey(source), destinationKey(destination), method, path, requestSchema, responseSchema]);
    tally(this.#endpoints, key, call, call, seen);
    return key;
  }

  addConnection(call: ConnectionCall): void {
    const { source, destination, protocol, category, port } = call;
    const key = JSON.stringify([sourceKey(source), destinationKey(destination), protocol, category, port]);
    const known = this.#connections.get(key)?.call;
    tally(this.#connections, key, call, known ? strongest(known, call) : call);
  }

  copy(): Tallies {
    const copy = new Tallies(this.#maxPathsPerRoute);
    for (const [key, { call, seen }] of this.#endpoints) copy.#endpoints.set(key, { call, seen: { ...seen } });
    for (const [key, { call, seen }] of this.#connections) copy.#connections.set(key, { call, seen: { ...seen } });
    for (const [key, { route, paths, keys }] of this.#routes) copy.#routes.set(key, { route, paths: paths && new Set(paths), keys: new Set(keys) });
    return copy;
  }

  /** Names every tally and merges those that name alike; services sorted by name, entries sorted too. */
  resolve(
    source: Resolve<SourceRef>,
    destination: Resolve<DestinationRef>,
    schemaOf: (key: string) => BodySchema,
  ): ServiceEntry[] {
    const services = new Map<string, ServiceDraft>();
    const draftOf = (call: CallBase, seen: Seen): ServiceDraft => {
      const resolved = source(call.source);
      let draft = services.get(resolved.name);
      if (!draft) services.set(resolved.name, (draft = { image: null, endpoints: new Map(), connections: new Map() }));
      noteImage(draft, resolved.container?.image ?? null, seen.last_seen);
      return draft;
    };

    for (const { call, seen } of this.#endpoints.values()) {
      const to = destination(call.destination);
      const entry: EndpointEntry = {
        destination: to.name,
        destination_type: to.type,
        method: call.method,
        path: call.path,
        request_schema: schemaOf(call.requestSchema),
        response_schema: schemaOf(call.responseSchema),
        ...seen,
      };
      const key = JSON.stringify([to.name, to.type, call.method, call.path, call.requestSchema, call.responseSchema]);
      merge(draftOf(call, seen).endpoints, key, entry, (a, b) => ({ ...a, ...mergeSeen(a, b) }));
    }
    for (const { call, seen } of this.#connections.values()) {
      const to = destination(call.destination);
      const { protocol, category, port, confidence, reason } = call;
      const entry: ConnectionEntry = {
        destination: to.name,
        destination_type: to.type,
        ...{ protocol, category, port, confidence, reason },
        ...seen,
      };
      const key = JSON.stringify([to.name, to.type, protocol, category, port]);
      merge(draftOf(call, seen).connections, key, entry, (a, b) => ({ ...a, ...strongest(a, b), ...mergeSeen(a, b) }));
    }
    return sortedValues(services).map(([name, draft]) => finish(name, draft));
  }
}

function finish(name: string, draft: ServiceDraft): ServiceEntry {
  const endpoints = sortedValues(draft.endpoints).map(([, entry]) => entry);
  const connections = sortedValues(draft.connections).map(([, entry]) => entry);
  const all = [...endpoints, ...connections];
  const first_seen = all.reduce<string | null>((min, e) => minIso(min, e.first_seen), null) as string;
  const last_seen = all.reduce<string | null>((max, e) => maxIso(max, e.last_seen), null) as string;
  return { name, image: draft.image?.image ?? null, endpoints, connections, first_seen, last_seen };
}

/** Several instances may share a name: the image of the one seen latest, ties to the smaller image. */
function noteImage(draft: ServiceDraft, image: string | null, lastSeen: string): void {
  if (image === null) return;
  const known = draft.image;
  if (!known || lastSeen > known.last_seen || (lastSeen === known.last_seen && image < known.image)) {
    draft.image = { last_seen: lastSeen, image };
  }
}

function sortedValues<T>(table: Map<string, T>): [string, T][] {
  return [...table.entries()].sort(([a], [b]) => compare(a, b));
}

function sourceKey(source: SourceRef): string {
  return source.kind === "process" ? `process ${processKey(source.ref)}` : `remote ${source.ip}`;
}

function destinationKey(destination: DestinationRef): string {
  return `${destination.viewerHost} ${destination.server.ip} ${destination.server.port} ${destination.hint ?? ""}`;
}

/**
 * Counts `call` (or adds `seen`, what several such calls sum up to); `kept` is the call remembered for the key
 * (its fields other than time are the same).
 */
function tally<T extends CallBase>(table: Map<string, { call: T; seen: Seen }>, key: string, call: T, kept = call, seen: Seen = { first_seen: call.ts, last_seen: call.ts, count: 1 }) {
  const known = table.get(key);
  table.set(key, { call: kept, seen: known ? mergeSeen(known.seen, seen) : seen });
}

function merge<T>(table: Map<string, T>, key: string, entry: T, combine: (a: T, b: T) => T): void {
  const known = table.get(key);
  table.set(key, known ? combine(known, entry) : entry);
}

function mergeSeen(a: Seen, b: Seen): Seen {
  return {
    first_seen: minIso(a.first_seen, b.first_seen) as string,
    last_seen: maxIso(a.last_seen, b.last_seen) as string,
    count: a.count + b.count,
  };
}

/** The most confident classification; equal confidence goes to the smaller reason (a stable choice). */
function strongest<T extends { confidence: number; reason: string }>(a: T, b: T): T {
  if (a.confidence !== b.confidence) return a.confidence > b.confidence ? a : b;
  return a.reason <= b.reason ? a : b;
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
