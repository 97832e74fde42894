// containerd's own gRPC API: containers (labels, image) joined with their tasks (pid, status), in each namespace
// of interest. Docker's containers appear here too, in namespace `moby`, with their Docker ids.
import { readFile, readlink } from "node:fs/promises";
import { fromContainerd, parseNetnsAddresses, parseNetnsGateways } from "../core/identity.ts";
import type { ContainerIdentity, ContainerdContainer } from "../core/identity.ts";
import { runtimeAction, runtimeEventNames } from "../core/runtime-events.ts";
import { ContainerdApi, DEFAULT_CONTAINERD_SOCKET, eventIds, isNotFound } from "./containerd-api.ts";
import type { ContainerdProcess, Envelope } from "./containerd-api.ts";
import { inspectInOrder, keepStreaming, streamLost, withLog } from "./reconnect.ts";
import type { ContainerRuntime, RuntimeEvent, RuntimeLog, WatchOptions } from "./runtime-port.ts";

/** nerdctl's (default), Docker's (moby) and Kubernetes CRI's (k8s.io). */
export const DEFAULT_NAMESPACES = ["default", "moby", "k8s.io"] as const;

export interface ContainerdRuntimeOptions {
  readonly socketPath?: string;
  /** Default: CONTAINERD_NAMESPACE when set, else DEFAULT_NAMESPACES. */
  readonly namespaces?: readonly string[];
  readonly timeoutMs?: number | undefined;
  /** Where watch() reports errors and reconnections its caller does not handle. */
  readonly log?: RuntimeLog | undefined;
}


export function namespacesFromEnv(value = process.env.CONTAINERD_NAMESPACE): string[] {
  const configured = (value ?? "").split(",").map((s) => s.trim()).filter(Boolean);
  return configured.length > 0 ? configured : [...DEFAULT_NAMESPACES];
}

export class ContainerdRuntime implements ContainerRuntime {
  readonly kind = "containerd" as const;
  readonly socketPath: string;
  readonly namespaces: readonly string[];
  readonly #api: ContainerdApi;
  readonly #timeoutMs: number;
  readonly #log: RuntimeLog | undefined;

  constructor(options: ContainerdRuntimeOptions = {}) {
    this.socketPath = options.socketPath ?? DEFAULT_CONTAINERD_SOCKET;
    this.namespaces = options.namespaces ?? namespacesFromEnv();
    this.#timeoutMs = options.timeoutMs ?? 10_000;
    this.#log = options.log;
    this.#api = new ContainerdApi(this.socketPath);
  }

  async list(): Promise<ContainerIdentity[]> {
    const perNamespace = await Promise.all(this.namespaces.map((ns) => this.#listNamespace(ns)));
    return perNamespace.flat();
  }

  /** Looks in `namespace`, or in each configured namespace in turn. */
  async inspect(id: string, namespace?: string): Promise<ContainerIdentity | null> {
    for (const ns of namespace ? [namespace] : this.namespaces) {
      const container = await this.#getContainer(id, ns);
      if (!container) continue;
      return this.#identity(container, await this.#getTask(id, ns), ns);
    }
    return null;
  }

  watch(onEvent: (event: RuntimeEvent) => void, given: WatchOptions = {}): () => void {
    const options = withLog(given, this.#log, `containerd ${this.socketPath}`);
    const emit = inspectInOrder((id, ns) => this.inspect(id, ns ?? undefined), onEvent, options.onError);
    const handle = (envelope: Envelope) => {
      const action = runtimeAction("containerd", envelope.topic);
      if (!action || !this.namespaces.includes(envelope.namespace) || !envelope.event) return;
      const { first: id, second: execId } = eventIds(envelope.event.value);
      // TaskExit is sent for exec'd processes too; only the init process's exit (id = container id) is a death.
      if (!id || (action === "die" && execId && execId !== id)) return;
      emit(action, id, envelope.namespace);
    };

    return keepStreaming(async (signal) => {
      // Subscribe's first message may be long in coming: a Version call proves containerd answers now.
      await this.#api.call(this.#api.version.Version, this.#api.version, {}, null, this.#timeoutMs);
      const stream = this.#api.events.Subscribe({ filters: runtimeEventNames("containerd").map((t) => `topic=="${t}"`) });
      signal.addEventListener("abort", () => stream.cancel(), { once: true });
      stream.on("data", handle);
      const lost = streamLost(stream, signal, options.onError);
      return { lost };
    }, options);
  }

  close(): void {
    this.#api.close();
  }

  async #listNamespace(ns: string): Promise<ContainerIdentity[]> {
    const [{ containers }, { tasks }] = await Promise.all([
      this.#api.call(this.#api.containers.List, this.#api.containers, { filters: [] }, ns, this.#timeoutMs),
      this.#api.call(this.#api.tasks.List, this.#api.tasks, { filter: "" }, ns, this.#timeoutMs),
    ]);
    // A task's init process carries the container's id in `id` (container_id is left empty by List).
    const byContainer = new Map(tasks.map((t) => [t.container_id || t.id, t]));
    const out: ContainerIdentity[] = [];
    for (const container of containers) {
      const task = byContainer.get(container.id);
      if (task && (task.status === "RUNNING" || task.status === "PAUSED")) out.push(await this.#identity(container, task, ns));
    }
    return out;
  }

  async #getContainer(id: string, ns: string): Promise<ContainerdContainer | null> {
    try {
      const res = await this.#api.call(this.#api.containers.Get, this.#api.containers, { id }, ns, this.#timeoutMs);
      return res.container;
    } catch (err) {
      if (isNotFound(err)) return null;
      throw err;
    }
  }

  async #getTask(id: string, ns: string): Promise<ContainerdProcess | null> {
    try {
      const res = await this.#api.call(this.#api.tasks.Get, this.#api.tasks, { container_id: id }, ns, this.#timeoutMs);
      return res.process;
    } catch (err) {
      if (isNotFound(err)) return null; // created but never started, or its task was deleted
      throw err;
    }
  }

  async #identity(container: ContainerdContainer, task: ContainerdProcess | null, ns: string): Promise<ContainerIdentity> {
    const running = task && task.pid > 0 && task.status !== "STOPPED";
    const net = running ? await netnsAddresses(task.pid) : { ips: [], gateways: [] };
    return fromContainerd(container, task, ns, net.ips, net.gateways);
  }
}

/**
 * containerd does not know a container's addresses (its CNI plugins do): read them, and its default gateways,
 * from the task's network namespace through /proc. Nothing when that is the host's own namespace (host
 * networking) or unreadable.
 */
async function netnsAddresses(pid: number): Promise<{ ips: string[]; gateways: string[] }> {
  const none = { ips: [], gateways: [] };
  try {
    const [theirs, ours] = await Promise.all([readlink(`/proc/${pid}/ns/net`), readlink("/proc/self/ns/net")]);
    if (theirs === ours) return none;
    const optional = (path: string) => readFile(path, "utf8").catch(() => "");
    const [fib, inet6, route, route6] = await Promise.all([
      readFile(`/proc/${pid}/net/fib_trie`, "utf8"),
      optional(`/proc/${pid}/net/if_inet6`),
      optional(`/proc/${pid}/net/route`),
      optional(`/proc/${pid}/net/ipv6_route`),
    ]);
    return { ips: parseNetnsAddresses(fib, inet6), gateways: parseNetnsGateways(route, route6) };
  } catch {
    return none;
  }
}
