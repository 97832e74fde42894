// `adi up`'s one /metrics (issue 13, item 3), with the real kernel: the consumers in the process, the capture agent
// in its child, which serves no endpoint of its own; its figures reach the parent's endpoint as its stats facts,
// which the parent's mapper reads (labelled by host, the publish buffer's limit known because the child has our
// environment). An opted-in client calling an opted-in server shows up as an edge with its duration histogram.
import { spawn } from "node:child_process";
import { createServer } from "node:net";
import { createRequire } from "node:module";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { describe, expect, it } from "vitest";
import { freePort } from "../../test/support/nats-server.ts";
import { ADI, killAll, startAdi } from "./adi-process.ts";

const parsePrometheus = createRequire(import.meta.url)("parse-prometheus-text-format") as (text: string) => { name: string; type: string; metrics: { labels?: Record<string, string>; value?: string }[] }[];

/** Every sample line of `name`, labels included (histograms read untyped: the parser folds a histogram's labelled series into one). */
const seriesOf = (text: string, name: string) =>
  parsePrometheus(text.replace(/^# TYPE \S+ histogram$/gm, ""))
    .filter((f) => f.name === name)
    .flatMap((f) => f.metrics.map((m) => ({ labels: m.labels ?? {}, value: Number(m.value) })));

const HOST = "metricse2e";
const CALLS = 5;

describe("adi up: one /metrics for the whole pipeline", () => {
  it("shows the child agent's figures (from its stats facts), every consumer's lag under one family, and the edge's RED", async () => {
    const dataDir = mkdtempSync(join(tmpdir(), "adi-metrics-up-"));
    const webPort = await freePort();
    const web = spawn("python3", ["-m", "http.server", String(webPort), "--bind", "127.0.0.1"], {
      stdio: "ignore",
      env: { PATH: process.env.PATH!, ADI_PROFILE: "e2e", ADI_PROFILE_NAME: "metrics-web" },
    });
    const up = startAdi(ADI, ["up"], {
      ADI_DATA_DIR: dataDir,
      ADI_NATS_PORT: String(await freePort()),
      ADI_HOST: HOST,
      ADI_METRICS_ADDR: "127.0.0.1:0",
      ADI_PUBLISH_BUFFER_BYTES: "64MiB",
      LOG_LEVEL: "info",
      OUTPUT_PATH: join(dataDir, "traffic.log"),
      SERVICE_MAP_PATH: join(dataDir, "map.yaml"),
      ENV_OUTPUT_PATH: join(dataDir, "env.yaml"),
    });
    try {
      const url = (await up.waitForLog("metrics listening", 90_000)).url as string;
      await up.waitForLog("ready", 90_000);
      for (let i = 0; i < CALLS; i++) {
        await new Promise((resolve) =>
          spawn("curl", ["-s", "-o", "/dev/null", `http://127.0.0.1:${webPort}/`], { env: { PATH: process.env.PATH!, ADI_PROFILE: "e2e", ADI_PROFILE_NAME: "metrics-client" } }).on("exit", resolve),
        );
      }
      // The agent reports every 5 s; the calls reach the map through the classifier.
      let text = "";
      const toWeb = () => seriesOf(text, "adi_http_requests_total").filter((s) => s.labels.source === "metrics-client" && s.labels.destination === "metrics-web");
      for (const until = Date.now() + 30_000; Date.now() < until; await sleep(1_000)) {
        text = await (await fetch(url)).text();
        const events = seriesOf(text, "adi_capture_events_total").find((s) => s.labels.host === HOST)?.value ?? 0;
        if (events > 0 && toWeb().reduce((n, s) => n + s.value, 0) === CALLS) break;
      }

      // The agent's figures, from the child, under our host, with our publish buffer limit.
      const byHost = (name: string) => seriesOf(text, name).filter((s) => s.labels.host === HOST);
      expect(byHost("adi_capture_events_total")[0]!.value).toBeGreaterThan(0);
      expect(byHost("adi_capture_published_batches_total")[0]!.value).toBeGreaterThan(0);
      expect(byHost("adi_capture_publish_buffer_limit_bytes")).toEqual([{ labels: { host: HOST }, value: 64 * 1024 * 1024 }]);
      expect(byHost("adi_capture_drops_total").map((s) => s.labels.reason)).toEqual(["ringbuf_full", "payload_read", "conn_table_full", "args_table_full", "no_tuple", "buffer_full"]);

      // The edge: every call answered 200, timed, in the histogram.
      expect(toWeb().map((s) => [s.labels.method, s.labels.route, s.labels.status, s.value])).toEqual([["GET", "/", "200", CALLS]]);
      const edge = (name: string) => seriesOf(text, name).filter((s) => s.labels.source === "metrics-client" && s.labels.destination === "metrics-web");
      expect(edge("adi_http_request_duration_seconds_count")[0]!.value).toBe(CALLS);
      expect(edge("adi_http_request_duration_seconds_bucket").find((s) => s.labels.le === "+Inf")!.value).toBe(CALLS);
      expect(edge("adi_http_request_errors_total")[0]!.value).toBe(0);

      // One endpoint for the process: every consumer's lag in one family; one listening line (the child serves none).
      expect(text.match(/^# TYPE adi_consumer_pending_messages gauge$/gm)).toHaveLength(1);
      const consumers = seriesOf(text, "adi_consumer_pending_messages").map((s) => s.labels.consumer);
      expect(consumers).toEqual(expect.arrayContaining(["adi-classifier-p0", "mapper", "enricher"]));
      expect(up.stdout().match(/"msg":"metrics listening"/g)).toHaveLength(1);

      up.child.kill("SIGTERM");
      expect((await up.exited).code).toBe(0);
      // Closed with the pipeline.
      await expect(fetch(url)).rejects.toThrow();
    } finally {
      web.kill();
      killAll(up.marker);
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it("unset, it takes 127.0.0.1:9464; that address taken, it says so and the pipeline runs on without it", async () => {
    // Taken by us, or already by something else (9464 is also the OpenTelemetry Prometheus exporter's port).
    const holder = createServer();
    await new Promise<void>((resolve) => holder.once("error", () => resolve()).listen(9464, "127.0.0.1", resolve));
    const dataDir = mkdtempSync(join(tmpdir(), "adi-metrics-default-"));
    const up = startAdi(ADI, ["up"], {
      ADI_DATA_DIR: dataDir,
      ADI_NATS_PORT: String(await freePort()),
      LOG_LEVEL: "info",
      OUTPUT_PATH: join(dataDir, "traffic.log"),
      ENV_OUTPUT_PATH: join(dataDir, "env.yaml"),
    });
    try {
      const warned = await up.waitForLog("metrics not served: the default address cannot be bound (set ADI_METRICS_ADDR to host:port, or off)", 90_000);
      expect(warned).toMatchObject({ level: 40, address: "127.0.0.1:9464" });
      await up.waitForLog("ready", 90_000);
      expect(up.stdout()).not.toMatch(/"msg":"metrics listening"/);
      up.child.kill("SIGTERM");
      expect((await up.exited).code).toBe(0);
    } finally {
      holder.close();
      killAll(up.marker);
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
