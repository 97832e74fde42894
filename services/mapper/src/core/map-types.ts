// The service map's shapes (SERVICE_MAP_PATH's entries) and the references its tallies key calls by: types only,
// in a file of their own so that the builder (service-map.ts), its tallies (tallies.ts) and the YAML rendering
// (service-map-yaml.ts) all depend on them and not on one another (issue 12: no import cycle, types included).
import type { Endpoint } from "@adi/shared/wire";
import type { DestinationType, ProcessRef } from "./names.ts";
import type { BodySchema } from "./schema.ts";

export interface EndpointEntry {
  destination: string;
  destination_type: DestinationType;
  method: string;
  path: string;
  request_schema: BodySchema;
  response_schema: BodySchema;
  first_seen: string;
  last_seen: string;
  count: number;
  /**
   * RED figures of the entry's calls (call-stats.ts). Not in SERVICE_MAP_PATH (the Go tool's layout): the view,
   * the metrics and the OpenAPI export read them.
   */
  stats: EndpointStats;
  /**
   * One call of this entry as it was sent (bodies redacted as everywhere), for the view and OpenAPI `example`s:
   * the earliest seen whose bodies are each at most EXAMPLE_MAX_CHARS; null when none was. Not in SERVICE_MAP_PATH.
   */
  example: EndpointExample | null;
  /**
   * Names of the query parameters its calls had (sorted; at most 32 per concrete path, from the first 64 concrete
   * paths of its source and destination, like examples). Not in SERVICE_MAP_PATH. Absent: none known.
   */
  query_params?: string[];
}

export interface EndpointExample {
  /** Capture time of the request's first byte. */
  ts: string;
  /** Concrete path as called (the entry's path may be a template). */
  path: string;
  /** Response status; null when not answered. */
  status: number | null;
  request_body: string | null;
  response_body: string | null;
}

/** Durations of answered calls, ms, in fixed buckets (call-stats.ts DURATION_BOUNDS_MS). */
export interface DurationHistogram {
  /** Upper bounds, ms, ascending; shared, never written. */
  bounds_ms: readonly number[];
  /** Calls per bucket (not cumulative): counts[i] ≤ bounds_ms[i] (and above the previous); the last, above all. */
  counts: number[];
  count: number;
  /** Sum of the durations, ms (to the µs). */
  sum_ms: number;
}

export interface EndpointStats {
  /** Calls by response status code ("200"); "none": no response was seen (reset, closed, still pending). */
  status_codes: Record<string, number>;
  /** Calls answered 5xx or not answered. */
  errors: number;
  /** From the request's first byte to the response's last byte, as the client's end saw it when it did. */
  duration: DurationHistogram;
  /** Median and 99th percentile of `duration`, ms (histogram_quantile's interpolation); null when none was timed. */
  p50_ms: number | null;
  p99_ms: number | null;
}

export interface ConnectionEntry {
  destination: string;
  destination_type: DestinationType;
  protocol: string;
  category: string;
  port: number;
  confidence: number;
  reason: string;
  first_seen: string;
  last_seen: string;
  count: number;
}

export interface ServiceEntry {
  name: string;
  image: string | null;
  endpoints: EndpointEntry[];
  connections: ConnectionEntry[];
  first_seen: string;
  last_seen: string;
}

export interface ServiceMap {
  /** The latest capture timestamp seen (not the wall clock): rebuilding from the same events gives the same file. */
  generated_at: string | null;
  services: ServiceEntry[];
}

/**
 * Who made the call: a process we know, only the client address a server saw, or (for a process long gone, whose
 * name no fact can change any more: NameResolver.settledName) what names it, so its tallies join its service's.
 */
export type SourceRef =
  | { kind: "process"; ref: ProcessRef }
  | { kind: "remote"; ip: string }
  | { kind: "settled"; host: string; container_id: string | null; name: string };

/** Where it went, as seen from the client's host (or the server's, when only it saw the call). */
export interface DestinationRef {
  viewerHost: string;
  server: Endpoint;
  /** What the client asked for (Host header, TLS server name): the name when no listener is known. */
  hint: string | null;
}
