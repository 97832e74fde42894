// `adi capture`: the capture agent alone. `adi up`: capture plus every consumer that exists, in one process
// tree (today: capture; the classifier, enricher and mapper join as they are built).
import { preflight } from "@adi/capture/adapters/kernel";
import { startCaptureAgent } from "@adi/capture/agent";
import { openRuntime, untilSignalled } from "../runtime.ts";

export async function runCapture(name: "capture" | "up"): Promise<void> {
  // A host that cannot run the probes is refused before a broker is started for nothing.
  const rt = await openRuntime(name, () => preflight());
  let agent;
  try {
    agent = await startCaptureAgent(rt.cfg, rt.nc, rt.log);
  } catch (err) {
    await rt.close();
    throw err;
  }
  await untilSignalled(rt.log, async () => {
    await agent.stop();
    await rt.close();
  });
}
