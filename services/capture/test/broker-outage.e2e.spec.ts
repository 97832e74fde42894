// The broker goes away mid-traffic (SIGKILL) and comes back on the same store a few seconds later.
// With a buffer large enough for the outage nothing is lost, and retries store nothing twice; with a
// buffer too small, what is missing is exactly what the drop counters say was dropped.
import { createServer } from "node:http";
import type { Server } from "node:http";
import { afterEach, describe, expect, it } from "vitest";
import { NatsServerFixture } from "../../../test/support/nats-server.ts";
import { readRaw } from "../../../test/support/stream.ts";
import { processEnv, sleep, startBackground, startCapture } from "../../../test/support/capture.ts";

// An opted-in client: one request every `gap` seconds for `count` requests, each on its own connection.
const CLIENT = `
import sys, time, urllib.request
port, count, gap = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
for i in range(count):
    urllib.request.urlopen("http://127.0.0.1:%d/n/%d" % (port, i)).read()
    time.sleep(gap)
`;

let nats: NatsServerFixture | undefined;
let http: Server | undefined;

afterEach(async () => {
  http?.close();
  await nats?.stop();
});

async function outage(opts: { bufferBytes: number; responseBytes: number; count: number; gap: number }) {
  nats = await NatsServerFixture.start();
  const body = Buffer.alloc(opts.responseBytes, "x");
  let served = 0;
  http = createServer((_req, res) => {
    served++;
    res.end(body);
  });
  await new Promise<void>((r) => http!.listen(0, "127.0.0.1", r));
  const port = (http.address() as { port: number }).port;
  const cap = await startCapture(nats.url, {
    ADI_PUBLISH_BUFFER_BYTES: String(opts.bufferBytes),
    ADI_BATCH_MAX_BYTES: String(32 * 1024),
    ADI_PARTITIONS: "4",
  });
  const client = startBackground("python3", ["-c", CLIENT, String(port), String(opts.count), String(opts.gap)], {
    env: processEnv({ ADI_PROFILE: "outage" }),
  });
  const clientDone = new Promise((r) => client.once("exit", r));
  await sleep(1000);
  await nats.kill("SIGKILL");
  await sleep(2500);
  await nats.restart();
  await clientDone;
  expect(client.exitCode).toBe(0);
  await sleep(200);
  await cap.stop();
  const stats = cap.agent.stats();
  const raw = await readRaw(cap.nc);
  await cap.nc.close();
  const sentPaths = new Set(
    raw.data
      .filter((d) => d.pid === client.pid && d.direction === "egress")
      .map((d) => /^GET \/n\/(\d+) /.exec(d.payload.toString())?.[1])
      .filter((x) => x !== undefined),
  );
  return { raw, stats, sentPaths, served };
}

describe("a broker that goes away for 2.5 s", () => {
  it("loses nothing that fit in the buffer, and stores nothing twice", async () => {
    const r = await outage({ bufferBytes: 64 << 20, responseBytes: 512, count: 120, gap: 0.03 });
    expect(r.served).toBe(120);
    expect(r.stats.user.publish_retries).toBeGreaterThan(0); // the outage was felt
    expect(r.stats.user.events_dropped).toBe(0);
    expect(r.stats.kernel.drops.ringbuf_full).toBe(0);
    expect(r.sentPaths.size).toBe(120);
    const ids = r.raw.messages.map((m) => m.msgId);
    expect(new Set(ids).size).toBe(ids.length);
    const seqs = r.raw.batches.map((b) => b.header.seq);
    expect(new Set(seqs).size).toBe(seqs.length);
    // Every record the kernel wrote is in the stream or was a process record (published as a fact).
    expect(r.raw.records.length + r.stats.user.process_events).toBe(r.stats.kernel.events);
  });

  it("counts every record it had to drop when the buffer is too small", async () => {
    const r = await outage({ bufferBytes: 1 << 20, responseBytes: 64 * 1024, count: 150, gap: 0.02 });
    expect(r.served).toBe(150);
    expect(r.stats.user.events_dropped).toBeGreaterThan(0);
    expect(r.sentPaths.size).toBeLessThan(150);
    expect(r.raw.records.length + r.stats.user.events_dropped + r.stats.user.process_events).toBe(r.stats.kernel.events);
  });
});
