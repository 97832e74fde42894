// The view's HTTP server over real folds, through real HTTP on a free port: the page and its assets (from
// node_modules, with a same-origin CSP), /api/map for each window, the event stream when the live folds move, the
// Host check, and a taken address refused in one line.
import { readFileSync } from "node:fs";
import { request } from "node:http";
import { fileURLToPath } from "node:url";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ServiceMap } from "@adi/mapper";
import { isAdiError } from "@adi/shared";
import type { ProcessFact } from "@adi/shared/wire";
import { CONTENT_SECURITY_POLICY, listenView, serveView } from "../src/index.ts";
import type { View, ViewModel } from "../src/index.ts";
import { exchange, folds, processFact } from "./support/folds.ts";

const log = pino({ level: "silent" });
const live = folds();
live.outputs.addDerived(exchange("h1", 1));
const windowCalls: { since?: Date; until?: Date }[] = [];
let windowFails = false;
let view: View;

/** A window's fold: a fresh MapperOutputs of its own with one call, as foldStreams would return one. */
async function windowFold(since?: Date, until?: Date): Promise<{ map: ServiceMap; processes: ProcessFact[] }> {
  windowCalls.push({ since, until });
  if (windowFails) throw new Error("adi: ADI_ERR_NO_STREAM: stream ADI_RAW does not exist on the broker: nothing to replay");
  const f = folds("h2");
  f.outputs.addDerived(exchange("h2", 7, { target: "/slow", response: '{"slow":true}' }));
  return { map: f.outputs.serviceMap(), processes: f.inventory.processes() };
}

beforeAll(async () => {
  view = await serveView(live, { addr: { host: "127.0.0.1", port: 0 }, log, windowFold, pollMs: 100 });
});
afterAll(async () => {
  await view?.close();
});

const get = (path: string, init?: RequestInit) => fetch(new URL(path, view.url), init);
const mapOf = async (query = "") => (await (await get(`/api/map${query}`)).json()) as ViewModel & { window: { kind: string; since: string | null; until: string | null }; version: number | null };

/** The next `event: map` of an open event stream: its data. */
function eventReader(res: Response) {
  const reader = res.body!.getReader();
  let buffered = "";
  const next = async (timeoutMs: number): Promise<{ version: number }> => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const end = buffered.indexOf("\n\n");
      if (end >= 0) {
        const block = buffered.slice(0, end);
        buffered = buffered.slice(end + 2);
        const data = /^data: (.*)$/m.exec(block);
        if (/^event: map$/m.test(block) && data) return JSON.parse(data[1]!) as { version: number };
        continue;
      }
      const left = deadline - Date.now();
      if (left <= 0) throw new Error("no event in time");
      const chunk = await Promise.race([reader.read(), new Promise<never>((_, reject) => setTimeout(() => reject(new Error("no event in time")), left))]);
      if (chunk.done) throw new Error("event stream ended");
      buffered += new TextDecoder().decode(chunk.value);
    }
  };
  return { next, cancel: () => reader.cancel() };
}

describe("the page and its assets", () => {
  it("serves the page with a same-origin Content-Security-Policy and no inline script", async () => {
    const res = await get("/");
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^text\/html/);
    expect(res.headers.get("content-security-policy")).toBe(CONTENT_SECURITY_POLICY);
    expect(CONTENT_SECURITY_POLICY).toContain("script-src 'self'");
    expect(CONTENT_SECURITY_POLICY).not.toMatch(/unsafe|\*|https?:/);
    expect(res.headers.get("x-content-type-options")).toBe("nosniff");
    const html = await res.text();
    expect(html).toContain('<script type="module" src="/view.js"></script>');
    expect(html.match(/<script\b[^>]*>/g)).toEqual(['<script type="module" src="/view.js">']);
    expect(html.replace(/<!--[\s\S]*?-->/g, "")).not.toMatch(/\sstyle=|<style/);
  });

  it.each([
    ["/view.js", /^text\/javascript|^application\/javascript/],
    ["/view.css", /^text\/css/],
  ])("serves %s", async (path, type) => {
    const res = await get(path);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(type);
    expect(res.headers.get("content-security-policy")).toBe(CONTENT_SECURITY_POLICY);
  });

  it.each([
    ["cytoscape.mjs", "cytoscape/dist/cytoscape.esm.min.mjs"],
    ["cytoscape-dagre.mjs", "cytoscape-dagre/dist/cytoscape-dagre.min.mjs"],
  ])("serves /assets/%s from node_modules, byte for byte", async (name, file) => {
    const res = await get(`/assets/${name}`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/javascript/);
    const onDisk = readFileSync(fileURLToPath(new URL(`../../../node_modules/${file}`, import.meta.url)));
    expect(Buffer.from(await res.arrayBuffer()).equals(onDisk)).toBe(true);
  });

  it.each(["/assets/nope.mjs", "/assets/..%2Fpackage.json", "/assets/../package.json", "/../package.json", "/index.html.bak", "/server.ts"])("answers 404 for %s", async (path) => {
    expect((await get(path)).status).toBe(404);
  });

  it("refuses a request naming another host (DNS rebinding) and takes the loopback names", async () => {
    const status = (host: string) =>
      new Promise<number>((resolve, reject) => {
        const url = new URL("/api/map", view.url);
        request({ host: url.hostname, port: url.port, path: url.pathname, headers: { host } }, (res) => {
          res.resume();
          resolve(res.statusCode!);
        })
          .on("error", reject)
          .end();
      });
    const port = new URL(view.url).port;
    expect(await status(`evil.example:${port}`)).toBe(403);
    expect(await status(`127.0.0.1:${Number(port) + 1}`)).toBe(403);
    for (const host of [`127.0.0.1:${port}`, `localhost:${port}`]) expect(await status(host)).toBe(200);
  });
});

describe("/api/map", () => {
  it("is the live folds' model: nodes, the edge with its figures, the endpoint's schemas and the redacted environment", async () => {
    const m = await mapOf();
    expect(m.window).toEqual({ kind: "live", since: null, until: null });
    expect(m.version).toBe(live.outputs.version + live.inventory.version);
    expect(m.nodes.map((n) => [n.id, n.kind])).toEqual([
      ["n:http-service", "external"],
      ["n:traffic-generator", "service"],
    ]);
    expect(m.edges).toEqual([expect.objectContaining({ source: "n:traffic-generator", target: "n:http-service", protocol: "http", count: 1, errors: 0, error_rate: 0, status_codes: { "200": 1 } })]);
    expect(m.edges[0]!.p50_ms).toBeGreaterThan(2);
    const ep = m.endpoints[m.details["n:traffic-generator"]!.endpoints[0]!]!;
    expect(ep).toMatchObject({ method: "GET", path: "/healthz", destination: "http-service", response_schema: { status: "string" }, request_schema: null });
    const env = m.processes[m.details["n:traffic-generator"]!.processes[0]!]!.env;
    expect(env.ADI_PROFILE).toBe("local");
    expect(env.DB_PASSWORD).not.toContain("hunter2");
  });

  it("folds the last five minutes on request, up to now", async () => {
    const before = Date.now();
    const m = await mapOf("?window=5m");
    expect(m.window.kind).toBe("5m");
    expect(m.version).toBeNull();
    const call = windowCalls.at(-1)!;
    expect(call.until).toBeUndefined();
    expect(call.since!.getTime()).toBeGreaterThanOrEqual(before - 300_000 - 5);
    expect(call.since!.getTime()).toBeLessThanOrEqual(Date.now() - 300_000);
    expect(m.endpoints.map((e) => e.path)).toEqual(["/slow"]);
  });

  it("folds a window given by since and until", async () => {
    const m = await mapOf("?window=range&since=2026-11-27T09:00:00Z&until=2026-11-27T09:30:00.5Z");
    expect(m.window).toEqual({ kind: "range", since: "2026-11-27T09:00:00.000Z", until: "2026-11-27T09:30:00.500Z" });
    expect(windowCalls.at(-1)).toEqual({ since: new Date("2026-11-27T09:00:00Z"), until: new Date("2026-11-27T09:30:00.5Z") });
  });

  it("answers 400 for a bad query and 502 with the error line when the window cannot be read", async () => {
    const bad = await get("/api/map?window=range&since=yesterday");
    expect(bad.status).toBe(400);
    expect(await bad.json()).toEqual({ error: 'since "yesterday": expected an ISO 8601 time, e.g. 2026-11-27T09:00:00Z' });
    windowFails = true;
    try {
      const res = await get("/api/map?window=5m");
      expect(res.status).toBe(502);
      expect(((await res.json()) as { error: string }).error).toContain("ADI_ERR_NO_STREAM");
    } finally {
      windowFails = false;
    }
  });

  it("answers 501 for a window when no window fold was given", async () => {
    const only = await serveView(folds(), { addr: { host: "127.0.0.1", port: 0 }, log });
    try {
      const res = await fetch(new URL("/api/map?window=5m", only.url));
      expect(res.status).toBe(501);
      expect((await fetch(new URL("/api/map", only.url))).status).toBe(200);
    } finally {
      await only.close();
    }
  });
});

describe("/api/events", () => {
  it("sends the version at once, then an event when the live folds move, and the map then has the new call", async () => {
    const res = await get("/api/events");
    expect(res.headers.get("content-type")).toMatch(/^text\/event-stream/);
    expect(res.headers.get("content-security-policy")).toBe(CONTENT_SECURITY_POLICY);
    const { next, cancel } = eventReader(res);
    const first = await next(2000);
    expect(first.version).toBe(live.outputs.version + live.inventory.version);
    live.outputs.addDerived(exchange("h1", 2, { method: "POST", target: "/echo", body: '{"message":"hi"}', response: '{"message":"hi"}' }));
    live.outputs.addDerived(exchange("h1", 3, { method: "POST", target: "/echo", body: '{"message":"ho"}', response: '{"message":"ho"}' }));
    const second = await next(2000);
    expect(second.version).toBeGreaterThan(first.version);
    const m = await mapOf();
    expect(m.version).toBe(second.version);
    const echo = m.endpoints.find((e) => e.path === "/echo")!;
    expect(echo).toMatchObject({ method: "POST", count: 2, request_schema: { message: "string" } });
    // A process fact moves the inventory alone: an event too.
    live.inventory.add(processFact("h1", 11, "request-logger"));
    expect((await next(2000)).version).toBe(second.version + 1);
    await cancel();
  });

  it("is ended by close(), which does not wait for the browser", async () => {
    const other = await serveView(folds(), { addr: { host: "127.0.0.1", port: 0 }, log, pollMs: 50 });
    const res = await fetch(new URL("/api/events", other.url));
    const { next, cancel } = eventReader(res);
    await next(2000);
    const started = Date.now();
    await other.close();
    expect(Date.now() - started).toBeLessThan(1000);
    await expect(next(2000)).rejects.toThrow(/ended/);
    await cancel();
  });
});

describe("the address", () => {
  it("refuses one already taken in one line naming ADI_VIEW_ADDR", async () => {
    const port = Number(new URL(view.url).port);
    const err = await serveView(folds(), { addr: { host: "127.0.0.1", port }, log }).catch((e: unknown) => e);
    expect(isAdiError(err) && err.code).toBe("ADI_ERR_CONFIG");
    expect((err as Error).message).toBe(`ADI_VIEW_ADDR="127.0.0.1:${port}": cannot listen there (EADDRINUSE): set another host:port, or off`);
  });

  it("listenView: listens before the folds exist (an empty live map, version 0), then serves them once given", async () => {
    const early = await listenView({ addr: { host: "127.0.0.1", port: 0 }, log, pollMs: 50 });
    try {
      const at = (path: string) => fetch(new URL(path, early.url));
      const before = (await (await at("/api/map")).json()) as ViewModel & { version: number };
      expect([before.version, before.nodes, before.edges]).toEqual([0, [], []]);
      const f = folds();
      f.outputs.addDerived(exchange("h1", 1));
      early.serve(f);
      const after = (await (await at("/api/map")).json()) as ViewModel & { version: number };
      expect(after.version).toBe(f.outputs.version + f.inventory.version);
      expect(after.version).toBeGreaterThan(0);
      expect(after.endpoints.map((e) => e.path)).toEqual(["/healthz"]);
      expect(() => early.serve(f)).toThrow(/already/);
    } finally {
      await early.close();
    }
  });

  it("prints the URL it is reached at, the free port resolved", () => {
    expect(view.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
    expect(new URL(view.url).port).not.toBe("0");
  });
});
