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
import { PROCESS_LIFECYCLE_RANK, processIdentityKey } from "@adi/shared/wire";
import type { ConnectionObservation, Endpoint, HttpExchange, ListenersFact, ProcessFact } from "@adi/shared/wire";
import { isLoopback, isWildcard, maxIso, observerRole } from "./observation.ts";

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
  /**
   * Gateway addresses of its networks on that host (Docker's 172.17.0.1, Podman's 10.88.0.1): a container that
   * calls gateway:P reaches the host's published port P, so such a destination is named like 127.0.0.1:P.
   */
  gateways?: readonly string[];
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

/**
 * The name of a process outside any known container: ADI_PROFILE_NAME, else comm, else pid-<pid> (an empty
 * string counts as absent). resolveProcess names sources by it; the view and the exports match the inventory's
 * processes to nodes by it. A process in a container is named after its container's compose service, which a
 * ProcessFact does not carry: such a process matches no node unless its container is named like it.
 */
export function processServiceName(p: { adi_profile_name: string | null; comm: string | null | undefined; pid: number }): string {
  return p.adi_profile_name || p.comm || `pid-${p.pid}`;
}

interface ListenerCandidate {
  ref: ProcessRef | null;
  /** From a listener fact or addListener: used when the process itself is unknown. */
  name: string | null;
  ts: string;
  /** IPV6_V6ONLY of a [::] listener (true: it takes no IPv4 call); null when not known. */
  v6only?: boolean | null;
}

export class NameResolver {
  readonly #processes = new Map<string, { ts: string; rank: number; describes: boolean; info: ProcessInfo; exitTs: string | null }>();
  readonly #containers = new Map<string, ContainerIdentity>();
  readonly #containerByIp = new Map<string, string>();
  /** "host port" -> the containers publishing that host port (on different host addresses). */
  readonly #containerByPort = new Map<string, { id: string; ip: string | null }[]>();
  /** host -> gateway addresses of the container networks there. */
  readonly #gateways = new Map<string, Set<string>>();
  /** host -> addresses seen as the local end of an observation there. */
  readonly #hostIps = new Map<string, Set<string>>();
  /** "host port" -> ip -> candidate id -> candidate. */
  readonly #listeners = new Map<string, Map<string, Map<string, ListenerCandidate>>>();

  /** Only opted-in processes are kept: the others never observe anything, and listener facts name them. */
  addProcess(fact: ProcessFact): void {
    if (fact.optin !== "yes") return;
    const key = processKey({ host: fact.host, boot_id: fact.boot_id, pid: fact.pid, start_ticks: fact.start_ticks });
    const known = this.#processes.get(key);
    const info: ProcessInfo = {
      comm: fact.comm,
      cmdline: fact.cmdline,
      adi_profile_name: fact.adi_profile_name || null,
      container_id: fact.container_id,
    };
    const exitTs = fact.event === "exit" ? fact.ts : null;
    const record = { ts: fact.ts, rank: PROCESS_LIFECYCLE_RANK[fact.event], describes: DESCRIBES[fact.event], info, exitTs };
    if (!known) {
      this.#processes.set(key, record);
      return;
    }
    // The latest describing fact describes the process (exec changes comm; an exit or net mark says what it did,
    // not what it is: DESCRIBES); a name seen once is kept, whichever fact carried it.
    const newerIsNew =
      record.describes !== known.describes ? record.describes : record.ts > known.ts || (record.ts === known.ts && record.rank >= known.rank);
    const [older, newer] = newerIsNew ? [known, record] : [record, known];
    const adi_profile_name = newer.info.adi_profile_name ?? older.info.adi_profile_name;
    this.#processes.set(key, { ...newer, info: { ...newer.info, adi_profile_name }, exitTs: maxIso(known.exitTs, exitTs) });
  }

  /**
   * What names a process that exited before `beforeTs` (capture time), once no fact can change it any more: its
   * host, container id and ADI_PROFILE_NAME-or-comm. null while it runs, exited later, or is unknown. The tallies
   * of such a process can be kept under this (one per service) instead of its identity (one per process).
   */
  settledName(ref: ProcessRef, beforeTs: string): { host: string; container_id: string | null; name: string } | null {
    const known = this.#processes.get(processKey(ref));
    if (!known?.exitTs || known.exitTs >= beforeTs || !known.describes) return null;
    const { container_id, adi_profile_name, comm } = known.info;
    return { host: ref.host, container_id, name: adi_profile_name || comm || `pid-${ref.pid}` };
  }

  /** The service name settledName() stands for: its container's when the enricher knows it (late too), else the name. */
  resolveSettled(container_id: string | null, name: string): ResolvedName {
    const container = container_id ? this.#containers.get(container_id) : undefined;
    if (container) return { name: container.service, type: "container", container };
    return { name, type: "external", container: null };
  }

  /** Hook for the enricher: a container identity takes precedence over ADI_PROFILE_NAME and comm. */
  addIdentity(identity: ContainerIdentity): void {
    this.#containers.set(identity.container_id, identity);
    for (const ip of identity.ips) this.#containerByIp.set(ip, identity.container_id);
    if (identity.host === undefined) return;
    for (const p of identity.published_ports ?? []) {
      const key = `${identity.host} ${p.host_port}`;
      // One entry per (container, host address): a re-report replaces its own entry, never another container's.
      const others = (this.#containerByPort.get(key) ?? []).filter((e) => !(e.id === identity.container_id && e.ip === p.host_ip));
      this.#containerByPort.set(key, [...others, { id: identity.container_id, ip: p.host_ip }]);
    }
    let gateways = this.#gateways.get(identity.host);
    if (!gateways) this.#gateways.set(identity.host, (gateways = new Set()));
    for (const ip of identity.gateways ?? []) gateways.add(ip);
  }

  /** A listening socket on a host, named directly (0.0.0.0 and :: listen on every local address). */
  addListener(host: string, ip: string, port: number, name: string, ts = ""): void {
    this.#addCandidate(host, normalizeIp(ip), port, `name ${name}`, { ref: null, name, ts });
  }

  addListeners(fact: ListenersFact): void {
    for (const l of fact.listeners) {
      const { host, boot_id } = fact;
      const ref = l.pid === null ? null : { host, boot_id, pid: l.pid, start_ticks: l.start_ticks ?? 0 };
      const name = l.adi_profile_name || l.comm || null;
      if (!ref && !name) continue;
      const id = ref ? `ref ${processKey(ref)}` : `name ${name}`;
      this.#addCandidate(fact.host, normalizeIp(l.ip), l.port, id, { ref, name, ts: fact.ts, v6only: l.v6only ?? null });
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
    const name = processServiceName({ adi_profile_name: info?.adi_profile_name ?? null, comm: info?.comm, pid: ref.pid });
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
    endpoint = { ip: normalizeIp(endpoint.ip), port: endpoint.port };
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

  /**
   * A port a container publishes on the viewer's host (docker -p), called at loopback, at any address of that
   * host, or at a container network's gateway (a container calling the host: 172.17.0.1:P, 10.88.0.1:P).
   * A port published on one host address answers there only (loopback: any loopback address); on a wildcard,
   * at every address. Several containers may publish one port on different addresses: the exact one first.
   */
  #publishedAt(viewerHost: string, endpoint: Endpoint): ResolvedName | null {
    const published = this.#containerByPort.get(`${viewerHost} ${endpoint.port}`);
    if (!published) return null;
    const gateway = this.#gateways.get(viewerHost)?.has(endpoint.ip) ?? false;
    const local = gateway || isLoopback(endpoint.ip) || (this.#hostIps.get(viewerHost)?.has(endpoint.ip) ?? false);
    if (!local) return null;
    const rank = (ip: string | null): number => {
      if (ip === endpoint.ip) return 0;
      if (ip !== null && isLoopback(ip) && isLoopback(endpoint.ip)) return 1;
      if (ip === null || isWildcard(ip)) return 2;
      return -1; // published on another address: not reachable at this one
    };
    const candidates = published
      .filter((p) => rank(p.ip) >= 0 && this.#containers.has(p.id))
      .sort((a, b) => rank(a.ip) - rank(b.ip) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    const container = candidates.length > 0 ? this.#containers.get(candidates[0]!.id) : undefined;
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
   * The listener a call to `endpoint` reached, keeping address families apart (LISTENER_MATCH, in order): the
   * exact address; the wildcard of its family; for an IPv4 call, a [::] listener not known to be IPV6_V6ONLY
   * (it accepts IPv4); then any listener of the same family on that port (a container's port published by a
   * proxy on the host: the server saw its container address). An IPv6 call never reaches an IPv4 listener.
   */
  #listenerAt(host: string, endpoint: Endpoint): ListenerCandidate | null {
    const byIp = this.#listeners.get(`${host} ${endpoint.port}`);
    if (!byIp) return null;
    const family = familyOf(endpoint.ip);
    for (const rule of LISTENER_MATCH) {
      const candidates = [...byIp]
        .filter(([ip]) => rule.ip(ip, endpoint.ip, family))
        .flatMap(([, c]) => [...c].filter(([, candidate]) => rule.candidate?.(candidate) ?? true));
      if (candidates.length > 0) return latest(new Map(candidates));
    }
    return null;
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
      candidates.set(id, { ref: newer.ref ?? older.ref, name: newer.name ?? older.name, ts: newer.ts, v6only: newer.v6only ?? older.v6only ?? null });
    }
  }
}

export function processKey(ref: ProcessRef): string {
  return processIdentityKey(ref);
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


/**
 * Facts that say what a process is (its comm and command line then). An exit or a first-network mark says that
 * it ended or called out, and describes it only when nothing else does, whatever the order facts arrive in.
 */
const DESCRIBES: Record<ProcessFact["event"], boolean> = { scan: true, fork: true, exec: true, net: false, exit: false };

type Family = 4 | 6;

function familyOf(ip: string): Family {
  return ip.includes(":") ? 6 : 4;
}

/** ::ffff:a.b.c.d is the IPv4 address a.b.c.d (the kernel normalises it; older records may not have). */
export function normalizeIp(ip: string): string {
  return /^::ffff:\d+\.\d+\.\d+\.\d+$/i.test(ip) ? ip.slice(7) : ip;
}

/** Which listeners a call of a family can reach, tried in order; the first rule with a candidate decides. */
const LISTENER_MATCH: readonly {
  rule: string;
  ip: (listenerIp: string, callIp: string, family: Family) => boolean;
  candidate?: (c: ListenerCandidate) => boolean;
}[] = [
  { rule: "exact address", ip: (l, call) => l === call },
  { rule: "wildcard of the family", ip: (l, _call, family) => l === (family === 4 ? "0.0.0.0" : "::") },
  { rule: "dual-stack [::] for IPv4", ip: (l, _call, family) => family === 4 && l === "::", candidate: (c) => c.v6only !== true },
  { rule: "same family, any address", ip: (l, _call, family) => familyOf(l) === family && !isWildcard(l) },
];
