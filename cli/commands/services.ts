// `adi capture`, `adi classify`, `adi map`, `adi enrich`, and `adi up` (all of them). A command that runs one
// service runs it in this process. `adi up` (and `adi demo`) run the consumers here and the capture agent in a
// child process of its own (cli/capture-child.ts): on one event loop, the consumers starved the kernel path at
// saturation and the agent dropped events.
import type { NatsConnection } from "@nats-io/transport-node";
import type { Logger } from "pino";
import type { CaptureAgent } from "@adi/capture";
import type { Classifier } from "@adi/classifier";
import type { Enricher } from "@adi/enricher";
import type { Mapper, ServiceMap } from "@adi/mapper";
import type { View } from "@adi/view";
import type { AdiConfig, ListenAddress, MetricFamily } from "@adi/shared";
import { adiError, DEFAULT_METRICS_ADDR, MetricsRegistry, serveMetrics } from "@adi/shared";
import { sanitizeToken } from "@adi/shared/wire";
import { startCaptureChild } from "../capture-child.ts";
import type { CaptureChild } from "../capture-child.ts";
import { CaptureExitError } from "../capture-child.ts";
import { notifyParentReady } from "../lifeline.ts";
import { isAbort } from "@adi/shared/nats";
import { listenForStop, natsTarget, openRuntime } from "../runtime.ts";
import type { Runtime } from "../runtime.ts";
import { checkOutputPath } from "@adi/shared";
import { waitForCatchUp } from "./catch-up.ts";

type Stoppable = { stop(): Promise<void> };
/**
 * `signal` aborts a start still waiting for the broker (a stop requested meanwhile): the start rejects with its reason.
 * `dropCapabilities` (capture only): this process is the agent's own, it drops the capabilities it no longer needs.
 */
type Starter = (cfg: AdiConfig, nc: NatsConnection, log: Logger, opts?: { signal?: AbortSignal; dropCapabilities?: boolean }) => Promise<Stoppable>;

// Loaded on demand: a process runs only what it starts (the capture agent does not carry the enricher's gRPC and
// Docker clients, nor the mapper's YAML, in its memory).
export const SERVICES = {
  capture: async () => (await import("@adi/capture")).startCaptureAgent as Starter,
  classify: async () => (await import("@adi/classifier")).startClassifier as Starter,
  map: async () => (await import("@adi/mapper")).startMapper as Starter,
  enrich: async () => (await import("@adi/enricher")).startEnricher as Starter,
} as const;
export type ServiceName = keyof typeof SERVICES;
export const ALL_SERVICES: ServiceName[] = ["capture", "classify", "map", "enrich"];

/** The files each service writes, by the setting that names them: checked before any broker is started. */
const OUTPUTS: Readonly<Record<ServiceName, (cfg: AdiConfig) => readonly (readonly [string, string | undefined])[]>> = {
  capture: () => [],
  classify: () => [],
  map: (cfg) => [
    ["OUTPUT_PATH", cfg.outputPath],
    ["SERVICE_MAP_PATH", cfg.serviceMapPath],
  ],
  enrich: (cfg) => [["ENV_OUTPUT_PATH", cfg.envOutputPath]],
};

/** Throws AdiError ADI_ERR_OUTPUT_PATH (exit 2) for the first output path of `which` that cannot be written safely. */
export function checkOutputs(cfg: AdiConfig, which: readonly ServiceName[]): void {
  for (const s of which) for (const [variable, path] of OUTPUTS[s](cfg)) if (path !== undefined) checkOutputPath(variable, path);
}

/**
 * Each service's Prometheus families, from its running object (loaded with the service: nothing more is imported).
 * `agentInChild`: the host whose capture agent is this process's child (`adi up`), whose publish buffer limit is
 * ours (it inherits our environment); its figures reach /metrics through its stats facts, which the mapper reads.
 */
const METRICS: Readonly<Record<ServiceName, (s: Stoppable, rt: Runtime, agentInChild: string | undefined) => Promise<MetricFamily[]>>> = {
  capture: async (s, rt) => (await import("@adi/capture")).captureMetricFamilies(s as CaptureAgent, rt.cfg),
  classify: async (s, rt) => (await import("@adi/classifier")).classifierMetricFamilies(s as Classifier, rt.nc),
  map: async (s, rt, agentInChild) =>
    (await import("@adi/mapper")).mapperMetricFamilies(s as Mapper, { agentBufferLimits: agentInChild === undefined ? {} : { [agentInChild]: rt.cfg.publishBufferBytes } }),
  enrich: async (s) => (await import("@adi/enricher")).enricherMetricFamilies(s as Enricher),
};

interface ServedMetrics {
  /** http://host:port/metrics as bound. */
  url: string;
  /** Adds a service's families once it runs. */
  add(s: ServiceName, running: Stoppable): Promise<void>;
  close(): Promise<void>;
}

/**
 * Serves /metrics for this process (one endpoint for all the services it runs) on ADI_METRICS_ADDR; unset: the
 * pipeline commands (`adi up`, `adi demo`) on 127.0.0.1:9464, a single service on none; `off`: none. An address
 * that cannot be bound is AdiError ADI_ERR_CONFIG (exit 2) when set, a warning when it is the default (9464 is
 * also the OpenTelemetry Prometheus exporter's port: another exporter there must not stop the pipeline).
 */
async function startMetrics(rt: Runtime, which: readonly ServiceName[], agentInChild: string | undefined): Promise<ServedMetrics | undefined> {
  const set = rt.cfg.metricsAddr;
  const addr: ListenAddress | null = set === undefined ? (which.length > 1 ? DEFAULT_METRICS_ADDR : null) : set;
  if (!addr) return undefined;
  const registry = await MetricsRegistry.create({ log: rt.log });
  const shown = addr.host.includes(":") ? `[${addr.host}]:${addr.port}` : `${addr.host}:${addr.port}`;
  let server;
  try {
    server = await serveMetrics(registry, addr, rt.log);
  } catch (err) {
    if (set !== undefined) throw adiError("ADI_ERR_CONFIG", `ADI_METRICS_ADDR="${shown}": cannot listen there`, err);
    rt.log.warn({ address: shown, err: (err as Error).message }, "metrics not served: the default address cannot be bound (set ADI_METRICS_ADDR to host:port, or off)");
    return undefined;
  }
  return {
    url: server.url,
    add: async (s, running) => registry.add(...(await METRICS[s](running, rt, agentInChild))),
    close: () => server.close(),
  };
}

/** Longest the capture agent may take to flush and exit after SIGTERM (its own drain bound is 5 s) before SIGKILL. */
const CAPTURE_STOP_GRACE_MS = 15_000;
/** Longest the consumers are given, once capture has exited, to consume what it flushed. */
const CATCH_UP_TIMEOUT_MS = 10_000;

export interface RunningServices {
  rt: Runtime;
  /** Rejects with a CaptureExitError if the capture child exits without being asked to; else never settles. */
  failed: Promise<never>;
  /**
   * Stops capture first (it flushes what it buffered), waits until the consumers have consumed what it published
   * (at most 10 s), stops them in start order, then closes NATS (and the embedded server). Never throws.
   */
  stop(): Promise<void>;
  /** The view (`adi up`, `adi demo`: the mapper and the enricher run here), its url logged; null when off or not served. */
  view: View | null;
  /** Where /metrics is served; null when off or not served. */
  metricsUrl: string | null;
  /** The in-process mapper's map as data (`adi demo`'s summary); null when no mapper runs here. Valid after stop. */
  serviceMap(): ServiceMap | null;
}

const never = new Promise<never>(() => undefined);

/** Why a start was aborted: SIGINT/SIGTERM came before every service was ready. Not an error. */
class StoppedWhileStarting extends Error {
  override readonly name = "AbortError";
  constructor(signal: NodeJS.Signals) {
    super(`stopped by ${signal} while starting`);
  }
}

/**
 * Opens the runtime (configuration, logger, NATS) and starts `which`. With capture and anything else, capture
 * runs in a child process, started last: every consumer is ready before the agent logs `ready`, so the first
 * `ready` line means the whole pipeline is. Resolves once all are ready (each consumer follows its streams).
 * Throws the configuration (output paths included), preflight (not root, no BTF) or NATS error, a service's
 * ADI_ERR_NOT_FOLLOWING after ADI_START_TIMEOUT, `signal`'s reason when it aborts the start, or a CaptureExitError
 * if the child exited before it was ready; what was started is stopped first.
 */
export async function startServices(name: string, which: readonly ServiceName[], opts: { signal?: AbortSignal } = {}): Promise<RunningServices> {
  const captureInChild = which.includes("capture") && which.length > 1;
  // The checks run here even when the agent runs in a child: a host that cannot capture is refused before any
  // broker starts, in one line.
  const preflight = which.includes("capture") ? (await import("@adi/capture")).preflight : undefined;
  const rt = await openRuntime(
    name,
    (cfg) => {
      checkOutputs(cfg, which);
      preflight?.();
    },
    // Consumers alone may join the broker of an `adi up` already running here; anything with capture may not (two
    // agents would capture everything twice).
    { signal: opts.signal, attach: !which.includes("capture") },
  );
  const inProcess = captureInChild ? which.filter((s) => s !== "capture") : which;
  const running = new Map<ServiceName, Stoppable>();
  let child: CaptureChild | undefined;
  let childReady = false;
  let stopping: Promise<void> | undefined;
  let metrics: ServedMetrics | undefined;
  let view: View | null = null;

  const stopConsumers = async () => {
    await metrics?.close().catch((err) => rt.log.error({ err }, "error while closing /metrics"));
    for (const r of running.values()) await r.stop().catch((err) => rt.log.error({ err }, "error while stopping"));
    await rt.close().catch((err) => rt.log.error({ err }, "error while closing NATS"));
  };
  const stopAll = () =>
    (stopping ??= (async () => {
      // First: no page reads the folds while they are stopped (its event streams end; an open browser retries).
      await view?.close().catch((err) => rt.log.error({ err }, "error while stopping the view"));
      if (child) {
        const exit = await child.stop(CAPTURE_STOP_GRACE_MS);
        rt.log.info({ capturePid: child.pid, ...exit }, "capture agent exited");
      }
      if (child && childReady) {
        const classifier = running.get("classify") as Classifier | undefined;
        const mapper = running.get("map") as Mapper | undefined;
        const r = await waitForCatchUp(
          rt.nc,
          {
            classifierPartitions: classifier && (() => classifier.owned()),
            mapperTaken: mapper && (() => {
              const c = mapper.counters();
              return c.batches + c.invalid;
            }),
          },
          CATCH_UP_TIMEOUT_MS,
        );
        if (r.caughtUp) rt.log.info({ waitedMs: r.waitedMs }, "consumers caught up with capture");
        else rt.log.warn(r, "consumers did not catch up with capture in time: stopping them anyway");
      }
      await stopConsumers();
    })());

  try {
    metrics = await startMetrics(rt, which, captureInChild ? sanitizeToken(rt.cfg.host) : undefined);
    // The view's address too is taken before any consumer starts: a taken ADI_VIEW_ADDR ends the start before a
    // consumer joins its group (and rewinds a running pipeline's partitions). Its folds are given once they run.
    const listening = inProcess.includes("map") && inProcess.includes("enrich") ? await (await import("./view.ts")).listenViewFor(rt) : null;
    view = listening;
    for (const s of inProcess) {
      opts.signal?.throwIfAborted();
      running.set(s, await (await SERVICES[s]())(rt.cfg, rt.nc, rt.log.child({ component: s }), { signal: opts.signal, dropCapabilities: true }));
      await metrics?.add(s, running.get(s)!);
    }
    opts.signal?.throwIfAborted();
    // The view shows what the consumers fold (`adi up`, `adi demo`) from now on, before capture starts.
    const mapper = running.get("map") as Mapper | undefined;
    const enricher = running.get("enrich") as Enricher | undefined;
    if (listening && mapper && enricher) listening.serve({ outputs: mapper.outputs, inventory: enricher.inventory });
    opts.signal?.throwIfAborted();
    if (captureInChild) {
      // The child serves no /metrics of its own: its figures are ours, through its stats facts (METRICS.map).
      child = startCaptureChild({ ...natsTarget(rt.cfg, rt.embedded).env, ADI_METRICS_ADDR: "off" });
      rt.log.info({ capturePid: child.pid }, "capture agent started in its own process");
      await child.ready;
      childReady = true;
    }
  } catch (err) {
    await stopAll();
    throw err;
  }
  const failed = child
    ? child.exited.then((exit) => (stopping ? never : Promise.reject(new CaptureExitError(exit, "while running"))))
    : never;
  failed.catch(() => undefined); // observed by untilStopped; never an unhandled rejection
  const mapper = running.get("map") as Mapper | undefined;
  return { rt, failed, stop: stopAll, view, metricsUrl: metrics?.url ?? null, serviceMap: () => mapper?.outputs.serviceMap() ?? null };
}

/** Runs `which` until SIGINT/SIGTERM (or until the capture child fails: then throws its CaptureExitError). */
export async function runServices(name: string, which: readonly ServiceName[]): Promise<void> {
  const signals = listenForStop();
  // A stop requested while a service still waits for the broker ends the start at once, cleanly (exit 0).
  const starting = new AbortController();
  void signals.requested.then((signal) => starting.abort(new StoppedWhileStarting(signal)));
  let services: RunningServices;
  try {
    services = await startServices(name, which, { signal: starting.signal });
  } catch (err) {
    if (starting.signal.aborted && (err === starting.signal.reason || isAbort(err))) return;
    throw err;
  }
  notifyParentReady();
  await signals.untilStopped(services.rt.log, () => services.stop(), services.failed);
}
