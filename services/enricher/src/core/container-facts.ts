// Container identities as facts: what is published, when a change is worth publishing, and what a resync
// concludes about containers its engine no longer lists.
import type { ContainerFact } from "@adi/shared/wire";
import type { ContainerIdentity, ContainerState } from "./identity.ts";

export type ContainerEvent = ContainerFact["event"];

/** The fact for one identity; `at.ts` is the publishing time (RFC 3339, nine fractional digits). */
export function containerFact(identity: ContainerIdentity, event: ContainerEvent, at: { ts: string; host: string; bootId: string }): ContainerFact {
  return {
    v: 1,
    type: "container",
    event,
    ts: at.ts,
    host: at.host,
    boot_id: at.bootId,
    runtime: identity.runtime,
    namespace: identity.namespace,
    container_id: identity.container_id,
    container_name: identity.container_name,
    image: identity.image || null,
    service: identity.service,
    project: identity.project,
    labels: { ...identity.labels },
    pid: identity.pid,
    ips: [...identity.ips],
    ports: identity.ports.map((p) => ({ container_port: p.container_port, protocol: p.protocol, host_ip: p.host_ip || null, host_port: p.host_port })),
    gateways: [...identity.gateways],
    state: identity.state,
  };
}

/** States in which a container has a process that runs (or can run again without a start: paused). */
const LIVE_STATES: ReadonlySet<ContainerState> = new Set(["running", "paused", "restarting"]);

/** The identity of a container its engine no longer knows: its last one, without a process, state `removed`. */
export function removedIdentity(last: ContainerIdentity): ContainerIdentity {
  return { ...last, pid: null, state: "removed" };
}

/**
 * Which event a container not in the engine's listing gets, from what inspecting it answered: none (null) when
 * the engine lost it, so it was removed (destroy); a live state (a start raced the listing): snapshot; any other
 * state (exited, created, dead…): die. Source: Docker's and Podman's list answer running and paused containers
 * only (GET /containers/json without all=true), containerd's adapter lists running and paused tasks only.
 */
export function vanishedEvent(inspected: ContainerIdentity | null): ContainerEvent {
  if (!inspected) return "destroy";
  return LIVE_STATES.has(inspected.state) ? "snapshot" : "die";
}

/**
 * The event a fact is published with. A `snapshot` (a re-inspection after a change event, a resync) that finds a
 * container last published live no longer so is its death, whatever told us: a `die`, so a consumer that looks for
 * deaths sees one even when the engine's own die event was missed or could not be published.
 */
export function factEvent(previous: ContainerIdentity | undefined, next: ContainerIdentity, event: ContainerEvent): ContainerEvent {
  if (event === "snapshot" && previous && LIVE_STATES.has(previous.state) && !LIVE_STATES.has(next.state)) return "die";
  return event;
}

/** What a resync must do: publish `listed` identities that changed, and look again at `missing` containers. */
export interface ResyncPlan {
  /** Listed, and different from what was last published for them (new ones included), in listing order. */
  readonly changed: readonly ContainerIdentity[];
  /** Last published as not removed, yet absent from the listing: each must be inspected (see vanishedEvent). */
  readonly missing: readonly ContainerIdentity[];
}

/**
 * Remembers what was published per container, so a resync publishes only what changed and notices the
 * containers that disappeared from the engine's listing (stopped or removed while no event said so: an event
 * stream that was down, or an engine whose event names were not understood).
 */
export class ContainerLedger {
  readonly #published = new Map<string, { json: string; identity: ContainerIdentity }>();

  /** True when this identity differs from the last one published for its container (and records it). */
  changed(identity: ContainerIdentity): boolean {
    const json = JSON.stringify(identity);
    if (this.#published.get(identity.container_id)?.json === json) return false;
    this.#published.set(identity.container_id, { json, identity });
    return true;
  }

  /** The last identity published for a container, if any. */
  last(containerId: string): ContainerIdentity | undefined {
    return this.#published.get(containerId)?.identity;
  }

  forget(containerId: string): void {
    this.#published.delete(containerId);
  }

  /**
   * Compares a full listing with what was published. Pure: records nothing (publish through changed()).
   * A container last published as exited stays `missing` while it is unlisted, so a later removal is seen;
   * one published as removed is not (it was forgotten, see forget()).
   */
  plan(listed: readonly ContainerIdentity[]): ResyncPlan {
    const seen = new Set(listed.map((c) => c.container_id));
    const changed = listed.filter((c) => this.#published.get(c.container_id)?.json !== JSON.stringify(c));
    const missing = [...this.#published.values()]
      .map((p) => p.identity)
      .filter((c) => !seen.has(c.container_id) && c.state !== "removed")
      .sort((a, b) => (a.container_id < b.container_id ? -1 : a.container_id > b.container_id ? 1 : 0));
    return { changed, missing };
  }
}
