// Wire contracts of the facts stream (ADI_FACTS): JSON messages, each carrying `v` (the contract
// version) and `type`. Decoding strips fields it does not know, so a producer may add fields within v1;
// removing or changing one needs v2.
import { z } from "zod";
import { OPTIN_VERDICTS } from "../optin.ts";

export const FACTS_WIRE_VERSION = 1;

/** RFC 3339 UTC with exactly nine fractional digits, as the Go tool printed: 2024-04-08T18:24:10.123456789Z */
const TIMESTAMP = /^\d{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12]\d|3[01])T(?:[01]\d|2[0-3]):[0-5]\d:[0-5]\d\.\d{9}Z$/;
const BOOT_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const HOST = /^[A-Za-z0-9_-]+$/;

const timestamp = z.string().regex(TIMESTAMP, "expected an RFC 3339 UTC timestamp with 9 fractional digits");
const count = z.number().int().nonnegative();
const pid = z.number().int().positive().max(0x7fffffff);

const factHeader = {
  v: z.literal(FACTS_WIRE_VERSION),
  ts: timestamp,
  host: z.string().regex(HOST, "expected a subject token [A-Za-z0-9_-]+"),
  boot_id: z.string().regex(BOOT_ID, "expected a lowercase UUID (/proc/sys/kernel/random/boot_id)"),
};

/**
 * scan: found in /proc at startup; exec, fork, exit: reported by the kernel; net: the process's first network
 * activity (its first connection opened, as the kernel reported it), published once per process identity.
 */
export const PROCESS_EVENTS = ["scan", "exec", "fork", "exit", "net"] as const;

/**
 * The stage of a process's life each event describes, earliest first: between two facts of one process at one
 * instant, the later stage describes it better (the mapper's names and the enricher's inventory both rank so).
 */
export const PROCESS_LIFECYCLE_RANK: Readonly<Record<(typeof PROCESS_EVENTS)[number], number>> = { scan: 0, fork: 1, exec: 2, net: 3, exit: 4 };

/**
 * The identity of a process across the pipeline: host, boot id, pid and start time (clock ticks since boot), as
 * one key `<host> <boot_id> <pid> <start_ticks>`. A pid alone is reused; with its start time and boot it is not.
 */
export function processIdentityKey(p: { host: string; boot_id: string; pid: number; start_ticks: number }): string {
  return [p.host, " ", p.boot_id, " ", p.pid, " ", p.start_ticks].join("");
}

export const ProcessFactSchema = z.object({
  ...factHeader,
  type: z.literal("process"),
  /**
   * scan: found in /proc at startup; exec, fork, exit: reported by the kernel; net: first network activity (`ts`
   * is its first connection's; `env` may be empty: the environment comes from the scan/exec/fork facts).
   */
  event: z.enum(PROCESS_EVENTS),
  pid,
  /** Process start in USER_HZ ticks since boot: pid + start_ticks + boot_id identify a process. */
  start_ticks: count,
  ppid: z.number().int().nonnegative().nullable(),
  comm: z.string(),
  exe: z.string().nullable(),
  /** Arguments joined by one space, as the Go tool printed them. */
  cmdline: z.string(),
  /** The process's cgroup path (the v2 path when there is one). */
  cgroup: z.string().nullable(),
  container_id: z
    .string()
    .regex(/^[0-9a-f]{1,64}$/, "expected a container id (up to 64 lowercase hex digits)")
    .nullable(),
  /** ADI_PROFILE's value when set (whatever the verdict). */
  adi_profile_match: z.string().nullable(),
  adi_profile_name: z.string().nullable(),
  optin: z.enum(OPTIN_VERDICTS),
  /** Filtered by ENV_PREFIX_LIST; empty unless optin is "yes". */
  env: z.record(z.string(), z.string()),
  /** True when redaction rules were applied to env (ENV_REDACT), whether or not anything matched. */
  env_redacted: z.boolean(),
  /** Why /proc could not be read, in the Go tool's words: "open /proc/<pid>/environ: no such file or directory". */
  error: z.string().nullable(),
  exit_code: z.number().int().nullable(),
});

const kernelDrops = z.object({
  ringbuf_full: count,
  payload_read: count,
  conn_table_full: count,
  args_table_full: count,
  // Bytes on a TCP socket first seen after it had lost its ports (wire v2 agents; absent before).
  no_tuple: count.default(0),
});

export const AgentStatsFactSchema = z.object({
  ...factHeader,
  type: z.literal("agent_stats"),
  agent_id: z.string().min(1),
  uptime_s: z.number().nonnegative(),
  /** Cumulative since the agent started. */
  kernel: z.object({
    events: count,
    bytes: count,
    drops: kernelDrops,
    /** The same counts per CPU (key: CPU index), only for CPUs that dropped anything. */
    drops_by_cpu: z.record(z.string().regex(/^\d+$/), kernelDrops),
  }),
  /** Cumulative since the agent started, except buffered_bytes (current). */
  user: z.object({
    batches_published: count,
    events_published: count,
    bytes_published: count,
    batches_dropped: count,
    events_dropped: count,
    buffered_bytes: count,
    publish_retries: count,
    /** Process records (exec, fork, exit) and listen records turned into facts instead of raw events. */
    process_events: count,
    /** Batches or records this build could not decode, skipped. */
    malformed: count,
    /** Execs whose environment was longer than the kernel walks: decided from /proc (each one logged). */
    optin_undecided: count.default(0),
  }),
});

/**
 * The TCP listening sockets of the host and who owns them: with it a consumer names a destination on this host
 * after the process listening there, opted in or not. `event` says what the fact is:
 *   scan (also when absent: agents before it): every listener /proc shows, published whenever the set changes;
 *   listen / close: one socket entering LISTEN / leaving it, reported by the kernel as it happens (the owner is the
 *   process that called listen(), or that closed it), so a listener of a process gone a moment later is still named.
 * Listener facts add up: a consumer keeps what each one named (a scan does not retract a listen).
 */
export const ListenersFactSchema = z.object({
  ...factHeader,
  type: z.literal("listeners"),
  event: z.enum(["scan", "listen", "close"]).optional(),
  listeners: z.array(
    z.object({
      /** The bound address as the kernel holds it: 0.0.0.0, ::, 127.0.0.1, ::1… (IPv4-mapped IPv6 as IPv4). */
      ip: z.string().min(1),
      port: z.number().int().min(1).max(65535),
      /** 4 or 6, the socket's address family (absent from older agents: the form of `ip` says it). */
      family: z.union([z.literal(4), z.literal(6)]).optional(),
      /** IPV6_V6ONLY of an IPv6 listener (true: it accepts no IPv4); null or absent when not known (/proc scans). */
      v6only: z.boolean().nullable().optional(),
      pid: pid.nullable(),
      start_ticks: count.nullable(),
      comm: z.string().nullable(),
      /** ADI_PROFILE_NAME of the owner when it has one (nothing else of its environment is read). */
      adi_profile_name: z.string().nullable(),
    }),
  ),
});

/**
 * A container as its runtime describes it (Docker, Podman or containerd), published by the enricher when it
 * is seen (snapshot at start, then runtime events), so a replay needs no runtime to name things.
 */
export const ContainerFactSchema = z.object({
  ...factHeader,
  type: z.literal("container"),
  event: z.enum(["snapshot", "start", "die", "destroy"]),
  runtime: z.enum(["docker", "podman", "containerd"]),
  namespace: z.string().nullable(),
  container_id: z.string().min(1),
  container_name: z.string(),
  /** With its tag, e.g. myorg/app:1.0 */
  image: z.string().nullable(),
  /** com.docker.compose.service */
  service: z.string().nullable(),
  /** com.docker.compose.project */
  project: z.string().nullable(),
  labels: z.record(z.string(), z.string()),
  /** Its main process on the host. */
  pid: pid.nullable(),
  ips: z.array(z.string()),
  ports: z.array(
    z.object({
      container_port: z.number().int().min(0).max(65535),
      protocol: z.string(),
      host_ip: z.string().nullable(),
      host_port: z.number().int().min(0).max(65535).nullable(),
    }),
  ),
  /**
   * Gateway addresses of the container's networks (Docker/Podman: NetworkSettings.Networks[*].Gateway): a call
   * to gateway:P from a container reaches the host's published port P. Absent in facts of older enrichers.
   */
  gateways: z.array(z.string()).optional(),
  /** The engine's state (running, exited, paused…), or `removed` once the engine no longer knows it. */
  state: z.string(),
});

export const FactSchema = z.discriminatedUnion("type", [ProcessFactSchema, AgentStatsFactSchema, ListenersFactSchema, ContainerFactSchema]);

export type ProcessFact = z.infer<typeof ProcessFactSchema>;
export type AgentStatsFact = z.infer<typeof AgentStatsFactSchema>;
export type ListenersFact = z.infer<typeof ListenersFactSchema>;
export type ContainerFact = z.infer<typeof ContainerFactSchema>;
export type Fact = z.infer<typeof FactSchema>;
export type FactType = Fact["type"];

const utf8 = new TextDecoder();

/**
 * Validates a fact. Accepts the parsed JSON value, or the raw message (string or bytes, as a NATS message's
 * `data`), which is parsed first. Throws a ZodError (or SyntaxError for bad JSON).
 */
export function decodeFact(json: unknown): Fact {
  if (typeof json === "string") return FactSchema.parse(JSON.parse(json));
  if (json instanceof Uint8Array) return FactSchema.parse(JSON.parse(utf8.decode(json)));
  return FactSchema.parse(json);
}

/** Validates, then serialises: nothing invalid reaches the stream. */
export function encodeFact(fact: Fact): string {
  return JSON.stringify(FactSchema.parse(fact));
}


