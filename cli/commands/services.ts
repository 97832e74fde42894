// `adi classify`, `adi map`, and `adi up` (capture + classifier + mapper in one process tree).
import type { NatsConnection } from "@nats-io/transport-node";
import type { Logger } from "pino";
import { preflight } from "@adi/capture/adapters/kernel";
import { startCaptureAgent } from "@adi/capture/agent";
import { startClassifier } from "@adi/classifier";
import { startMapper } from "@adi/mapper";
import type { AdiConfig } from "@adi/shared/config";
import { openRuntime, untilSignalled } from "../runtime.ts";

type Stoppable = { stop(): Promise<void> };
type Starter = (cfg: AdiConfig, nc: NatsConnection, log: Logger) => Promise<Stoppable>;

export const SERVICES = {
  capture: startCaptureAgent as Starter,
  classify: startClassifier as Starter,
  map: startMapper as Starter,
} as const;

/** Starts the services in order, stops them in reverse (capture first: what it flushes is still consumed). */
export async function runServices(name: string, which: (keyof typeof SERVICES)[]): Promise<void> {
  const rt = await openRuntime(name, which.includes("capture") ? () => preflight() : undefined);
  const running: Stoppable[] = [];
  try {
    for (const s of which) running.push(await SERVICES[s](rt.cfg, rt.nc, rt.log.child({ component: s })));
  } catch (err) {
    for (const r of running.reverse()) await r.stop().catch(() => undefined);
    await rt.close();
    throw err;
  }
  await untilSignalled(rt.log, async () => {
    for (const r of running) {
      await r.stop().catch((err) => rt.log.error({ err }, "error while stopping"));
      // let consumers see what capture flushed on its way out
      if (r === running[0] && running.length > 1) await new Promise((res) => setTimeout(res, 500));
    }
    await rt.close();
  });
}
