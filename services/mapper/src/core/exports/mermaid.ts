// `adi export mermaid`: the service map's graph (graph.ts) as a Mermaid flowchart, left to right, for a README or
// an issue (GitHub and GitLab render ```mermaid blocks).
//
//   flowchart LR
//     n_web["web"]
//     n_db[("db")]
//     n_web -->|"postgres"| n_db
import type { ServiceMap } from "../map-types.ts";
import { mapGraph } from "./graph.ts";
import type { MapGraph, MapGraphOptions, NodeKind } from "./graph.ts";

/**
 * The node shape of each kind, as Mermaid's flowchart syntax writes it around a quoted label: a rectangle for a
 * service, a double-sided rectangle ("subroutine") for a container, a cylinder for a database, a hexagon for a
 * cache, a parallelogram for a message bus, a stadium for anything else.
 */
const SHAPES: Readonly<Record<NodeKind, readonly [open: string, close: string]>> = {
  service: ["[", "]"],
  container: ["[[", "]]"],
  database: ["[(", ")]"],
  cache: ["{{", "}}"],
  message_bus: ["[/", "/]"],
  external: ["([", "])"],
};

/**
 * Characters written as Mermaid entity codes inside a quoted label. Mermaid's own rule: a double quote is
 * `#quot;`; and since it reads `#name;` and `#123;` as entities, a `#` is written as one too. The others would be
 * read as markup or syntax: `<` `>` `&` (labels are HTML), a backslash (`\n` is a line break), a backtick (a
 * markdown string), `|` (ends an edge label), `%` (`%%` starts a comment).
 */
const ENTITIES: Readonly<Record<string, string>> = {
  '"': "#quot;",
  "#": "#35;",
  "&": "#amp;",
  "<": "#lt;",
  ">": "#gt;",
  "\\": "#92;",
  "`": "#96;",
  "|": "#124;",
  "%": "#37;",
};

/**
 * The map as a Mermaid flowchart (`flowchart LR`): one node per service and destination (ids and shapes from
 * mapGraph: shape by kind), one edge per caller and destination labelled with what went over it. Lines end in
 * "\n". Deterministic: nodes by name, edges by caller then callee. `o`: as mapGraph's (the inventory's process names).
 */
export function toMermaid(map: ServiceMap, o: MapGraphOptions = {}): string {
  return renderMermaid(mapGraph(map, o));
}

/** renderMermaid(mapGraph(map)) for a graph already made. */
export function renderMermaid(graph: MapGraph): string {
  const lines = ["flowchart LR"];
  for (const node of graph.nodes) {
    const [open, close] = SHAPES[node.kind];
    lines.push(`  ${node.id}${open}"${mermaidText(node.name)}"${close}`);
  }
  for (const edge of graph.edges) lines.push(`  ${edge.from} -->|"${mermaidText(edge.label)}"| ${edge.to}`);
  return `${lines.join("\n")}\n`;
}

/** `text` safe inside a quoted Mermaid label: ENTITIES as codes, line breaks and other control characters as spaces. */
export function mermaidText(text: string): string {
  // eslint-disable-next-line no-control-regex -- control characters are what is replaced
  return text.replace(/[\u0000-\u001f\u007f]/g, " ").replace(/["#&<>\\`|%]/g, (c) => ENTITIES[c] as string);
}
