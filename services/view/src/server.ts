// The view's HTTP adapter (fastify): the page and its assets, the map as JSON, and Server-Sent Events when the
// live folds move. Routes:
//
//   GET /, /view.js, /view.css      public/ (@fastify/static, files listed at start: nothing else of the disk)
//   GET /assets/<name>              the graph library, from node_modules (ASSETS): no CDN, works offline
//   GET /api/map?window=live|5m|range&since=&until=   the ViewModel of a window (core/window.ts)
//   GET /api/events                 text/event-stream: `event: map` with the live version when it moved
//
// Security: every answer carries a Content-Security-Policy of this origin only (no inline script or style, no
// frames), and a request naming another Host than the loopback address it is bound to is refused (a page on the
// internet whose name resolves to 127.0.0.1, "DNS rebinding", cannot read the map).
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { AddressInfo } from "node:net";
import type { ServerResponse } from "node:http";
import Fastify from "fastify";
import type { FastifyInstance } from "fastify";
import fastifyStatic from "@fastify/static";
import type { Logger } from "pino";
import type { ServiceMap } from "@adi/mapper";
import type { ListenAddress } from "@adi/shared";
import type { ProcessFact } from "@adi/shared/wire";
import { buildViewModel } from "./core/view-model.ts";
import { parseWindow, WindowQueryError } from "./core/window.ts";
import type { ViewWindow } from "./core/window.ts";

/** A window's fold, computed on request (the CLI's foldStreams): the map and the inventory's processes. */
export type WindowFold = (since?: Date, until?: Date) => Promise<{ map: ServiceMap; processes: ProcessFact[] }>;

/** The live folds the page follows: read on each request, watched for a version change. */
export interface LiveFolds {
  /** Moves whenever either fold changed (MapperOutputs.version + EnvInventory.version). */
  version(): number;
  map(): ServiceMap;
  processes(): ProcessFact[];
}

export interface ViewServerOptions {
  addr: ListenAddress;
  log: Logger;
  live: LiveFolds;
  /** Windows other than live; without it they are answered 501. */
  windowFold?: WindowFold;
  /** How often the live version is compared, ms: events are at most this frequent (the debounce). Default 1000. */
  pollMs?: number;
  /** A comment line on every event stream this often, ms, so proxies and the browser keep it open. Default 15000. */
  keepAliveMs?: number;
  /** The clock, ms since the epoch (5m's start). Default Date.now. */
  now?: () => number;
}

export interface ViewServer {
  /** http://host:port/ as bound (port 0 resolved; a wildcard host shown as the loopback address of its family). */
  url: string;
  address: ListenAddress;
  /** Ends the event streams, stops listening. */
  close(): Promise<void>;
}

/** Files served under /assets/: name → the module it belongs to and the file beside that module's ESM entry. */
const ASSETS: Readonly<Record<string, { module: string; file: string }>> = {
  "cytoscape.mjs": { module: "cytoscape", file: "cytoscape.esm.min.mjs" },
  "cytoscape-dagre.mjs": { module: "cytoscape-dagre", file: "cytoscape-dagre.min.mjs" },
};

/** Same origin only: scripts and styles are files of ours, the page talks to us, nothing embeds it. */
export const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self'",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join("; ");

const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  "content-security-policy": CONTENT_SECURITY_POLICY,
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  "cross-origin-resource-policy": "same-origin",
};

const PUBLIC_DIR = fileURLToPath(new URL("../public/", import.meta.url));

/** Where each asset is on disk; throws if the install lacks one (a broken node_modules, not a user error). */
function assetPaths(): Map<string, { dir: string; file: string }> {
  const paths = new Map<string, { dir: string; file: string }>();
  for (const [name, { module, file }] of Object.entries(ASSETS)) {
    const dir = dirname(fileURLToPath(import.meta.resolve(module)));
    if (!existsSync(join(dir, file))) throw new Error(`view asset ${name}: ${join(dir, file)} is missing (npm install)`);
    paths.set(name, { dir, file });
  }
  return paths;
}

/**
 * Starts the view's HTTP server on `addr` and resolves once it listens. Rejects with the listen error as Node
 * gives it (EADDRINUSE, EACCES, EADDRNOTAVAIL: the caller names the setting). The page is built from `live` and,
 * for the other windows, `windowFold`; window folds run one at a time (each reads the streams).
 */
export async function startViewServer(opts: ViewServerOptions): Promise<ViewServer> {
  const assets = assetPaths();
  const now = opts.now ?? Date.now;
  const app: FastifyInstance = Fastify({ logger: false });
  let allowedHosts: ReadonlySet<string> | null = null;

  app.addHook("onRequest", async (req, reply) => {
    if (allowedHosts && !allowedHosts.has((req.headers.host ?? "").toLowerCase())) {
      return reply.code(403).header("content-type", "text/plain; charset=utf-8").send("forbidden: unexpected Host header\n");
    }
  });
  app.addHook("onSend", async (_req, reply) => {
    reply.headers(SECURITY_HEADERS);
  });
  app.setErrorHandler((err, req, reply) => {
    opts.log.error({ err, url: req.url }, "view request failed");
    void reply.code(500).send({ error: "internal error" });
  });

  // wildcard false: the files of public/ are listed now and only they have routes.
  await app.register(fastifyStatic, { root: PUBLIC_DIR, prefix: "/", wildcard: false, index: ["index.html"], cacheControl: false, etag: true });

  // Browsers ask for it unprompted: "nothing", rather than a 404 in the console.
  app.get("/favicon.ico", (_req, reply) => reply.code(204).send());

  app.get<{ Params: { name: string } }>("/assets/:name", (req, reply) => {
    const asset = assets.get(req.params.name);
    if (!asset) return reply.code(404).send({ error: "no such asset" });
    return reply.header("cache-control", "public, max-age=3600").sendFile(asset.file, asset.dir);
  });

  let windowQueue: Promise<unknown> = Promise.resolve();
  const fold = (w: Exclude<ViewWindow, { kind: "live" }>, windowFold: WindowFold) => {
    const run = windowQueue.then(() => windowFold(w.since ?? undefined, w.until ?? undefined));
    windowQueue = run.catch(() => undefined);
    return run;
  };

  app.get("/api/map", async (req, reply) => {
    let window: ViewWindow;
    try {
      window = parseWindow(req.query as Record<string, unknown>, now());
    } catch (err) {
      if (err instanceof WindowQueryError) return reply.code(400).send({ error: err.message });
      throw err;
    }
    const startedAt = performance.now();
    if (window.kind === "live") {
      const version = opts.live.version();
      const model = buildViewModel(opts.live.map(), opts.live.processes());
      return { window: { kind: "live", since: null, until: null }, version, computed_ms: elapsed(startedAt), ...model };
    }
    if (!opts.windowFold) return reply.code(501).send({ error: `window=${window.kind} is not available here: only the live map` });
    try {
      const { map, processes } = await fold(window, opts.windowFold);
      const model = buildViewModel(map, processes);
      const bounds = { since: window.since?.toISOString() ?? null, until: window.until?.toISOString() ?? null };
      return { window: { kind: window.kind, ...bounds }, version: null, computed_ms: elapsed(startedAt), ...model };
    } catch (err) {
      opts.log.warn({ err, window: window.kind }, "view could not fold the window");
      return reply.code(502).send({ error: `could not read the window from the streams: ${(err as Error).message}` });
    }
  });

  const streams = new Set<ServerResponse>();
  app.get("/api/events", (req, reply) => {
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, { ...SECURITY_HEADERS, "content-type": "text/event-stream; charset=utf-8", "cache-control": "no-store", connection: "keep-alive" });
    // The version the page can compare with the one its last /api/map carried; retry: reconnect after 2 s.
    res.write(`retry: 2000\nevent: map\ndata: ${JSON.stringify({ version: opts.live.version() })}\n\n`);
    streams.add(res);
    req.raw.on("close", () => streams.delete(res));
  });

  let lastVersion = opts.live.version();
  const poll = setInterval(() => {
    const version = opts.live.version();
    if (version === lastVersion) return;
    lastVersion = version;
    for (const res of streams) res.write(`event: map\ndata: ${JSON.stringify({ version })}\n\n`);
  }, opts.pollMs ?? 1000);
  const keepAlive = setInterval(() => {
    for (const res of streams) res.write(": keep-alive\n\n");
  }, opts.keepAliveMs ?? 15_000);
  poll.unref();
  keepAlive.unref();
  const stopTimers = () => {
    clearInterval(poll);
    clearInterval(keepAlive);
  };
  // An open event stream would keep close() waiting for ever.
  app.addHook("preClose", async () => {
    stopTimers();
    for (const res of streams) res.end();
    streams.clear();
  });

  try {
    await app.listen({ host: opts.addr.host, port: opts.addr.port });
  } catch (err) {
    stopTimers();
    await app.close().catch(() => undefined);
    throw err;
  }
  const bound = app.server.address() as AddressInfo;
  const urlHost = urlHostOf(opts.addr.host, bound.family);
  allowedHosts = isLoopbackHost(opts.addr.host) ? new Set([...loopbackHosts(bound.port), `${urlHost}:${bound.port}`]) : null;
  return {
    url: `http://${urlHost}:${bound.port}/`,
    address: { host: opts.addr.host, port: bound.port },
    close: () => app.close(),
  };
}

function elapsed(startedAt: number): number {
  return Math.round(performance.now() - startedAt);
}

/** The loopback names a browser on this machine may send as Host for `port`. */
function loopbackHosts(port: number): ReadonlySet<string> {
  return new Set(["127.0.0.1", "localhost", "[::1]"].map((h) => `${h}:${port}`));
}

function isLoopbackHost(host: string): boolean {
  return host === "localhost" || host === "::1" || /^127\.\d+\.\d+\.\d+$/.test(host);
}

/** The host part of the URL to print: a wildcard bind is reached at loopback; IPv6 in brackets. */
function urlHostOf(host: string, family: string): string {
  if (host === "0.0.0.0") return "127.0.0.1";
  if (host === "::") return "[::1]";
  return family === "IPv6" || host.includes(":") ? `[${host}]` : host;
}
