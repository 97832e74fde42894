// The service map as a graph: the one picture `adi export mermaid` and `adi export dot` both draw (issue 13), so
// the two show the same nodes, the same edges and the same labels; each renderer only spells them.
//
//   ServiceMap ─► mapGraph ─► { nodes, edges } ─► mermaid.ts (flowchart LR)
//                                              └► dot.ts (Graphviz, through ts-graphviz)
//
// Pure and deterministic: the same map gives the same graph, in the same order (names compared by UTF-16 code
// units, never by locale), so an export of a replayed window can be diffed with an earlier one.
import type { ServiceMap } from "../map-types.ts";

/** What a node stands for; it chooses the node's shape. */
export type NodeKind = "service" | "database" | "cache" | "message_bus" | "external";

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

/**
 * The kind a destination takes from the category of the connections made to it (classified by the classifier's
 * rules: shared with the map's `category`). A category not listed (one a user added with the mapper's
 * connectionCategories) leaves the node `external`.
 */
const CATEGORY_KINDS: Readonly<Record<string, NodeKind>> = { database: "database", cache: "cache", message_bus: "message_bus" };

/** When a destination was reached with several categories, the one that names it: first in this list. */
const CATEGORY_PRECEDENCE: readonly NodeKind[] = ["database", "message_bus", "cache"];

/**
 * The graph of `map`. Nodes: every service of the map (a caller) and every destination it called. A node's kind:
 * `service` when it is a service of the map (it made calls) or a container (destination_type); else the kind of
 * the connections made to it (database, cache, message_bus: CATEGORY_KINDS); else `external`. Edges: one per
 * (caller, destination), summing its HTTP endpoints and calls and listing its connections' protocols.
 */
export function mapGraph(map: ServiceMap): MapGraph {
  const callers = new Set(map.services.map((s) => s.name));
  const containers = new Set<string>();
  const categories = new Map<string, Set<NodeKind>>();
  const edges = new Map<string, { from: string; to: string; endpoints: Set<string>; calls: number; protocols: Set<string> }>();
  const edgeOf = (from: string, to: string) => {
    const key = JSON.stringify([from, to]);
    let edge = edges.get(key);
    if (edge === undefined) edges.set(key, (edge = { from, to, endpoints: new Set(), calls: 0, protocols: new Set() }));
    return edge;
  };
  for (const service of map.services) {
    for (const e of service.endpoints) {
      if (e.destination_type === "container") containers.add(e.destination);
      const edge = edgeOf(service.name, e.destination);
      edge.endpoints.add(`${e.method} ${e.path}`);
      edge.calls += e.count;
    }
    for (const c of service.connections) {
      if (c.destination_type === "container") containers.add(c.destination);
      const kind = CATEGORY_KINDS[c.category];
      if (kind !== undefined) {
        const set = categories.get(c.destination) ?? new Set<NodeKind>();
        categories.set(c.destination, set.add(kind));
      }
      edgeOf(service.name, c.destination).protocols.add(c.protocol);
    }
  }
  const names = new Set([...callers, ...[...edges.values()].map((e) => e.to)]);
  const sorted = [...names].sort(compare);
  const ids = nodeIds(sorted);
  const kindOf = (name: string): NodeKind => {
    if (callers.has(name)) return "service";
    const reached = categories.get(name);
    const category = reached && CATEGORY_PRECEDENCE.find((k) => reached.has(k));
    if (category) return category;
    return containers.has(name) ? "service" : "external";
  };
  const nodes = sorted.map((name) => ({ name, id: ids.get(name) as string, kind: kindOf(name) }));
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
