// Who a container is, whichever engine runs it: one shape for Docker, Podman and containerd, made by pure
// mappers from what each engine's API returns. The adapters fetch; these functions only translate.

export type ContainerEngine = "docker" | "podman" | "containerd";
/** The engines' states, plus `removed`: the enricher's own, for a container its engine no longer knows. */
export type ContainerState = "created" | "running" | "paused" | "restarting" | "removing" | "exited" | "dead" | "removed" | "unknown";

export interface PublishedPort {
  readonly container_port: number;
  readonly protocol: string;
  readonly host_ip: string;
  readonly host_port: number;
}

export interface ContainerIdentity {
  readonly runtime: ContainerEngine;
  /** containerd's namespace (moby, default, k8s.io…); null for Docker and Podman. */
  readonly namespace: string | null;
  /** The full id (64 hex for Docker and Podman; any string for containerd). */
  readonly container_id: string;
  readonly container_name: string;
  /** The image as the container was created from it, with its tag (Docker: Config.Image, e.g. "myorg/app:1.0"). */
  readonly image: string;
  /** Docker Compose's service label, else null. */
  readonly service: string | null;
  readonly project: string | null;
  readonly labels: Readonly<Record<string, string>>;
  /** The main process's pid on the host, or null when the container is not running. */
  readonly pid: number | null;
  /** Every network address the container has, IPv4-mapped IPv6 written as IPv4. */
  readonly ips: readonly string[];
  /** Published ports only. */
  readonly ports: readonly PublishedPort[];
  /**
   * The gateway address of each network the container is on (Docker and Podman: NetworkSettings.Networks[*].Gateway
   * and IPv6Gateway; containerd: none known). A container calling a published port through its gateway
   * (172.17.0.1:P, 10.88.0.1:P) reaches the host, so the mapper resolves gateway:P like any host address:P.
   */
  readonly gateways: readonly string[];
  readonly state: ContainerState;
}

export const COMPOSE_SERVICE_LABEL = "com.docker.compose.service";
export const COMPOSE_PROJECT_LABEL = "com.docker.compose.project";

/** `::ffff:10.0.0.1` -> `10.0.0.1`; other addresses unchanged, lower-cased (IPv6 hex). */
export function normaliseAddress(address: string): string {
  const a = address.trim().toLowerCase();
  const mapped = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/.exec(a);
  return mapped ? mapped[1]! : a;
}

// ---- Docker (and Podman's Docker-compatible API): GET /containers/{id}/json --------------------------------

interface DockerPortBinding {
  HostIp?: string;
  HostPort?: string;
}

interface DockerNetwork {
  IPAddress?: string;
  GlobalIPv6Address?: string;
  Gateway?: string;
  IPv6Gateway?: string;
}

/** The fields of the Engine API's inspect answer that identity needs; everything else is ignored. */
export interface DockerInspect {
  Id: string;
  Name?: string;
  Image?: string;
  State?: { Status?: string; Running?: boolean; Pid?: number };
  Config?: { Image?: string; Labels?: Record<string, string> | null };
  NetworkSettings?: {
    IPAddress?: string;
    GlobalIPv6Address?: string;
    /** The default bridge's gateway (legacy top-level fields; Networks holds every network's). */
    Gateway?: string;
    IPv6Gateway?: string;
    Ports?: Record<string, DockerPortBinding[] | null | undefined> | null;
    Networks?: Record<string, DockerNetwork | undefined> | null;
  } | null;
}

const STATES: readonly ContainerState[] = ["created", "running", "paused", "restarting", "removing", "exited", "dead"];

function dockerState(status: string | undefined): ContainerState {
  // Podman says "stopped" and "configured" where Docker says "exited" and "created".
  const s = (status ?? "").toLowerCase();
  if (s === "stopped") return "exited";
  if (s === "configured" || s === "initialized") return "created";
  return (STATES as readonly string[]).includes(s) ? (s as ContainerState) : "unknown";
}

function addresses(candidates: readonly (string | undefined)[]): string[] {
  const out = new Set<string>();
  for (const c of candidates) if (c) out.add(normaliseAddress(c));
  return [...out];
}

function dockerPorts(ports: Record<string, DockerPortBinding[] | null | undefined> | null | undefined): PublishedPort[] {
  const out: PublishedPort[] = [];
  for (const [key, bindings] of Object.entries(ports ?? {})) {
    const [port, protocol = "tcp"] = key.split("/");
    const containerPort = Number(port);
    if (!Number.isInteger(containerPort) || !bindings) continue; // exposed but not published
    for (const b of bindings) {
      const hostPort = Number(b.HostPort);
      if (!Number.isInteger(hostPort) || hostPort <= 0) continue;
      out.push({ container_port: containerPort, protocol, host_ip: normaliseAddress(b.HostIp || "0.0.0.0"), host_port: hostPort });
    }
  }
  return out;
}

export function fromDockerInspect(json: DockerInspect, runtime: "docker" | "podman" = "docker"): ContainerIdentity {
  const labels = { ...(json.Config?.Labels ?? {}) };
  const net = json.NetworkSettings ?? {};
  const networks = Object.values(net.Networks ?? {});
  const pid = json.State?.Pid;
  return {
    runtime,
    namespace: null,
    container_id: json.Id,
    container_name: (json.Name ?? "").replace(/^\//, "") || json.Id.slice(0, 12),
    // Config.Image is what the user asked for ("app:1.0"); Image is only the resolved sha256 id.
    image: json.Config?.Image || json.Image || "",
    service: labels[COMPOSE_SERVICE_LABEL] ?? null,
    project: labels[COMPOSE_PROJECT_LABEL] ?? null,
    labels,
    pid: typeof pid === "number" && pid > 0 ? pid : null,
    ips: addresses([
      net.IPAddress,
      net.GlobalIPv6Address,
      ...networks.flatMap((n) => [n?.IPAddress, n?.GlobalIPv6Address]),
    ]),
    ports: dockerPorts(net.Ports),
    gateways: addresses([net.Gateway, net.IPv6Gateway, ...networks.flatMap((n) => [n?.Gateway, n?.IPv6Gateway])]),
    state: dockerState(json.State?.Status),
  };
}

// ---- containerd: containers.v1 Container and tasks.v1 Process, as @grpc/proto-loader decodes them ----------

export interface ContainerdContainer {
  id: string;
  image?: string;
  labels?: Record<string, string> | null;
}

export interface ContainerdTask {
  pid?: number;
  /** containerd.v1.types.Status: by name ("RUNNING") or number (2). */
  status?: string | number;
}

const TASK_STATUS: Record<string, ContainerState> = {
  CREATED: "created",
  RUNNING: "running",
  STOPPED: "exited",
  PAUSED: "paused",
  PAUSING: "paused",
};
const TASK_STATUS_BY_NUMBER = ["unknown", "CREATED", "RUNNING", "STOPPED", "PAUSED", "PAUSING"];

interface NerdctlPort {
  HostPort?: number;
  ContainerPort?: number;
  Protocol?: string;
  HostIP?: string;
}

/** nerdctl records published ports as JSON in a label; other clients (ctr, CRI) publish none we can see. */
function nerdctlPorts(label: string | undefined): PublishedPort[] {
  if (!label) return [];
  try {
    const parsed = JSON.parse(label) as NerdctlPort[];
    if (!Array.isArray(parsed)) return [];
    return parsed
      .filter((p) => Number.isInteger(p.ContainerPort) && Number.isInteger(p.HostPort))
      .map((p) => ({
        container_port: p.ContainerPort!,
        protocol: (p.Protocol ?? "tcp").toLowerCase(),
        host_ip: normaliseAddress(p.HostIP || "0.0.0.0"),
        host_port: p.HostPort!,
      }));
  } catch {
    return [];
  }
}

/** A container without a task was never started, or its task was deleted after it exited. */
export function fromContainerd(
  container: ContainerdContainer,
  task?: ContainerdTask | null,
  namespace: string | null = null,
  /** Addresses found elsewhere (the task's network namespace): containerd itself does not know them. */
  extraIps: readonly string[] = [],
  /** Its default routes' gateways, from the same namespace (parseNetnsGateways). */
  extraGateways: readonly string[] = [],
): ContainerIdentity {
  const labels = { ...(container.labels ?? {}) };
  const status = task ? (typeof task.status === "number" ? TASK_STATUS_BY_NUMBER[task.status] : task.status) : undefined;
  const state: ContainerState = task ? (TASK_STATUS[status ?? ""] ?? "unknown") : "created";
  const name =
    labels["nerdctl/name"] ?? labels["io.kubernetes.container.name"] ?? labels["io.containerd.container.name"] ?? container.id;
  return {
    runtime: "containerd",
    namespace,
    container_id: container.id,
    container_name: name,
    image: container.image ?? "",
    service: labels[COMPOSE_SERVICE_LABEL] ?? null,
    project: labels[COMPOSE_PROJECT_LABEL] ?? null,
    labels,
    pid: task && state !== "exited" && task.pid && task.pid > 0 ? task.pid : null,
    ips: addresses([labels["nerdctl/ip"], labels["nerdctl/ip6"], ...extraIps]),
    ports: nerdctlPorts(labels["nerdctl/ports"]),
    gateways: addresses(extraGateways), // containerd knows no networks (its CNI plugins do): from the netns
    state,
  };
}

// ---- A network namespace's own addresses, from /proc/PID/net (read by the adapter as root) ------------------

/**
 * The non-loopback addresses in /proc/PID/net/fib_trie (IPv4 `/32 host LOCAL` entries) and
 * /proc/PID/net/if_inet6 (global scope only): how a container's IPs are found when its engine does not say.
 */
export function parseNetnsAddresses(fibTrie: string, ifInet6 = ""): string[] {
  const out = new Set<string>();
  let leaf: string | null = null; // the address whose prefix lines follow
  for (const line of fibTrie.split("\n")) {
    const m = /^\s*(\||\+)--\s+(\d+\.\d+\.\d+\.\d+)/.exec(line);
    if (m) leaf = m[1] === "|" ? m[2]! : null;
    else if (leaf && /^\s*\/32 host LOCAL/.test(line) && !leaf.startsWith("127.")) out.add(leaf);
  }
  for (const line of ifInet6.split("\n")) {
    // <32 hex> <ifindex> <prefixlen> <scope> <flags> <name>; scope 00 is global (20 link, 10 host).
    const f = line.trim().split(/\s+/);
    if (f.length < 6 || !/^[0-9a-f]{32}$/.test(f[0]!) || f[3] !== "00" || f[5] === "lo") continue;
    out.add(compressIpv6(f[0]!));
  }
  return [...out].map(normaliseAddress);
}

/**
 * The gateways of a network namespace's default routes, from /proc/PID/net/route (IPv4: a row whose Destination
 * and Mask are 00000000 and whose Flags have RTF_GATEWAY, 0x2; addresses in the kernel's byte order, little-endian
 * on every architecture adi runs on) and /proc/PID/net/ipv6_route (destination ::/0 with a non-zero next hop).
 * For a container on a bridge this is the bridge's address (nerdctl's 10.4.0.1, Docker's 172.17.0.1): what a
 * container calls to reach a port published on the host.
 */
export function parseNetnsGateways(route: string, ipv6Route = ""): string[] {
  const out = new Set<string>();
  for (const line of route.split("\n").slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length < 8 || f[1] !== "00000000" || f[7] !== "00000000" || !/^[0-9A-Fa-f]{8}$/.test(f[2]!)) continue;
    if ((Number.parseInt(f[3]!, 16) & 0x2) === 0 || f[2] === "00000000") continue;
    const n = Number.parseInt(f[2]!, 16);
    out.add([n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, n >>> 24].join("."));
  }
  for (const line of ipv6Route.split("\n")) {
    // dest destlen src srclen nexthop metric refcnt use flags iface
    const f = line.trim().split(/\s+/);
    if (f.length < 10 || !/^0{32}$/.test(f[0]!) || f[1] !== "00" || !/^[0-9a-f]{32}$/i.test(f[4]!) || /^0{32}$/.test(f[4]!)) continue;
    out.add(compressIpv6(f[4]!.toLowerCase()));
  }
  return [...out].map(normaliseAddress);
}

function compressIpv6(hex: string): string {
  const groups = (hex.match(/.{4}/g) ?? []).map((g) => g.replace(/^0+(?=.)/, ""));
  // The longest run (2+) of zero groups becomes "::", as RFC 5952 writes it.
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < groups.length; ) {
    let j = i;
    while (j < groups.length && groups[j] === "0") j++;
    if (j - i > bestLen) [best, bestLen] = [i, j - i];
    i = j > i ? j : i + 1;
  }
  if (best < 0) return groups.join(":");
  return `${groups.slice(0, best).join(":")}::${groups.slice(best + bestLen).join(":")}`;
}
