// Where one host is not enough, JetStream clustering is the distributed engine: capture works unchanged
// against a 3-node cluster, with its streams replicated three times.
import { jetstreamManager } from "@nats-io/jetstream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { NatsClusterFixture } from "../../../test/support/nats-cluster.ts";
import { freePort, waitForPort } from "../../../test/support/nats-server.ts";
import { byteStream, readRaw } from "../../../test/support/stream.ts";
import type { RawContents } from "../../../test/support/stream.ts";
import { processEnv, run, sleep, startBackground, startCapture, stopBackground } from "../../../test/support/capture.ts";
import type { RunningCapture } from "../../../test/support/capture.ts";

let cluster: NatsClusterFixture;
let cap: RunningCapture;
let raw: RawContents;
let curlPid = 0;

beforeAll(async () => {
  cluster = await NatsClusterFixture.start(3);
  cap = await startCapture(cluster.urls.join(","), { ADI_STREAM_REPLICAS: "3" });
  const port = await freePort();
  const server = startBackground("python3", ["-m", "http.server", String(port), "--bind", "127.0.0.1"], { env: processEnv({}) });
  try {
    await waitForPort(port);
    const r = await run("curl", ["-sS", "-o", "/dev/null", `http://127.0.0.1:${port}/`], { env: processEnv({ ADI_PROFILE: "cluster" }) });
    expect(r.code, r.stderr).toBe(0);
    curlPid = r.pid;
    await sleep(200);
  } finally {
    await stopBackground(server);
    await cap.stop();
  }
  raw = await readRaw(cap.nc);
}, 120_000);

afterAll(async () => {
  await cap?.nc.close();
  await cluster?.stop();
});

describe("a 3-node JetStream cluster", () => {
  it("holds both streams with three replicas", async () => {
    const jsm = await jetstreamManager(cap.nc);
    for (const name of ["ADI_RAW", "ADI_FACTS"]) {
      const info = await jsm.streams.info(name);
      expect(info.config.num_replicas).toBe(3);
      expect(info.cluster?.replicas ?? []).toHaveLength(2); // the leader plus two followers
    }
  });

  it("stores the captured traffic", () => {
    expect(byteStream(raw.data, curlPid, "egress").toString()).toMatch(/^GET \/ HTTP\/1\.1\r\n/);
  });
});
