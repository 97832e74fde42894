// Configuration comes only from environment variables (the Go tool's, kept verbatim, plus ours), is
// validated once at startup and handed around frozen. Every variable is described in SETTINGS, which is
// both the parser and the documentation (CONFIG_VARIABLES), so the README can be checked against it.
import { createPrivateKey, X509Certificate } from "node:crypto";
import type { KeyObject } from "node:crypto";
import { accessSync, constants as fsConstants, readFileSync, realpathSync, statSync } from "node:fs";
import { hostname } from "node:os";
import { basename, dirname, resolve } from "node:path";
import { z } from "zod";
import {
  boolean,
  byteSize,
  captureHooks,
  type CaptureHooks,
  containerdNamespace,
  dockerHost,
  duration,
  integer,
  list,
  LOG_FORMATS,
  logFormat,
  listenAddress,
  type ListenAddress,
  type LogFormatSetting,
  LOG_LEVELS,
  logLevel,
  type LogLevel,
  natsServers,
  parsed,
  path,
  powerOfTwoSize,
  streamMaxBytes,
  subjectToken,
} from "./config-values.ts";
import { adiError } from "./errors.ts";
import { maskServer, maskUrlUserinfo, NATS_FILE_SETTINGS, natsSettingsConflict } from "./nats/auth.ts";
import type { NatsAuthSettings } from "./nats/auth.ts";
import { compileExtraPatterns, REDACTION_CATEGORIES, redactUrlPasswords, type RedactionCategory } from "./redaction/index.ts";
import { sanitizeToken } from "./wire/subjects.ts";

export { LOG_FORMATS, LOG_LEVELS, type ListenAddress, msToNanos, parseByteSize, parseDuration, type LogFormatSetting, type LogLevel } from "./config-values.ts";

interface Setting<S extends z.ZodType<unknown, string>, Optional extends boolean> {
  /** As documented: the literal default, or null when unset means "off" / "all". */
  readonly default: string | null;
  readonly description: string;
  readonly schema: S;
  readonly optional: Optional;
  /** For defaults computed at startup (the host name). */
  readonly computeDefault?: () => string;
}

function setting<S extends z.ZodType<unknown, string>>(
  defaultValue: string,
  description: string,
  schema: S,
  computeDefault?: () => string,
): Setting<S, false> {
  return { default: defaultValue, description, schema, optional: false, computeDefault };
}

function optional<S extends z.ZodType<unknown, string>>(description: string, schema: S): Setting<S, true> {
  return { default: null, description, schema, optional: true };
}

/** Any non-empty text (user names, passwords, tokens: not trimmed, a space may be part of a password). */
const text = parsed((t) => (t === "" ? undefined : t), "a non-empty text");

/** ADI_REDACT_OFF: redaction categories (policy.ts), or `all`; unknown names refused. */
const redactCategories = parsed((t) => {
  const items = t.split(",").map((i) => i.trim().toLowerCase()).filter((i) => i !== "");
  if (items.some((i) => i !== "all" && !(REDACTION_CATEGORIES as readonly string[]).includes(i))) return undefined;
  return Object.freeze(items.includes("all") ? [...REDACTION_CATEGORIES] : ([...new Set(items)] as RedactionCategory[]));
}, `a comma-separated list of ${REDACTION_CATEGORIES.join(", ")}, or all`);

/** ADI_REDACT_PATTERNS: a JSON array of regular expressions, each compiled here so a bad one stops the start. */
const redactPatterns = z.string().transform((t, ctx) => {
  let value: unknown;
  try {
    value = JSON.parse(t);
  } catch {
    value = undefined;
  }
  if (!Array.isArray(value) || value.some((p) => typeof p !== "string")) {
    ctx.addIssue({ code: "custom", message: 'expected a JSON array of regular expressions as strings, e.g. ["tenant-[0-9a-f]{32}"]' });
    return z.NEVER;
  }
  try {
    compileExtraPatterns(value as string[]);
  } catch (err) {
    ctx.addIssue({ code: "custom", message: (err as Error).message });
    return z.NEVER;
  }
  return Object.freeze([...(value as string[])]);
});

const PAYLOAD_LIMIT_MAX = 1024 * 1024; // ADI_PAYLOAD_LIMIT_MAX in bpf/capture.h

const SETTINGS = {
  // The Go tool's variables: same names, same meaning.
  OUTPUT_PATH: setting("/var/log/ebpf_http_profiler.log", "File for HTTP and connection events (JSON lines).", path),
  ENV_OUTPUT_PATH: setting(
    "/var/log/ebpf_http_env.yaml",
    "File for the environment inventory (multi-document YAML).",
    path,
  ),
  SERVICE_MAP_PATH: optional("File for the service map (YAML). Unset: no service map.", path),
  ENV_PREFIX_LIST: optional(
    "Comma-separated, case-sensitive prefixes of the environment variables to keep. Unset: all.",
    list,
  ),
  ADI_PROFILE_ALLOWED: optional(
    "Comma-separated ADI_PROFILE values to profile. Unset: any process with ADI_PROFILE set.",
    list,
  ),
  CONTAINERD_SOCKET: optional(
    "containerd, Docker or Podman socket for container metadata (the API is detected). Unset: DOCKER_HOST, else no container enrichment.",
    path,
  ),
  CONTAINERD_NAMESPACE: optional("containerd namespace to query. Unset: default, moby and k8s.io.", containerdNamespace),
  DOCKER_HOST: optional("Docker or Podman API socket, unix:///path (used when CONTAINERD_SOCKET is unset).", dockerHost),
  ENV_REDACT: setting("true", "Redact secrets in collected environments (true, false, 1, 0).", boolean),
  // Ours.
  ENV_OUTPUT_ALL: setting(
    "false",
    "ENV_OUTPUT_PATH lists every opted-in process (true), not only those that made a network call (false, the Go tool's meaning).",
    boolean,
  ),
  ADI_REDACT_OFF: optional(
    "Comma-separated redaction categories NOT to apply: headers, query, body, values, cmdline, env, handshake, or all. Unset: everything is redacted. ENV_REDACT=false also turns env off.",
    redactCategories,
  ),
  ADI_REDACT_NAMES: optional(
    "Comma-separated extra secret names (header, field, parameter, variable or flag names), matched case-insensitively as a whole name or whole segments (tenant-hash hides X-Tenant-Hash).",
    list,
  ),
  ADI_REDACT_PATTERNS: optional(
    'Extra secret value patterns: a JSON array of regular expressions (JavaScript syntax), e.g. ["acme_[A-Za-z0-9]{24}"]; the first capture group is hidden, else the whole match.',
    redactPatterns,
  ),
  NATS_URL: optional(
    "NATS server(s), comma-separated. Unset: adi starts an embedded nats-server.",
    natsServers,
  ),
  // The nats CLI's names and meanings (NATS_URL may also carry user:password@ or token@, or be tls://).
  NATS_CREDS: optional("With NATS_URL: a .creds file (user JWT and nkey seed, as nsc writes it) to authenticate with.", path),
  NATS_NKEY: optional("With NATS_URL: a file holding a user nkey seed (SU...) to authenticate with, as the nats CLI's --nkey.", path),
  NATS_USER: optional("With NATS_URL: user name to authenticate with (with NATS_PASSWORD).", text),
  NATS_PASSWORD: optional("With NATS_URL: password of NATS_USER. Never printed.", text),
  NATS_TOKEN: optional("With NATS_URL: token to authenticate with. Never printed.", text),
  NATS_CA: optional("With NATS_URL: PEM file of the CA that signed the server's certificate (TLS is then required).", path),
  NATS_CERT: optional("With NATS_URL: PEM client certificate, for servers that verify clients (with NATS_KEY).", path),
  NATS_KEY: optional("With NATS_URL: PEM private key of NATS_CERT.", path),
  ADI_DATA_DIR: setting("/var/lib/adi", "State directory (the embedded server's JetStream storage, its user key and config: keep it 0700).", path),
  ADI_NATS_PORT: setting("4223", "Client port of the embedded nats-server.", integer(1, 65535)),
  ADI_HOST: setting(
    "<hostname>",
    "Host name used in subjects. Default: the machine's host name, characters outside [A-Za-z0-9_-] replaced by _.",
    subjectToken,
    () => sanitizeToken(hostname()),
  ),
  ADI_PAYLOAD_LIMIT: setting("65536", "Payload bytes captured per syscall (16 to 1048576).", integer(16, PAYLOAD_LIMIT_MAX)),
  ADI_RINGBUF_BYTES: setting(
    "8388608",
    "Kernel ring buffer size: a power of two, at least 4096. Resident twice (mapped twice); 8 MiB holds ~0.4 s of 10,000 HTTP exchanges/s.",
    powerOfTwoSize(4096, 1024 * 1024 * 1024),
  ),
  ADI_CAPTURE_HOOKS: setting(
    "auto",
    "Kernel data path: socket (BTF tracepoints sock:sock_send_length/sock_recv_length, Linux 6.3+: no syscall tracepoint, processes that did not opt in pay nothing on non-socket syscalls), syscall (syscall tracepoints: older kernels), or auto (socket where the kernel has it). The choice is logged at start.",
    captureHooks,
  ),
  ADI_CAPTURE_REDACT: setting(
    "auto",
    "Capture-time masking of credentials in ADI_RAW payloads (HTTP credential headers, PostgreSQL/MySQL/Redis/NATS/AMQP/SMTP/POP3/IMAP login secrets; same lengths, so everything downstream still frames them): on, off, or auto (on when NATS_URL names a server that is not on loopback; the embedded server is local, so off). The choice is logged at start.",
    parsed((text) => {
      const t = text.trim().toLowerCase();
      return t === "auto" || t === "on" || t === "off" ? t : undefined;
    }, "one of auto, on, off"),
  ),
  ADI_PARTITIONS: setting("16", "Raw-event partitions (subjects per host), 1 to 1024.", integer(1, 1024)),
  ADI_STREAM_MAX_AGE: setting("24h", "Retention of the JetStream streams (e.g. 30m, 24h, 7d).", duration),
  ADI_STREAM_MAX_BYTES: setting(
    "-1",
    "Size cap of each stream (e.g. 512MiB, 10GiB); -1: unlimited.",
    streamMaxBytes,
  ),
  ADI_STREAM_REPLICAS: setting("1", "JetStream replicas, 1 to 5.", integer(1, 5)),
  ADI_PUBLISH_BUFFER_BYTES: setting(
    "268435456",
    "Bytes of events buffered in memory while NATS is slow or away; beyond it batches are dropped and counted.",
    byteSize(1024 * 1024, 16 * 1024 * 1024 * 1024),
  ),
  ADI_PUBLISH_MAX_INFLIGHT: setting("64", "Unacknowledged publishes at a time, 1 to 4096.", integer(1, 4096)),
  ADI_BATCH_MAX_BYTES: setting(
    "262144",
    "Largest raw-event batch (one NATS message); must fit the server's max_payload.",
    byteSize(32 * 1024, 64 * 1024 * 1024, ", room for one 16 KiB data record"),
  ),
  ADI_FLUSH_INTERVAL_MS: setting("50", "Longest a partial batch waits before it is published, 1 to 10000.", integer(1, 10_000)),
  ADI_START_TIMEOUT: setting(
    "60s",
    "Longest a service may take at start to reach NATS and follow its streams (retried with backoff meanwhile); past it, it exits with ADI_ERR_NOT_FOLLOWING or ADI_ERR_NATS_UNREACHABLE.",
    duration,
  ),
  ADI_CLASSIFIER_REWIND_MAX: setting(
    "1h",
    "Longest stretch of raw stream (store time) a classifier re-reads when it takes a partition, to rebuild the connections open there (exchange ids then equal replay's).",
    duration,
  ),
  LOG_LEVEL: setting("info", `Log level: ${LOG_LEVELS.join(", ")}.`, logLevel),
  LOG_FORMAT: setting(
    "auto",
    `Log lines: ${LOG_FORMATS.join(", ")}. auto: human-readable (pino-pretty) when stdout is a terminal, JSON lines otherwise; each line carries the process's own pid once (another process's is named for it: tracedPid, serverPid, capturePid; any other pid field is observed_pid).`,
    logFormat,
  ),
  ADI_VIEW_ADDR: setting(
    "127.0.0.1:8090",
    "Where the view (the live map in a browser: `adi view`, also started by `adi up` and `adi demo`) listens: host:port, or off (up and demo start no view).",
    listenAddress(8090),
  ),
  ADI_METRICS_ADDR: optional(
    "Where each long-running service serves Prometheus /metrics: host:port, or off. Unset: off, except under `adi up` and `adi demo`, which serve all of theirs on 127.0.0.1:9464.",
    listenAddress(9464),
  ),
} as const;

export type ConfigVariableName = keyof typeof SETTINGS;

/** Documentation of every variable; `default: null` means unset (the feature is off or unfiltered). */
export const CONFIG_VARIABLES: readonly {
  readonly name: ConfigVariableName;
  readonly default: string | null;
  readonly description: string;
}[] = Object.freeze(
  Object.entries(SETTINGS).map(([name, s]) =>
    Object.freeze({ name: name as ConfigVariableName, default: s.default, description: s.description }),
  ),
);

type ValueOf<T> = T extends Setting<infer S, infer O> ? (O extends true ? z.output<S> | undefined : z.output<S>) : never;
type Parsed = { -readonly [K in ConfigVariableName]: ValueOf<(typeof SETTINGS)[K]> };

export interface AdiConfig {
  readonly outputPath: string;
  readonly envOutputPath: string;
  readonly serviceMapPath: string | undefined;
  readonly envPrefixList: readonly string[] | undefined;
  readonly profileAllowed: readonly string[] | undefined;
  readonly containerdSocket: string | undefined;
  /** undefined: default, moby and k8s.io. */
  readonly containerdNamespace: string | undefined;
  /** DOCKER_HOST's socket path. */
  readonly dockerSocket: string | undefined;
  readonly envRedact: boolean;
  /** ENV_OUTPUT_ALL: every opted-in process in ENV_OUTPUT_PATH, not only the networked ones. */
  readonly envOutputAll: boolean;
  /** ADI_REDACT_OFF: redaction categories turned off (empty: all on; see RedactionPolicy.fromConfig). */
  readonly redactOff: readonly RedactionCategory[];
  /** ADI_REDACT_NAMES: extra secret names. */
  readonly redactNames: readonly string[];
  /** ADI_REDACT_PATTERNS: extra value patterns (regex sources, validated). */
  readonly redactPatterns: readonly string[];
  /** NATS_URL as given (trimmed); undefined: start the embedded server. */
  readonly natsUrl: string | undefined;
  /** NATS_URL split into servers, ready for the client's `servers` option. */
  readonly natsServers: readonly string[] | undefined;
  /**
   * NATS_CREDS, NATS_NKEY, NATS_USER, NATS_PASSWORD, NATS_TOKEN, NATS_CA, NATS_CERT, NATS_KEY: validated (files
   * readable, one authentication method, cert with key); for connectNats's `auth`. Empty without NATS_URL.
   */
  readonly natsAuth: NatsAuthSettings;
  readonly dataDir: string;
  readonly natsPort: number;
  readonly host: string;
  readonly payloadLimit: number;
  readonly ringbufBytes: number;
  readonly captureHooks: CaptureHooks;
  /** ADI_CAPTURE_REDACT as given; services/capture/src/core/capture-redaction.ts resolves auto. */
  readonly captureRedact: "auto" | "on" | "off";
  readonly partitions: number;
  readonly streamMaxAgeMs: number;
  /** -1: unlimited. */
  readonly streamMaxBytes: number;
  readonly streamReplicas: number;
  readonly publishBufferBytes: number;
  readonly publishMaxInflight: number;
  readonly batchMaxBytes: number;
  readonly flushIntervalMs: number;
  /** ADI_START_TIMEOUT: bound on connecting and creating consumers at start, ms. */
  readonly startTimeoutMs: number;
  /** ADI_CLASSIFIER_REWIND_MAX: bound of a classifier's warm-up, ms of store time. */
  readonly classifierRewindMaxMs: number;
  readonly logLevel: LogLevel;
  /** LOG_FORMAT: how log lines are written (createLogger). */
  readonly logFormat: LogFormatSetting;
  /** ADI_VIEW_ADDR: where the view listens; null: off. */
  readonly viewAddr: ListenAddress | null;
  /** ADI_METRICS_ADDR: where /metrics is served; null: off; undefined: unset (the command's default). */
  readonly metricsAddr: ListenAddress | null | undefined;
}

/** Reads and validates the configuration; throws AdiError ADI_ERR_CONFIG naming the first bad variable. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): AdiConfig {
  const values: Record<string, unknown> = {};
  for (const [name, s] of Object.entries(SETTINGS) as [ConfigVariableName, Setting<z.ZodType<unknown, string>, boolean>][]) {
    const raw = env[name];
    const input = raw === undefined || raw === "" ? (s.computeDefault?.() ?? s.default) : raw;
    if (input === null) {
      values[name] = undefined;
      continue;
    }
    const result = s.schema.safeParse(input);
    if (!result.success) throw configError(name, input, result.error.issues[0]?.message ?? "invalid value");
    values[name] = result.data;
  }
  const v = values as Parsed;

  if (v.ADI_BATCH_MAX_BYTES > v.ADI_PUBLISH_BUFFER_BYTES) {
    throw configError(
      "ADI_BATCH_MAX_BYTES",
      env.ADI_BATCH_MAX_BYTES || String(v.ADI_BATCH_MAX_BYTES),
      `must not exceed ADI_PUBLISH_BUFFER_BYTES (${v.ADI_PUBLISH_BUFFER_BYTES} bytes)`,
    );
  }

  const natsAuth: NatsAuthSettings = Object.freeze({
    creds: v.NATS_CREDS,
    nkey: v.NATS_NKEY,
    user: v.NATS_USER,
    password: v.NATS_PASSWORD,
    token: v.NATS_TOKEN,
    ca: v.NATS_CA,
    cert: v.NATS_CERT,
    key: v.NATS_KEY,
  });
  checkNatsAuth(v.NATS_URL, natsAuth);

  const collision = outputPathCollision([
    ["OUTPUT_PATH", v.OUTPUT_PATH],
    ["SERVICE_MAP_PATH", v.SERVICE_MAP_PATH],
    ["ENV_OUTPUT_PATH", v.ENV_OUTPUT_PATH],
  ]);
  if (collision !== null) throw adiError("ADI_ERR_OUTPUT_PATH", collision);

  return Object.freeze({
    outputPath: v.OUTPUT_PATH,
    envOutputPath: v.ENV_OUTPUT_PATH,
    serviceMapPath: v.SERVICE_MAP_PATH,
    envPrefixList: v.ENV_PREFIX_LIST,
    profileAllowed: v.ADI_PROFILE_ALLOWED,
    containerdSocket: v.CONTAINERD_SOCKET,
    containerdNamespace: v.CONTAINERD_NAMESPACE,
    dockerSocket: v.DOCKER_HOST,
    envRedact: v.ENV_REDACT,
    envOutputAll: v.ENV_OUTPUT_ALL,
    redactOff: v.ADI_REDACT_OFF ?? [],
    redactNames: v.ADI_REDACT_NAMES ?? [],
    redactPatterns: v.ADI_REDACT_PATTERNS ?? [],
    natsUrl: v.NATS_URL?.join(","),
    natsServers: v.NATS_URL,
    natsAuth,
    dataDir: v.ADI_DATA_DIR,
    natsPort: v.ADI_NATS_PORT,
    host: v.ADI_HOST,
    payloadLimit: v.ADI_PAYLOAD_LIMIT,
    ringbufBytes: v.ADI_RINGBUF_BYTES,
    captureHooks: v.ADI_CAPTURE_HOOKS,
    captureRedact: v.ADI_CAPTURE_REDACT,
    partitions: v.ADI_PARTITIONS,
    streamMaxAgeMs: v.ADI_STREAM_MAX_AGE,
    streamMaxBytes: v.ADI_STREAM_MAX_BYTES,
    streamReplicas: v.ADI_STREAM_REPLICAS,
    publishBufferBytes: v.ADI_PUBLISH_BUFFER_BYTES,
    publishMaxInflight: v.ADI_PUBLISH_MAX_INFLIGHT,
    batchMaxBytes: v.ADI_BATCH_MAX_BYTES,
    flushIntervalMs: v.ADI_FLUSH_INTERVAL_MS,
    startTimeoutMs: v.ADI_START_TIMEOUT,
    classifierRewindMaxMs: v.ADI_CLASSIFIER_REWIND_MAX,
    logLevel: v.LOG_LEVEL,
    logFormat: v.LOG_FORMAT,
    viewAddr: v.ADI_VIEW_ADDR === "off" ? null : v.ADI_VIEW_ADDR,
    metricsAddr: v.ADI_METRICS_ADDR === "off" ? null : v.ADI_METRICS_ADDR,
  });
}

/**
 * The file a path names, for comparing outputs: path.resolve (relative to the working directory, `.`/`..` and
 * repeated slashes folded), its directory through its symlinks when it exists (/var/run/x and /run/x are one file).
 */
export function outputFileIdentity(path: string): string {
  const absolute = resolve(path);
  try {
    return resolve(realpathSync(dirname(absolute)), basename(absolute));
  } catch {
    return absolute;
  }
}

/**
 * The one-line reason two of the output settings name the same file (each writer would replace the other's
 * file: the map over the log), or null when they are all distinct. Unset settings (undefined) are skipped.
 */
export function outputPathCollision(outputs: readonly (readonly [string, string | undefined])[]): string | null {
  const seen = new Map<string, [string, string]>();
  for (const [variable, path] of outputs) {
    if (path === undefined) continue;
    const id = outputFileIdentity(path);
    const first = seen.get(id);
    if (first !== undefined) {
      return `${first[0]}=${JSON.stringify(first[1])} and ${variable}=${JSON.stringify(path)} name the same file ${id}: each output needs a file of its own`;
    }
    seen.set(id, [variable, path]);
  }
  return null;
}

/** Variables whose value is a secret: a config error names them, never shows them. */
const SECRET_VARIABLES: ReadonlySet<string> = new Set(["NATS_PASSWORD", "NATS_TOKEN"]);

/**
 * `NAME="value": why` — values are shown JSON-quoted (one line) with URL userinfo hidden (a password, or a token:
 * `nats://***@host`); secret variables' values never.
 */
function configError(name: string, value: string, why: string) {
  // NATS_URL is server URLs, valid or not: each entry masked whole (a password with a space or a quote included).
  const masked = name === "NATS_URL" ? value.split(",").map(maskServer).join(",") : redactUrlPasswords(maskUrlUserinfo(value));
  const shown = SECRET_VARIABLES.has(name) ? "***" : JSON.stringify(masked);
  return adiError("ADI_ERR_CONFIG", `${name}=${shown}: ${why}`);
}

/** What a NATS file setting must hold, beyond being a readable regular file (the nkey: a user seed, SU...). */
const NATS_FILE_CONTENT: Partial<Record<(typeof NATS_FILE_SETTINGS)[number][0], { test: (content: string) => boolean; expected: string }>> = {
  NATS_NKEY: { test: (c) => /^\s*SU[A-Z2-7]+\s*$/m.test(c), expected: "holds no user nkey seed (a line SU..., as `nsc` or `nk -gen user` writes)" },
  NATS_CREDS: { test: (c) => /-----BEGIN NATS USER JWT-----/.test(c) && /-----BEGIN USER NKEY SEED-----/.test(c), expected: "is not a .creds file (a NATS USER JWT and a USER NKEY SEED block)" },
  // Parsed as node's TLS will parse them: a garbage file fails here, in one line, not after ADI_START_TIMEOUT.
  NATS_CA: { test: (c) => pemCertificates(c) > 0, expected: "holds no PEM certificate (-----BEGIN CERTIFICATE-----)" },
  NATS_CERT: { test: (c) => pemCertificates(c) > 0, expected: "holds no PEM certificate (-----BEGIN CERTIFICATE-----)" },
  NATS_KEY: { test: (c) => attemptKey(c) !== undefined, expected: "holds no PEM private key" },
};

/** How many PEM certificates `pem` holds that node's X509Certificate parses (0 when any block is not one). */
function pemCertificates(pem: string): number {
  const blocks = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g) ?? [];
  try {
    for (const block of blocks) new X509Certificate(block);
  } catch {
    return 0;
  }
  return blocks.length;
}

function attemptKey(pem: string): KeyObject | undefined {
  try {
    return createPrivateKey(pem);
  } catch {
    return undefined;
  }
}

/**
 * Throws AdiError ADI_ERR_CONFIG when the NATS client settings cannot work: a file setting that is not a readable
 * regular file (or holds the wrong thing), settings that conflict (auth.ts natsSettingsConflict), or client
 * settings without NATS_URL (the embedded server has its own key). Messages name variables and paths, never a
 * password, token or seed.
 */
function checkNatsAuth(servers: readonly string[] | undefined, auth: NatsAuthSettings): void {
  const set = (Object.keys(auth) as (keyof NatsAuthSettings)[]).filter((k) => auth[k] !== undefined);
  if (servers === undefined && set.length > 0) {
    const names = set.map((k) => `NATS_${k.toUpperCase()}`).join(", ");
    throw adiError("ADI_ERR_CONFIG", `${names} set without NATS_URL: they apply to a NATS server you name; the embedded server (NATS_URL unset) uses its own key under ADI_DATA_DIR`);
  }
  // What the settings say together first (a certificate without its key), then what each file holds.
  const conflict = natsSettingsConflict(servers ?? [], auth);
  if (conflict !== null) throw adiError("ADI_ERR_CONFIG", conflict);
  for (const [variable, field] of NATS_FILE_SETTINGS) {
    const file = auth[field];
    if (file === undefined) continue;
    let content: string;
    try {
      if (!statSync(file).isFile()) throw new Error("not a regular file");
      accessSync(file, fsConstants.R_OK);
      content = readFileSync(file, "utf8");
    } catch (err) {
      throw configError(variable, file, `cannot be read: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
    const rule = NATS_FILE_CONTENT[variable];
    if (rule && !rule.test(content)) throw configError(variable, file, rule.expected);
  }
  if (auth.cert !== undefined && auth.key !== undefined) {
    const cert = new X509Certificate(readFileSync(auth.cert, "utf8").match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/)![0]);
    if (!cert.checkPrivateKey(attemptKey(readFileSync(auth.key, "utf8"))!)) {
      throw adiError("ADI_ERR_CONFIG", `NATS_KEY=${JSON.stringify(auth.key)} is not the private key of NATS_CERT=${JSON.stringify(auth.cert)}'s certificate`);
    }
  }
}
