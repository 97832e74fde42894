import { describe, expect, it } from "vitest";
import { ZodError } from "zod";
import { decodeDerivedBatch, encodeDerivedBatches, observationId } from "../src/wire/derived.ts";
import type { ConnectionObservation, Derived, HttpExchange } from "../src/wire/derived.ts";

const observer = {
  v: 1 as const,
  host: "node-1",
  boot_id: "3c5e5b0e-8f4a-4c1e-9b7a-2f0d6c1e4a11",
  conn_id: "42",
  side: "client" as const,
  pid: 100,
  start_ticks: 5,
  local: { ip: "10.0.0.1", port: 40000 },
  remote: { ip: "10.0.0.2", port: 80 },
  family: 4 as const,
  transport: "tcp" as const,
  client: { ip: "10.0.0.1", port: 40000 },
  server: { ip: "10.0.0.2", port: 80 },
};
const message = { ts: "2026-11-27T10:00:00.000000001Z", end_ts: "2026-11-27T10:00:00.000000002Z", version: "HTTP/1.1", headers: [["Host", "api"]] as [string, string][], body: null, body_size: 0, body_truncated: false, body_binary: false, raw: "GET / HTTP/1.1\r\n" };

function exchange(seq: number): HttpExchange {
  return { ...observer, type: "http_exchange", seq, request: { ...message, method: "GET", target: `/items/${seq}` }, response: { ...message, status: 200, reason: "OK" }, latency_ns: 1000 };
}

const connection: ConnectionObservation = {
  ...observer,
  type: "connection",
  ts: "2026-11-27T10:00:00.000000001Z",
  protocol: "http",
  category: "web",
  confidence: 90,
  reason: "port 80, HTTP request line",
  evidence: { rule: "http-request", port_match: true, fingerprint_match: true, from: "client", first_bytes_hex: "474554" },
  tls: null,
};

describe("derived batches (ADI_DERIVED v2)", () => {
  it("splits one raw batch's observations into one message per kind, order kept, and decodes them back", () => {
    const produced: Derived[] = [exchange(0), connection, exchange(1), exchange(2)];
    const messages = encodeDerivedBatches("ADI_RAW#7", produced);
    expect(messages.map((m) => m.kind)).toEqual(["http", "connection"]);
    const http = decodeDerivedBatch(Buffer.from(messages[0]!.data));
    expect(http).toMatchObject({ v: 2, kind: "http", source: "ADI_RAW#7" });
    expect(http.observations).toEqual([exchange(0), exchange(1), exchange(2)]);
    expect(decodeDerivedBatch(messages[1]!.data).observations).toEqual([connection]);
    expect(http.observations.map(observationId)).toEqual(["node-1.3c5e5b0e-8f4a-4c1e-9b7a-2f0d6c1e4a11.42.h0", "node-1.3c5e5b0e-8f4a-4c1e-9b7a-2f0d6c1e4a11.42.h1", "node-1.3c5e5b0e-8f4a-4c1e-9b7a-2f0d6c1e4a11.42.h2"]);
  });

  it("publishes nothing for a batch that produced nothing", () => {
    expect(encodeDerivedBatches("ADI_RAW#1", [])).toEqual([]);
  });

  it("refuses what is not a valid v2 batch: a v1 single observation, a mixed batch, an invalid observation, bad JSON", () => {
    expect(() => decodeDerivedBatch(JSON.stringify(exchange(0)))).toThrow(ZodError);
    expect(() => decodeDerivedBatch({ v: 2, kind: "connection", source: "x", observations: [exchange(0)] })).toThrow(/http_exchange in a connection batch/);
    expect(() => decodeDerivedBatch({ v: 2, kind: "http", source: "x", observations: [{ ...exchange(0), seq: -1 }] })).toThrow(ZodError);
    expect(() => decodeDerivedBatch({ v: 2, kind: "http", source: "x", observations: [] })).toThrow(ZodError);
    expect(() => decodeDerivedBatch("{not json")).toThrow(SyntaxError);
  });
});
