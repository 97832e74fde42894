// The compose reader the compose e2e starts its containers from: interpolation and override merging as the
// Compose Specification says, the real deploy/compose.yaml read into what the stack applies, and every key it
// would not apply refused (so the deployed file cannot drift from what the test runs).
import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { ComposeFileError, composeServices, interpolate, parseComposeText, startWaves } from "./compose-file.ts";
import type { ServiceSpec } from "./compose-file.ts";

const ROOT = resolve(import.meta.dirname, "../../..");
const DEPLOY = join(ROOT, "deploy");
const read = (f: string) => readFileSync(join(ROOT, f), "utf8");
const services = (texts: string[], env: Record<string, string> = {}) => composeServices(texts.map((t) => parseComposeText(t, env)), "/proj");
const byName = (specs: ServiceSpec[], name: string) => specs.find((s) => s.name === name)!;

describe("interpolate", () => {
  const env = { SET: "v", EMPTY: "" };
  it.each([
    ["${SET}", "v"],
    ["${UNSET}", ""],
    ["$SET/x", "v/x"],
    ["${SET:-d}", "v"],
    ["${EMPTY:-d}", "d"],
    ["${UNSET:-d}", "d"],
    ["${EMPTY-d}", ""],
    ["${UNSET-d}", "d"],
    ["${UNSET:-${SET}x}", "vx"],
    ["$$SET", "$SET"],
    ["a$${SET}b", "a${SET}b"],
    ["${UNSET:-./output}:/output", "./output:/output"],
    ["${UNSET:-${UNSET2:-deep}}", "deep"],
    ["costs $ 5", "costs $ 5"],
  ])("%s → %s", (text, expected) => {
    expect(interpolate(text, env)).toBe(expected);
  });

  it("throws for a required variable that is missing, with its message", () => {
    expect(() => interpolate("${UNSET:?set it}", env)).toThrow(/UNSET is required: set it/);
    expect(() => interpolate("${EMPTY:?x}", env)).toThrow(ComposeFileError);
    expect(interpolate("${EMPTY?x}", env)).toBe("");
  });

  it("refuses what is not a variable reference rather than passing it on", () => {
    expect(() => interpolate("${SET", env)).toThrow(/unterminated/);
    expect(() => interpolate("${A B}", env)).toThrow(/invalid interpolation/);
  });
});

describe("deploy/compose.yaml with the offline override", () => {
  const env = { INFRA_IMAGE: "infra:1", ADI_IMAGE: "adi:t", CLASSIFIER_REPLICAS: "3", ADI_OUTPUT_DIR: "/out", LOG_LEVEL: "debug" };
  const specs = services([read("deploy/compose.yaml"), read("test/support/compose/offline.yaml")], env);

  it("has every service, each of its replicas counted from the variables", () => {
    expect(specs.map((s) => [s.name, s.replicas])).toEqual([
      ["nats", 1], ["capture", 1], ["classifier", 3], ["mapper", 1], ["enricher", 1],
      ["http-service", 1], ["request-logger", 1], ["traffic-generator", 1], ["postgres", 1], ["redis", 1],
    ]);
  });

  it("gives capture the host's pid namespace, its capabilities and the host's kernel files, read-only where marked", () => {
    const capture = byName(specs, "capture");
    expect(capture).toMatchObject({ image: "adi:t", command: ["capture"], pid: "host", restart: "unless-stopped", dependsOn: ["nats"] });
    expect(capture.capAdd).toEqual(["SYS_ADMIN", "SYS_PTRACE", "DAC_READ_SEARCH", "SETPCAP"]);
    expect(capture.capDrop).toEqual(["ALL"]);
    expect(capture.securityOpt).toEqual(["seccomp=unconfined", "apparmor=unconfined", "no-new-privileges:true"]);
    expect(capture).toMatchObject({ user: undefined, groupAdd: [], readOnly: false });
    expect(capture.volumes).toEqual([
      { source: "/sys/kernel/btf", target: "/sys/kernel/btf", readOnly: true, named: false },
      { source: "/sys/kernel/tracing", target: "/sys/kernel/tracing", readOnly: false, named: false },
      { source: "/sys/fs/cgroup", target: "/sys/fs/cgroup", readOnly: true, named: false },
    ]);
    expect(capture.environment).toMatchObject({ NATS_URL: "nats://nats:4222", LOG_LEVEL: "debug", ADI_PARTITIONS: "8" });
  });

  it("runs the consumers as ADI_UID:ADI_GID from two merged anchors (YAML merge key list), the enricher in DOCKER_GID", () => {
    const withIds = services([read("deploy/compose.yaml")], { ADI_UID: "1000", ADI_GID: "1001", DOCKER_GID: "998" });
    expect(byName(withIds, "mapper")).toMatchObject({ user: "1000:1001", readOnly: true, capDrop: ["ALL"], securityOpt: ["no-new-privileges:true"], command: ["map"] });
    expect(byName(withIds, "enricher").groupAdd).toEqual(["998"]);
  });

  it("merges the enricher's environment over the shared one (YAML merge key) and mounts the output directory", () => {
    const enricher = byName(specs, "enricher");
    expect(enricher.environment).toMatchObject({ DOCKER_HOST: "unix:///var/run/docker.sock", NATS_URL: "nats://nats:4222", ENV_OUTPUT_PATH: "/output/ebpf_http_env.yaml" });
    expect(enricher.volumes.map((v) => `${v.source}:${v.target}`)).toEqual(["/out:/output", "/var/run/docker.sock:/var/run/docker.sock"]);
  });

  it("takes the override's image, entrypoint and command for the infrastructure, and keeps the base's volume", () => {
    expect(byName(specs, "nats")).toMatchObject({ image: "infra:1", entrypoint: ["nats-server"], command: ["-js", "-sd", "/data", "-p", "4222"] });
    expect(byName(specs, "nats").volumes).toEqual([{ source: "nats-data", target: "/data", readOnly: false, named: true }]);
    expect(byName(specs, "redis").entrypoint).toEqual(["redis-server"]);
    expect(byName(specs, "postgres").entrypoint).toEqual(["bash", "-c"]);
    expect(byName(specs, "postgres").command).toHaveLength(1); // the folded script is one argument of bash -c
  });

  it("starts dependencies first, in waves", () => {
    expect(startWaves(specs).map((w) => w.map((s) => s.name))).toEqual([
      ["nats", "postgres", "redis"],
      ["capture", "classifier", "mapper", "enricher", "http-service", "request-logger"],
      ["traffic-generator"],
    ]);
  });

  it("resolves a relative bind mount against the project directory, as compose does", () => {
    const mapper = byName(services([read("deploy/compose.yaml")], {}), "mapper");
    expect(mapper.volumes[0]).toMatchObject({ source: "/proj/output", target: "/output" });
    expect(mapper.image).toBe("adi:local");
    expect(composeServices([parseComposeText(read("deploy/compose.yaml"), {})], DEPLOY).find((s) => s.name === "mapper")!.volumes[0]!.source).toBe(join(DEPLOY, "output"));
  });
});

describe("merging an override", () => {
  const base = `
services:
  a:
    image: one
    command: ["x", "y"]
    environment: { K1: "1", K2: "2" }
    cap_add: [NET_ADMIN]
    volumes: ["/h1:/c1", "/h2:/c2:ro"]
    depends_on: [b]
  b:
    image: two
`;
  const over = `
services:
  a:
    command: z
    environment: ["K2=two", "K3=3"]
    cap_add: [NET_ADMIN, SYS_ADMIN]
    volumes: ["/other:/c2"]
`;
  const a = byName(services([base, over]), "a");

  it("replaces scalars and commands, merges maps by key, unions lists, merges mounts by target", () => {
    expect(a).toMatchObject({ image: "one", command: ["z"], environment: { K1: "1", K2: "two", K3: "3" }, capAdd: ["NET_ADMIN", "SYS_ADMIN"], dependsOn: ["b"] });
    expect(a.volumes).toEqual([
      { source: "/h1", target: "/c1", readOnly: false, named: false },
      { source: "/other", target: "/c2", readOnly: false, named: false },
    ]);
  });
});

describe("ports", () => {
  it("reads the short syntax: a port Docker picks, a fixed host port, a host address, udp", () => {
    const [a] = services(["services:\n  a:\n    image: x\n    ports: ['4222', '8080:80', '127.0.0.1:5353:53/udp']\n"]);
    expect(a!.ports).toEqual([
      { containerPort: 4222, protocol: "tcp" },
      { containerPort: 80, protocol: "tcp", hostPort: 8080 },
      { containerPort: 53, protocol: "udp", hostPort: 5353, hostIp: "127.0.0.1" },
    ]);
  });

  it("has the offline override publish NATS's client port for the test to watch the streams", () => {
    const specs = services([read("deploy/compose.yaml"), read("test/support/compose/offline.yaml")], { INFRA_IMAGE: "i" });
    expect(byName(specs, "nats").ports).toEqual([{ containerPort: 4222, protocol: "tcp" }]);
    expect(specs.filter((s) => s.ports.length > 0).map((s) => s.name)).toEqual(["nats"]);
  });
});

describe("what the stack would not apply is refused", () => {
  it.each([
    ["a service key it does not apply", "services:\n  a:\n    image: x\n    expose: ['80']\n", /service a: expose: key not supported/],
    ["a port range", "services:\n  a:\n    image: x\n    ports: ['8000-8001:80']\n", /"8000-8001:80" is not/],
    ["a healthcheck", "services:\n  a:\n    image: x\n    healthcheck: { test: ['CMD', 'true'] }\n", /healthcheck/],
    ["a deploy key other than replicas", "services:\n  a:\n    image: x\n    deploy: { resources: {} }\n", /deploy\.resources: not supported/],
    ["a replica count that is not one", "services:\n  a:\n    image: x\n    deploy: { replicas: two }\n", /two is not a count/],
    ["a service without an image", "services:\n  a:\n    command: [x]\n", /image: missing/],
    ["an undeclared named volume", "services:\n  a:\n    image: x\n    volumes: ['data:/d']\n", /named volume "data" is not declared/],
    ["a dependency that is not a service", "services:\n  a:\n    image: x\n    depends_on: [nope]\n", /depends_on "nope" is not a service/],
    ["top-level networks", "services: {}\nnetworks: { n: {} }\n", /top-level key "networks"/],
  ])("%s", (_what, text, error) => {
    expect(() => services([text])).toThrow(error);
  });

  it("refuses a dependency cycle", () => {
    const specs = services(["services:\n  a: { image: x, depends_on: [b] }\n  b: { image: x, depends_on: [a] }\n"]);
    expect(() => startWaves(specs)).toThrow(/dependency cycle among a, b/);
  });
});
