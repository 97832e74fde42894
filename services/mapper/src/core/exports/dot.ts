// `adi export dot`: the service map's graph (graph.ts, the one Mermaid draws too) as a Graphviz DOT digraph, built
// with ts-graphviz's model and printed by its toDot, for `dot -Tsvg` and the tools that read DOT.
import { attribute as _, Digraph, Edge, Node, toDot } from "ts-graphviz";
import type { NodeAttributesObject } from "ts-graphviz";
import type { ServiceMap } from "../map-types.ts";
import { mapGraph } from "./graph.ts";
import type { MapGraph, MapGraphOptions, NodeKind } from "./graph.ts";

/**
 * Node attributes of each kind: Graphviz's shapes for the same pictures as the Mermaid export (a box for a
 * service, a 3-D box for a container, a cylinder for a database, a hexagon for a cache, a parallelogram for a message bus, a dashed ellipse
 * for anything else).
 */
const NODE_STYLES: Readonly<Record<NodeKind, NodeAttributesObject>> = {
  service: { [_.shape]: "box" },
  container: { [_.shape]: "box3d" },
  database: { [_.shape]: "cylinder" },
  cache: { [_.shape]: "hexagon" },
  message_bus: { [_.shape]: "parallelogram" },
  external: { [_.shape]: "ellipse", [_.style]: "dashed" },
};

/**
 * The map as a DOT digraph named "adi", left to right: node ids from mapGraph (plain identifiers), each node
 * labelled with its name and shaped by its kind, one edge per caller and destination labelled with what went over
 * it. Deterministic, in mapGraph's order. `o`: as mapGraph's (the inventory's process names).
 */
export function toDotGraph(map: ServiceMap, o: MapGraphOptions = {}): string {
  return renderDot(mapGraph(map, o));
}

/** renderDot(mapGraph(map)) for a graph already made. */
export function renderDot(graph: MapGraph): string {
  const g = new Digraph("adi", { [_.rankdir]: "LR" });
  const nodes = new Map<string, Node>();
  for (const n of graph.nodes) {
    const node = new Node(n.id, { [_.label]: dotText(n.name), ...NODE_STYLES[n.kind] });
    nodes.set(n.id, node);
    g.addNode(node);
  }
  for (const e of graph.edges) g.addEdge(new Edge([nodes.get(e.from) as Node, nodes.get(e.to) as Node], { [_.label]: dotText(e.label) }));
  return `${toDot(g)}\n`;
}

/**
 * `text` for a quoted DOT label. toDot escapes double quotes and line breaks but not the backslash, which in a
 * label starts an escape (`\n`, `\l`, `\N`...) and before a closing quote would escape it: doubled, it is one
 * backslash. Other control characters become spaces.
 */
export function dotText(text: string): string {
  // eslint-disable-next-line no-control-regex -- control characters are what is replaced
  return text.replace(/\\/g, "\\\\").replace(/[\u0000-\u001f\u007f]/g, " ");
}
