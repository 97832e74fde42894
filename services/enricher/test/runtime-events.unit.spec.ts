// The engines' event names → the enricher's actions, fed with event lines recorded from the real engines:
// Podman 4.3.1 (Debian 12's package, `podman system service`, a busybox container started, stopped with
// `podman stop -t 1` and removed) on its Docker-compatible GET /v1.41/events and its own GET /v4.0.0/libpod/events,
// and Docker Engine 20.10.24's GET /events (run, exec, pause, unpause, stop, rm). Podman's event names are libpod/events/config.go's Status constants
// (containers/podman v4.3.1: Exited = "died", Remove = "remove").
import { describe, expect, it } from "vitest";
import { dockerEvent, RUNTIME_EVENT_TABLE, runtimeAction, runtimeEventNames } from "../src/core/runtime-events.ts";
import type { DockerEventMessage } from "../src/core/runtime-events.ts";

const PODMAN_ID = "3b95ad5f93c552d30388b4e5ffe41158aa5744a3e4e49703e6215e157b3cf87e";
const line = (status: string, id = PODMAN_ID, type = "container"): string =>
  `{"status":"${status}","id":"${id}","from":"localhost/adi-test/busybox:1","Type":"${type}","Action":"${status}",` +
  `"Actor":{"ID":"${id}","Attributes":{"containerExitCode":"137","image":"localhost/adi-test/busybox:1","name":"d2pod3","podId":""}},` +
  `"scope":"local","time":1796065787,"timeNano":1796065787229921275}`;

/** Podman 4.3.1's libpod stream for run -d, stop, rm, in order (as recorded; ids and names as they were). */
const PODMAN_LIBPOD = ["create", "init", "start", "died", "cleanup", "cleanup", "remove"].map((s) => line(s));
/** The same lifecycle on Podman's compat endpoint: `die` translated, `remove` not (Docker would say `destroy`). */
const PODMAN_COMPAT = ["create", "init", "start", "die", "cleanup", "cleanup", "remove"].map((s) => line(s));
/**
 * Docker 20.10.24's GET /events for run -d, exec, pause, unpause, stop -t 1, rm (recorded; of Actor.Attributes only
 * the network events' `container` kept).
 * Built as a function of the id so the lines stay readable.
 */
const DOCKER_ID = "8c7e002aace84a81b6162d37e130a73dc7b55e99eca48a6d8a3e1fe04f28e3fc";
const NETWORK_ID = "94c02e05236af29f4ba6d2c245470d2df1880d1b87d3ccad69510e132fc42bcb";
const docker = (action: string) => ({ status: action, id: DOCKER_ID, Type: "container", Action: action, Actor: { ID: DOCKER_ID } });
const DOCKER: DockerEventMessage[] = [
  docker("create"),
  { Type: "network", Action: "connect", Actor: { ID: NETWORK_ID, Attributes: { container: DOCKER_ID, name: "bridge", type: "bridge" } } },
  docker("start"),
  docker("exec_create: true "),
  docker("exec_start: true "),
  docker("pause"),
  docker("unpause"),
  docker("kill"),
  docker("kill"),
  docker("die"),
  { Type: "network", Action: "disconnect", Actor: { ID: NETWORK_ID, Attributes: { container: DOCKER_ID, name: "bridge", type: "bridge" } } },
  docker("stop"),
  docker("destroy"),
];

const actions = (engine: "docker" | "podman", messages: readonly DockerEventMessage[]) =>
  messages.map((m) => dockerEvent(engine, m)).filter((e) => e !== null);

describe("runtime event table", () => {
  it("reads Podman's libpod stream as start, die, destroy", () => {
    const events = actions("podman", PODMAN_LIBPOD.map((l) => JSON.parse(l) as DockerEventMessage));
    expect(events).toEqual([
      { action: "start", id: PODMAN_ID },
      { action: "die", id: PODMAN_ID },
      { action: "destroy", id: PODMAN_ID },
    ]);
  });

  it("reads Podman's compat stream the same way (die, and remove for destroy)", () => {
    expect(actions("podman", PODMAN_COMPAT.map((l) => JSON.parse(l) as DockerEventMessage)).map((e) => e.action)).toEqual(["start", "die", "destroy"]);
  });

  it("reads Docker's stream as start, die, destroy, and a change for network (dis)connect, pause, unpause", () => {
    expect(actions("docker", DOCKER)).toEqual([
      { action: "change", id: DOCKER_ID }, // network connect, before start: about the container, not the network
      { action: "start", id: DOCKER_ID },
      { action: "change", id: DOCKER_ID },
      { action: "change", id: DOCKER_ID },
      { action: "die", id: DOCKER_ID },
      { action: "change", id: DOCKER_ID }, // network disconnect
      { action: "destroy", id: DOCKER_ID },
    ]);
    expect(dockerEvent("docker", docker("health_status: healthy"))).toBeNull();
    expect(dockerEvent("docker", docker("rename"))).toEqual({ action: "change", id: DOCKER_ID });
    // A network's own life (create, destroy) names no container.
    expect(dockerEvent("docker", { Type: "network", Action: "create", Actor: { ID: NETWORK_ID, Attributes: { name: "d2net", type: "bridge" } } })).toBeNull();
    expect(dockerEvent("docker", { Type: "network", Action: "destroy", Actor: { ID: NETWORK_ID, Attributes: { name: "d2net" } } })).toBeNull();
  });

  it("keeps each engine's names to itself: Podman's `died`/`remove` mean nothing from Docker", () => {
    expect(runtimeAction("docker", "died")).toBeNull();
    expect(runtimeAction("docker", "remove")).toBeNull();
    expect(runtimeAction("podman", "died")).toBe("die");
    expect(runtimeAction("podman", "remove")).toBe("destroy");
    expect(runtimeAction("containerd", "die")).toBeNull();
    expect(runtimeAction("containerd", "/tasks/exit")).toBe("die");
    expect(runtimeAction("containerd", "/containers/delete")).toBe("destroy");
  });

  it("maps pause and unpause to a re-inspection, on every engine", () => {
    for (const engine of ["docker", "podman"] as const) {
      expect(runtimeAction(engine, "pause")).toBe("change");
      expect(runtimeAction(engine, "unpause")).toBe("change");
    }
    expect(runtimeAction("containerd", "/tasks/paused")).toBe("change");
    expect(runtimeAction("containerd", "/tasks/resumed")).toBe("change");
  });

  it("is not fooled by names that are object keys in JavaScript, empty names or other types", () => {
    expect(runtimeAction("docker", "constructor")).toBeNull();
    expect(runtimeAction("podman", "__proto__")).toBeNull();
    expect(runtimeAction("docker", "toString")).toBeNull();
    expect(runtimeAction("docker", "")).toBeNull();
    expect(runtimeAction("docker", undefined)).toBeNull();
    expect(dockerEvent("podman", { Type: "image", Action: "remove", Actor: { ID: "sha" } })).toBeNull();
    expect(dockerEvent("docker", { Type: "container", Action: "start" })).toBeNull(); // no id: nothing to inspect
  });

  it("reads a pre-1.22 event without Type or Action by its status and id", () => {
    expect(dockerEvent("docker", { status: "die", id: DOCKER_ID })).toEqual({ action: "die", id: DOCKER_ID });
  });

  it("gives containerd's subscription every topic it acts on, and every engine a start, a die and a destroy", () => {
    expect(runtimeEventNames("containerd").sort()).toEqual(["/containers/delete", "/tasks/exit", "/tasks/paused", "/tasks/resumed", "/tasks/start"]);
    for (const table of Object.values(RUNTIME_EVENT_TABLE)) {
      expect(new Set(Object.values(table))).toEqual(new Set(["start", "die", "destroy", "change"]));
    }
  });
});
