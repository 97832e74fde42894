// `adi capture`, `adi classify`, `adi map`, `adi enrich`, and `adi up` (all of them). A command that runs one
// service runs it in this process. `adi up` (and `adi demo`) run the consumers here and the capture agent in a
// child process of its own (cli/capture-child.ts): on one event loop, the consumers starved the kernel path at
// saturation and the agent dropped events.
import type { NatsConnection } from "@nats-io/transport-node";
import type { Logger } from "pino";
import type { Classifier } from "@adi/classifier";
import type { Mapper } from "@adi/mapper";
import type { AdiConfig } from "@adi/shared";
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

  const stopConsumers = async () => {
    for (const r of running.values()) await r.stop().catch((err) => rt.log.error({ err }, "error while stopping"));
    await rt.close().catch((err) => rt.log.error({ err }, "error while closing NATS"));
  };
  const stopAll = () =>
    (stopping ??= (async () => {
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
    for (const s of inProcess) {
      opts.signal?.throwIfAborted();
      running.set(s, await (await SERVICES[s]())(rt.cfg, rt.nc, rt.log.child({ component: s }), { signal: opts.signal, dropCapabilities: true }));
    }
    opts.signal?.throwIfAborted();
    if (captureInChild) {
      child = startCaptureChild(natsTarget(rt.cfg, rt.embedded).env);
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
  return { rt, failed, stop: stopAll };
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
