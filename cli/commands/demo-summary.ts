// What `adi demo` prints when it stops (issue 13, item 5): what it found and where to look, in a few lines a
// person reads at a glance, from the map the mapper built (the same fold as SERVICE_MAP_PATH).
import type { ServiceMap } from "@adi/mapper";
import { printable } from "@adi/shared";

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

/** Edges listed by name before the rest are counted ("+ 40 more"): the summary stays a glance on a busy broker. */
export const SUMMARY_EDGES_MAX = 12;

/**
 * The summary's lines (no trailing newline): services found (the sources the map lists), the edges with the most
 * traffic first (at most SUMMARY_EDGES_MAX by name), the files, the view and metrics addresses. The map is the
 * broker's since the stream's first event (an earlier run with the same store counts too): the line says since when.
 * Names and paths come from the traffic (any local user's ADI_PROFILE_NAME): control characters are escaped.
 */
export function demoSummary(input: DemoSummaryInput): string {
  const services = input.map.services.map((s) => printable(s.name));
  const edges = summaryEdges(input.map).sort((a, b) => b.count - a.count);
  const since = firstSeen(input.map);
  const shown = edges.slice(0, SUMMARY_EDGES_MAX);
  const lines = [
    "adi demo: outputs written",
    `  services  ${services.length} found${services.length ? `: ${services.join(", ")}` : " (nothing was captured: see the log above)"}`,
    `  edges     ${edges.length}${since ? ` (traffic on this broker since ${since})` : ""}`,
    ...shown.map((e) => `    ${printable(e.source)} -> ${printable(e.destination)}  ${printable(e.protocol)}${e.routes === null ? "" : `, ${e.routes} route${e.routes === 1 ? "" : "s"}`}, ${e.count} ${e.protocol === "HTTP" ? "call" : "connection"}${e.count === 1 ? "" : "s"}`),
    ...(edges.length > shown.length ? [`    + ${edges.length - shown.length} more (the view and the map list them all)`] : []),
    `  files     ${input.files.map(printable).join("\n            ")}`,
  ];
  if (input.viewUrl) lines.push(`  view      ${input.viewUrl} (stopped with the demo; \`adi view\` serves it again from the streams)`);
  if (input.metricsUrl) lines.push(`  metrics   ${input.metricsUrl}`);
  return lines.join("\n");
}

/** The earliest first_seen of the map's services, as the RFC 3339 text it is; null for an empty map. */
function firstSeen(map: ServiceMap): string | null {
  let min: string | null = null;
  for (const s of map.services) if (min === null || s.first_seen < min) min = s.first_seen;
  return min;
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
