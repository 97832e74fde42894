// A keep-alive connection opened before the capture agent started: the kernel never saw it open (no connect, no
// accept), yet each end must get its side from the kernel (the listening-ports map, seeded from
// /proc/PID/net/tcp at start), not from comparing port numbers. The server here listens on a port ABOVE the
// client's ephemeral port range start, so a port-number heuristic would call the server the client.
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ConnRecord } from "@adi/shared/wire";
import { classify } from "../../../test/support/exchanges.ts";
import { NatsServerFixture, waitForPort } from "../../../test/support/nats-server.ts";
import { readAllAndClose } from "../../../test/support/stream.ts";
import type { RawContents } from "../../../test/support/stream.ts";
import { processEnv, sleep, startBackground, startCapture, stopBackground } from "../../../test/support/capture.ts";

const CLIENTS = fileURLToPath(new URL("../../../test/support/clients/", import.meta.url));
const PORT = 61_000 + Math.floor(Math.random() * 2000); // above the client's ephemeral port, usually
let nats: NatsServerFixture;
let raw: RawContents;
const pids = { server: 0, client: 0 };

beforeAll(async () => {
  nats = await NatsServerFixture.start();
  const env = (name: string) => ({ env: processEnv({ ADI_PROFILE: "pre", ADI_PROFILE_NAME: name }) });
  const server = startBackground(process.execPath, [`${CLIENTS}http-server.mjs`, String(PORT)], env("pre-server"));
  await waitForPort(PORT);
  const client = spawn(process.execPath, [`${CLIENTS}keepalive-client.mjs`, "127.0.0.1", String(PORT)], { ...env("pre-client"), stdio: ["pipe", "pipe", "inherit"] });
  let out = "";
  client.stdout!.on("data", (d) => (out += d));
  const until = async (text: string) => {
    for (let i = 0; i < 200 && !out.includes(text); i++) await sleep(50);
    expect(out, `client said ${text}`).toContain(text);
  };
  try {
    await until("sent-before");
    pids.server = server.pid!;
    pids.client = client.pid!;
    const cap = await startCapture(nats.url); // the connection is older than the agent
    try {
      client.stdin!.write("go\n");
      await until("sent-after");
      await sleep(300);
    } finally {
      await cap.stop();
    }
    ({ raw } = await readAllAndClose(cap.nc));
  } finally {
    client.kill();
    await stopBackground(server);
  }
});

afterAll(async () => {
  await nats?.stop();
});

describe("a connection older than the agent", () => {
  it("gets its side from the kernel on both ends", () => {
    const opens = raw.records.filter((r): r is ConnRecord => r.type === "conn_open" && (r.tuple.lport === PORT || r.tuple.rport === PORT));
    const server = opens.find((r) => r.pid === pids.server);
    const client = opens.find((r) => r.pid === pids.client);
    expect(server, "the server's end was seen").toBeDefined();
    expect(client, "the client's end was seen").toBeDefined();
    expect(server).toMatchObject({ role: "server", tuple: { lport: PORT } });
    expect(client).toMatchObject({ role: "client", tuple: { rport: PORT } });
  });

  it("names the same client and server from both ends of the exchange", () => {
    const after = classify(raw).http.filter((x) => x.request.target === "/after");
    expect(after.map((x) => x.side).sort()).toEqual(["client", "server"]);
    for (const x of after) {
      expect(x.server.port, `${x.side}'s view`).toBe(PORT);
      expect(x.response?.status, `${x.side}'s view`).toBe(404);
    }
    expect(after[0]!.client).toEqual(after[1]!.client);
  });
});
