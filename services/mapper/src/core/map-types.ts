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
