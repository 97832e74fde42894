// openRuntime: the adapter for whatever engine listens on the configured socket (Docker, Podman or containerd;
// see detect.ts). The port the adapters implement is runtime-port.ts.
import { ContainerdRuntime, DEFAULT_NAMESPACES } from "./containerd.ts";
import { detectRuntime } from "./detect.ts";
import { DockerRuntime } from "./docker.ts";

export type { ContainerRuntime, RuntimeAction, RuntimeEvent, RuntimeLog, WatchOptions } from "./runtime-port.ts";
import type { ContainerRuntime, RuntimeLog } from "./runtime-port.ts";

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
