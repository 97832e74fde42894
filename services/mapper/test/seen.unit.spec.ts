// SeenObservations: redeliveries dropped by connection, whenever they come within the idle window.
import { describe, expect, it } from "vitest";
import type { ConnectionObservation, HttpExchange } from "@adi/shared/wire";
import { nsToIso } from "@adi/shared/wire";
import { SeenObservations } from "../src/core/seen.ts";

const at = (ms: number) => nsToIso(1_712_600_650_000_000_000n + BigInt(ms) * 1_000_000n);
const base = { host: "a", boot_id: "b", conn_id: "7" };
const ex = (seq: number, ms: number, conn = "7") => ({ ...base, conn_id: conn, type: "http_exchange", seq, request: { ts: at(ms) } }) as unknown as HttpExchange;
const conn = (ms: number, id = "7") => ({ ...base, conn_id: id, type: "connection", ts: at(ms) }) as unknown as ConnectionObservation;

describe("SeenObservations", () => {
  it("takes a connection's exchanges in order once, and drops any earlier one delivered again, however late", () => {
    const seen = new SeenObservations(60_000);
    for (let seq = 0; seq < 100; seq++) expect(seen.take(ex(seq, seq * 100))).toBe(true);
    expect(seen.take(ex(3, 300))).toBe(false);
    expect(seen.take(ex(99, 9900))).toBe(false);
    expect(seen.take(ex(100, 10_000))).toBe(true);
    expect(seen.take(ex(0, 0, "8"))).toBe(true); // another connection
    expect(seen.size()).toBe(2);
  });

  it("takes the connection observation once per connection", () => {
    const seen = new SeenObservations(60_000);
    expect(seen.take(conn(5))).toBe(true);
    expect(seen.take(ex(0, 6))).toBe(true);
    expect(seen.take(conn(5))).toBe(false);
    expect(seen.take(conn(5, "9"))).toBe(true);
  });

  it("takes a lower seq with a later request time: a count restarted (an older classifier), not a repeat", () => {
    const seen = new SeenObservations(60_000);
    expect(seen.take(ex(5, 500))).toBe(true);
    expect(seen.take(ex(0, 700))).toBe(true);
    expect(seen.take(ex(1, 800))).toBe(true);
    expect(seen.take(ex(0, 700))).toBe(false);
  });

  it("forgets connections idle longer than the window, so memory follows the active connections", () => {
    const seen = new SeenObservations(1000);
    for (let c = 0; c < 500; c++) seen.take(ex(0, c * 10, String(c)));
    // newest 4990 ms: connections last active before 3990 ms are gone (swept every 100 ms of capture time).
    expect(seen.size()).toBeLessThanOrEqual(111);
    expect(seen.take(ex(0, 0, "0"))).toBe(true); // forgotten: taken again
    expect(seen.take(ex(0, 4990, "499"))).toBe(false);
  });
});
