// What the page draws, from the folds the files are written from (issue 13, "one truth"): the service map
// (MapperOutputs.serviceMap(), or a window's fold) and the redacted processes of the environment inventory
// (EnvInventory.processes()), turned into graph nodes and edges and the facts each one drills down to. Pure: the
// same map and processes give the same model, so it is unit-tested without a server or a browser.
//
//   ServiceMap.services[i]      (a source: the client side of its calls)
//     .endpoints  ─► one "http" edge per source → destination (counts, errors, merged duration histogram)
//     .connections ─► one edge per source → destination and protocol (counts; the classifier's evidence)
//   every source and destination ─► a node, its kind by @adi/mapper's NODE_KIND_RULES (nodeFacts, nodeKind): the
//                                    rules `adi export mermaid|dot` draw by, so the page and the exports agree
//   processes ─► the node its service name matches (serviceNameOf: the mapper's processServiceName)
import { durationQuantileMs, mergeHistograms, nodeFacts, nodeKind, processServiceName } from "@adi/mapper";
import type { ConnectionEntry, DurationHistogram, EndpointEntry, NodeKind, ServiceMap } from "@adi/mapper";
import type { ProcessFact } from "@adi/shared/wire";

export type { NodeKind };

export interface ViewNode {
  /** "n:" + name: apart from edge ids whatever a service is called. */
  id: string;
  /** The name the map gives it (a service, a container's compose service, a process name, an address or host). */
  label: string;
  kind: NodeKind;
  /** Its container image when it is a source running in a container; else null. */
  image: string | null;
}

export interface ViewEdge {
  /** "e:" + JSON of [kind, source name, destination name] (http) or [kind, protocol, source, destination]. */
  id: string;
  source: string;
  target: string;
  kind: "http" | "connection";
  /** "http", or the classified protocol (postgres, redis, nats...). */
  protocol: string;
  /** HTTP: calls; connection: connections seen. */
  count: number;
  /** HTTP only: calls answered 5xx or not answered (EndpointStats.errors); null for connections. */
  errors: number | null;
  /** errors / count, 0..1, rounded to 4 digits; null for connections. */
  error_rate: number | null;
  /** HTTP only: by status code ("200", "none"), summed over the edge's endpoints. */
  status_codes: Record<string, number> | null;
  /** Quantiles of the edge's merged duration histogram, ms; null when no call was timed (and for connections). */
  p50_ms: number | null;
  p99_ms: number | null;
  /** The text drawn on the edge. */
  label: string;
}

/** An endpoint entry of the map with its source (the client) beside it, flattened for the page. */
export interface ViewEndpoint {
  source: string;
  destination: string;
  destination_type: EndpointEntry["destination_type"];
  method: string;
  path: string;
  request_schema: EndpointEntry["request_schema"];
  response_schema: EndpointEntry["response_schema"];
  count: number;
  status_codes: Record<string, number>;
  errors: number;
  p50_ms: number | null;
  p99_ms: number | null;
  first_seen: string;
  last_seen: string;
  example: EndpointEntry["example"];
}

/** A connection entry of the map with its source: the classification and its evidence. */
export interface ViewConnection extends ConnectionEntry {
  source: string;
}

/** A process of the environment inventory (redacted as in ENV_OUTPUT_PATH), under the service name it maps to. */
export interface ViewProcess {
  service: string;
  host: string;
  pid: number;
  comm: string;
  cmdline: string;
  adi_profile_match: string | null;
  adi_profile_name: string | null;
  container_id: string | null;
  /** Sorted by name. */
  env: Record<string, string>;
  error: string | null;
}

/** What an element drills down to: indices into the model's endpoints, connections and processes. */
export interface ViewDetail {
  endpoints: number[];
  connections: number[];
  processes: number[];
}

export interface ViewModel {
  generated_at: string | null;
  nodes: ViewNode[];
  edges: ViewEdge[];
  endpoints: ViewEndpoint[];
  connections: ViewConnection[];
  processes: ViewProcess[];
  /** By node or edge id. A node: what it called, what called it, its processes; an edge: its calls and its source's processes. */
  details: Record<string, ViewDetail>;
}

/**
 * The name under which the map lists a process as a source: ADI_PROFILE_NAME, else comm, else pid-<pid>
 * (@adi/mapper's processServiceName, the rule of NameResolver.resolveProcess). A process in a container is named by
 * the mapper after its container's compose service, which the inventory does not carry: such a process matches no
 * node unless its container is named like it.
 */
export function serviceNameOf(p: Pick<ProcessFact, "adi_profile_name" | "comm" | "pid">): string {
  return processServiceName(p);
}

export function nodeId(name: string): string {
  return `n:${name}`;
}

export function httpEdgeId(source: string, destination: string): string {
  return `e:${JSON.stringify(["http", source, destination])}`;
}

export function connectionEdgeId(protocol: string, source: string, destination: string): string {
  return `e:${JSON.stringify(["connection", protocol, source, destination])}`;
}

/**
 * The page's model of `map` and `processes`. Nodes sorted by id, edges by id, endpoints and connections in the
 * map's order (services by name, then the map's entry order), processes in the inventory's order. Edge figures:
 * count and errors summed over the edge's entries, p50/p99 from their histograms merged (mergeHistograms,
 * durationQuantileMs: Prometheus's histogram_quantile interpolation), error_rate = errors / count.
 */
export function buildViewModel(map: ServiceMap, processes: readonly ProcessFact[]): ViewModel {
  const endpoints: ViewEndpoint[] = [];
  /** endpoints[i]'s duration histogram: for the edge's quantiles, not sent to the page (~100 buckets each). */
  const histograms: DurationHistogram[] = [];
  const connections: ViewConnection[] = [];
  const viewProcesses: ViewProcess[] = processes.map(viewProcess);
  const http = new Map<string, { source: string; target: string; entries: number[] }>();
  const conns = new Map<string, { source: string; target: string; protocol: string; entries: number[] }>();

  for (const service of map.services) {
    for (const e of service.endpoints) {
      const id = httpEdgeId(service.name, e.destination);
      let edge = http.get(id);
      if (!edge) http.set(id, (edge = { source: service.name, target: e.destination, entries: [] }));
      edge.entries.push(endpoints.length);
      endpoints.push(viewEndpoint(service.name, e));
      histograms.push(e.stats.duration);
    }
    for (const c of service.connections) {
      const id = connectionEdgeId(c.protocol, service.name, c.destination);
      let edge = conns.get(id);
      if (!edge) conns.set(id, (edge = { source: service.name, target: c.destination, protocol: c.protocol, entries: [] }));
      edge.entries.push(connections.length);
      connections.push({ source: service.name, ...c });
    }
  }
  // Only names the map has: a process that made no call the map kept draws no node of its own.
  const facts = nodeFacts(map, viewProcesses.map((p) => p.service));
  const nodes: ViewNode[] = [...facts].map(([name, f]) => ({ id: nodeId(name), label: name, kind: nodeKind(f), image: f.source ? f.image : null }));
  const edges: ViewEdge[] = [
    ...[...http].map(([id, e]) => httpEdge(id, e.source, e.target, e.entries.map((i) => endpoints[i]!), e.entries.map((i) => histograms[i]!))),
    ...[...conns].map(([id, e]) => connectionEdge(id, e.source, e.target, e.protocol, e.entries.map((i) => connections[i]!))),
  ];
  nodes.sort(byId);
  edges.sort(byId);

  const details: Record<string, ViewDetail> = {};
  const processesOf = (name: string) => indicesWhere(viewProcesses, (p) => p.service === name);
  for (const n of nodes) {
    details[n.id] = {
      endpoints: indicesWhere(endpoints, (e) => e.source === n.label || e.destination === n.label),
      connections: indicesWhere(connections, (c) => c.source === n.label || c.destination === n.label),
      processes: processesOf(n.label),
    };
  }
  for (const [id, e] of http) details[id] = { endpoints: e.entries, connections: [], processes: processesOf(e.source) };
  for (const [id, e] of conns) details[id] = { endpoints: [], connections: e.entries, processes: processesOf(e.source) };
  return { generated_at: map.generated_at, nodes, edges, endpoints, connections, processes: viewProcesses, details };
}

function httpEdge(id: string, source: string, target: string, entries: readonly ViewEndpoint[], histograms: readonly DurationHistogram[]): ViewEdge {
  let count = 0;
  let errors = 0;
  const status_codes: Record<string, number> = {};
  for (const e of entries) {
    count += e.count;
    errors += e.errors;
    for (const [code, n] of Object.entries(e.status_codes)) status_codes[code] = (status_codes[code] ?? 0) + n;
  }
  const histogram = histograms.reduce(mergeHistograms);
  const p50_ms = durationQuantileMs(histogram, 0.5);
  const p99_ms = durationQuantileMs(histogram, 0.99);
  const error_rate = count > 0 ? Math.round((errors / count) * 10_000) / 10_000 : 0;
  const sortedCodes = Object.fromEntries(Object.entries(status_codes).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  const label = [`http ×${count}`, `${formatPercent(error_rate)} err`, ...(p50_ms === null ? [] : [`p50 ${formatMs(p50_ms)}`, `p99 ${formatMs(p99_ms!)}`])].join(" · ");
  return { id, source: nodeId(source), target: nodeId(target), kind: "http", protocol: "http", count, errors, error_rate, status_codes: sortedCodes, p50_ms, p99_ms, label };
}

function connectionEdge(id: string, source: string, target: string, protocol: string, entries: readonly ViewConnection[]): ViewEdge {
  const count = entries.reduce((n, c) => n + c.count, 0);
  const ports = [...new Set(entries.map((c) => c.port))].sort((a, b) => a - b);
  const label = `${protocol}:${ports.join(",")} ×${count}`;
  return { id, source: nodeId(source), target: nodeId(target), kind: "connection", protocol, count, errors: null, error_rate: null, status_codes: null, p50_ms: null, p99_ms: null, label };
}

function viewEndpoint(source: string, e: EndpointEntry): ViewEndpoint {
  return {
    source,
    destination: e.destination,
    destination_type: e.destination_type,
    method: e.method,
    path: e.path,
    request_schema: e.request_schema,
    response_schema: e.response_schema,
    count: e.count,
    status_codes: e.stats.status_codes,
    errors: e.stats.errors,
    p50_ms: e.stats.p50_ms,
    p99_ms: e.stats.p99_ms,
    first_seen: e.first_seen,
    last_seen: e.last_seen,
    example: e.example ?? null,
  };
}

function viewProcess(p: ProcessFact): ViewProcess {
  return {
    service: processServiceName(p),
    host: p.host,
    pid: p.pid,
    comm: p.comm,
    cmdline: p.cmdline,
    adi_profile_match: p.adi_profile_match,
    adi_profile_name: p.adi_profile_name,
    container_id: p.container_id,
    env: Object.fromEntries(Object.entries(p.env).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))),
    error: p.error,
  };
}

function indicesWhere<T>(items: readonly T[], keep: (item: T) => boolean): number[] {
  const out: number[] = [];
  items.forEach((item, i) => keep(item) && out.push(i));
  return out;
}

function byId(a: { id: string }, b: { id: string }): number {
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

/** 0.0123 → "1.2%"; 0 → "0%". */
export function formatPercent(rate: number): string {
  if (rate === 0) return "0%";
  const pct = rate * 100;
  return `${pct >= 10 ? Math.round(pct) : Number(pct.toPrecision(2))}%`;
}

/** 0.42 → "0.42 ms", 12.3 → "12 ms", 2500 → "2.5 s". */
export function formatMs(ms: number): string {
  if (ms >= 1000) return `${Number((ms / 1000).toPrecision(2))} s`;
  return `${ms >= 10 ? Math.round(ms) : Number(ms.toPrecision(2))} ms`;
}
