// `adi up` and `adi demo` take ADI_VIEW_ADDR before any consumer starts, as they take ADI_METRICS_ADDR: a taken
// address set by the user ends the start (ADI_ERR_CONFIG, exit 2) before a consumer joined its group on the broker
// (where it would take partitions from a pipeline already running). startServices with the consumers `adi up` runs
// in-process (capture, which needs root, left out), against a real nats-server; what joined is read from the broker.
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import type { Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { jetstreamManager } from "@nats-io/jetstream";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { createLogger, formatFatal, isAdiError } from "@adi/shared";
import { connectNats } from "@adi/shared/nats";
import { NatsServerFixture } from "../../test/support/nats-server.ts";
import { startServices } from "../commands/services.ts";

let nats: NatsServerFixture;
let dir: string;
const saved = { ...process.env };

beforeAll(async () => {
  nats = await NatsServerFixture.start();
  dir = mkdtempSync(join(tmpdir(), "adi-view-addr-"));
});
afterEach(() => {
  for (const k of Object.keys(process.env)) if (!(k in saved)) delete process.env[k];
  Object.assign(process.env, saved);
});
afterAll(async () => {
  await nats?.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** The environment of an `adi up` on this broker (startServices reads its configuration from process.env). */
function useEnv(host: string, viewAddr: string): void {
  Object.assign(process.env, {
    NATS_URL: nats.url,
    ADI_HOST: host,
    ADI_DATA_DIR: join(dir, `${host}-data`),
    LOG_LEVEL: "warn",
    LOG_FORMAT: "json",
    ADI_VIEW_ADDR: viewAddr,
    ADI_METRICS_ADDR: "off",
    OUTPUT_PATH: join(dir, `${host}.log`),
    SERVICE_MAP_PATH: join(dir, `${host}.yaml`),
    ENV_OUTPUT_PATH: join(dir, `${host}-env.yaml`),
  });
}

/** Consumers on the broker, every stream: the groups the services joined. */
async function consumers(): Promise<string[]> {
  const nc = await connectNats({ servers: [nats.url], name: "view-addr-test", log: createLogger("view-addr-test", "silent") });
  try {
    const jsm = await jetstreamManager(nc);
    const names: string[] = [];
    for await (const s of jsm.streams.list()) for await (const c of jsm.consumers.list(s.config.name)) names.push(`${s.config.name}/${c.name}`);
    return names;
  } finally {
    await nc.close();
  }
}

async function holdPort(): Promise<{ server: Server; port: number }> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => server.once("error", reject).listen(0, "127.0.0.1", resolve));
  return { server, port: (server.address() as { port: number }).port };
}

describe("ADI_VIEW_ADDR under `adi up` (classify, map, enrich in-process)", () => {
  it("taken: ADI_ERR_CONFIG (exit 2) naming it, before any consumer joined the broker", async () => {
    const { server, port } = await holdPort();
    try {
      useEnv("viewtaken", `127.0.0.1:${port}`);
      const started = performance.now();
      const err = await startServices("up", ["classify", "map", "enrich"]).then(
        (s) => s.stop().then(() => "started"),
        (e: unknown) => e,
      );
      expect(isAdiError(err) && err.code).toBe("ADI_ERR_CONFIG");
      const { line, exitCode } = formatFatal(err);
      expect(exitCode).toBe(2);
      expect(line).toContain(`ADI_VIEW_ADDR="127.0.0.1:${port}": cannot listen there (EADDRINUSE)`);
      // Refused at once (no ADI_START_TIMEOUT wait for a consumer), and no consumer was ever created.
      expect(performance.now() - started).toBeLessThan(5000);
      expect(await consumers()).toEqual([]);
    } finally {
      server.close();
    }
  });

  it("free: listens first, then serves the consumers' folds (the control: consumers do show on the broker)", async () => {
    useEnv("viewfree", "127.0.0.1:0");
    const services = await startServices("up", ["classify", "map", "enrich"]);
    try {
      expect(services.view).not.toBeNull();
      const res = await fetch(new URL("/api/map", services.view!.url));
      expect(res.status).toBe(200);
      expect(((await res.json()) as { window: { kind: string } }).window.kind).toBe("live");
      expect((await consumers()).length).toBeGreaterThan(0);
    } finally {
      await services.stop();
    }
  });

  it("a bad ADI_VIEW_ADDR's message suggests the view's port, not /metrics'", async () => {
    useEnv("viewbad", "127.0.0.1:");
    const err = await startServices("up", ["classify", "map", "enrich"]).catch((e: unknown) => e);
    const { line, exitCode } = formatFatal(err);
    expect(exitCode).toBe(2);
    expect(line).toContain("ADI_VIEW_ADDR");
    expect(line).toContain("such as 127.0.0.1:8090");
    expect(line).not.toContain("9464");
  });
});
