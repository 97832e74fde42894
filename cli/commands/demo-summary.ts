// What `adi demo` prints when it stops (issue 13, item 5): what it found and where to look, in a few lines a
// person reads at a glance, from the map the mapper built (the same fold as SERVICE_MAP_PATH).
import type { ServiceMap } from "@adi/mapper";

export interface DemoSummaryInput {
  map: ServiceMap;
  /** The output files, in the order they are listed. */
  files: readonly string[];
  /** The view's address while the demo ran; null when off. */
  viewUrl: string | null;
  /** The /metrics address while the demo ran; null when off. */
  metricsUrl: string | null;
}

/** One edge as the summary lists it: the source, the destination and what went over it. */
export interface SummaryEdge {
  source: string;
  destination: string;
  /** "HTTP" for endpoints, else the connection's protocol (postgres, redis, nats...). */
  protocol: string;
  /** Calls (HTTP) or connections. */
  count: number;
  /** HTTP only: distinct (method, path) routes. */
  routes: number | null;
}

/** The map's edges, sorted by source, destination, protocol: HTTP endpoints grouped per destination. */
export function summaryEdges(map: ServiceMap): SummaryEdge[] {
  const edges = new Map<string, SummaryEdge & { routeKeys: Set<string> }>();
  const edge = (source: string, destination: string, protocol: string) => {
    const key = JSON.stringify([source, destination, protocol]);
    let e = edges.get(key);
    if (!e) edges.set(key, (e = { source, destination, protocol, count: 0, routes: null, routeKeys: new Set() }));
    return e;
  };
  for (const service of map.services) {
    for (const endpoint of service.endpoints) {
      const e = edge(service.name, endpoint.destination, "HTTP");
      e.count += endpoint.count;
      e.routeKeys.add(`${endpoint.method} ${endpoint.path}`);
    }
    for (const connection of service.connections) edge(service.name, connection.destination, connection.protocol).count += connection.count;
  }
  return [...edges.values()]
    .map(({ routeKeys, ...e }) => ({ ...e, routes: e.protocol === "HTTP" ? routeKeys.size : null }))
    .sort((a, b) => compare(a.source, b.source) || compare(a.destination, b.destination) || compare(a.protocol, b.protocol));
}

/**
 * The summary's lines (no trailing newline): services found (the sources the map lists), each edge with what went
 * over it, the files, the view and metrics addresses.
 */
export function demoSummary(input: DemoSummaryInput): string {
  const services = input.map.services.map((s) => s.name);
  const edges = summaryEdges(input.map);
  const lines = [
    "adi demo: outputs written",
    `  services  ${services.length} found${services.length ? `: ${services.join(", ")}` : " (nothing was captured: see the log above)"}`,
    `  edges     ${edges.length}`,
    ...edges.map((e) => `    ${e.source} -> ${e.destination}  ${e.protocol}${e.routes === null ? "" : `, ${e.routes} route${e.routes === 1 ? "" : "s"}`}, ${e.count} ${e.protocol === "HTTP" ? "call" : "connection"}${e.count === 1 ? "" : "s"}`),
    `  files     ${input.files.join("\n            ")}`,
  ];
  if (input.viewUrl) lines.push(`  view      ${input.viewUrl} (stopped with the demo; \`adi view\` serves it again from the streams)`);
  if (input.metricsUrl) lines.push(`  metrics   ${input.metricsUrl}`);
  return lines.join("\n");
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
