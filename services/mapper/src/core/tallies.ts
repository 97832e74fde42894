// Counts of calls by what identifies their ends, and their resolution into the service map's entries.
// Two tallies that resolve to the same names (a service restarted: new pid, same name) merge into one entry.
//
// Endpoint calls are tallied per (source, destination, method) in a RouteTree (routes.ts): a path position with
// more than `maxSegmentValues` distinct values becomes a parameter, whatever the values look like, so the tallies
// (and the map) are bounded by the API, not by the records. At resolve time the trees of every source that
// names alike (gunicorn's workers: one service, many pids) are merged before they are listed, so routes fold per
// service, not per process. Both steps depend only on the set of calls, never on their order.
import type { ProcessRef, ResolvedName } from "./names.ts";
import { processKey } from "./names.ts";
import { maxIso, minIso } from "./observation.ts";
import { DEFAULT_MAX_SEGMENT_VALUES, RouteTree } from "./routes.ts";
import type { RouteValues } from "./routes.ts";
import { VARIES } from "./schema.ts";
import { callStats, endpointStats, mergeStats } from "./call-stats.ts";
import type { CallStats } from "./call-stats.ts";
import type { BodySchema } from "./schema.ts";
import type { ConnectionEntry, DestinationRef, EndpointEntry, ServiceEntry, SourceRef } from "./map-types.ts";

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
  /** The response's status, or NO_RESPONSE (call-stats.ts). Numbers on the call, not an object: ~600,000 are held. */
  status: number;
  /** From the request's first byte to the response's last byte, µs; null when not answered. */
  durationUs: number | null;
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
  endpoints: Map<string, DraftEndpoint>;
  connections: Map<string, ConnectionEntry>;
}

/** An endpoint entry while its calls are summed: its figures as the tallies hold them. */
type DraftEndpoint = Omit<EndpointEntry, "stats"> & { stats: CallStats };

/** What ended on one route with one pair of body schemas. */
interface Variant {
  requestSchema: string;
  responseSchema: string;
  seen: Seen;
  stats: CallStats;
}

/** The calls of one source to one destination with one method: their paths as a route tree. */
interface RouteGroup {
  source: SourceRef;
  destination: DestinationRef;
  method: string;
  tree: RouteTree<Variant>;
  /** Latest call, for the image of the source's service. */
  lastSeen: string;
}

/** Calls not settled yet (still waiting for their other end), added to a build without being kept. */
export interface PendingCalls {
  endpoints: readonly EndpointCall[];
  connections: readonly ConnectionCall[];
}

export { DEFAULT_MAX_SEGMENT_VALUES };

export class Tallies {
  readonly #routes = new Map<string, RouteGroup>();
  readonly #connections = new Map<string, { call: ConnectionCall; seen: Seen }>();
  readonly #maxSegmentValues: number;
  /**
   * Variant keys by request schema key, then response schema key: one string per pair, not one per route end that
   * has it (the ends of a tree of many clients held ~250 bytes each, issue 12), and none made per call.
   */
  readonly #variantKeys = new Map<string, Map<string, string>>();

  /** `maxSegmentValues`: distinct values a path position lists before it is one parameter (routes.ts). */
  constructor(maxSegmentValues = DEFAULT_MAX_SEGMENT_VALUES) {
    this.#maxSegmentValues = maxSegmentValues;
  }

  addEndpoint(call: EndpointCall): void {
    this.#addToTree(this.#group(call.source, call.destination, call.method, call.ts).tree, call);
  }

  #addToTree(tree: RouteTree<Variant>, call: EndpointCall): void {
    const { requestSchema, responseSchema } = call;
    let byResponse = this.#variantKeys.get(requestSchema);
    if (!byResponse) this.#variantKeys.set(requestSchema, (byResponse = new Map()));
    let variant = byResponse.get(responseSchema);
    if (variant === undefined) byResponse.set(responseSchema, (variant = JSON.stringify([requestSchema, responseSchema])));
    tree.add(call.path, variant, { requestSchema, responseSchema, seen: seenOnce(call), stats: callStats(call.status, call.durationUs) });
  }

  addConnection(call: ConnectionCall): void {
    this.#tallyConnection(call);
  }

  /** The route group of (source, destination, method), created when new; `ts` moves its last_seen. */
  #group(source: SourceRef, destination: DestinationRef, method: string, ts: string): RouteGroup {
    const key = JSON.stringify([sourceKey(source), destinationKey(destination), method]);
    let group = this.#routes.get(key);
    if (!group) {
      const tree = new RouteTree<Variant>(VARIANTS, this.#maxSegmentValues);
      this.#routes.set(key, (group = { source, destination, method, tree, lastSeen: ts }));
    }
    group.lastSeen = maxIso(group.lastSeen, ts) as string;
    return group;
  }

  #tallyConnection(call: ConnectionCall, seen?: Seen): void {
    const { source, destination, protocol, category, port } = call;
    const key = JSON.stringify([sourceKey(source), destinationKey(destination), protocol, category, port]);
    const known = this.#connections.get(key)?.call;
    tally(this.#connections, key, call, known ? strongest(known, call) : call, seen);
  }

  /** Schema keys the tallies refer to (the builder forgets the schemas no tally needs any more). */
  schemaKeys(): Set<string> {
    const keys = new Set<string>();
    for (const group of this.#routes.values()) {
      for (const { value } of group.tree.entries()) keys.add(value.requestSchema).add(value.responseSchema);
    }
    return keys;
  }

  /**
   * Forgets the variant keys of schemas not in `used` (the schema keys still referred to: the builder prunes its
   * schema table with the same set), so this table is bounded like that one. A tree keeps its own keys.
   */
  forgetVariantKeys(used: ReadonlySet<string>): void {
    for (const [request, byResponse] of this.#variantKeys) {
      if (!used.has(request)) this.#variantKeys.delete(request);
      else for (const response of byResponse.keys()) if (!used.has(response)) byResponse.delete(response);
    }
  }

  /**
   * Re-keys the tallies of processes `settle` gives a settled source for (their trees merged into that source's,
   * their connection tallies added to its): one group per service instead of one per process. Resolving gives
   * the same map before and after, as long as the settled source resolves like the process did.
   */
  compact(settle: (ref: ProcessRef) => SourceRef | null): void {
    for (const [key, group] of [...this.#routes]) {
      if (group.source.kind !== "process") continue;
      const source = settle(group.source.ref);
      if (!source) continue;
      this.#routes.delete(key);
      const target = this.#group(source, group.destination, group.method, group.lastSeen);
      target.tree.merge(group.tree);
    }
    for (const [key, { call, seen }] of [...this.#connections]) {
      if (call.source.kind !== "process") continue;
      const source = settle(call.source.ref);
      if (!source) continue;
      this.#connections.delete(key);
      this.#tallyConnection({ ...call, source }, seen);
    }
  }

  /** Route-tree nodes plus tallies held: bounded by the API (routes and ends), not by the records (tests). */
  size(): number {
    let n = this.#connections.size;
    for (const group of this.#routes.values()) n += group.tree.size();
    return n;
  }

  /**
   * Names every tally and merges those that name alike; services sorted by name, entries sorted too. `pending`
   * calls are included as if tallied, without being kept. Routes fold per resolved (service, destination,
   * method): the trees of all the processes of one service are merged first.
   */
  resolve(
    source: Resolve<SourceRef>,
    destination: Resolve<DestinationRef>,
    schemaOf: (key: string) => BodySchema,
    pending: PendingCalls = { endpoints: [], connections: [] },
  ): ServiceEntry[] {
    const services = new Map<string, ServiceDraft>();
    const draftOf = (from: ResolvedName, lastSeen: string): ServiceDraft => {
      let draft = services.get(from.name);
      if (!draft) services.set(from.name, (draft = { image: null, endpoints: new Map(), connections: new Map() }));
      noteImage(draft, from.container?.image ?? null, lastSeen);
      return draft;
    };

    const perService = new Map<string, { draft: ServiceDraft; to: ResolvedName; method: string; tree: RouteTree<Variant> }>();
    const groupOf = (ref: SourceRef, destinationRef: DestinationRef, method: string, lastSeen: string) => {
      const from = source(ref);
      const to = destination(destinationRef);
      const draft = draftOf(from, lastSeen);
      const key = JSON.stringify([from.name, to.name, to.type, method]);
      let group = perService.get(key);
      if (!group) perService.set(key, (group = { draft, to, method, tree: new RouteTree<Variant>(VARIANTS, this.#maxSegmentValues) }));
      return group;
    };
    for (const group of this.#routes.values()) groupOf(group.source, group.destination, group.method, group.lastSeen).tree.merge(group.tree);
    for (const call of pending.endpoints) this.#addToTree(groupOf(call.source, call.destination, call.method, call.ts).tree, call);

    for (const { draft, to, method, tree } of perService.values()) {
      for (const { path, value } of tree.entries()) {
        const entry: DraftEndpoint = {
          destination: to.name,
          destination_type: to.type,
          method,
          path,
          request_schema: schemaOf(value.requestSchema),
          response_schema: schemaOf(value.responseSchema),
          ...value.seen,
          stats: value.stats,
          example: null,
        };
        const key = JSON.stringify([to.name, to.type, method, path, value.requestSchema, value.responseSchema]);
        merge(draft.endpoints, key, entry, (a, b) => ({ ...a, ...mergeSeen(a, b), stats: mergeStats(a.stats, b.stats) }));
      }
    }
    const connections = [...this.#connections.values(), ...pending.connections.map((call) => ({ call, seen: seenOnce(call) }))];
    for (const { call, seen } of connections) {
      const to = destination(call.destination);
      const { protocol, category, port, confidence, reason } = call;
      const entry: ConnectionEntry = {
        destination: to.name,
        destination_type: to.type,
        ...{ protocol, category, port, confidence, reason },
        ...seen,
      };
      const key = JSON.stringify([to.name, to.type, protocol, category, port]);
      merge(draftOf(source(call.source), seen.last_seen).connections, key, entry, (a, b) => ({ ...a, ...strongest(a, b), ...mergeSeen(a, b) }));
    }
    return sortedValues(services).map(([name, draft]) => finish(name, draft));
  }
}

/**
 * The schema key a route's variants show once there are more than DEFAULT_MAX_VARIANTS of them (routes.ts):
 * schemaKey("varies"), a string as a schema's type names are.
 */
export const VARIES_SCHEMA_KEY = JSON.stringify(VARIES);

const VARIANTS: RouteValues<Variant> = {
  combine: (a, b) => ({ requestSchema: a.requestSchema, responseSchema: a.responseSchema, seen: mergeSeen(a.seen, b.seen), stats: mergeStats(a.stats, b.stats) }),
  fold: (v) => ({ requestSchema: VARIES_SCHEMA_KEY, responseSchema: VARIES_SCHEMA_KEY, seen: v.seen, stats: v.stats }),
};

function seenOnce(call: CallBase): Seen {
  return { first_seen: call.ts, last_seen: call.ts, count: 1 };
}

function finish(name: string, draft: ServiceDraft): ServiceEntry {
  const endpoints = sortedValues(draft.endpoints).map(([, entry]) => ({ ...entry, stats: endpointStats(entry.stats) }));
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
  if (source.kind === "process") return `process ${processKey(source.ref)}`;
  if (source.kind === "settled") return `settled ${JSON.stringify([source.host, source.container_id, source.name])}`;
  return `remote ${source.ip}`;
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
