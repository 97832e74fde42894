// What every container engine adapter offers the enricher, and openRuntime: the adapter for whatever engine
// listens on the configured socket (Docker, Podman or containerd; see detect.ts).
import type { Logger } from "pino";
import type { ContainerEngine, ContainerIdentity } from "../core/identity.ts";
import { ContainerdRuntime, DEFAULT_NAMESPACES } from "./containerd.ts";
import { detectRuntime } from "./detect.ts";
import { DockerRuntime } from "./docker.ts";

export type { RuntimeAction } from "../core/runtime-events.ts";
import type { RuntimeAction } from "../core/runtime-events.ts";

export interface RuntimeEvent {
  readonly action: RuntimeAction;
  readonly id: string;
  /** containerd's namespace; null for Docker and Podman. */
  readonly namespace: string | null;
  /** The container as inspected after the event; null when it is already gone (always for destroy). */
  readonly identity: ContainerIdentity | null;
}

export interface WatchOptions {
  /**
   * Called each time the event stream is (re)established after a loss, e.g. the engine restarted: events in the
   * gap are lost, so the caller should list() again. Not called for the first connection.
   */
  readonly onReconnect?: () => void;
  /** Errors that do not stop the watch (a lost stream, a failed inspect); default: a warning in the adapter's log. */
  readonly onError?: (err: unknown) => void;
}

export type RuntimeLog = Pick<Logger, "info" | "warn">;

export interface ContainerRuntime {
  readonly kind: ContainerEngine;
  /** Running (and paused) containers, each fully inspected. */
  list(): Promise<ContainerIdentity[]>;
  /** One container by id (full or, for Docker, a unique prefix or name); null when there is none. */
  inspect(id: string): Promise<ContainerIdentity | null>;
  /** Follows container lifecycle events (core/runtime-events.ts's table) until the returned function is called. */
  watch(onEvent: (event: RuntimeEvent) => void, options?: WatchOptions): () => void;
  close(): void;
}

export interface OpenRuntimeOptions {
  /** containerd only: the one namespace to query; unset: default, moby and k8s.io. */
  readonly namespace?: string | undefined;
  /** Where a watch reports lost streams and reconnections when its caller gives no handlers. */
  readonly log?: RuntimeLog | undefined;
  readonly timeoutMs?: number | undefined;
}

/** Detects the engine on `socketPath` and returns its adapter; rejects, naming the socket, when none answers. */
export async function openRuntime(socketPath: string, options: OpenRuntimeOptions = {}): Promise<ContainerRuntime> {
  const kind = await detectRuntime(socketPath);
  const common = { socketPath, log: options.log, timeoutMs: options.timeoutMs };
  if (kind !== "containerd") return new DockerRuntime({ ...common, runtime: kind });
  return new ContainerdRuntime({ ...common, namespaces: options.namespace ? [options.namespace] : [...DEFAULT_NAMESPACES] });
}
