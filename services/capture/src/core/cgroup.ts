// Which container a process runs in, read from /proc/PID/cgroup. Pure: the text in, the answer out.

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
