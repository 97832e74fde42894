import { hostname } from "node:os";
import { join, relative } from "node:path";
import { describe, expect, it } from "vitest";
import { CONFIG_VARIABLES, loadConfig, outputPathCollision } from "../src/config.ts";
import { AdiError } from "../src/errors.ts";

function configError(env: NodeJS.ProcessEnv): AdiError {
  try {
    loadConfig(env);
  } catch (err) {
    if (err instanceof AdiError) return err;
    throw err;
  }
  throw new Error(`loadConfig(${JSON.stringify(env)}) did not throw`);
}

describe("loadConfig defaults", () => {
  const config = loadConfig({});

  it("keeps the Go tool's defaults", () => {
    expect(config.outputPath).toBe("/var/log/ebpf_http_profiler.log");
    expect(config.envOutputPath).toBe("/var/log/ebpf_http_env.yaml");
    expect(config.serviceMapPath).toBeUndefined();
    expect(config.envPrefixList).toBeUndefined();
    expect(config.profileAllowed).toBeUndefined();
    expect(config.containerdSocket).toBeUndefined();
    expect(config.containerdNamespace).toBeUndefined(); // all of default, moby and k8s.io
    expect(config.dockerSocket).toBeUndefined();
    expect(config.envRedact).toBe(true);
    expect(config.envOutputAll).toBe(false); // the Go tool's meaning: only processes that made network calls
  });

  it("has ours", () => {
    expect(config).toMatchObject({
      natsUrl: undefined,
      natsServers: undefined,
      dataDir: "/var/lib/adi",
      natsPort: 4223,
      payloadLimit: 65536,
      ringbufBytes: 8388608,
      captureHooks: "auto",
      captureRedact: "auto",
      partitions: 16,
      streamMaxAgeMs: 24 * 3600 * 1000,
      streamMaxBytes: -1,
      streamReplicas: 1,
      publishBufferBytes: 268435456,
      publishMaxInflight: 64,
      redactOff: [],
      redactNames: [],
      redactPatterns: [],
      batchMaxBytes: 262144,
      flushIntervalMs: 50,
      startTimeoutMs: 60_000,
      logLevel: "info",
    });
  });

  it("derives the host from the machine's host name, made subject-safe", () => {
    expect(config.host).toBe(hostname().replace(/[^A-Za-z0-9_-]/g, "_"));
    expect(config.host).toMatch(/^[A-Za-z0-9_-]+$/);
  });

  it("is frozen, lists included", () => {
    expect(Object.isFrozen(config)).toBe(true);
    const withList = loadConfig({ ENV_PREFIX_LIST: "A_,B_" });
    expect(Object.isFrozen(withList.envPrefixList)).toBe(true);
    expect(() => (withList.envPrefixList as string[]).push("C_")).toThrow(TypeError);
  });
});

describe("listen addresses (ADI_VIEW_ADDR, ADI_METRICS_ADDR)", () => {
  it("defaults the view to 127.0.0.1:8090 and leaves metrics unset (the command decides)", () => {
    const cfg = loadConfig({});
    expect(cfg.viewAddr).toEqual({ host: "127.0.0.1", port: 8090 });
    expect(cfg.metricsAddr).toBeUndefined();
  });

  it("reads off as null", () => {
    const cfg = loadConfig({ ADI_VIEW_ADDR: "OFF", ADI_METRICS_ADDR: " off " });
    expect(cfg.viewAddr).toBeNull();
    expect(cfg.metricsAddr).toBeNull();
  });

  it.each(["8090", "127.0.0.1", "127.0.0.1:65536", "http://127.0.0.1:80", "::1:80", "[::1]", "a b:80"])("refuses %j with the variable's name", (value) => {
    expect(() => loadConfig({ ADI_VIEW_ADDR: value })).toThrow(/ADI_VIEW_ADDR.*expected off, or host:port/);
  });
});

describe("loadConfig values", () => {
  it("reads every variable", () => {
    const config = loadConfig({
      OUTPUT_PATH: "/tmp/out.log",
      ENV_OUTPUT_PATH: "/tmp/env.yaml",
      SERVICE_MAP_PATH: "/tmp/map.yaml",
      ENV_PREFIX_LIST: "REVIEWS_, RATINGS_,,MONGO_",
      ADI_PROFILE_ALLOWED: "local,dev",
      CONTAINERD_SOCKET: "/run/containerd/containerd.sock",
      CONTAINERD_NAMESPACE: "k8s.io",
      DOCKER_HOST: "unix:///run/podman/podman.sock",
      ENV_REDACT: "0",
      ENV_OUTPUT_ALL: "1",
      NATS_URL: "nats://a:4222, nats://b:4222",
      ADI_DATA_DIR: "/srv/adi",
      ADI_NATS_PORT: "14222",
      ADI_HOST: "node-1",
      ADI_PAYLOAD_LIMIT: "16",
      ADI_RINGBUF_BYTES: "64MiB",
      ADI_CAPTURE_HOOKS: "Syscall",
      ADI_CAPTURE_REDACT: " On ",
      ADI_PARTITIONS: "1024",
      ADI_STREAM_MAX_AGE: "7d",
      ADI_STREAM_MAX_BYTES: "10GiB",
      ADI_STREAM_REPLICAS: "3",
      ADI_PUBLISH_BUFFER_BYTES: "512MiB",
      ADI_PUBLISH_MAX_INFLIGHT: "4096",
      ADI_BATCH_MAX_BYTES: "1MiB",
      ADI_FLUSH_INTERVAL_MS: "10000",
      ADI_START_TIMEOUT: "2m",
      ADI_CLASSIFIER_REWIND_MAX: "90m",
      LOG_LEVEL: "DEBUG",
      LOG_FORMAT: " Pretty ",
      ADI_VIEW_ADDR: "[::1]:0",
      ADI_METRICS_ADDR: "0.0.0.0:9464",
    });
    expect(config).toEqual({
      outputPath: "/tmp/out.log",
      envOutputPath: "/tmp/env.yaml",
      serviceMapPath: "/tmp/map.yaml",
      envPrefixList: ["REVIEWS_", "RATINGS_", "MONGO_"],
      profileAllowed: ["local", "dev"],
      containerdSocket: "/run/containerd/containerd.sock",
      containerdNamespace: "k8s.io",
      dockerSocket: "/run/podman/podman.sock",
      envRedact: false,
      envOutputAll: true,
      natsUrl: "nats://a:4222,nats://b:4222",
      natsServers: ["nats://a:4222", "nats://b:4222"],
      natsAuth: { creds: undefined, nkey: undefined, user: undefined, password: undefined, token: undefined, ca: undefined, cert: undefined, key: undefined },
      dataDir: "/srv/adi",
      natsPort: 14222,
      host: "node-1",
      payloadLimit: 16,
      ringbufBytes: 64 * 1024 * 1024,
      captureHooks: "syscall",
      captureRedact: "on",
      partitions: 1024,
      streamMaxAgeMs: 7 * 86_400_000,
      streamMaxBytes: 10 * 1024 ** 3,
      streamReplicas: 3,
      publishBufferBytes: 512 * 1024 * 1024,
      publishMaxInflight: 4096,
      redactOff: [],
      redactNames: [],
      redactPatterns: [],
      batchMaxBytes: 1024 * 1024,
      flushIntervalMs: 10000,
      startTimeoutMs: 120_000,
      classifierRewindMaxMs: 5_400_000,
      logLevel: "debug",
      viewAddr: { host: "::1", port: 0 },
      metricsAddr: { host: "0.0.0.0", port: 9464 },
      logFormat: "pretty",
    });
  });

  it("treats empty strings as unset", () => {
    const empty = Object.fromEntries(CONFIG_VARIABLES.map(({ name }) => [name, ""]));
    expect({ ...loadConfig(empty), host: "" }).toEqual({ ...loadConfig({}), host: "" });
  });

  it("ignores unknown ADI_* variables", () => {
    expect(loadConfig({ ADI_PROFILE: "dev", ADI_SOMETHING_ELSE: "x", ADI_PROFILE_DISABLED: "1" })).toEqual(loadConfig({}));
  });

  it.each([
    ["true", true],
    ["TRUE", true],
    ["1", true],
    ["false", false],
    ["False", false],
    ["0", false],
  ])("reads ENV_REDACT=%s as %s", (value, expected) => {
    expect(loadConfig({ ENV_REDACT: value }).envRedact).toBe(expected);
  });

  it("accepts bare host:port NATS servers", () => {
    expect(loadConfig({ NATS_URL: "127.0.0.1:4222" }).natsServers).toEqual(["127.0.0.1:4222"]);
  });
});

describe("loadConfig errors", () => {
  it("names the variable, its value and what was expected, on one line", () => {
    const err = configError({ ADI_PAYLOAD_LIMIT: "abc" });
    expect(err.code).toBe("ADI_ERR_CONFIG");
    expect(err.exitCode).toBe(2);
    expect(err.message).toBe('ADI_PAYLOAD_LIMIT="abc": expected an integer between 16 and 1048576');
  });

  it.each([
    ["ADI_PAYLOAD_LIMIT", "15"],
    ["ADI_PAYLOAD_LIMIT", "1048577"],
    ["ADI_PAYLOAD_LIMIT", "1.5"],
    ["ADI_PAYLOAD_LIMIT", "64KiB"],
    ["ADI_RINGBUF_BYTES", "5000"],
    ["ADI_RINGBUF_BYTES", "2048"],
    ["ADI_RINGBUF_BYTES", "2GiB"],
    ["ADI_CAPTURE_HOOKS", "kprobe"],
    ["ADI_CAPTURE_REDACT", "yes"],
    ["ADI_PARTITIONS", "0"],
    ["ADI_PARTITIONS", "1025"],
    ["ADI_STREAM_MAX_AGE", "24"],
    ["ADI_STREAM_MAX_AGE", "1 day"],
    ["ADI_STREAM_MAX_AGE", "500ms"],
    ["ADI_STREAM_MAX_BYTES", "0"],
    ["ADI_STREAM_MAX_BYTES", "-2"],
    ["ADI_STREAM_MAX_BYTES", "10XB"],
    ["ADI_STREAM_REPLICAS", "6"],
    ["ADI_PUBLISH_MAX_INFLIGHT", "0"],
    ["ADI_BATCH_MAX_BYTES", "1024"],
    ["ADI_FLUSH_INTERVAL_MS", "10001"],
    ["ADI_NATS_PORT", "65536"],
    ["ADI_HOST", "my.host"],
    ["ENV_REDACT", "yes"],
    ["ENV_OUTPUT_ALL", "all"],
    ["LOG_LEVEL", "verbose"],
    ["LOG_FORMAT", "yaml"],
    ["NATS_URL", "http://example.com"],
    ["NATS_URL", "nats://a:4222,"],
    ["NATS_URL", "ws://127.0.0.1:8080"],
    ["ENV_PREFIX_LIST", " , "],
    ["CONTAINERD_NAMESPACE", "-bad"],
    ["DOCKER_HOST", "tcp://10.0.0.1:2375"],
    ["OUTPUT_PATH", "   "],
  ])("rejects %s=%s", (name, value) => {
    const err = configError({ [name]: value });
    expect(err.message.startsWith(`${name}=${JSON.stringify(value)}: `)).toBe(true);
    expect(err.message).not.toMatch(/\n/);
  });

  it("quotes control characters instead of printing them", () => {
    expect(configError({ ADI_PARTITIONS: "1\n2" }).message).toBe(
      'ADI_PARTITIONS="1\\n2": expected an integer between 1 and 1024',
    );
  });

  it("hides a password in NATS_URL", () => {
    const err = configError({ NATS_URL: "http://admin:hunter2@nats:4222" });
    expect(err.message).not.toContain("hunter2");
    expect(err.message).toContain("admin:***@nats");
  });

  it.each([
    ["a '/' not percent-encoded", "nats://alice:hun/ter2SECRET5@127.0.0.1:4405", '"nats://alice:***@127.0.0.1:4405"'],
    ["no scheme", "bob:pwSECRET5@127.0.0.1:4405", '"bob:***@127.0.0.1:4405"'],
    ["a token with a '#'", "nats://tok#SECRET5@127.0.0.1:4405,nats://b:4222", '"nats://***@127.0.0.1:4405,nats://b:4222"'],
  ])("masks a refused NATS_URL's userinfo whole: %s", (_what, url, shown) => {
    const err = configError({ NATS_URL: url });
    expect(err.message).not.toContain("SECRET5");
    expect(err.message.startsWith(`NATS_URL=${shown}: `)).toBe(true);
  });

  it("rejects a batch larger than the publish buffer", () => {
    expect(configError({ ADI_BATCH_MAX_BYTES: "4MiB", ADI_PUBLISH_BUFFER_BYTES: "2MiB" }).message).toBe(
      'ADI_BATCH_MAX_BYTES="4MiB": must not exceed ADI_PUBLISH_BUFFER_BYTES (2097152 bytes)',
    );
  });
});

describe("output paths naming the same file", () => {
  const D = "/nonexistent-adi-test-dir";
  it("OUTPUT_PATH=SERVICE_MAP_PATH: ADI_ERR_OUTPUT_PATH, exit 2, one line naming both", () => {
    const err = configError({ OUTPUT_PATH: "/x/out.txt", SERVICE_MAP_PATH: "/x/out.txt" });
    expect(err.code).toBe("ADI_ERR_OUTPUT_PATH");
    expect(err.exitCode).toBe(2);
    expect(err.message).toBe(
      'OUTPUT_PATH="/x/out.txt" and SERVICE_MAP_PATH="/x/out.txt" name the same file /x/out.txt: each output needs a file of its own',
    );
  });

  it.each([
    [{ OUTPUT_PATH: `${D}/a.log`, ENV_OUTPUT_PATH: `${D}/a.log` }, "OUTPUT_PATH", "ENV_OUTPUT_PATH"],
    [{ SERVICE_MAP_PATH: `${D}/m.yaml`, ENV_OUTPUT_PATH: `${D}//sub/../m.yaml` }, "SERVICE_MAP_PATH", "ENV_OUTPUT_PATH"],
    [{ OUTPUT_PATH: `${D}/./x`, SERVICE_MAP_PATH: `${D}/x/`, ENV_OUTPUT_PATH: `${D}/y` }, "OUTPUT_PATH", "SERVICE_MAP_PATH"],
    // a default and a setting: ENV_OUTPUT_PATH's default named again by OUTPUT_PATH
    [{ OUTPUT_PATH: "/var/log/ebpf_http_env.yaml" }, "OUTPUT_PATH", "ENV_OUTPUT_PATH"],
    // relative and absolute (resolved against the working directory)
    [{ OUTPUT_PATH: join(process.cwd(), "out.log"), SERVICE_MAP_PATH: relative(process.cwd(), join(process.cwd(), "out.log")) }, "OUTPUT_PATH", "SERVICE_MAP_PATH"],
  ] as const)("refuses %j", (env, first, second) => {
    const err = configError(env);
    expect(err.code).toBe("ADI_ERR_OUTPUT_PATH");
    expect(err.message).toMatch(new RegExp(`^${first}=".*" and ${second}=".*" name the same file `));
    expect(err.message).not.toMatch(/\n/);
  });

  it("accepts distinct files, the same name in different directories, and an unset service map", () => {
    expect(() => loadConfig({ OUTPUT_PATH: `${D}/a/out.txt`, SERVICE_MAP_PATH: `${D}/b/out.txt`, ENV_OUTPUT_PATH: `${D}/a/env.yaml` })).not.toThrow();
    expect(() => loadConfig({ OUTPUT_PATH: `${D}/out.txt` })).not.toThrow();
    expect(outputPathCollision([["OUTPUT_PATH", `${D}/a`], ["SERVICE_MAP_PATH", undefined], ["ENV_OUTPUT_PATH", `${D}/b`]])).toBeNull();
  });
});

describe("CONFIG_VARIABLES", () => {
  it("documents every variable once, with a description", () => {
    const names = CONFIG_VARIABLES.map((v) => v.name);
    expect(new Set(names).size).toBe(names.length);
    expect(names).toEqual(
      expect.arrayContaining([
        "OUTPUT_PATH",
        "ENV_OUTPUT_PATH",
        "SERVICE_MAP_PATH",
        "ENV_PREFIX_LIST",
        "ADI_PROFILE_ALLOWED",
        "CONTAINERD_SOCKET",
        "CONTAINERD_NAMESPACE",
        "DOCKER_HOST",
        "ENV_REDACT",
        "NATS_URL",
        "ADI_DATA_DIR",
        "ADI_NATS_PORT",
        "ADI_HOST",
        "ADI_PAYLOAD_LIMIT",
        "ADI_RINGBUF_BYTES",
        "ADI_PARTITIONS",
        "ADI_STREAM_MAX_AGE",
        "ADI_STREAM_MAX_BYTES",
        "ADI_STREAM_REPLICAS",
        "ADI_PUBLISH_BUFFER_BYTES",
        "ADI_PUBLISH_MAX_INFLIGHT",
        "ADI_BATCH_MAX_BYTES",
        "ADI_FLUSH_INTERVAL_MS",
        "LOG_LEVEL",
      ]),
    );
    for (const v of CONFIG_VARIABLES) expect(v.description.length).toBeGreaterThan(10);
  });

  it("documents the defaults loadConfig applies", () => {
    const defaults = loadConfig({});
    for (const v of CONFIG_VARIABLES) {
      if (v.default === null || v.name === "ADI_HOST") continue;
      expect(loadConfig({ [v.name]: v.default }), v.name).toEqual(defaults);
    }
  });

  it("marks unset-by-default variables with null", () => {
    const unset = CONFIG_VARIABLES.filter((v) => v.default === null).map((v) => v.name);
    expect(unset.sort()).toEqual(
      ["ADI_PROFILE_ALLOWED", "ADI_REDACT_OFF", "ADI_REDACT_NAMES", "ADI_REDACT_PATTERNS", "CONTAINERD_NAMESPACE", "CONTAINERD_SOCKET", "DOCKER_HOST", "ENV_PREFIX_LIST", "NATS_URL", "NATS_CREDS", "NATS_NKEY", "NATS_USER", "NATS_PASSWORD", "NATS_TOKEN", "NATS_CA", "NATS_CERT", "NATS_KEY", "SERVICE_MAP_PATH", "ADI_METRICS_ADDR"].sort(),
    );
  });
});
