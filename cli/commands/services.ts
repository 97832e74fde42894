// `adi capture`, `adi classify`, `adi map`, `adi enrich`, and `adi up` (all of them). A command that runs one
// service runs it in this process. `adi up` (and `adi demo`) run the consumers here and the capture agent in a
// child process of its own (cli/capture-child.ts): on one event loop, the consumers starved the kernel path at
// saturation and the agent dropped events.
import type { NatsConnection } from "@nats-io/transport-node";
import type { Logger } from "pino";
import type { Classifier } from "@adi/classifier";
import type { Mapper } from "@adi/mapper";
import type { AdiConfig } from "@adi/shared/config";
import { startCaptureChild } from "../capture-child.ts";
import type { CaptureChild } from "../capture-child.ts";
import { CaptureExitError } from "../capture-child.ts";
import { notifyParentReady } from "../lifeline.ts";
import { listenForStop, openRuntime } from "../runtime.ts";
import type { Runtime } from "../runtime.ts";
import { waitForCatchUp } from "./catch-up.ts";

type Stoppable = { stop(): Promise<void> };
type Starter = (cfg: AdiConfig, nc: NatsConnection, log: Logger) => Promise<Stoppable>;

// Loaded on demand: a process runs only what it starts (the capture agent does not carry the enricher's gRPC and
// Docker clients, nor the mapper's YAML, in its memory).
export const SERVICES = {
  capture: async () => (await import("@adi/capture/agent")).startCaptureAgent as Starter,
  classify: async () => (await import("@adi/classifier")).startClassifier as Starter,
  map: async () => (await import("@adi/mapper")).startMapper as Starter,
  enrich: async () => (await import("@adi/enricher")).startEnricher as Starter,
} as const;
export type ServiceName = keyof typeof SERVICES;
export const ALL_SERVICES: ServiceName[] = ["capture", "classify", "map", "enrich"];

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

/**
 * Opens the runtime (configuration, logger, NATS) and starts `which`. With capture and anything else, capture
 * runs in a child process, started last: every consumer is ready before the agent logs `ready`, so the first
 * `ready` line means the whole pipeline is. Resolves once all are ready. Throws the configuration, preflight
 * (not root, no BTF) or NATS error, or a CaptureExitError if the child exited before it was ready; what was
 * started is stopped first.
 */
export async function startServices(name: string, which: readonly ServiceName[]): Promise<RunningServices> {
  const captureInChild = which.includes("capture") && which.length > 1;
  // The checks run here even when the agent runs in a child: a host that cannot capture is refused before any
  // broker starts, in one line.
  const preflight = which.includes("capture") ? (await import("@adi/capture/adapters/kernel")).preflight : undefined;
  const rt = await openRuntime(name, preflight && (() => preflight()));
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
    for (const s of inProcess) running.set(s, await (await SERVICES[s]())(rt.cfg, rt.nc, rt.log.child({ component: s })));
    if (captureInChild) {
      child = startCaptureChild(rt.cfg.natsServers ?? [rt.embedded!.url]);
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
  const services = await startServices(name, which);
  notifyParentReady();
  await signals.untilStopped(services.rt.log, () => services.stop(), services.failed);
}
