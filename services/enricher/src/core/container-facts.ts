// Container identities as facts: what is published, and when a change is worth publishing.
import type { ContainerFact } from "@adi/shared/wire/facts";
import type { ContainerIdentity } from "./identity.ts";

export type ContainerEvent = ContainerFact["event"];

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
    state: identity.state,
  };
}

/** Remembers what was published per container, so a resync publishes only what changed. */
export class ContainerLedger {
  readonly #published = new Map<string, string>();

  /** True when this identity differs from the last one published for its container (and records it). */
  changed(identity: ContainerIdentity): boolean {
    const json = JSON.stringify(identity);
    if (this.#published.get(identity.container_id) === json) return false;
    this.#published.set(identity.container_id, json);
    return true;
  }

  forget(containerId: string): void {
    this.#published.delete(containerId);
  }
}
