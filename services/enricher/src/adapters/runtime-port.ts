// The port every container engine adapter implements (Docker, Podman, containerd) and the enricher uses: types
// only, in a file of their own so that the adapters (docker.ts, containerd.ts, reconnect.ts) depend on the port and
// not on runtime.ts, which picks and builds them (issue 12: no import cycle, types included).
import type { Logger } from "pino";
import type { ContainerEngine, ContainerIdentity } from "../core/identity.ts";

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
