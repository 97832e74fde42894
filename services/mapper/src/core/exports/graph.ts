// The service map as a graph: the one picture `adi export mermaid` and `adi export dot` both draw (issue 13), so
// the two show the same nodes, the same edges and the same labels; each renderer only spells them.
//
//   ServiceMap ─► mapGraph ─► { nodes, edges } ─► mermaid.ts (flowchart LR)
//                                              └► dot.ts (Graphviz, through ts-graphviz)
//
// Pure and deterministic: the same map gives the same graph, in the same order (names compared by UTF-16 code
// units, never by locale), so an export of a replayed window can be diffed with an earlier one.
import type { ServiceMap } from "../map-types.ts";
import { EXTERNAL } from "../names.ts";

/**
 * What a node stands for; it chooses the node's shape in the exports and its colour and shape in the view (`adi
 * view`): one vocabulary for both, from NODE_KIND_RULES.
 */
export type NodeKind = "service" | "container" | "database" | "cache" | "message_bus" | "external";

export interface GraphNode {
  /** The name the map gives it (a service, a destination). */
  name: string;
  /** An identifier safe in Mermaid and DOT: `n_` and the name with every character outside [A-Za-z0-9_] as `_`, unique. */
  id: string;
  kind: NodeKind;
}

export interface GraphEdge {
  /** Node ids: the caller (the map's source service) and what it called. */
  from: string;
  to: string;
  /** HTTP calls on this edge: distinct (method, path) endpoints and calls; null when none. */
  http: { endpoints: number; calls: number } | null;
  /** Protocols of the non-HTTP connections (postgres, redis...), sorted, each once. */
  protocols: string[];
  /** What the edge says, e.g. "HTTP 4 endpoints, 120 calls; postgres". */
  label: string;
}

export interface MapGraph {
  /** Sorted by name. */
  nodes: GraphNode[];
  /** Sorted by caller's name, then callee's name. */
  edges: GraphEdge[];
}

/** What is known of a node name, from every entry of the map that mentions it and from the inventory. */
export interface NodeFacts {
  /** It made calls: a ServiceEntry of the map. */
  source: boolean;
  /** The image of that entry (a source in a container); null otherwise. */
  image: string | null;
  /** It is the map's name for a caller known only by its address (names.ts EXTERNAL, no image). */
  unknownCaller: boolean;
  /** Categories of the classified connections made to it (database, cache, message_bus, web, unknown...). */
  categories: Set<string>;
  /** destination_type of the entries that reach it ("container", "external"). */
  destinationTypes: Set<string>;
  /** An opted-in process of the environment inventory carries its name (processServiceName). */
  hasProcess: boolean;
}

/**
 * A node's kind: the first rule that holds. A caller is drawn as what it is (a service, in a container or not)
 * whatever calls it, except the mapper's stand-in for callers known only by address (external); something that
 * only receives calls, by what the classifier says it speaks (the map's `category`: database, then message bus,
 * then cache when it was reached as several), else a container, else a service when an opted-in process carries
 * its name (a server that only answers), else external (an address, a host name, a process we do not watch). A
 * category not listed here (one a user added with the mapper's connectionCategories) decides nothing.
 */
export const NODE_KIND_RULES: readonly { kind: NodeKind; holds: (f: NodeFacts) => boolean }[] = [
  { kind: "external", holds: (f) => f.unknownCaller },
  { kind: "container", holds: (f) => f.source && f.image !== null },
  { kind: "service", holds: (f) => f.source },
  { kind: "database", holds: (f) => f.categories.has("database") },
  { kind: "message_bus", holds: (f) => f.categories.has("message_bus") },
  { kind: "cache", holds: (f) => f.categories.has("cache") },
  { kind: "container", holds: (f) => f.destinationTypes.has("container") },
  { kind: "service", holds: (f) => f.hasProcess },
  { kind: "external", holds: () => true },
];

/** The kind of a node with facts `f`: the first of NODE_KIND_RULES that holds. */
export function nodeKind(f: NodeFacts): NodeKind {
  return NODE_KIND_RULES.find((r) => r.holds(f))!.kind;
}

/**
 * The facts of every node of `map` (every source and every destination it called), by name, in the map's order.
 * `processNames`: the names under which the inventory's opted-in processes would be sources
 * (processServiceName of each ProcessFact); a name the map does not have adds no node.
 */
export function nodeFacts(map: ServiceMap, processNames: Iterable<string> = []): Map<string, NodeFacts> {
  const facts = new Map<string, NodeFacts>();
  const fact = (name: string): NodeFacts => {
    let f = facts.get(name);
    if (!f) facts.set(name, (f = { source: false, image: null, unknownCaller: false, categories: new Set(), destinationTypes: new Set(), hasProcess: false }));
    return f;
  };
  for (const service of map.services) {
    const src = fact(service.name);
    src.source = true;
    src.image ??= service.image;
    if (service.name === EXTERNAL && service.image === null) src.unknownCaller = true;
    for (const e of service.endpoints) fact(e.destination).destinationTypes.add(e.destination_type);
    for (const c of service.connections) {
      const dst = fact(c.destination);
      dst.destinationTypes.add(c.destination_type);
      dst.categories.add(c.category);
    }
  }
  for (const name of processNames) {
    const f = facts.get(name);
    if (f) f.hasProcess = true;
  }
  return facts;
}

/** What the graph may know beside the map. */
export interface MapGraphOptions {
  /** Names of the inventory's opted-in processes (processServiceName): a server that only answers is a service. */
  processNames?: Iterable<string>;
}

/**
 * The graph of `map`. Nodes: every service of the map (a caller) and every destination it called, each of the
 * kind NODE_KIND_RULES gives its facts (nodeFacts, with `o.processNames`): the same kinds `adi view` draws. Edges:
 * one per (caller, destination), summing its HTTP endpoints and calls and listing its connections' protocols.
 */
export function mapGraph(map: ServiceMap, o: MapGraphOptions = {}): MapGraph {
  const facts = nodeFacts(map, o.processNames);
  const edges = new Map<string, { from: string; to: string; endpoints: Set<string>; calls: number; protocols: Set<string> }>();
  const edgeOf = (from: string, to: string) => {
    const key = JSON.stringify([from, to]);
    let edge = edges.get(key);
    if (edge === undefined) edges.set(key, (edge = { from, to, endpoints: new Set(), calls: 0, protocols: new Set() }));
    return edge;
  };
  for (const service of map.services) {
    for (const e of service.endpoints) {
      const edge = edgeOf(service.name, e.destination);
      edge.endpoints.add(`${e.method} ${e.path}`);
      edge.calls += e.count;
    }
    for (const c of service.connections) {
      edgeOf(service.name, c.destination).protocols.add(c.protocol);
    }
  }
  const sorted = [...facts.keys()].sort(compare);
  const ids = nodeIds(sorted);
  const nodes = sorted.map((name) => ({ name, id: ids.get(name) as string, kind: nodeKind(facts.get(name)!) }));
  const graphEdges = [...edges.values()]
    .sort((a, b) => compare(a.from, b.from) || compare(a.to, b.to))
    .map((e) => {
      const http = e.endpoints.size > 0 ? { endpoints: e.endpoints.size, calls: e.calls } : null;
      const protocols = [...e.protocols].sort(compare);
      return { from: ids.get(e.from) as string, to: ids.get(e.to) as string, http, protocols, label: edgeLabel(http, protocols) };
    });
  return { nodes, edges: graphEdges };
}

/** "HTTP 4 endpoints, 120 calls; postgres, redis". */
export function edgeLabel(http: GraphEdge["http"], protocols: readonly string[]): string {
  const parts: string[] = [];
  if (http !== null) parts.push(`HTTP ${plural(http.endpoints, "endpoint")}, ${plural(http.calls, "call")}`);
  if (protocols.length > 0) parts.push(protocols.join(", "));
  return parts.join("; ");
}

function plural(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? "" : "s"}`;
}

/**
 * An id per name (names sorted): `n_` and the name with each character outside [A-Za-z0-9_] replaced by `_`, so
 * it is a plain identifier in both languages (the prefix keeps a name such as `end`, `graph` or `1db` from being a
 * keyword or a number); two names that come out alike get `_2`, `_3`... in their sorted order.
 */
function nodeIds(sortedNames: readonly string[]): Map<string, string> {
  const ids = new Map<string, string>();
  const taken = new Set<string>();
  for (const name of sortedNames) {
    const base = `n_${name.replace(/[^A-Za-z0-9_]/g, "_")}`;
    let id = base;
    for (let n = 2; taken.has(id); n++) id = `${base}_${n}`;
    taken.add(id);
    ids.set(name, id);
  }
  return ids;
}

/** By UTF-16 code units, as Array.prototype.sort() does: the same order on every machine and locale. */
export function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
