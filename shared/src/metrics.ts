// Prometheus metrics: one registry per process, families computed at scrape time from what the services already
// count (their counters, the mapper's fold, the agent's stats facts), and the /metrics endpoint that serves them.
//
//   service counters ─┐
//   mapper fold ──────┼─► MetricFamily.samples() at each scrape ─► MetricsRegistry (one family per name, prom-client
//   agent stats facts ┘                                              renders it, with its default process metrics)
//                                                                        └─► GET /metrics (fastify, ADI_METRICS_ADDR)
//
// Values are read, never kept here: a counter is the service's own number at the moment of the scrape, so /metrics
// and the outputs cannot disagree. prom-client and fastify are loaded only when a registry is made: every process
// imports @adi/shared, few serve metrics. Names follow Prometheus's conventions (../shared/reference/conventions.md):
// the adi_ prefix, base units in the name (_seconds, _bytes), counters ending in _total, low-cardinality labels.
import type { Logger } from "pino";
import type { Metric, Registry } from "prom-client";
import type { ListenAddress } from "./config-values.ts";
import type { AgentStatsFact } from "./wire/facts.ts";

export type MetricType = "counter" | "gauge" | "histogram";

/** One line of the exposition: the family's name plus `suffix` (histograms: _bucket, _sum, _count), labels, value. */
export interface MetricSample {
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
  readonly suffix?: "_bucket" | "_sum" | "_count";
}

/**
 * A metric family as Prometheus lists it under one # HELP / # TYPE. `samples` is called at every scrape; it may be
 * async (a JetStream request); if it throws, the family is left out of that scrape (and the failure logged).
 */
export interface MetricFamily {
  readonly name: string;
  readonly help: string;
  readonly type: MetricType;
  samples(): readonly MetricSample[] | Promise<readonly MetricSample[]>;
}

/** The address `adi up` and `adi demo` serve /metrics on when ADI_METRICS_ADDR is unset (the OpenTelemetry Prometheus exporter's port). */
export const DEFAULT_METRICS_ADDR: ListenAddress = Object.freeze({ host: "127.0.0.1", port: 9464 });

/** Prefix of the default Node process metrics (prom-client's collectDefaultMetrics): adi_process_cpu_seconds_total... */
export const PROCESS_METRICS_PREFIX = "adi_";

/**
 * A histogram's samples from cumulative bucket counts: `buckets` is [upper bound, calls at or below it] in
 * ascending order (the +Inf bucket is added, equal to `count`), `sum` in the family's unit.
 */
export function histogramSamples(labels: Readonly<Record<string, string>>, buckets: readonly (readonly [number, number])[], sum: number, count: number): MetricSample[] {
  const out: MetricSample[] = buckets.map(([le, n]) => ({ labels: { ...labels, le: String(le) }, value: n, suffix: "_bucket" }));
  out.push({ labels: { ...labels, le: "+Inf" }, value: count, suffix: "_bucket" }, { labels, value: sum, suffix: "_sum" }, { labels, value: count, suffix: "_count" });
  return out;
}

/** A family of one unlabelled-or-labelled value per row: `rows` gives [labels, value] at each scrape. */
export function metricFamily(name: string, type: "counter" | "gauge", help: string, rows: () => Iterable<readonly [Readonly<Record<string, string>>, number]>): MetricFamily {
  return { name, type, help, samples: () => Array.from(rows(), ([labels, value]) => ({ labels, value })) };
}

/** A consumer's position: the stream it reads and its name (a durable's, or the service for an ordered consumer). */
export interface ConsumerLabels {
  readonly stream: string;
  readonly consumer: string;
}

/**
 * adi_consumer_pending_messages{stream,consumer}: messages stored in the stream, matching the consumer's filter, not
 * yet delivered to it (JetStream's num_pending). One family for every consumer service, so `adi up` lists its
 * consumers under one name; `rows` may ask the broker (async).
 */
export function consumerPendingFamily(rows: () => Iterable<readonly [ConsumerLabels, number]> | Promise<Iterable<readonly [ConsumerLabels, number]>>): MetricFamily {
  return {
    name: "adi_consumer_pending_messages",
    type: "gauge",
    help: "Messages in the stream not yet delivered to the consumer (JetStream num_pending; for an ordered consumer, as counted when the last message handled was delivered).",
    samples: async () => Array.from(await rows(), ([labels, value]) => ({ labels: { stream: labels.stream, consumer: labels.consumer }, value })),
  };
}

/** prom-client's view of a metric (its Registry reads name, help, type and calls get()). */
interface PromMetricLike {
  name: string;
  help: string;
  type: MetricType;
  aggregator: "sum";
  get(): Promise<{ name: string; help: string; type: MetricType; aggregator: "sum"; values: { labels: Record<string, string>; value: number; metricName?: string }[] }>;
  reset(): void;
}

/**
 * The families of one process, rendered in the Prometheus text format (0.0.4) with prom-client, plus its default
 * Node process metrics (prefix adi_). Families added under one name by several services (under `adi up`: the
 * mapper's and the enricher's consumer lag) are one family whose samples are concatenated; their labels must tell
 * them apart (Prometheus refuses a scrape with two samples of one series).
 */
export class MetricsRegistry {
  readonly #registry: Registry;
  readonly #families = new Map<string, { type: MetricType; help: string; sources: MetricFamily[] }>();
  readonly #log: Logger | undefined;
  /** Families whose last collection failed: logged once per failure streak. */
  readonly #failing = new Set<MetricFamily>();

  private constructor(registry: Registry, log: Logger | undefined) {
    this.#registry = registry;
    this.#log = log;
  }

  /** A registry with the default process metrics (unless `processMetrics` is false: tests compare exact output). */
  static async create(opts: { log?: Logger; processMetrics?: boolean } = {}): Promise<MetricsRegistry> {
    const prom = await import("prom-client");
    const registry = new prom.Registry();
    if (opts.processMetrics !== false) prom.collectDefaultMetrics({ register: registry, prefix: PROCESS_METRICS_PREFIX });
    return new MetricsRegistry(registry, opts.log);
  }

  /** The Content-Type of `render()`'s text. */
  get contentType(): string {
    return this.#registry.contentType;
  }

  /** Adds families; one whose name is taken by a family of another type or help throws (a naming bug). */
  add(...families: readonly MetricFamily[]): void {
    for (const f of families) {
      const known = this.#families.get(f.name);
      if (known) {
        if (known.type !== f.type || known.help !== f.help) throw new Error(`metric ${f.name} added twice with different type or help`);
        known.sources.push(f);
        continue;
      }
      const entry = { type: f.type, help: f.help, sources: [f] };
      this.#families.set(f.name, entry);
      const metric: PromMetricLike = {
        name: f.name,
        help: f.help,
        type: f.type,
        aggregator: "sum",
        get: async () => ({ name: f.name, help: f.help, type: f.type, aggregator: "sum", values: await this.#collect(f.name, entry.sources) }),
        reset: () => undefined,
      };
      // prom-client's Registry takes any object with its Metric's shape (name, help, type, get); ours computes at get().
      this.#registry.registerMetric(metric as unknown as Metric);
    }
  }

  /** Every family as Prometheus text exposition format 0.0.4. Never rejects for a family that fails: it is left out. */
  render(): Promise<string> {
    return this.#registry.metrics();
  }

  async #collect(name: string, sources: readonly MetricFamily[]) {
    const values: { labels: Record<string, string>; value: number; metricName?: string }[] = [];
    for (const source of sources) {
      try {
        for (const s of await source.samples()) values.push({ labels: { ...s.labels }, value: s.value, ...(s.suffix ? { metricName: name + s.suffix } : {}) });
        this.#failing.delete(source);
      } catch (err) {
        if (!this.#failing.has(source)) this.#log?.warn({ err: (err as Error).message, metric: name }, "a metric could not be collected: left out of the scrape");
        this.#failing.add(source);
      }
    }
    return values;
  }
}

/** A /metrics endpoint being served. */
export interface MetricsServer {
  /** http://host:port/metrics, with the port actually bound (ADI_METRICS_ADDR's port 0: any free one). */
  readonly url: string;
  readonly address: ListenAddress;
  close(): Promise<void>;
}

/**
 * Serves `registry` on GET http://addr/metrics (fastify; anything else is 404) and logs `metrics listening` with its
 * url. Rejects with the listen error (EADDRINUSE, EADDRNOTAVAIL, EACCES: `code` kept) when the address cannot be
 * bound; the caller decides whether that stops the command.
 */
export async function serveMetrics(registry: MetricsRegistry, addr: ListenAddress, log: Logger): Promise<MetricsServer> {
  const { default: Fastify } = await import("fastify");
  const app = Fastify({ logger: false });
  app.get("/metrics", async (_request, reply) => reply.type(registry.contentType).send(await registry.render()));
  try {
    await app.listen({ host: addr.host, port: addr.port });
  } catch (err) {
    await app.close().catch(() => undefined);
    throw err;
  }
  const bound = app.server.address();
  const port = typeof bound === "object" && bound ? bound.port : addr.port;
  const address: ListenAddress = Object.freeze({ host: addr.host, port });
  const url = `http://${addr.host.includes(":") ? `[${addr.host}]` : addr.host}:${port}/metrics`;
  log.info({ url }, "metrics listening");
  return { url, address, close: () => app.close() };
}

// ---- The capture agent's figures, from its stats (AgentStatsFact): the agent's own, or as the mapper reads them
// from ADI_FACTS (every agent publishing to the broker, each under its host).

/** One agent's latest stats. `atMs`: when they were taken (live) or stored (JetStream time of the fact). */
export interface AgentReport {
  readonly fact: AgentStatsFact;
  readonly atMs: number;
  /** ADI_PUBLISH_BUFFER_BYTES of that agent, when known (the fact does not carry it). */
  readonly bufferLimitBytes?: number;
}

/**
 * How long a host's last stats fact stays exposed: an agent publishes every 5 s (STATS_INTERVAL_MS); twelve
 * missed reports (a stopped agent, one whose publisher has been stuck for a minute) end its series rather than
 * showing its last figures forever.
 */
export const AGENT_REPORT_MAX_AGE_MS = 60_000;

/** The latest stats fact of each host (by store time), as read from ADI_FACTS. */
export class AgentReports {
  readonly #byHost = new Map<string, AgentReport>();

  /** Takes a fact stored at `atMs` (ms): kept if it is the newest of its host. */
  note(fact: AgentStatsFact, atMs: number): void {
    const known = this.#byHost.get(fact.host);
    if (!known || atMs >= known.atMs) this.#byHost.set(fact.host, { fact, atMs });
  }

  /** Each host's latest report stored within `maxAgeMs` of `nowMs`, in host order. */
  current(nowMs: number, maxAgeMs = AGENT_REPORT_MAX_AGE_MS): AgentReport[] {
    return [...this.#byHost.values()].filter((r) => nowMs - r.atMs <= maxAgeMs).sort((a, b) => (a.fact.host < b.fact.host ? -1 : a.fact.host > b.fact.host ? 1 : 0));
  }
}

/** Kernel loss counters by reason (bpf/capture.h ADI_DROP_*), as the fact names them. */
const KERNEL_DROP_REASONS = ["ringbuf_full", "payload_read", "conn_table_full", "args_table_full", "no_tuple"] as const;

type AgentValue = (f: AgentStatsFact) => number;
/** The agent's counters as families: name, help, where the fact holds it. Rules as data. */
const AGENT_COUNTERS: readonly (readonly [string, string, AgentValue])[] = [
  ["adi_capture_events_total", "Records the kernel captured (socket data, connection, process and listen records).", (f) => f.kernel.events],
  ["adi_capture_payload_bytes_total", "Payload bytes the kernel captured.", (f) => f.kernel.bytes],
  ["adi_capture_published_batches_total", "Raw and fact messages published to JetStream (acknowledged).", (f) => f.user.batches_published],
  ["adi_capture_published_events_total", "Records published to JetStream in raw messages.", (f) => f.user.events_published],
  ["adi_capture_published_bytes_total", "Bytes of the messages published to JetStream.", (f) => f.user.bytes_published],
  ["adi_capture_dropped_batches_total", "Messages dropped in user space: the queue towards JavaScript or the publish buffer was full.", (f) => f.user.batches_dropped],
  ["adi_capture_publish_retries_total", "Publishes retried (broker slow or away).", (f) => f.user.publish_retries],
  ["adi_capture_process_events_total", "Process and listen records turned into facts.", (f) => f.user.process_events],
  ["adi_capture_malformed_total", "Batches or records the agent could not decode, skipped.", (f) => f.user.malformed],
  ["adi_capture_optin_undecided_total", "Execs whose environment was too long for the kernel's opt-in walk (decided from /proc).", (f) => f.user.optin_undecided],
];

/**
 * The capture agent's families from `reports()` (read at each scrape), one series per host:
 * adi_capture_events_total, _payload_bytes_total, adi_capture_drops_total{reason} (the kernel's reasons, and
 * `buffer_full` for events dropped in user space), published batches/events/bytes, the publish buffer
 * (adi_capture_publish_buffer_bytes, and _limit_bytes when known), and adi_capture_last_report_timestamp_seconds.
 * An agent that restarts starts its counters from 0 again (Prometheus reads that as a counter reset).
 */
export function agentMetricFamilies(reports: () => readonly AgentReport[]): MetricFamily[] {
  const rowsOf = (value: AgentValue) => () => reports().map((r) => [{ host: r.fact.host }, value(r.fact)] as const);
  return [
    ...AGENT_COUNTERS.map(([name, help, value]) => metricFamily(name, "counter", help, rowsOf(value))),
    metricFamily(
      "adi_capture_drops_total",
      "counter",
      "Events lost, by reason: in the kernel (ringbuf_full, payload_read, conn_table_full, args_table_full, no_tuple), or in user space (buffer_full: the queue towards JavaScript or the publish buffer was full).",
      () =>
        reports().flatMap((r) => [
          ...KERNEL_DROP_REASONS.map((reason) => [{ host: r.fact.host, reason }, r.fact.kernel.drops[reason]] as const),
          [{ host: r.fact.host, reason: "buffer_full" }, r.fact.user.events_dropped] as const,
        ]),
    ),
    metricFamily("adi_capture_publish_buffer_bytes", "gauge", "Bytes buffered for publishing now (ADI_PUBLISH_BUFFER_BYTES bounds it).", rowsOf((f) => f.user.buffered_bytes)),
    metricFamily("adi_capture_publish_buffer_limit_bytes", "gauge", "ADI_PUBLISH_BUFFER_BYTES of the agent (when this process knows it).", () =>
      reports().flatMap((r) => (r.bufferLimitBytes === undefined ? [] : [[{ host: r.fact.host }, r.bufferLimitBytes] as const])),
    ),
    metricFamily("adi_capture_last_report_timestamp_seconds", "gauge", "When the agent's figures were taken (its own process) or its last stats fact was stored (Unix time).", () =>
      reports().map((r) => [{ host: r.fact.host }, r.atMs / 1000] as const),
    ),
  ];
}
