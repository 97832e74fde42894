// The view on its own against a real nats-server: startView follows the streams into folds of its own (the mapper's
// fold without files, the inventory of the process facts) and serves them; `adi view` does the same as a command,
// logs its URL, stops on SIGTERM, and refuses ADI_VIEW_ADDR=off in one line.
import { existsSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { jetstream } from "@nats-io/jetstream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "@adi/shared";
import { connectNats, ensureStreams } from "@adi/shared/nats";
import { derivedSubject, encodeDerivedBatches, encodeFact, factSubject } from "@adi/shared/wire";
import type { HttpExchange } from "@adi/shared/wire";
import { NatsServerFixture } from "../../../test/support/nats-server.ts";
import { recordingLogger } from "../../../test/support/start-up.ts";
import { ADI, startAdi } from "../../../cli/test/adi-process.ts";
import { startView } from "../src/index.ts";
import type { ViewModel } from "../src/index.ts";
import { exchange, processFact } from "./support/folds.ts";

let nats: NatsServerFixture;
let dir: string;

beforeAll(async () => {
  nats = await NatsServerFixture.start();
  dir = mkdtempSync(join(tmpdir(), "adi-view-"));
});
afterAll(async () => {
  await nats?.stop();
});

async function publish(host: string, facts: ReturnType<typeof processFact>[], calls: HttpExchange[], n: number): Promise<void> {
  const nc = await connectNats({ servers: [nats.url], name: "view-test-publisher", log: recordingLogger().log });
  const cfg = loadConfig(env(host));
  await ensureStreams(nc, { maxAgeMs: cfg.streamMaxAgeMs, maxBytes: cfg.streamMaxBytes, replicas: cfg.streamReplicas });
  const js = jetstream(nc);
  for (const f of facts) await js.publish(factSubject(host, "process"), encodeFact(f));
  for (const b of encodeDerivedBatches(`ADI_RAW#${n}`, calls)) await js.publish(derivedSubject(host, b.kind), b.data);
  await nc.drain();
}

async function waitForMap(url: string, done: (m: ViewModel) => boolean, timeoutMs = 15_000): Promise<ViewModel> {
  const deadline = Date.now() + timeoutMs;
  let last: ViewModel | undefined;
  while (Date.now() < deadline) {
    last = (await (await fetch(new URL("/api/map", url))).json()) as ViewModel;
    if (done(last)) return last;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`map not as expected in time: ${JSON.stringify(last)}`);
}

const env = (host: string, extra: Record<string, string> = {}) => ({
  NATS_URL: nats.url,
  ADI_HOST: host,
  LOG_LEVEL: "info",
  LOG_FORMAT: "json",
  ADI_VIEW_ADDR: "127.0.0.1:0",
  OUTPUT_PATH: join(dir, `${host}.log`),
  SERVICE_MAP_PATH: join(dir, `${host}.yaml`),
  ENV_OUTPUT_PATH: join(dir, `${host}-env.yaml`),
  ...extra,
});

describe("startView", () => {
  it("serves what was stored before it started and what comes after, and writes no file", async () => {
    const cfg = loadConfig(env("viewa"));
    await publish("viewa", [processFact("viewa", 10, "traffic-generator", { API_TOKEN: "tok-secret-123456" })], [exchange("viewa", 1)], 1);
    const { log, errors } = recordingLogger();
    const nc = await connectNats({ servers: cfg.natsServers!, name: "view-test", log });
    const view = await startView(cfg, nc, log, { pollMs: 100 });
    try {
      expect(view.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
      const first = await waitForMap(view.url, (m) => m.edges.length === 1 && m.processes.length === 1);
      expect(first.nodes.map((n) => n.label)).toEqual(["http-service", "traffic-generator"]);
      expect(first.processes[0]!.env.API_TOKEN).not.toContain("tok-secret");
      await publish("viewa", [], [exchange("viewa", 2, { method: "POST", target: "/echo", body: '{"message":"x"}' })], 2);
      const second = await waitForMap(view.url, (m) => m.endpoints.some((e) => e.path === "/echo"));
      expect(second.endpoints.find((e) => e.path === "/echo")!.request_schema).toEqual({ message: "string" });
    } finally {
      await view.stop();
      await nc.drain();
    }
    for (const f of [cfg.outputPath, cfg.serviceMapPath!, cfg.envOutputPath]) expect(existsSync(f), f).toBe(false);
    expect(errors()).toEqual([]);
  });
});

describe("adi view", () => {
  it("logs `view listening` with its URL, serves the map, and exits 0 on SIGTERM", async () => {
    await publish("viewb", [processFact("viewb", 10, "traffic-generator")], [exchange("viewb", 1, { target: "/slow" })], 1);
    const run = startAdi(ADI, ["view"], env("viewb"));
    try {
      const line = await run.waitForLog("view listening", 60_000);
      const url = line.url as string;
      expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
      const m = await waitForMap(url, (x) => x.endpoints.some((e) => e.path === "/slow"));
      expect(m.nodes.map((n) => n.label)).toContain("traffic-generator");
      expect((await fetch(url)).status).toBe(200);
    } finally {
      run.child.kill("SIGTERM");
    }
    expect(await run.exited).toEqual({ code: 0, signal: null });
    expect(existsSync(join(dir, "viewb.log"))).toBe(false);
  });

  it("refuses ADI_VIEW_ADDR=off in one line, exit 2, before reaching the broker", async () => {
    const run = startAdi(ADI, ["view"], env("viewc", { ADI_VIEW_ADDR: "off", NATS_URL: "nats://127.0.0.1:1" }));
    expect(await run.exited).toEqual({ code: 2, signal: null });
    expect(run.stderr()).toBe("adi: ADI_ERR_CONFIG: ADI_VIEW_ADDR=off: adi view has nowhere to listen; set host:port, e.g. 127.0.0.1:8090\n");
  });
});
