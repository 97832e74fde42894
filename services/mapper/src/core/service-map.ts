// The Go tool's service map (SERVICE_MAP_PATH), organised by source service (the client of each call).
//
// Calls are tallied under what identifies their ends (process identity, addresses), not under names:
// names are resolved in build(), so a process fact or listener learned late still names everything, and
// the result depends only on what was added, never on the order (tested with shuffles). A call seen by
// both its client and its server counts once (pairing.ts); the client's view is the one used.
import type { ConnectionObservation, Endpoint, HttpExchange } from "@adi/shared/wire/derived";
import type { ListenersFact, ProcessFact } from "@adi/shared/wire/facts";
import { NameResolver, refOf } from "./names.ts";
import type { DestinationType, ProcessRef, ResolvedName } from "./names.ts";
import { connectionKey, exchangeKey, formatEndpoint, isoToMs, maxIso } from "./observation.ts";
import { observerRole, targetPath, viewId } from "./observation.ts";
import { PairingLog } from "./pairing.ts";
import { inferSchema, schemaKey } from "./schema.ts";
import type { BodySchema } from "./schema.ts";
import { Tallies } from "./tallies.ts";
import type { ConnectionCall, EndpointCall } from "./tallies.ts";

export { toYaml } from "./service-map-yaml.ts";

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

export interface ServiceMapOptions {
  /** Shared with the log lines, so both name things alike. */
  names?: NameResolver;
  /** Capture-time difference within which a client's and a server's view are the same call. Default 1 s. */
  pairToleranceMs?: number;
  /**
   * Capture time after which a call's key is settled and its memory freed. Default 10 s: the two views of a call
   * arrive from different partitions, whose lag rarely differs by seconds; later than that, a call is counted twice.
   */
  settleAfterMs?: number;
  /** Distinct paths one route may list before it is shown once as /items/{id} (tallies.ts). Default 20. */
  maxPathsPerRoute?: number;
  /** The Go map lists databases, caches and message buses; HTTP calls are its endpoints. */
  connectionCategories?: readonly string[];
}

/** Who made the call: a process we know, or only the client address a server saw. */
export type SourceRef = { kind: "process"; ref: ProcessRef } | { kind: "remote"; ip: string };

/** Where it went, as seen from the client's host (or the server's, when only it saw the call). */
export interface DestinationRef {
  viewerHost: string;
  server: Endpoint;
  /** What the client asked for (Host header, TLS server name): the name when no listener is known. */
  hint: string | null;
}

const GO_CATEGORIES = ["database", "cache", "message_bus"];

export class ServiceMapBuilder {
  readonly names: NameResolver;
  readonly #http: PairingLog<EndpointCall>;
  readonly #connections: PairingLog<ConnectionCall>;
  readonly #categories: ReadonlySet<string>;
  readonly #settled: Tallies;
  /** Schema by key; the key string kept is the one every call carries (one copy, not one per call). */
  readonly #schemas = new Map<string, { key: string; schema: BodySchema }>();
  #generatedAt: string | null = null;

  constructor(options: ServiceMapOptions = {}) {
    this.names = options.names ?? new NameResolver();
    const pairing = { toleranceMs: options.pairToleranceMs ?? 1000, settleAfterMs: options.settleAfterMs ?? 10_000 };
    this.#settled = new Tallies(options.maxPathsPerRoute);
    this.#http = new PairingLog(pairing);
    this.#connections = new PairingLog(pairing);
    this.#categories = new Set(options.connectionCategories ?? GO_CATEGORIES);
  }

  addProcess(fact: ProcessFact): void {
    this.names.addProcess(fact);
  }

  addListeners(fact: ListenersFact): void {
    this.names.addListeners(fact);
  }

  addExchange(exchange: HttpExchange): void {
    const { request, response } = exchange;
    this.names.observe(exchange, request.ts);
    for (const ts of [request.ts, request.end_ts, response?.ts ?? null, response?.end_ts ?? null]) {
      this.#generatedAt = maxIso(this.#generatedAt, ts);
    }
    const call: EndpointCall = {
      source: sourceOf(exchange),
      destination: { viewerHost: exchange.host, server: exchange.server, hint: hostHeader(exchange) },
      ts: request.ts,
      method: request.method,
      path: targetPath(request.target),
      requestSchema: this.#intern(inferSchema(request.body, request.body_binary)),
      responseSchema: this.#intern(response ? inferSchema(response.body, response.body_binary) : null),
    };
    const role = observerRole(exchange);
    const view = { id: viewId(exchange, request.ts), role, ms: isoToMs(request.ts), data: call };
    for (const settled of this.#http.add(exchangeKey(exchange), view)) this.#settled.addEndpoint(settled.primary.data);
  }

  addConnection(obs: ConnectionObservation): void {
    this.names.observe(obs, obs.ts);
    this.#generatedAt = maxIso(this.#generatedAt, obs.ts);
    if (!this.#categories.has(obs.category)) return;
    const call: ConnectionCall = {
      source: sourceOf(obs),
      destination: { viewerHost: obs.host, server: obs.server, hint: obs.tls?.sni || null },
      ts: obs.ts,
      protocol: obs.protocol,
      category: obs.category,
      port: obs.server.port,
      confidence: obs.confidence,
      reason: obs.reason,
    };
    const view = { id: viewId(obs, obs.ts), role: observerRole(obs), ms: isoToMs(obs.ts), data: call };
    for (const settled of this.#connections.add(connectionKey(obs), view)) {
      this.#settled.addConnection(settled.primary.data);
    }
  }

  build(): ServiceMap {
    const tallies = this.#settled.copy();
    for (const call of this.#http.pending()) tallies.addEndpoint(call.primary.data);
    for (const call of this.#connections.pending()) tallies.addConnection(call.primary.data);
    const services = tallies.resolve(
      (source) =>
        source.kind === "process" ? this.names.resolveProcess(source.ref) : this.names.resolveRemote(source.ip),
      (destination) => this.#resolveDestination(destination),
      (key) => this.#schemas.get(key)?.schema ?? null,
    );
    return { generated_at: this.#generatedAt, services };
  }

  #resolveDestination(destination: DestinationRef): ResolvedName {
    const known = this.names.resolveEndpoint(destination.viewerHost, destination.server);
    if (known) return known;
    return { name: destination.hint ?? formatEndpoint(destination.server), type: "external", container: null };
  }

  /** One copy of each distinct schema and of its key; calls carry the key. */
  #intern(schema: BodySchema): string {
    const key = schemaKey(schema);
    const known = this.#schemas.get(key);
    if (known) return known.key;
    this.#schemas.set(key, { key, schema });
    return key;
  }
}

function sourceOf(obs: HttpExchange | ConnectionObservation): SourceRef {
  // A server's view knows its client by address only; the port (ephemeral) is left out of the tally.
  return observerRole(obs) === "client" ? { kind: "process", ref: refOf(obs) } : { kind: "remote", ip: obs.client.ip };
}

function hostHeader(exchange: HttpExchange): string | null {
  const host = exchange.request.headers.find(([name]) => name.toLowerCase() === "host");
  return host && host[1] !== "" ? host[1] : null;
}
