// Resolves the cgroup v2 id the kernel stamps on each record (bpf_get_current_cgroup_id()) to the cgroup's path,
// as /proc/PID/cgroup would show it: the id is the inode number of the cgroup's directory on cgroup2fs. The
// hierarchy is walked once into a cache (core/cgroup.ts: CgroupPathCache) and again on a miss, at most every
// 200 ms. Synchronous, like procfs.ts: the walk reads kernfs (memory), and a record is resolved when handled.
//
// Where: /sys/fs/cgroup on a cgroup v2 host; on a hybrid host (v1 controllers at /sys/fs/cgroup) the kernel's
// ids are those of the unified hierarchy, found at /sys/fs/cgroup/unified or wherever /proc/self/mountinfo
// shows a cgroup2 mount. A v1-only host has no such ids to resolve: nothing resolves, and that is logged once.
import { readdirSync, readFileSync, statfsSync, statSync } from "node:fs";
import { join } from "node:path";
import { CgroupPathCache, cgroupPathOf, findCgroup2Mount } from "../core/cgroup.ts";
import type { Cgroup2Mount, CgroupPathCacheStats } from "../core/cgroup.ts";

/** statfs(2) f_type of cgroup2fs. */
const CGROUP2_SUPER_MAGIC = 0x63677270;

export interface CgroupWalkLimits {
  /** Deepest directory visited below the mount (the mount itself is depth 0). Default 32. */
  readonly maxDepth?: number;
  /** Most directories visited in one walk. Default 100,000. */
  readonly maxEntries?: number;
}

export interface CgroupWalkResult {
  readonly paths: Map<bigint, string>;
  /** True when a limit stopped the walk: some cgroups were not visited. */
  readonly truncated: boolean;
}

/** Walks the cgroup2 hierarchy under `mount`: inode of each directory → its cgroup path. */
export function walkCgroupTree(mount: Cgroup2Mount, limits: CgroupWalkLimits = {}): CgroupWalkResult {
  const maxDepth = limits.maxDepth ?? 32;
  const maxEntries = limits.maxEntries ?? 100_000;
  const paths = new Map<bigint, string>();
  let truncated = false;
  // Depth first, iteratively: [relative path, depth].
  const stack: [string, number][] = [["", 0]];
  while (stack.length > 0) {
    const [relative, depth] = stack.pop()!;
    const dir = relative === "" ? mount.mountPoint : join(mount.mountPoint, relative);
    let ino: bigint;
    try {
      ino = statSync(dir, { bigint: true }).ino;
    } catch (err) {
      if (relative === "") throw err; // the mount itself must be there
      continue; // removed while walking
    }
    paths.set(ino, cgroupPathOf(mount.root, relative));
    let entries;
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch {
      continue;
    }
    for (const entry of entries) {
      if (!entry.isDirectory()) continue;
      if (depth >= maxDepth || paths.size + stack.length >= maxEntries) {
        truncated = true;
        continue;
      }
      stack.push([relative === "" ? entry.name : `${relative}/${entry.name}`, depth + 1]);
    }
  }
  return { paths, truncated };
}

/** The cgroup2 mount of this mount namespace, or null (a v1-only host). */
export function locateCgroup2(procSelf = "/proc/self"): Cgroup2Mount | null {
  for (const table of ["mountinfo", "mounts"]) {
    let text: string;
    try {
      text = readFileSync(join(procSelf, table), "utf8");
    } catch {
      continue;
    }
    return findCgroup2Mount(text);
  }
  // No mount table to read: /sys/fs/cgroup itself may still be cgroup2.
  try {
    if (statfsSync("/sys/fs/cgroup").type === CGROUP2_SUPER_MAGIC) return { mountPoint: "/sys/fs/cgroup", root: "/" };
  } catch {
    // not there
  }
  return null;
}

interface LogSink {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

export interface CgroupResolver {
  /** null on a host without cgroup2: nothing resolves. */
  readonly mount: Cgroup2Mount | null;
  /** The cgroup path of a kernel cgroup id (0n: unknown), or null. */
  resolve(id: bigint): string | null;
  stats(): CgroupPathCacheStats;
}

export interface CgroupResolverOptions extends CgroupWalkLimits {
  /** Default 200. */
  readonly minRescanMs?: number;
  /** Where to read mountinfo; tests point it elsewhere. Default /proc/self. */
  readonly procSelf?: string;
  /** Use this mount instead of looking (tests). */
  readonly mount?: Cgroup2Mount | null;
}

/** Finds the cgroup2 mount, walks it once, and answers from the cache (walking again on a miss, rate-limited). */
export function openCgroupResolver(log: LogSink, opts: CgroupResolverOptions = {}): CgroupResolver {
  const mount = opts.mount !== undefined ? opts.mount : locateCgroup2(opts.procSelf);
  if (!mount) {
    log.warn({}, "no cgroup2 mount (cgroup v1 only): a process gone before /proc is read gets no cgroup nor container");
    const empty: CgroupPathCacheStats = { walks: 0, walkFailures: 0, hits: 0, misses: 0, size: 0 };
    return { mount: null, resolve: () => null, stats: () => empty };
  }
  let warnedTruncated = false;
  let warnedFailure = false;
  const cache = new CgroupPathCache(
    () => {
      try {
        const { paths, truncated } = walkCgroupTree(mount, opts);
        if (truncated && !warnedTruncated) {
          warnedTruncated = true;
          log.warn({ mount: mount.mountPoint, cgroups: paths.size }, "cgroup hierarchy larger than the walk limits: some cgroups will not resolve");
        }
        return paths;
      } catch (err) {
        if (!warnedFailure) {
          warnedFailure = true;
          log.warn({ err: (err as Error).message, mount: mount.mountPoint }, "cannot walk the cgroup2 hierarchy");
        }
        throw err;
      }
    },
    { minRescanMs: opts.minRescanMs },
  );
  if (cache.refresh()) log.info({ mount: mount.mountPoint, root: mount.root, cgroups: cache.stats().size }, "kernel cgroup ids resolve through cgroup2");
  return { mount, resolve: (id) => cache.resolve(id), stats: () => cache.stats() };
}
