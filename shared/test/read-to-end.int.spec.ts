// readToEnd on a real nats-server: it reads what is stored and leaves no consumer behind. An ordered consumer only
// closed lingers for nats.js's inactive_threshold (5 min), its num_pending growing with the stream: whoever sums a
// stream's consumers (a drain check, an operator) then sees work nobody will do.
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import type { NatsConnection } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readToEnd } from "../src/nats/index.ts";
import { NatsServerFixture } from "../../test/support/nats-server.ts";

let server: NatsServerFixture;
let nc: NatsConnection;

beforeAll(async () => {
  server = await NatsServerFixture.start();
  nc = await connect({ servers: server.url });
  const jsm = await jetstreamManager(nc);
  await jsm.streams.add({ name: "T", subjects: ["t.>"] });
  const js = jetstream(nc);
  for (let i = 0; i < 300; i++) await js.publish(`t.${i % 3}`, new TextEncoder().encode(String(i)));
});

afterAll(async () => {
  await nc?.close();
  await server?.kill();
});

const consumers = async () => (await (await jetstreamManager(nc)).consumers.list("T").next()).map((c) => c.name);

describe("readToEnd", () => {
  it("reads every stored message of its filter, then deletes its consumer", async () => {
    const seen: number[] = [];
    expect(await readToEnd(nc, "T", "t.1", (m) => void seen.push(m.seq))).toBe(100);
    expect(seen).toEqual(Array.from({ length: 100 }, (_, i) => 3 * i + 2));
    expect(await consumers()).toEqual([]);
  });

  it("deletes its consumer when nothing matches, and when the handler throws", async () => {
    expect(await readToEnd(nc, "T", "t.9", () => undefined)).toBe(0);
    await expect(readToEnd(nc, "T", "t.0", () => { throw new Error("handler failed"); })).rejects.toThrow("handler failed");
    expect(await consumers()).toEqual([]);
  });
});
