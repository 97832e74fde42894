// The view in a real browser (issue 13, "Done when"): `adi demo` runs the whole pipeline and the demo workload
// through the kernel; Debian's chromium, driven by playwright-core, opens the view of that run and finds the demo's
// three services and their edges as graph elements, follows the map live, clicks the traffic generator and reads its
// endpoints with their schemas in the panel, folds the last five minutes from the stream, and keeps a screenshot
// (test-artifacts/view.png, which the README shows).
//
// Which view: the demo's own, when `adi demo` logs `view listening` (it serves one on ADI_VIEW_ADDR); otherwise
// `adi view` started beside it on the same broker and address. Either way the page is the same code over the
// same folds, so the test holds for both and needs no change once the demo serves its own.
import { mkdirSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ADI, findLogLine, killAll, startAdi } from "../../../cli/test/adi-process.ts";
import type { AdiRun } from "../../../cli/test/adi-process.ts";
import { freePort, NatsServerFixture } from "../../../test/support/nats-server.ts";
import type { ViewModel } from "../src/index.ts";

/**
 * The page's globals as the callbacks below read them. They run in the browser (page.evaluate serialises them), and
 * this project compiles without the DOM's types: the little they use is declared here.
 */
interface PageGlobals {
  cy: {
    $id(id: string): { nonempty(): boolean; data(key: string): unknown; renderedPosition(): { x: number; y: number } };
    nodes(): { length: number; map<T>(f: (n: { id(): string; data(key: string): unknown }) => T): T[] };
    edges(): { map<T>(f: (e: { data(key: string): unknown }) => T): T[] };
    container(): { getBoundingClientRect(): { left: number; top: number } };
    elements(): { length: number };
  };
  document: { body: { dataset: Record<string, string | undefined> }; getElementById(id: string): { textContent: string | null } | null };
}

const ROOT = fileURLToPath(new URL("../../../", import.meta.url));
const ARTIFACTS = join(ROOT, "test-artifacts");
const SERVICES = ["http-service", "request-logger", "traffic-generator"];

let nats: NatsServerFixture;
let demo: AdiRun;
let standalone: AdiRun | undefined;
let url: string;
let browser: Browser;
let page: Page;
const consoleProblems: string[] = [];

/** The first log line of `run` whose msg is `msg`, if it was logged already. */
const logged = (run: AdiRun, msg: string) => findLogLine(run.stdout(), msg);

async function mapOf(query = ""): Promise<ViewModel> {
  return (await (await fetch(new URL(`/api/map${query}`, url))).json()) as ViewModel;
}

/** Polls /api/map until `ok` holds (the demo's first calls take a few seconds to reach the map). */
async function waitForMap(ok: (m: ViewModel) => boolean, timeoutMs: number): Promise<ViewModel> {
  const deadline = Date.now() + timeoutMs;
  let last: ViewModel | undefined;
  while (Date.now() < deadline) {
    last = await mapOf();
    if (ok(last)) return last;
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error(`the map never held what was expected; last: ${JSON.stringify(last?.edges.map((e) => e.id))}`);
}

/** Every demo edge there: the HTTP calls and the Go tool's classified connections (demo.e2e.spec.ts's list). */
function demoComplete(m: ViewModel): boolean {
  const has = (source: string, protocol: string) => m.edges.some((e) => e.source === `n:${source}` && e.protocol === protocol);
  return has("traffic-generator", "http") && has("traffic-generator", "postgres") && has("traffic-generator", "redis") && has("http-service", "nats") && has("request-logger", "nats") && has("request-logger", "redis");
}

beforeAll(async () => {
  nats = await NatsServerFixture.start();
  const out = mkdtempSync(join(tmpdir(), "adi-view-demo-"));
  const env = {
    NATS_URL: nats.url,
    ADI_HOST: `view${process.pid}`,
    LOG_LEVEL: "info",
    LOG_FORMAT: "json",
    DEMO_INTERVAL_MS: "200",
    ADI_VIEW_ADDR: `127.0.0.1:${await freePort()}`,
  };
  // --duration bounds the run if the test dies; it is stopped (SIGTERM) once the test is done.
  demo = startAdi(ADI, ["demo", "--out", out, "--port", String(await freePort()), "--duration", "110"], env);
  await demo.waitForLog("demo running: Ctrl-C to stop", 90_000);
  const own = logged(demo, "view listening");
  if (own) url = own.url as string;
  else {
    standalone = startAdi(ADI, ["view"], env);
    url = (await standalone.waitForLog("view listening", 60_000)).url as string;
  }
  await waitForMap(demoComplete, 60_000);
  browser = await chromium.launch({ executablePath: "/usr/bin/chromium", args: ["--no-sandbox"] });
  page = await browser.newPage({ viewport: { width: 1600, height: 900 } });
  page.on("console", (m) => {
    if (m.type() === "error" || /Content Security Policy/i.test(m.text())) consoleProblems.push(m.text());
  });
  page.on("pageerror", (e) => consoleProblems.push(`pageerror: ${e.message}`));
  await page.goto(url);
  await page.waitForSelector("body[data-state=ready]", { timeout: 20_000 });
}, 240_000);

afterAll(async () => {
  await browser?.close();
  standalone?.child.kill("SIGTERM");
  demo?.child.kill("SIGTERM");
  const exits = await Promise.all([standalone?.exited, demo?.exited]);
  for (const run of [standalone, demo]) if (run) killAll(run.marker);
  await nats?.stop();
  expect(exits[1], demo?.stderr().slice(-2000)).toEqual({ code: 0, signal: null });
  if (standalone) expect(exits[0]).toEqual({ code: 0, signal: null });
}, 60_000);

describe("the view of `adi demo` in chromium", () => {
  it("has the demo's three services and their edges as graph elements", async () => {
    await page.waitForFunction(
      (names) => names.every((n) => (globalThis as unknown as PageGlobals).cy.$id(`n:${n}`).nonempty()),
      SERVICES,
      { timeout: 20_000 },
    );
    const graph = await page.evaluate(() => {
      const { cy } = globalThis as unknown as PageGlobals;
      return {
        nodes: cy.nodes().map((n) => ({ id: n.id(), kind: n.data("kind") as string })),
        edges: cy.edges().map((e) => ({ source: e.data("source") as string, target: e.data("target") as string, protocol: e.data("protocol") as string })),
      };
    });
    for (const name of SERVICES) expect(graph.nodes, name).toContainEqual({ id: `n:${name}`, kind: "service" });
    const protocolsFrom = (name: string) => [...new Set(graph.edges.filter((e) => e.source === `n:${name}`).map((e) => e.protocol))].sort();
    expect(protocolsFrom("traffic-generator")).toEqual(["http", "postgres", "redis"]);
    expect(protocolsFrom("http-service")).toEqual(["nats"]);
    expect(protocolsFrom("request-logger")).toEqual(["nats", "redis"]);
    expect(graph.edges).toContainEqual({ source: "n:traffic-generator", target: "n:http-service", protocol: "http" });
    const kinds = new Map(graph.nodes.map((n) => [n.id, n.kind]));
    const targetKind = (source: string, protocol: string) => kinds.get(graph.edges.find((e) => e.source === `n:${source}` && e.protocol === protocol)!.target);
    expect([targetKind("traffic-generator", "postgres"), targetKind("traffic-generator", "redis"), targetKind("http-service", "nats")]).toEqual(["database", "cache", "message_bus"]);
  });

  it("follows the live map without a reload", async () => {
    const before = await page.evaluate(() => (globalThis as unknown as PageGlobals).document.body.dataset.version);
    // The generator calls every 200 ms: the folds move, an event comes, the page fetches the map again.
    await page.waitForFunction((v) => (globalThis as unknown as PageGlobals).document.body.dataset.version !== v, before, { timeout: 15_000 });
    const calls = await page.evaluate(() => (globalThis as unknown as PageGlobals).cy.$id('e:["http","traffic-generator","http-service"]').data("count") as number);
    expect(calls).toBeGreaterThan(3);
  });

  it("shows the traffic generator's endpoints with their schemas when its node is clicked", async () => {
    const at = await page.evaluate(() => {
      const { cy } = globalThis as unknown as PageGlobals;
      const p = cy.$id("n:traffic-generator").renderedPosition();
      const box = cy.container().getBoundingClientRect();
      return { x: box.left + p.x, y: box.top + p.y };
    });
    await page.mouse.click(at.x, at.y);
    await page.waitForSelector("#panel:not([hidden])", { timeout: 5000 });
    expect(await page.textContent("#panel h2")).toBe("traffic-generator");
    const schemas = (method: string, path: string, which: "request" | "response") =>
      page.$$eval(`#panel .endpoint[data-method="${method}"][data-path="${path}"] .${which}-schema:not([data-empty])`, (pres) => pres.map((p) => JSON.parse(p.textContent!) as unknown));
    expect(await schemas("GET", "/healthz", "response")).toContainEqual({ status: "string" });
    expect(await schemas("POST", "/echo", "request")).toContainEqual(expect.objectContaining({ message: "string" }));
    expect(await schemas("GET", "/slow", "response")).toContainEqual(expect.objectContaining({ slow: "boolean" }));
    const panel = (await page.textContent("#panel"))!;
    expect(panel).toContain("postgres");
    expect(panel).toMatch(/confidence\s*90/);
    // Its redacted environment, from the inventory: ADI_PROFILE=local is in the table.
    const env = await page.$$eval("#panel .process table.env tr", (rows) => rows.map((r) => [...r.querySelectorAll("td")].map((td) => td.textContent)));
    expect(env).toContainEqual(["ADI_PROFILE", "local"]);
    mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: join(ARTIFACTS, "view.png") });
  });

  it("folds the last five minutes from the stream on request", async () => {
    await page.selectOption("#window", "5m");
    await page.click("#apply");
    await page.waitForFunction(() => /last 5 minutes/.test((globalThis as unknown as PageGlobals).document.getElementById("status")!.textContent ?? ""), null, { timeout: 60_000 });
    const windowed = await mapOf("?window=5m");
    expect(windowed.nodes.map((n) => n.label)).toEqual(expect.arrayContaining(SERVICES));
    expect(demoComplete(windowed)).toBe(true);
    const inPage = await page.evaluate(() => (globalThis as unknown as PageGlobals).cy.nodes().map((n) => n.id()));
    expect(inPage).toEqual(expect.arrayContaining(SERVICES.map((s) => `n:${s}`)));
  });

  it("refuses a range whose since is after its until in the page, and blanks the graph on an error", async () => {
    const asked: string[] = [];
    const onRequest = (r: { url(): string }) => void (r.url().includes("/api/map") && asked.push(r.url()));
    page.on("request", onRequest);
    try {
      expect(await page.evaluate(() => (globalThis as unknown as PageGlobals).cy.nodes().length)).toBeGreaterThan(0);
      await page.selectOption("#window", "range");
      await page.fill("#since", "2030-01-01T10:00:00");
      await page.fill("#until", "2030-01-01T09:00:00");
      await page.click("#apply");
      await page.waitForSelector("body[data-state=error]", { timeout: 5000 });
      expect(await page.getAttribute("#status", "class")).toBe("error");
      expect(await page.textContent("#status")).toMatch(/is after until/);
      expect(await page.evaluate(() => (globalThis as unknown as PageGlobals).cy.elements().length)).toBe(0);
      // Refused before any request: none was sent (and the browser logged no failed one: the last test checks).
      expect(asked).toEqual([]);
      // Back to live; then a server error (the broker gone, as the page sees it: 502) blanks the graph too.
      await page.selectOption("#window", "live");
      await page.click("#apply");
      await page.waitForSelector("body[data-state=ready]", { timeout: 15_000 });
      expect(await page.evaluate(() => (globalThis as unknown as PageGlobals).cy.nodes().length)).toBeGreaterThan(0);
      const logged = consoleProblems.length;
      await page.route("**/api/map*", (route) => route.fulfill({ status: 502, contentType: "application/json", body: '{"error":"could not read the window from the streams: test"}' }));
      // The live folds move every 200 ms: the next event makes the page fetch, and get the 502.
      await page.waitForSelector("body[data-state=error]", { timeout: 15_000 });
      expect(await page.textContent("#status")).toBe("could not read the window from the streams: test");
      expect(await page.evaluate(() => (globalThis as unknown as PageGlobals).cy.elements().length)).toBe(0);
      await page.unroute("**/api/map*");
      await page.waitForSelector("body[data-state=ready]", { timeout: 15_000 });
      expect(await page.evaluate(() => (globalThis as unknown as PageGlobals).cy.nodes().length)).toBeGreaterThan(0);
      // The 502s asked for here are the browser's "Failed to load resource" lines: expected, not kept.
      const added = consoleProblems.splice(logged);
      expect(added.every((m) => /Failed to load resource.*502/.test(m)), added.join("\n")).toBe(true);
    } finally {
      page.off("request", onRequest);
    }
  });

  it("broke no rule of its Content-Security-Policy and threw nothing", () => {
    expect(consoleProblems).toEqual([]);
  });
});
