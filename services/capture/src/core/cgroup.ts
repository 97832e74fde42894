// Which container a process runs in: read from /proc/PID/cgroup, or from the cgroup v2 id the kernel stamps on
// every record (resolved to its path by walking the cgroup2 hierarchy: adapters/cgroupfs.ts). Pure: text in,
// answers out; the cache takes its filesystem walk as a function.

export const CONTAINER_RUNTIMES = ["docker", "containerd", "crio", "podman", "kubepods"] as const;
export type ContainerRuntime = (typeof CONTAINER_RUNTIMES)[number];

export interface CgroupInfo {
  /** The cgroup path: the v2 one when present, else the v1 line that names a container, else name=systemd's. */
  readonly path: string | null;
  readonly containerId: string | null;
  /** null with a containerId: a container id in a layout we do not attribute to a runtime. */
  readonly runtime: ContainerRuntime | null;
}

interface CgroupRule {
  readonly runtime: ContainerRuntime | null;
  /** Matched against one path segment; group 1 is the container id. */
  readonly segment: RegExp;
  /** When set, the path before the segment must match too. */
  readonly parent?: RegExp;
}

const HEX64 = /^([0-9a-f]{64})$/;

/**
 * First rule that matches wins, segments examined from the deepest up, so a nested container (Docker in
 * Docker) resolves to the innermost one and trailing sub-cgroups (`libpod-<id>.scope/container`,
 * `docker-<id>.scope/init.scope`) are looked through. Kubernetes paths name the runtime when the
 * systemd driver is used (`kubepods-….slice/cri-containerd-<id>.scope`): that runtime is reported;
 * "kubepods" is reported only for the cgroupfs driver's bare ids, which do not say which runtime it is.
 */
export const CGROUP_RULES: readonly CgroupRule[] = [
  { runtime: "containerd", segment: /^cri-containerd-([0-9a-f]{64})(?:\.scope)?$/ },
  { runtime: "crio", segment: /^crio-([0-9a-f]{64})(?:\.scope)?$/ },
  { runtime: "docker", segment: /^docker-([0-9a-f]{64})(?:\.scope)?$/ },
  { runtime: "podman", segment: /^libpod-([0-9a-f]{64})(?:\.scope)?$/ },
  // nerdctl with the systemd cgroup driver: /nerdctl.slice/nerdctl-<id>.scope
  { runtime: "containerd", segment: /^nerdctl-([0-9a-f]{64})(?:\.scope)?$/ },
  // cgroup v1 or cgroupfs driver: /docker/<id>
  { runtime: "docker", segment: HEX64, parent: /(?:^|\/)docker$/ },
  // cgroupfs driver: /kubepods/burstable/pod<uid>/<id>
  { runtime: "kubepods", segment: HEX64, parent: /(?:^|\/)kubepods(?:[.\-/]|$)/ },
  // containerd namespace cgroups (nerdctl, ctr): /<namespace>/<id>, e.g. /default/<id>, /k8s.io/<id>
  { runtime: "containerd", segment: HEX64, parent: /^\/[^/]+$/ },
  // Any other bare 64-hex id (ECS, CI runners…): a container, runtime unknown.
  { runtime: null, segment: HEX64 },
];

interface CgroupLine {
  readonly hierarchy: string;
  readonly controllers: string;
  readonly path: string;
}

/** Parses /proc/PID/cgroup (v1 `12:memory:/docker/<id>`, v2 `0::/system.slice/docker-<id>.scope`, or both). */
export function parseCgroupFile(text: string): CgroupInfo {
  const lines = parseLines(text);
  const v2 = lines.find((line) => line.hierarchy === "0" && line.controllers === "");
  // v2 first: on hybrid systems its line is the authoritative one when it names a container.
  const ordered = v2 ? [v2, ...lines.filter((line) => line !== v2)] : lines;
  for (const line of ordered) {
    const match = matchContainer(line.path);
    if (match) return { path: line.path, ...match };
  }
  const systemd = lines.find((line) => line.controllers === "name=systemd");
  const path = (v2 ?? systemd ?? lines[0])?.path ?? null;
  return { path, containerId: null, runtime: null };
}

function parseLines(text: string): CgroupLine[] {
  const lines: CgroupLine[] = [];
  for (const raw of text.split("\n")) {
    // hierarchy-ID:controller-list:path — the path itself may contain ':'.
    const first = raw.indexOf(":");
    const second = first < 0 ? -1 : raw.indexOf(":", first + 1);
    if (second < 0) continue;
    const path = raw.slice(second + 1);
    if (path === "") continue;
    lines.push({ hierarchy: raw.slice(0, first), controllers: raw.slice(first + 1, second), path });
  }
  return lines;
}

function matchContainer(path: string): { containerId: string; runtime: ContainerRuntime | null } | null {
  const segments = path.split("/");
  for (let i = segments.length - 1; i > 0; i--) {
    const segment = segments[i]!;
    if (segment === "") continue;
    const parent = segments.slice(0, i).join("/");
    for (const rule of CGROUP_RULES) {
      const m = rule.segment.exec(segment);
      if (m && (!rule.parent || rule.parent.test(parent))) return { containerId: m[1]!, runtime: rule.runtime };
    }
  }
  return null;
}

/** A cgroup v2 path as /proc/PID/cgroup shows it ("/system.slice/docker-<id>.scope"), read like that file. */
export function parseCgroupPath(path: string): CgroupInfo {
  return parseCgroupFile(`0::${path}`);
}

/** Where the cgroup v2 hierarchy is mounted, and which of its directories the mount shows (mountinfo's root). */
export interface Cgroup2Mount {
  readonly mountPoint: string;
  /** "/" unless a subtree is mounted; /proc/PID/cgroup paths are relative to the same root. */
  readonly root: string;
}

/** The usual places, in order: a pure v2 host, then systemd's hybrid layout. */
const PREFERRED_MOUNTS = ["/sys/fs/cgroup", "/sys/fs/cgroup/unified"];

/**
 * The cgroup2 mount to walk, from /proc/self/mountinfo (`36 25 0:30 / /sys/fs/cgroup rw,… - cgroup2 cgroup2 rw`)
 * or /proc/self/mounts (`cgroup2 /sys/fs/cgroup cgroup2 rw 0 0`, root taken as "/"). /sys/fs/cgroup when it is
 * cgroup2, else a hybrid host's /sys/fs/cgroup/unified, else the first cgroup2 mount; null on a v1-only host.
 */
export function findCgroup2Mount(text: string): Cgroup2Mount | null {
  const mounts: Cgroup2Mount[] = [];
  for (const line of text.split("\n")) {
    const f = line.trim().split(" ");
    const dash = f.indexOf("-");
    if (dash >= 6 && f[dash + 1] === "cgroup2") mounts.push({ mountPoint: unescapeMount(f[4]!), root: unescapeMount(f[3]!) });
    else if (dash < 0 && f.length >= 3 && f[2] === "cgroup2") mounts.push({ mountPoint: unescapeMount(f[1]!), root: "/" });
  }
  for (const preferred of PREFERRED_MOUNTS) {
    const mount = mounts.find((m) => m.mountPoint === preferred);
    if (mount) return mount;
  }
  return mounts[0] ?? null;
}

/** Mount tables escape space, tab, newline and backslash as octal (`\040`). */
function unescapeMount(field: string): string {
  return field.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(Number.parseInt(octal, 8)));
}

/** The cgroup path of a directory `relative` to the mount (segments joined by "/", "" for the mount itself). */
export function cgroupPathOf(root: string, relative: string): string {
  if (relative === "") return root;
  return root.endsWith("/") ? `${root}${relative}` : `${root}/${relative}`;
}

/** One walk of the hierarchy: cgroup id (directory inode) → path. */
export type CgroupWalk = () => ReadonlyMap<bigint, string>;

export interface CgroupPathCacheOptions {
  /** Fewest milliseconds between two walks (a miss walks again at most this often). Default 200. */
  readonly minRescanMs?: number;
  /** Ids that a fresh walk did not find, remembered so that they do not walk again. Default 4096. */
  readonly maxUnknown?: number;
  readonly now?: () => number;
}

export interface CgroupPathCacheStats {
  readonly walks: number;
  readonly walkFailures: number;
  readonly hits: number;
  /** Lookups answered null: the id is 0, unknown after a walk, or a walk was not allowed yet. */
  readonly misses: number;
  readonly size: number;
}

/**
 * cgroup v2 id → path. Ids are not reused within a boot, so an answer stays true. A miss walks the hierarchy
 * again when the last walk is at least minRescanMs old (a new container's cgroup); an id that a walk made
 * after the record was emitted did not find (a cgroup outside this mount, or already removed) is remembered
 * as unknown and never walks again. The previous walk is kept beside the current one, so a cgroup removed
 * since (a container that just ended) still resolves for its late records.
 */
export class CgroupPathCache {
  readonly #walk: CgroupWalk;
  readonly #minRescanMs: number;
  readonly #maxUnknown: number;
  readonly #now: () => number;
  #current: ReadonlyMap<bigint, string> = new Map();
  #previous: ReadonlyMap<bigint, string> = new Map();
  #unknown = new Set<bigint>();
  #lastWalkAt = Number.NEGATIVE_INFINITY;
  #walks = 0;
  #walkFailures = 0;
  #hits = 0;
  #misses = 0;

  constructor(walk: CgroupWalk, opts: CgroupPathCacheOptions = {}) {
    this.#walk = walk;
    this.#minRescanMs = opts.minRescanMs ?? 200;
    this.#maxUnknown = opts.maxUnknown ?? 4096;
    this.#now = opts.now ?? Date.now;
  }

  /** Walks now (e.g. at start, so the first records do not wait for it); false when the walk failed. */
  refresh(): boolean {
    this.#lastWalkAt = this.#now();
    this.#walks++;
    let paths: ReadonlyMap<bigint, string>;
    try {
      paths = this.#walk();
    } catch {
      this.#walkFailures++;
      return false;
    }
    this.#previous = this.#current;
    this.#current = paths;
    return true;
  }

  /** The path of cgroup `id`, or null (0 is "unknown" on the wire). */
  resolve(id: bigint): string | null {
    if (id === 0n) return this.#miss();
    const known = this.#lookup(id);
    if (known !== undefined) return this.#hit(known);
    if (this.#unknown.has(id) || this.#now() - this.#lastWalkAt < this.#minRescanMs) return this.#miss();
    if (this.refresh()) {
      const found = this.#lookup(id);
      if (found !== undefined) return this.#hit(found);
      if (this.#unknown.size >= this.#maxUnknown) this.#unknown = new Set();
      this.#unknown.add(id);
    }
    return this.#miss();
  }

  stats(): CgroupPathCacheStats {
    const size = this.#current.size;
    return { walks: this.#walks, walkFailures: this.#walkFailures, hits: this.#hits, misses: this.#misses, size };
  }

  #lookup(id: bigint): string | undefined {
    return this.#current.get(id) ?? this.#previous.get(id);
  }

  #hit(path: string): string {
    this.#hits++;
    return path;
  }

  #miss(): null {
    this.#misses++;
    return null;
  }
}
