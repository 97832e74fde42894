// The resync's decisions: what a listing changes, which containers vanished from it, and what each of those
// becomes (exited: die; gone: destroy with state removed), without an engine.
import { describe, expect, it } from "vitest";
import { decodeFact, encodeFact } from "@adi/shared/wire";
import { ContainerLedger, containerFact, factEvent, removedIdentity, vanishedEvent } from "../src/core/container-facts.ts";
import type { ContainerIdentity } from "../src/core/identity.ts";

const BOOT = "393a8351-01d1-4c4f-84ed-e7c686d9ae26";
const AT = { ts: "2026-11-30T19:00:00.000000000Z", host: "h", bootId: BOOT };

function container(id: string, over: Partial<ContainerIdentity> = {}): ContainerIdentity {
  return {
    runtime: "podman", namespace: null, container_id: id, container_name: `c-${id}`, image: "localhost/app:1",
    service: null, project: null, labels: {}, pid: 4000 + id.length, ips: ["10.88.0.5"],
    ports: [{ container_port: 8080, protocol: "tcp", host_ip: "0.0.0.0", host_port: 18080 }],
    gateways: ["10.88.0.1"], state: "running", ...over,
  };
}

describe("ContainerLedger.plan", () => {
  it("publishes new and changed listed containers only", () => {
    const ledger = new ContainerLedger();
    const a = container("a"), b = container("b");
    expect(ledger.plan([a, b]).changed).toEqual([a, b]);
    ledger.changed(a);
    ledger.changed(b);
    const b2 = container("b", { ips: ["10.88.0.9"] });
    expect(ledger.plan([a, b2])).toEqual({ changed: [b2], missing: [] });
  });

  it("reports a running container that is no longer listed as missing (stopped or removed without an event)", () => {
    const ledger = new ContainerLedger();
    for (const c of [container("a"), container("b"), container("c")]) ledger.changed(c);
    expect(ledger.plan([container("b")]).missing.map((c) => c.container_id)).toEqual(["a", "c"]);
  });

  it("keeps an exited container missing until it is removed, and forgets a removed one", () => {
    const ledger = new ContainerLedger();
    const exited = container("a", { state: "exited", pid: null });
    ledger.changed(exited);
    expect(ledger.plan([]).missing).toEqual([exited]);
    ledger.changed(removedIdentity(exited));
    expect(ledger.plan([]).missing).toEqual([]);
    ledger.forget("a");
    expect(ledger.last("a")).toBeUndefined();
  });

  it("does not record anything itself: the same listing plans the same until published", () => {
    const ledger = new ContainerLedger();
    const a = container("a");
    expect(ledger.plan([a]).changed).toEqual([a]);
    expect(ledger.plan([a]).changed).toEqual([a]);
    expect(ledger.changed(a)).toBe(true);
    expect(ledger.changed(a)).toBe(false);
  });
});

describe("vanishedEvent", () => {
  it("is destroy when the engine no longer knows the container", () => {
    expect(vanishedEvent(null)).toBe("destroy");
  });

  it("is die for every state without a process", () => {
    for (const state of ["exited", "created", "dead", "removing", "unknown"] as const) {
      expect(vanishedEvent(container("a", { state, pid: null }))).toBe("die");
    }
  });

  it("is snapshot when it runs again (a start raced the listing)", () => {
    for (const state of ["running", "paused", "restarting"] as const) expect(vanishedEvent(container("a", { state }))).toBe("snapshot");
  });
});

describe("factEvent", () => {
  const running = container("a");
  const exited = container("a", { state: "exited", pid: null });
  it("turns a snapshot that finds a live container stopped into a die", () => {
    expect(factEvent(running, exited, "snapshot")).toBe("die");
    expect(factEvent(container("a", { state: "paused" }), container("a", { state: "dead", pid: null }), "snapshot")).toBe("die");
  });

  it("leaves every other case as it was asked", () => {
    expect(factEvent(undefined, exited, "snapshot")).toBe("snapshot"); // never seen live
    expect(factEvent(exited, container("a", { state: "exited", pid: null, ips: [] }), "snapshot")).toBe("snapshot");
    expect(factEvent(running, container("a", { state: "paused" }), "snapshot")).toBe("snapshot");
    expect(factEvent(exited, running, "start")).toBe("start");
    expect(factEvent(running, exited, "die")).toBe("die");
  });
});

describe("container facts", () => {
  it("carries the gateways and validates against the wire schema", () => {
    const fact = containerFact(container("a"), "snapshot", AT);
    expect(fact.gateways).toEqual(["10.88.0.1"]);
    expect(decodeFact(encodeFact(fact))).toEqual(fact);
  });

  it("marks a removed container with its last identity, no pid, state removed", () => {
    const fact = containerFact(removedIdentity(container("a")), "destroy", AT);
    expect(fact).toMatchObject({ event: "destroy", container_id: "a", pid: null, state: "removed", ips: ["10.88.0.5"], gateways: ["10.88.0.1"] });
    expect(decodeFact(encodeFact(fact))).toEqual(fact);
  });

  it("still reads a container fact of an older enricher, without gateways", () => {
    const { gateways: _, ...old } = containerFact(container("a"), "start", AT);
    const decoded = decodeFact(JSON.stringify(old));
    expect(decoded.type === "container" && decoded.gateways).toBeUndefined();
  });
});
