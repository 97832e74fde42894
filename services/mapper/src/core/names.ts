// Names for both ends of a call: the source process (the service the map is organised by) and the
// destination endpoint (the process listening there, or the container behind the address).
//
// Everything is learned into sets and resolved only when asked, so what was added, not the order it was
// added in, decides a name; where several candidates exist, the one seen latest (capture time) wins.
//
// destination_type keeps the Go vocabulary, "container" or "external": "container" when a container
// identity is known (addIdentity, fed by the enricher), else "external", also for a process known on one
// of our hosts; its name (ADI_PROFILE_NAME, else comm) is then the destination. A third value such as
// "process" would break consumers of the Go tool's files.
import type { ConnectionObservation, Endpoint, HttpExchange } from "@adi/shared/wire/derived";
import type { ListenersFact, ProcessFact } from "@adi/shared/wire/facts";
import { isLoopback, isWildcard, observerRole } from "./observation.ts";

/** pid + start_ticks + boot_id identify a process (pids get reused); host keeps hosts apart. */
export interface ProcessRef {
  host: string;
  boot_id: string;
  pid: number;
  start_ticks: number;
}

/** A container as the enricher will describe it (not published yet: the hook is ready for it). */
export interface ContainerIdentity {
  container_id: string;
  /** Compose service label when there is one, else the container's name. */
  service: string;
  image: string | null;
  container_name: string;
  /** Its addresses, to name it as a destination (or as the client of a server-side observation). */
  ips: readonly string[];
  /** The host whose runtime runs it, and the host ports it publishes (a call to such a port on that host is a call to it). */
  host?: string;
  published_ports?: readonly { host_ip: string | null; host_port: number }[];
}

export type DestinationType = "container" | "external";

export interface ResolvedName {
  name: string;
  type: DestinationType;
  container: ContainerIdentity | null;
}

export interface ProcessInfo {
  comm: string;
  cmdline: string;
  adi_profile_name: string | null;
  container_id: string | null;
}

/** The source name of a call whose client we know nothing about (only the server opted in). */
export const EXTERNAL = "external";

interface ListenerCandidate {
  ref: ProcessRef | null;
  /** From a listener fact or addListener: used when the process itself is unknown. */
  name: string | null;
  ts: string;
}

export class NameResolver {
  readonly #processes = new Map<string, { ts: string; rank: number; info: ProcessInfo }>();
  readonly #containers = new Map<string, ContainerIdentity>();
  readonly #containerByIp = new Map<string, string>();
  readonly #containerByPort = new Map<string, { id: string; ip: string | null }>();
  /** host -> addresses seen as the local end of an observation there. */
  readonly #hostIps = new Map<string, Set<string>>();
  /** "host port" -> ip -> candidate id -> candidate. */
  readonly #listeners = new Map<string, Map<string, Map<string, ListenerCandidate>>>();

  /** Only opted-in processes are kept: the others never observe anything, and listener facts name them. */
  addProcess(fact: ProcessFact): void {
    if (fact.optin !== "yes") return;
    const key = processKey({ host: fact.host, boot_id: fact.boot_id, pid: fact.pid, start_ticks: fact.start_ticks });
    const known = this.#processes.get(key);
    // An exit says the process ended, not what it was: the kernel reports it from its last thread.
    if (fact.event === "exit" && known) return;
    const info: ProcessInfo = {
      comm: fact.comm,
      cmdline: fact.cmdline,
      adi_profile_name: fact.adi_profile_name || null,
      container_id: fact.container_id,
    };
    const record = { ts: fact.ts, rank: EVENT_RANK[fact.event], info };
    if (!known) {
      this.#processes.set(key, record);
      return;
    }
    // The latest fact describes the process (exec changes comm); a name seen once is kept.
    const newerIsNew = record.ts > known.ts || (record.ts === known.ts && record.rank >= known.rank);
    const [older, newer] = newerIsNew ? [known, record] : [record, known];
    const adi_profile_name = newer.info.adi_profile_name ?? older.info.adi_profile_name;
    this.#processes.set(key, { ...newer, info: { ...newer.info, adi_profile_name } });
  }

  /** Hook for the enricher: a container identity takes precedence over ADI_PROFILE_NAME and comm. */
  addIdentity(identity: ContainerIdentity): void {
    this.#containers.set(identity.container_id, identity);
    for (const ip of identity.ips) this.#containerByIp.set(ip, identity.container_id);
    for (const p of identity.published_ports ?? []) {
      if (identity.host !== undefined) this.#containerByPort.set(`${identity.host} ${p.host_port}`, { id: identity.container_id, ip: p.host_ip });
    }
  }

  /** A listening socket on a host, named directly (0.0.0.0 and :: listen on every local address). */
  addListener(host: string, ip: string, port: number, name: string, ts = ""): void {
    this.#addCandidate(host, ip, port, `name ${name}`, { ref: null, name, ts });
  }

  addListeners(fact: ListenersFact): void {
    for (const l of fact.listeners) {
      const { host, boot_id } = fact;
      const ref = l.pid === null ? null : { host, boot_id, pid: l.pid, start_ticks: l.start_ticks ?? 0 };
      const name = l.adi_profile_name || l.comm || null;
      if (!ref && !name) continue;
      const id = ref ? `ref ${processKey(ref)}` : `name ${name}`;
      this.#addCandidate(fact.host, l.ip, l.port, id, { ref, name, ts: fact.ts });
    }
  }

  /** Learns from an observation: its local address belongs to its host; a server's local end is a listener. */
  observe(obs: HttpExchange | ConnectionObservation, ts: string): void {
    let ips = this.#hostIps.get(obs.host);
    if (!ips) this.#hostIps.set(obs.host, (ips = new Set()));
    ips.add(obs.local.ip);
    if (observerRole(obs) !== "server") return;
    const ref = refOf(obs);
    this.#addCandidate(obs.host, obs.local.ip, obs.local.port, `ref ${processKey(ref)}`, { ref, name: null, ts });
  }

  processInfo(ref: ProcessRef): ProcessInfo | null {
    return this.#processes.get(processKey(ref))?.info ?? null;
  }

  /** The service name of a process: its container's, else ADI_PROFILE_NAME, else comm, else pid-<pid>. */
  resolveProcess(ref: ProcessRef): ResolvedName {
    const info = this.processInfo(ref);
    const container = info?.container_id ? this.#containers.get(info.container_id) : undefined;
    if (container) return { name: container.service, type: "container", container };
    const name = info?.adi_profile_name || info?.comm || `pid-${ref.pid}`;
    return { name, type: "external", container: null };
  }

  /** A peer known only by its address (the client of a server-side observation): its container, or external. */
  resolveRemote(ip: string): ResolvedName {
    return this.#containerAt(ip) ?? { name: EXTERNAL, type: "external", container: null };
  }

  /**
   * Who listens at an endpoint, as seen from `viewerHost` (loopback means that host). null when unknown:
   * the caller names it after the address or what the client asked for (Host header, TLS server name).
   */
  resolveEndpoint(viewerHost: string, endpoint: Endpoint): ResolvedName | null {
    const container = this.#containerAt(endpoint.ip) ?? this.#publishedAt(viewerHost, endpoint);
    if (container) return container;
    for (const host of this.#hostsOwning(viewerHost, endpoint.ip)) {
      const candidate = this.#listenerAt(host, endpoint);
      if (!candidate) continue;
      const { ref, name } = candidate;
      // A process we know (its facts can name its container) before the name a listener fact carried.
      if (ref && (this.processInfo(ref) || !name)) return this.resolveProcess(ref);
      return { name: name as string, type: "external", container: null };
    }
    return null;
  }

  /** A port a container publishes on the viewer's host (docker -p): loopback or any address of that host. */
  #publishedAt(viewerHost: string, endpoint: Endpoint): ResolvedName | null {
    const published = this.#containerByPort.get(`${viewerHost} ${endpoint.port}`);
    if (!published) return null;
    const local = isLoopback(endpoint.ip) || (this.#hostIps.get(viewerHost)?.has(endpoint.ip) ?? false);
    const bound = published.ip === null || isWildcard(published.ip) || published.ip === endpoint.ip || (isLoopback(published.ip) && isLoopback(endpoint.ip));
    const container = local && bound ? this.#containers.get(published.id) : undefined;
    return container ? { name: container.service, type: "container", container } : null;
  }

  #containerAt(ip: string): ResolvedName | null {
    const id = isLoopback(ip) ? undefined : this.#containerByIp.get(ip);
    const container = id === undefined ? undefined : this.#containers.get(id);
    return container ? { name: container.service, type: "container", container } : null;
  }

  /** Loopback is the viewer's host; another address belongs to the hosts seen using it (viewer first). */
  #hostsOwning(viewerHost: string, ip: string): string[] {
    if (isLoopback(ip)) return [viewerHost];
    const owners = [...this.#hostIps].filter(([, ips]) => ips.has(ip)).map(([host]) => host);
    return owners.sort((a, b) => (a === viewerHost ? -1 : b === viewerHost ? 1 : a < b ? -1 : a > b ? 1 : 0));
  }

  /**
   * Exact address first, then a wildcard listener, then any listener on the same port of that host (a
   * container's port published by a proxy on the host: the server saw its container address).
   */
  #listenerAt(host: string, endpoint: Endpoint): ListenerCandidate | null {
    const byIp = this.#listeners.get(`${host} ${endpoint.port}`);
    if (!byIp) return null;
    const exact = byIp.get(endpoint.ip);
    if (exact) return latest(exact);
    const wildcards = [...byIp].filter(([ip]) => isWildcard(ip)).flatMap(([, c]) => [...c]);
    if (wildcards.length > 0) return latest(new Map(wildcards));
    return latest(new Map([...byIp.values()].flatMap((c) => [...c])));
  }

  #addCandidate(host: string, ip: string, port: number, id: string, candidate: ListenerCandidate): void {
    const key = `${host} ${port}`;
    let byIp = this.#listeners.get(key);
    if (!byIp) this.#listeners.set(key, (byIp = new Map()));
    let candidates = byIp.get(ip);
    if (!candidates) byIp.set(ip, (candidates = new Map()));
    const known = candidates.get(id);
    if (!known) candidates.set(id, candidate);
    else {
      // One id is one process (or one literal name): keep the latest time and any name a fact gave it.
      const [older, newer] = candidate.ts > known.ts ? [known, candidate] : [candidate, known];
      candidates.set(id, { ref: newer.ref ?? older.ref, name: newer.name ?? older.name, ts: newer.ts });
    }
  }
}

export function processKey(ref: ProcessRef): string {
  return `${ref.host} ${ref.boot_id} ${ref.pid} ${ref.start_ticks}`;
}

export function refOf(obs: HttpExchange | ConnectionObservation): ProcessRef {
  return { host: obs.host, boot_id: obs.boot_id, pid: obs.pid, start_ticks: obs.start_ticks };
}

/** The candidate seen latest; ties go to the smallest id, so the choice does not depend on arrival order. */
function latest(candidates: Map<string, ListenerCandidate>): ListenerCandidate | null {
  let best: [string, ListenerCandidate] | null = null;
  for (const entry of candidates) {
    if (!best || entry[1].ts > best[1].ts || (entry[1].ts === best[1].ts && entry[0] < best[0])) best = entry;
  }
  return best ? best[1] : null;
}

/** Breaks ties between facts of one process with the same timestamp, in lifecycle order. */
const EVENT_RANK: Record<ProcessFact["event"], number> = { scan: 0, fork: 1, exec: 2, exit: 3 };
