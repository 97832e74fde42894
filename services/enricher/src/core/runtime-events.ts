// Each container engine names its lifecycle events its own way; the enricher knows four: a container started,
// its main process died, the container was removed, or something else about it changed (networks, pause, name).
// The table below is the whole translation, data not code: an engine's name missing from it is an event the
// enricher does not act on (exec_start, health_status, pull…).
//
// Sources, and what was seen on the wire:
// - Docker Engine API, GET /events (docs.docker.com/reference/api/engine, "System events"): container actions
//   `start`, `restart` (after its own `die` + `start`), `die`, `oom`/`kill`/`stop` (followed by `die`), `pause`,
//   `unpause`, `rename`, `destroy`; and network `connect`/`disconnect` (Type "network", the container in
//   Actor.Attributes.container), recorded in services/enricher/test/runtime-events.unit.spec.ts.
// - Podman 4.3.1 (Debian 12), libpod/events/config.go's Status values: `start`, `init`, `restart`, `died`
//   (Exited), `cleanup`, `stop`, `pause`, `unpause`, `rename`, `remove`. Its Docker-compatible GET /events sends
//   `die` for `died` but never `destroy`, only `remove`; its libpod GET /libpod/events sends `died` (recorded from
//   a real Podman 4.3.1 in services/enricher/test/runtime-events.unit.spec.ts). Podman's compat server matches an
//   `event` filter against its own names, so filtering on Docker's names (`die`, `destroy`) drops the deaths and
//   removals: adapters filter by type only.
// - containerd's events service (api/events/*.proto, topics in containerd's events/exchange): `/tasks/start`,
//   `/tasks/exit` (also for exec'd processes: the adapter keeps the init process's), `/tasks/paused`,
//   `/tasks/resumed`, `/containers/delete`.
import type { ContainerEngine } from "./identity.ts";

/**
 * What the enricher does about an engine event: inspect and publish it as a start or a death, mark it removed
 * (destroy: nothing left to inspect), or re-inspect and publish what changed as a snapshot (change: paused…).
 */
export type RuntimeAction = "start" | "die" | "destroy" | "change";

/** Engine → its event name → our action. Names are compared exactly (engines send them lower-case). */
export const RUNTIME_EVENT_TABLE: Readonly<Record<ContainerEngine, Readonly<Record<string, RuntimeAction>>>> = {
  docker: {
    start: "start",
    restart: "start",
    die: "die",
    destroy: "destroy",
    pause: "change",
    unpause: "change",
    rename: "change",
    // Type "network" events, keyed "network <Action>" by dockerEvent: a container joined or left a network, so
    // its addresses and gateways changed (Actor.Attributes.container names it).
    "network connect": "change",
    "network disconnect": "change",
  },
  podman: {
    start: "start",
    restart: "start",
    // `died` on the libpod API, `die` on the compat API (Podman 4.x).
    died: "die",
    die: "die",
    remove: "destroy",
    pause: "change",
    unpause: "change",
    rename: "change",
    // Not sent by Podman 4.x; kept so a compat layer that does translate it is understood.
    destroy: "destroy",
  },
  containerd: {
    "/tasks/start": "start",
    "/tasks/exit": "die",
    "/tasks/paused": "change",
    "/tasks/resumed": "change",
    "/containers/delete": "destroy",
  },
};

/**
 * The action for an engine's event name, or null when the enricher ignores that event.
 * `name` is the Docker/Podman `Action` (or legacy `status`) or containerd's envelope topic. Docker appends
 * details to some actions (`exec_start: sh -c …`, `health_status: healthy`): those are not lifecycle events.
 */
export function runtimeAction(engine: ContainerEngine, name: string | undefined): RuntimeAction | null {
  if (!name) return null;
  const table = RUNTIME_EVENT_TABLE[engine];
  return Object.hasOwn(table, name) ? table[name]! : null;
}

/** Every event name of `engine` the table knows (e.g. containerd's subscription filters). */
export function runtimeEventNames(engine: ContainerEngine): string[] {
  return Object.keys(RUNTIME_EVENT_TABLE[engine]);
}

/** One line of Docker's or Podman's GET /events stream (JSON), the fields the enricher reads. */
export interface DockerEventMessage {
  readonly Type?: string;
  readonly Action?: string;
  /** Pre-1.22 (and Podman's) duplicate of Action. */
  readonly status?: string;
  readonly id?: string;
  readonly Actor?: { readonly ID?: string; readonly Attributes?: Readonly<Record<string, string>> | null };
}

/**
 * The container and action one Docker/Podman event line is about, or null when the table has nothing for it
 * (images, volumes, a network's own create/destroy; exec, health, attach…). A container event's container is
 * Actor.ID (pre-1.22: `id`, and no Type); a network connect/disconnect's is Actor.Attributes.container, and its
 * table key is "network <Action>".
 */
export function dockerEvent(engine: "docker" | "podman", message: DockerEventMessage): { action: RuntimeAction; id: string } | null {
  const type = message.Type ?? "container";
  const name = message.Action ?? message.status;
  if (type === "network") {
    const action = runtimeAction(engine, name ? `network ${name}` : undefined);
    const id = message.Actor?.Attributes?.container;
    return action && id ? { action, id } : null;
  }
  if (type !== "container") return null;
  const action = runtimeAction(engine, name);
  const id = message.Actor?.ID || message.id;
  return action && id ? { action, id } : null;
}
