// NATS connection for the demo programs: retries forever, before the first connection as after a loss,
// and says so on stderr (run.ts waits for MARKERS.natsConnected).
import { connect } from "@nats-io/transport-node";
import type { NatsConnection } from "@nats-io/transport-node";
import { MARKERS, log } from "./common.ts";

export async function connectForever(url: string, name: string): Promise<NatsConnection> {
  const nc = await connect({
    servers: url,
    name,
    waitOnFirstConnect: true, // keep trying while the broker is not up yet
    maxReconnectAttempts: -1,
    reconnectTimeWait: 1_000,
  });
  log(`${MARKERS.natsConnected} to ${url}`);
  void (async () => {
    for await (const s of nc.status()) {
      if (s.type === "disconnect") log(`nats disconnected from ${s.server}`);
      else if (s.type === "reconnect") log(`${MARKERS.natsConnected} to ${s.server} (reconnected)`);
    }
  })();
  return nc;
}
