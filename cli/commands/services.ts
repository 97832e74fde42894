// `adi capture`, `adi classify`, `adi map`, `adi enrich`, and `adi up` (all of them in one process tree).
import type { NatsConnection } from "@nats-io/transport-node";
import type { Logger } from "pino";
import type { AdiConfig } from "@adi/shared/config";
import { listenForStop, openRuntime } from "../runtime.ts";
import type { Runtime } from "../runtime.ts";

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

export interface RunningServices {
  rt: Runtime;
  /** Stops them in start order (capture first: what it flushes on the way out is still consumed), then NATS. */
  stop(): Promise<void>;
}

export async function startServices(name: string, which: readonly ServiceName[]): Promise<RunningServices> {
  const preflight = which.includes("capture") ? (await import("@adi/capture/adapters/kernel")).preflight : undefined;
  const rt = await openRuntime(name, preflight && (() => preflight()));
  const running: Stoppable[] = [];
  const stopAll = async () => {
    for (const [i, r] of running.entries()) {
      await r.stop().catch((err) => rt.log.error({ err }, "error while stopping"));
      // let the consumers see the last batches capture flushed
      if (i === 0 && which[0] === "capture" && running.length > 1) await new Promise((res) => setTimeout(res, 1000));
    }
    await rt.close();
  };
  try {
    for (const s of which) running.push(await (await SERVICES[s]())(rt.cfg, rt.nc, rt.log.child({ component: s })));
  } catch (err) {
    await stopAll();
    throw err;
  }
  return { rt, stop: stopAll };
}

export async function runServices(name: string, which: readonly ServiceName[]): Promise<void> {
  const signals = listenForStop();
  const services = await startServices(name, which);
  await signals.untilStopped(services.rt.log, () => services.stop());
}
