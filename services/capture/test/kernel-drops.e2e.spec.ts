// A ring buffer too small for the traffic loses records in the kernel: every one of them is counted, by
// reason and by CPU, and the agent publishes the counts.
import { randomBytes } from "node:crypto";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import type { AgentStatsFact } from "@adi/shared/wire";
import { freePort, NatsServerFixture, waitForPort } from "../../../test/support/nats-server.ts";
import { readFacts } from "../../../test/support/stream.ts";
import { processEnv, run, sleep, startBackground, startCapture, stopBackground } from "../../../test/support/capture.ts";

let nats: NatsServerFixture | undefined;
afterAll(async () => {
  await nats?.stop();
});

describe("a ring buffer that is too small", () => {
  it("counts every record it could not hold, per reason and per CPU, and publishes the counts", async () => {
    nats = await NatsServerFixture.start();
    const docroot = mkdtempSync(join(tmpdir(), "adi-drop-"));
    writeFileSync(join(docroot, "big.bin"), randomBytes(512 * 1024));
    const port = await freePort();
    // 4 KiB of ring buffer, 16 KiB payload chunks: a full chunk can never fit.
    const cap = await startCapture(nats.url, { ADI_RINGBUF_BYTES: "4096", ADI_PAYLOAD_LIMIT: "1048576" });
    const server = startBackground("python3", ["-m", "http.server", String(port), "--bind", "127.0.0.1"], { cwd: docroot, env: processEnv({}) });
    try {
      await waitForPort(port);
      const r = await run("curl", ["-sS", "-o", "/dev/null", `http://127.0.0.1:${port}/big.bin`], { env: processEnv({ ADI_PROFILE: "drops" }) });
      expect(r.code, r.stderr).toBe(0);
      await sleep(100);
    } finally {
      await stopBackground(server);
      await cap.stop();
    }
    const stats = cap.agent.stats();
    expect(stats.kernel.drops.ringbuf_full).toBeGreaterThan(0);
    const byCpu = Object.values(stats.kernel.drops_by_cpu);
    expect(byCpu.length).toBeGreaterThan(0);
    expect(byCpu.reduce((n, d) => n + d.ringbuf_full, 0)).toBe(stats.kernel.drops.ringbuf_full);
    const published = (await readFacts(cap.nc)).filter((f): f is AgentStatsFact => f.type === "agent_stats").at(-1);
    expect(published?.kernel.drops.ringbuf_full).toBe(stats.kernel.drops.ringbuf_full);
    await cap.nc.close();
  });
});
