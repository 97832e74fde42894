// Demo HTTP service (the Go demo's cmd/server): answers /, /healthz, /echo and /slow, and announces every
// request it served on NATS, so that a profiler sees it as a client of NATS (4222) as well as an HTTP server.
import { createServer } from "node:http";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { NatsConnection } from "@nats-io/transport-node";
import { REQUESTS_SUBJECT, envInt, envString, errorText, log, onShutdown, sleep } from "./common.ts";
import type { RequestEvent } from "./common.ts";
import { connectForever } from "./nats.ts";

const SERVICE = "http-service";
const MAX_BODY = 1 << 20;

const port = envInt("DEMO_HTTP_PORT", 8080);
const host = envString("DEMO_HTTP_HOST", "127.0.0.1");
const slowMs = envInt("DEMO_SLOW_MS", 250);
const natsUrl = envString("NATS_URL", "nats://127.0.0.1:4222");

// HTTP does not wait for NATS: until the first connection, request events are dropped.
let nc: NatsConnection | undefined;
const stopping = new AbortController();

type Reply = { status: number; body: unknown };

async function route(req: IncomingMessage, path: string): Promise<Reply> {
  const method = req.method ?? "GET";
  const known: Record<string, string> = { "/": "GET", "/healthz": "GET", "/echo": "POST", "/slow": "GET" };
  if (!(path in known)) return { status: 404, body: { error: "not found" } };
  if (known[path] !== method) return { status: 405, body: { error: `use ${known[path]}` } };
  switch (path) {
    case "/":
      return { status: 200, body: { service: SERVICE, message: "hello from the adi demo", time: new Date().toISOString() } };
    case "/healthz":
      return { status: 200, body: { status: "ok" } };
    case "/echo":
      return echo(req);
    default: {
      const started = Date.now();
      await sleep(slowMs, stopping.signal);
      return { status: 200, body: { slow: true, waited_ms: Date.now() - started } };
    }
  }
}

async function echo(req: IncomingMessage): Promise<Reply> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY) return { status: 413, body: { error: `body over ${MAX_BODY} bytes` } };
    chunks.push(chunk);
  }
  const text = Buffer.concat(chunks).toString("utf8");
  try {
    return { status: 200, body: { echo: JSON.parse(text) as unknown, length: size } };
  } catch {
    return { status: 400, body: { error: "body is not JSON" } };
  }
}

function handle(req: IncomingMessage, res: ServerResponse): void {
  const path = new URL(req.url ?? "/", "http://localhost").pathname;
  res.on("finish", () => publish({ method: req.method ?? "", path, status: res.statusCode, ts: new Date().toISOString() }));
  route(req, path)
    .catch((err: unknown): Reply => ({ status: 500, body: { error: errorText(err) } }))
    .then(({ status, body }) => {
      res.writeHead(status, { "content-type": "application/json" });
      res.end(JSON.stringify(body));
    });
}

function publish(event: RequestEvent): void {
  if (!nc || nc.isClosed()) return;
  try {
    nc.publish(REQUESTS_SUBJECT, JSON.stringify(event));
  } catch (err) {
    log(`publish failed: ${errorText(err)}`);
  }
}

const server = createServer(handle);
server.on("error", (err) => {
  log(`http server: ${errorText(err)}`);
  process.exit(1);
});
server.listen(port, host, () => log(`listening on http://${host}:${port}`));

connectForever(natsUrl, SERVICE).then(
  (c) => (nc = c),
  (err: unknown) => log(`nats: ${errorText(err)}`),
);

onShutdown(async () => {
  stopping.abort(); // /slow answers now rather than holding the close
  await new Promise<void>((resolve) => {
    server.close(() => resolve());
    server.closeIdleConnections();
  });
  if (nc) await nc.drain(); // flushes the last request events
});
