// The Go tool's service map (SERVICE_MAP_PATH), organised by source service (the client of each call).
//
// Calls are tallied under what identifies their ends (process identity, addresses), not under names:
// names are resolved in build(), so a process fact or listener learned late still names everything, and
// the result depends only on what was added, never on the order (tested with shuffles). A call seen by
// both its client and its server counts once (pairing.ts); the client's view is the one used.
import { processIdentityKey } from "@adi/shared/wire";
import type { ConnectionObservation, Endpoint, HttpExchange, HttpRequest, HttpResponse, ListenersFact, ProcessFact } from "@adi/shared/wire";
import { NameResolver, refOf } from "./names.ts";
import type { ResolvedName } from "./names.ts";
import { connectionKey, exchangePairingKey, formatEndpoint, isoToMs, maxIso } from "./observation.ts";
import { observerRole, targetPath } from "./observation.ts";
import type { Role } from "./observation.ts";
import { PairingLog } from "./pairing.ts";
import type { View } from "./pairing.ts";
import { inferSchema, schemaKey, VARIES } from "./schema.ts";
import type { BodySchema } from "./schema.ts";
import { Tallies, VARIES_SCHEMA_KEY } from "./tallies.ts";
import { NO_RESPONSE } from "./call-stats.ts";
import { isoToNs } from "@adi/shared/wire";
import type { ConnectionCall, EndpointCall } from "./tallies.ts";
import type { DestinationRef, EndpointExample, ServiceEntry, ServiceMap, SourceRef } from "./map-types.ts";

export { toYaml } from "./service-map-yaml.ts";
export type { ConnectionEntry, DestinationRef, EndpointEntry, EndpointExample, ServiceEntry, ServiceMap, SourceRef } from "./map-types.ts";

export interface ServiceMapOptions {
  /** Shared with the log lines, so both name things alike. */
  names?: NameResolver;
  /** Capture-time difference within which a client's and a server's view are the same call. Default 1 s. */
  pairToleranceMs?: number;
  /**
   * Capture time after which a call's key is settled and its memory freed. Default DEFAULT_PAIRING_WINDOW_MS:
   * the two views of a call arrive from different partitions; a view later than that is counted again.
   */
  settleAfterMs?: number;
  /**
   * Distinct values one path position (same service, destination, method and prefix) lists before it is one
   * parameter, /items/{id} or /user/{param} (routes.ts). Default 20.
   */
  maxSegmentValues?: number;
  /** The Go map lists databases, caches and message buses; HTTP calls are its endpoints. */
  connectionCategories?: readonly string[];
}

const GO_CATEGORIES = ["database", "cache", "message_bus"];

/**
 * How long (capture time) a call seen by one end waits for the other end's view before it is counted alone.
 * The two views come from different partitions; a classifier killed and restarted publishes its partitions'
 * observations late (ack wait 10 s, restart, warm-up): 10 s was too short and counted those calls twice, with a
 * phantom `external` caller. Memory: this much traffic's views.
 */
export const DEFAULT_PAIRING_WINDOW_MS = 60_000;

/** A call as held for pairing: the call itself is the view (one object per held call, not two; its `ts` is the view's). */
type HeldEndpointCall = EndpointCall & View;
type HeldConnectionCall = ConnectionCall & View;

/**
 * Capture time after a process's exit when its tallies are kept under its name instead of its identity: longer
 * than the pairing window (no view of it is pending) and than any fact's lag.
 */
const EXITED_SETTLE_MS = 10 * 60_000;

/** Longest request or response body (characters) an example may have: examples are for reading, not for bulk. */
export const EXAMPLE_MAX_CHARS = 512;
/** Places (destination, method, path, schemas) an example is kept for: bounds their memory (~1 KiB each). */
const EXAMPLES_MAX = 5000;
/**
 * Places per (source, destination): concrete paths (/items/1, /items/2...) each take one until the route folds, and a few
 * dozen cover an API's routes (a position folds past 20 values, routes.ts).
 */
const EXAMPLES_PER_EDGE_MAX = 64;

/** What is kept of one place's calls: the earliest short one, and the query parameter names any of them had. */
interface KeptExample {
  method: string;
  /** The concrete path called (the entries' may be templates). */
  path: string;
  requestSchema: string;
  responseSchema: string;
  example: EndpointExample | null;
  query: Set<string>;
}

/** Query parameter names kept per place: a handful describe an API; more are data (keys chosen per call). */
const QUERY_NAMES_MAX = 32;
/** Longest query parameter name kept (characters). */
const QUERY_NAME_MAX_CHARS = 128;

/** Distinct schemas held before unused ones are looked for. */
const MIN_SCHEMAS_BEFORE_PRUNE = 1024;
/** Distinct sources, destinations, methods and paths shared before the table starts again (#sharedValue). */
const INTERNED_MAX = 50_000;

export class ServiceMapBuilder {
  readonly names: NameResolver;
  readonly #http: PairingLog<HeldEndpointCall>;
  readonly #connections: PairingLog<HeldConnectionCall>;
  readonly #categories: ReadonlySet<string>;
  readonly #settled: Tallies;
  /** Schema by key; the key string kept is the one every call carries (one copy, not one per call). */
  readonly #schemas = new Map<string, { key: string; schema: BodySchema }>();
  readonly #interned = new Map<string, unknown>();
  /** Examples by (source, destination) (the interned refs), then method, path and schema keys (#noteExample). */
  readonly #examples = new Map<SourceRef, Map<DestinationRef, Map<string, KeptExample>>>();
  #exampleCount = 0;
  #generatedAt: string | null = null;
  #compactedAtMs = -Infinity;
  #pruneAt = MIN_SCHEMAS_BEFORE_PRUNE;

  constructor(options: ServiceMapOptions = {}) {
    this.names = options.names ?? new NameResolver();
    const pairing = { toleranceMs: options.pairToleranceMs ?? 1000, settleAfterMs: options.settleAfterMs ?? DEFAULT_PAIRING_WINDOW_MS };
    this.#settled = new Tallies(options.maxSegmentValues);
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
    const role = observerRole(exchange);
    const call: HeldEndpointCall = {
      source: this.#sourceOf(exchange, role),
      destination: this.#destinationOf(exchange.host, exchange.server, hostHeader(exchange)),
      ts: request.ts,
      method: this.#shared(request.method),
      path: this.#shared(targetPath(request.target)),
      requestSchema: this.#schemaOf(request),
      responseSchema: response ? this.#schemaOf(response) : this.#intern(null),
      status: response ? response.status : NO_RESPONSE,
      durationUs: response ? durationUs(request.ts, response.end_ts) : null,
      role,
      ms: isoToMs(request.ts),
    };
    this.#noteExample(call, exchange);
    for (const settled of this.#http.add(exchangePairingKey(exchange), call)) this.#settled.addEndpoint(settled.primary);
    this.#compactExited();
    // Here, not while interning: this call's schemas are referred to (pending or tallied) by now.
    if (this.#schemas.size >= this.#pruneAt) this.#pruneSchemas();
  }

  addConnection(obs: ConnectionObservation): void {
    this.names.observe(obs, obs.ts);
    this.#generatedAt = maxIso(this.#generatedAt, obs.ts);
    if (!this.#categories.has(obs.category)) return;
    const role = observerRole(obs);
    const call: HeldConnectionCall = {
      source: this.#sourceOf(obs, role),
      destination: this.#destinationOf(obs.host, obs.server, obs.tls?.sni || null),
      ts: obs.ts,
      protocol: obs.protocol,
      category: obs.category,
      port: obs.server.port,
      confidence: obs.confidence,
      reason: obs.reason,
      role,
      ms: isoToMs(obs.ts),
    };
    for (const settled of this.#connections.add(connectionKey(obs), call)) this.#settled.addConnection(settled.primary);
    this.#compactExited();
  }

  /**
   * What the builder holds: settled tallies (route-tree nodes and ends, connection tallies: bounded by the API)
   * and views pending in the pairing window (bounded by the window's traffic). For tests of bounded memory.
   */
  size(): { tallies: number; pendingViews: number; schemas: number } {
    return { tallies: this.#settled.size(), pendingViews: this.#http.size() + this.#connections.size(), schemas: this.#schemas.size };
  }

  /** Views that came after their call's key had been settled (counted alone, possibly twice). */
  lateViews(): number {
    return this.#http.lateViews() + this.#connections.lateViews();
  }

  build(): ServiceMap {
    const pending = {
      endpoints: this.#http.pending().map((call) => call.primary),
      connections: this.#connections.pending().map((call) => call.primary),
    };
    const services = this.#settled.resolve(
      (source) => this.#resolveSource(source),
      (destination) => this.#resolveDestination(destination),
      (key) => (key === VARIES_SCHEMA_KEY ? VARIES : (this.#schemas.get(key)?.schema ?? null)),
      pending,
    );
    this.#pruneSchemas(pending.endpoints);
    return { generated_at: this.#generatedAt, services: this.#withExamples(services) };
  }

  /**
   * Keeps `call` as its (destination, method, path, schemas) example when it is the earliest seen there with bodies
   * short enough (EXAMPLE_MAX_CHARS). Both views of a call may offer it; either is the call as sent. At most
   * EXAMPLES_MAX places, EXAMPLES_PER_EDGE_MAX per (source, destination), are kept (the first ones seen): past that, a
   * replay may pick other examples than the live mapper; the map's counts and schemas are unaffected.
   */
  #noteExample(call: HeldEndpointCall, exchange: HttpExchange): void {
    let byDestination = this.#examples.get(call.source);
    let byPlace = byDestination?.get(call.destination);
    const place = `${call.method} ${call.path} ${call.requestSchema} ${call.responseSchema}`;
    let kept = byPlace?.get(place);
    if (!kept) {
      if (this.#exampleCount >= EXAMPLES_MAX || (byPlace?.size ?? 0) >= EXAMPLES_PER_EDGE_MAX) return;
      if (!byDestination) this.#examples.set(call.source, (byDestination = new Map()));
      if (!byPlace) byDestination.set(call.destination, (byPlace = new Map()));
      this.#exampleCount++;
      kept = { method: call.method, path: call.path, requestSchema: call.requestSchema, responseSchema: call.responseSchema, example: null, query: new Set() };
      byPlace.set(ownCopy(place), kept);
    }
    for (const name of queryNames(exchange.request.target)) {
      if (kept.query.size >= QUERY_NAMES_MAX) break;
      if (!kept.query.has(name)) kept.query.add(ownCopy(name));
    }
    const request = exchange.request.body;
    const response = exchange.response?.body ?? null;
    if ((request?.length ?? 0) > EXAMPLE_MAX_CHARS || (response?.length ?? 0) > EXAMPLE_MAX_CHARS) return;
    if (kept.example !== null && kept.example.ts <= call.ts) return;
    kept.example = {
      ts: call.ts,
      path: call.path,
      status: exchange.response?.status ?? null,
      request_body: request === null ? null : ownCopy(request),
      response_body: response === null ? null : ownCopy(response),
    };
  }


  /**
   * Each endpoint entry with the earliest kept example of its own (source, destination) whose path fits its template
   * and whose schemas are its own.
   */
  #withExamples(services: ServiceEntry[]): ServiceEntry[] {
    // By resolved (source, destination) names: an entry shows one of its own service's calls, never another client's.
    const byName = new Map<string, [string, KeptExample][]>();
    for (const [source, byDestination] of this.#examples) {
      const from = this.#resolveSource(source).name;
      for (const [destination, byPlace] of byDestination) {
        const key = JSON.stringify([from, this.#resolveDestination(destination).name]);
        let list = byName.get(key);
        if (!list) byName.set(key, (list = []));
        // The concrete path is the place's (its example may be missing: bodies too long).
        for (const kept of byPlace.values()) list.push([kept.path, kept]);
      }
    }
    return services.map((service) => ({
      ...service,
      endpoints: service.endpoints.map((entry) => {
        let best: EndpointExample | null = null;
        const query = new Set<string>();
        const fits = templateMatcher(entry.path);
        for (const [path, kept] of byName.get(JSON.stringify([service.name, entry.destination])) ?? []) {
          if (kept.method !== entry.method || !fits(path)) continue;
          if (!sameSchema(kept.requestSchema, entry.request_schema) || !sameSchema(kept.responseSchema, entry.response_schema)) continue;
          for (const name of kept.query) query.add(name);
          if (kept.example !== null && (best === null || kept.example.ts < best.ts)) best = kept.example;
        }
        return { ...entry, example: best, query_params: [...query].sort() };
      }),
    }));
  }

  /** Forgets the schemas no tally nor pending call refers to (those of variants folded into "varies"). */
  #pruneSchemas(pending: readonly EndpointCall[] = this.#http.pending().map((call) => call.primary)): void {
    const used = this.#settled.schemaKeys();
    for (const call of pending) used.add(call.requestSchema).add(call.responseSchema);
    for (const key of this.#schemas.keys()) if (!used.has(key)) this.#schemas.delete(key);
    this.#settled.forgetVariantKeys(used);
    // Amortised: the next pass when the table has doubled (a replay builds the map only at its end).
    this.#pruneAt = Math.max(MIN_SCHEMAS_BEFORE_PRUNE, 2 * this.#schemas.size);
  }

  #resolveSource(source: SourceRef): ResolvedName {
    if (source.kind === "process") return this.names.resolveProcess(source.ref);
    if (source.kind === "settled") return this.names.resolveSettled(source.container_id, source.name);
    return this.names.resolveRemote(source.ip);
  }

  #resolveDestination(destination: DestinationRef): ResolvedName {
    const known = this.names.resolveEndpoint(destination.viewerHost, destination.server);
    if (known) return known;
    return { name: destination.hint ?? formatEndpoint(destination.server), type: "external", container: null };
  }

  /**
   * Moves the tallies of processes that exited more than EXITED_SETTLE_MS (capture time) ago under what names
   * them (SourceRef "settled"): a caller forking a process per call (a shell loop of curl, inetd, CGI) would
   * otherwise hold one route tree per process for the whole run. Safe for the map: by then no fact can change
   * their name (the exit is a process's last fact) and no view of theirs is pending (the pairing window is
   * shorter), so they resolve as before; the service's trees were merged at render time anyway.
   */
  #compactExited(): void {
    if (this.#generatedAt === null) return;
    const newestMs = isoToMs(this.#generatedAt);
    if (newestMs - this.#compactedAtMs < EXITED_SETTLE_MS / 10) return;
    this.#compactedAtMs = newestMs;
    const before = new Date(newestMs - EXITED_SETTLE_MS).toISOString().replace("Z", "000000Z");
    this.#settled.compact((ref) => {
      const settled = this.names.settledName(ref, before);
      return settled && { kind: "settled", ...settled };
    });
  }

  /** One copy of each distinct schema and of its key; calls carry the key. */
  /**
   * A message's body schema key: the one the classifier computed where it parsed the body (derived v3), else
   * inferred from the body here (v2 messages). Its structure is the key's JSON, parsed once per distinct key.
   */
  #schemaOf(message: HttpRequest | HttpResponse): string {
    const key = message.body_schema;
    if (key === undefined) return this.#intern(inferSchema(message.body, message.body_binary));
    // The stored copy, not the message's: every decoded message brings its own copy of the key, and a call holds
    // it for the pairing window (at 10,000 exchanges/s those copies were half of the mapper's heap, issue 12).
    const known = this.#schemas.get(key);
    if (known) return known.key;
    const own = ownCopy(key);
    this.#schemas.set(own, { key: own, schema: JSON.parse(key) as BodySchema });
    return own;
  }

  /**
   * One object per distinct source, destination, method and path, shared by every call that has it: a call waits
   * up to the pairing window (60 s of capture time) for its other view, so at 10,000 exchanges/s some 600,000 are
   * held, and their own copies were most of the mapper's memory (issue 12). The table is cleared when it holds
   * INTERNED_MAX values: calls keep what they refer to, later ones get new copies.
   */
  #sharedValue<T>(key: string, make: () => T): T {
    const known = this.#interned.get(key);
    if (known !== undefined) return known as T;
    if (this.#interned.size >= INTERNED_MAX) this.#interned.clear();
    const value = make();
    // The key in a string of its own too: built from the message's strings, it would hold them (ownCopy).
    this.#interned.set(ownCopy(key), value);
    return value;
  }

  #shared(text: string): string {
    return this.#sharedValue(`s${text}`, () => ownCopy(text));
  }

  /** `role`: observerRole(obs), which the caller has computed for the view. */
  #sourceOf(obs: HttpExchange | ConnectionObservation, role: Role): SourceRef {
    // A server's view knows its client by address only; the port (ephemeral) is left out of the tally.
    if (role !== "client") return this.#sharedValue(`r${obs.client.ip}`, () => ({ kind: "remote", ip: ownCopy(obs.client.ip) }));
    return this.#sharedValue(`p${processIdentityKey(obs)}`, () => {
      const ref = refOf(obs);
      return { kind: "process", ref: { ...ref, host: ownCopy(ref.host), boot_id: ownCopy(ref.boot_id) } };
    });
  }

  #destinationOf(viewerHost: string, server: Endpoint, hint: string | null): DestinationRef {
    return this.#sharedValue(`d${viewerHost} ${server.ip} ${server.port} ${hint ?? ""}`, () => ({
      viewerHost: ownCopy(viewerHost),
      server: { ip: ownCopy(server.ip), port: server.port },
      hint: hint === null ? null : ownCopy(hint),
    }));
  }

  #intern(schema: BodySchema): string {
    const key = schemaKey(schema);
    const known = this.#schemas.get(key);
    if (known) return known.key;
    this.#schemas.set(key, { key, schema });
    return key;
  }
}

/**
 * `text` in a string of its own. A decoded message's strings are often slices of a longer one (msgpackr decodes a
 * run of short strings at once and slices it), and a slice keeps that whole run alive: a kept Host header pinned
 * ~1 KB of its message (35,000 destinations held 35 MB at 10,000 exchanges/s from many clients, issue 12,
 * measured with a heap snapshot). For what the builder keeps beyond one call: interned values, schema keys.
 */
function ownCopy(text: string): string {
  // A JSON round trip makes a sequential string (V8 slices again on String#slice of a long enough string).
  return JSON.parse(JSON.stringify(text)) as string;
}

/**
 * Whether a concrete path fits a route template of routes.ts (`/items/{id}`, `/user/{param}/posts`, `{id2}`...):
 * a placeholder segment fits any one segment, any other segment only itself.
 */
function templateMatcher(template: string): (path: string) => boolean {
  const parts = template.split("/");
  const isParam = parts.map((p) => /^\{(?:id|param)\d*\}$/.test(p));
  return (path) => {
    const segments = path.split("/");
    return segments.length === parts.length && segments.every((s, i) => isParam[i] || s === parts[i]);
  };
}

/** Whether a schema key is the key of `schema` ("varies" fits every key: the entry's variants were folded). */
function sameSchema(key: string, schema: BodySchema): boolean {
  return schema === VARIES || key === schemaKey(schema);
}

/**
 * The names of a request target's query parameters (RFC 3986 query, `a=1&b&c=2` gives a, b, c), each percent-decoded
 * (left as is when not valid UTF-8) and at most QUERY_NAME_MAX_CHARS long; an empty name is left out. Values are not
 * looked at (the classifier has redacted the secret ones; names are the API's shape).
 */
export function queryNames(target: string): string[] {
  const q = target.indexOf("?");
  if (q < 0) return [];
  const hash = target.indexOf("#", q);
  const names: string[] = [];
  for (const part of target.slice(q + 1, hash < 0 ? undefined : hash).split("&")) {
    const raw = part.split("=", 1)[0]!.replace(/\+/g, " ");
    if (raw === "" || raw.length > QUERY_NAME_MAX_CHARS * 3) continue;
    let name = raw;
    try {
      name = decodeURIComponent(raw);
    } catch {
      // not valid percent-encoding: the name as sent
    }
    if (name !== "" && name.length <= QUERY_NAME_MAX_CHARS) names.push(name);
  }
  return names;
}

/** From `from` to `to` (RFC 3339, ns), whole µs. */
function durationUs(from: string, to: string): number {
  // Whole µs: an integer below 2^30 is a small integer in V8, kept in the held call itself; a fraction would be a
  // boxed number of its own per call (~600,000 held at 10,000 exchanges/s).
  return Math.round(Number(isoToNs(to) - isoToNs(from)) / 1000);
}

function hostHeader(exchange: HttpExchange): string | null {
  const host = exchange.request.headers.find(([name]) => name.toLowerCase() === "host");
  return host && host[1] !== "" ? host[1] : null;
}
