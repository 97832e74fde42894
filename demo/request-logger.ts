// Demo request logger: reads the request events http-service publishes on NATS and keeps them in Redis
// (the last 1000 in a list, plus a counter per path), so a profiler sees it use NATS (4222) and Redis (6379).
import { Redis } from "ioredis";
import type { NatsConnection } from "@nats-io/transport-node";
import { MARKERS, REQUESTS_SUBJECT, envString, errorText, log, onShutdown, repeatedErrors } from "./common.ts";
import type { RequestEvent } from "./common.ts";
import { connectForever } from "./nats.ts";

const LIST_KEY = "demo:requests";
const KEEP = 1000;

const natsUrl = envString("NATS_URL", "nats://127.0.0.1:4222");
const redisUrl = envString("REDIS_URL", "redis://127.0.0.1:6379");

// ioredis reconnects forever by default and queues commands meanwhile.
const redis = new Redis(redisUrl);
const redisErrors = repeatedErrors("redis");
redis.on("error", (err: Error) => redisErrors.report(err.message));
redis.on("ready", () => redisErrors.reset());

function parse(data: string): RequestEvent | undefined {
  try {
    const e = JSON.parse(data) as Partial<RequestEvent>;
    return typeof e.path === "string" ? (e as RequestEvent) : undefined;
  } catch {
    return undefined;
  }
}

async function store(data: string): Promise<void> {
  const event = parse(data);
  if (!event) return log(`skipped a message that is not a request event: ${data.slice(0, 100)}`);
  // One round trip, applied as a whole.
  await redis.multi().lpush(LIST_KEY, data).ltrim(LIST_KEY, 0, KEEP - 1).incr(`demo:count:${event.path}`).exec();
}

let nc: NatsConnection | undefined = undefined; // set once connected; the shutdown handler may run before
let done: Promise<void> = Promise.resolve();

onShutdown(async () => {
  if (nc) await nc.drain(); // delivers what is in flight, then ends the loop below
  await done;
  if (redis.status === "ready") await redis.quit();
  else redis.disconnect(); // QUIT would wait in the offline queue
});

nc = await connectForever(natsUrl, "request-logger");
const sub = nc.subscribe(REQUESTS_SUBJECT);
await nc.flush(); // the server knows the subscription once the flush returns
log(`${MARKERS.subscribed}, storing in ${redisUrl}`);

done = (async () => {
  for await (const m of sub) {
    await store(m.string()).catch((err: unknown) => log(`redis store failed: ${errorText(err)}`));
  }
})();
