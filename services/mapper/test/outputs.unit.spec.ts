// MapperOutputs' traffic log: appended as lines become final, sorted by capture time, memory bounded to a window.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { HttpExchangeSchema } from "@adi/shared/wire/derived";
import type { HttpExchange } from "@adi/shared/wire/derived";
import { nsToIso } from "@adi/shared/wire/facts";
import { MapperOutputs } from "../src/core/outputs.ts";

const BOOT = "11111111-2222-4333-8444-555555555555";
const at = (ms: number) => nsToIso(1_712_600_650_000_000_000n + BigInt(Math.round(ms * 1000)) * 1000n);

/** One client-side exchange on connection `conn`: request at `ms`, response `latencyMs` later. */
function exchange(conn: number, ms: number, latencyMs = 5): HttpExchange {
  const message = (t: number) => ({ ts: at(t), end_ts: at(t + 0.1), version: "1.1", headers: [["Host", "api"]] as [string, string][], body: null, body_size: 0, body_truncated: false, body_binary: false, raw: "" });
  const client = { ip: "10.0.0.1", port: 40_000 + conn };
  const server = { ip: "10.0.0.2", port: 80 };
  return HttpExchangeSchema.parse({
    v: 1, type: "http_exchange", host: "a", boot_id: BOOT, conn_id: String(conn), side: "client", pid: 10, start_ticks: 1,
    local: client, remote: server, family: 4, transport: "tcp", seq: 0, client, server,
    request: { ...message(ms), method: "GET", target: `/items/${conn}` },
    response: { ...message(ms + latencyMs), status: 200, reason: "OK" },
    latency_ns: latencyMs * 1_000_000,
  });
}

const timestamps = (lines: string[]) => lines.map((l) => (JSON.parse(l) as { timestamp: string }).timestamp);
const isSorted = (xs: string[]) => xs.every((x, i) => i === 0 || xs[i - 1]! <= x);

describe("MapperOutputs traffic log", () => {
  it("hands out only lines the window has passed, then everything when asked (quiet stream, stop)", () => {
    const outputs = new MapperOutputs({ redact: true, logSettleMs: 1000 });
    for (let i = 0; i < 30; i++) outputs.addDerived(exchange(i, i * 100));
    // newest capture time 2905 ms: lines before 1905 ms are final (the last pass ran at newest 2805: horizon 1805)
    const first = outputs.takeLogLines();
    expect(first.length).toBeGreaterThan(0);
    expect(timestamps(first).every((ts) => ts < at(1905))).toBe(true);
    expect(outputs.takeLogLines()).toEqual([]); // taken once
    expect(outputs.stats().pending).toBeLessThan(30);
    const rest = outputs.takeLogLines(true);
    expect(first.length + rest.length).toBe(60);
    expect(isSorted(timestamps([...first, ...rest]))).toBe(true);
    expect(outputs.stats()).toMatchObject({ observations: 30, final: 30, pending: 0, late: 0, duplicates: 0 });
  });

  it("keeps memory to the window: 20,000 exchanges over 200 s with a 1 s window hold at most ~1.2 s of them", () => {
    const outputs = new MapperOutputs({ redact: true, logSettleMs: 1000 });
    let taken = 0;
    let maxPending = 0;
    for (let i = 0; i < 20_000; i++) {
      outputs.addDerived(exchange(i, i * 10));
      maxPending = Math.max(maxPending, outputs.stats().pending);
      if (i % 500 === 0) taken += outputs.takeLogLines().length;
    }
    taken += outputs.takeLogLines(true).length;
    expect(taken).toBe(40_000);
    expect(maxPending).toBeLessThanOrEqual(125);
  });

  it("writes the same sorted log whatever the arrival order within the window", () => {
    const calls = Array.from({ length: 200 }, (_, i) => exchange(i, i * 37, 1 + (i % 7)));
    const render = (order: HttpExchange[]) => {
      const outputs = new MapperOutputs({ redact: true, logSettleMs: 2000 });
      const lines: string[] = [];
      for (const d of order) {
        outputs.addDerived(d);
        lines.push(...outputs.takeLogLines());
      }
      return [...lines, ...outputs.takeLogLines(true)].join("");
    };
    const expected = render(calls);
    expect(isSorted(timestamps(expected.trimEnd().split("\n")))).toBe(true);
    // Disorder of at most 1 s (25 positions of 37 ms) stays inside the 2 s window: the bytes do not change.
    fc.assert(
      fc.property(fc.array(fc.integer({ min: -12, max: 12 }), { minLength: 200, maxLength: 200 }), (jitter) => {
        const order = calls.map((c, i) => ({ c, k: i + jitter[i]! })).sort((a, b) => a.k - b.k).map((x) => x.c);
        expect(render(order)).toBe(expected);
      }),
      { seed: 5, numRuns: 100 },
    );
  });

  it("appends a line later than the window where it arrives, and counts it", () => {
    const outputs = new MapperOutputs({ redact: true, logSettleMs: 1000 });
    for (let i = 0; i < 50; i++) outputs.addDerived(exchange(i, i * 100));
    const before = outputs.takeLogLines();
    // A slow request: sent at 100 ms, answered 4.8 s later; it arrives after its request line's time was final.
    outputs.addDerived(exchange(999, 100, 4800));
    const after = [...outputs.takeLogLines(), ...outputs.takeLogLines(true)];
    expect(outputs.stats().late).toBe(1);
    expect(before.length + after.length).toBe(102);
    expect(after.some((l) => l.includes('"url":"/items/999"'))).toBe(true);
  });

  it("ignores an observation delivered twice, also for a window after its lines were handed out", () => {
    const outputs = new MapperOutputs({ redact: true, logSettleMs: 1000 });
    for (let i = 0; i < 15; i++) outputs.addDerived(exchange(i, i * 100));
    const taken = outputs.takeLogLines();
    expect(taken.some((l) => l.includes('"url":"/items/1"'))).toBe(true);
    outputs.addDerived(exchange(1, 100)); // final, handed out
    outputs.addDerived(exchange(14, 1400)); // pending
    expect(outputs.stats().duplicates).toBe(2);
    expect(taken.length + outputs.takeLogLines(true).length).toBe(30);
    // Ids are not kept forever (memory): long after, the same id is taken as a new, late observation.
    for (let i = 15; i < 60; i++) outputs.addDerived(exchange(i, i * 100));
    outputs.addDerived(exchange(1, 100));
    expect(outputs.stats()).toMatchObject({ duplicates: 2, late: 1 });
  });

  it("renderLog shows final lines not taken and pending ones, without taking them", () => {
    const outputs = new MapperOutputs({ redact: true, logSettleMs: 1000 });
    for (let i = 0; i < 30; i++) outputs.addDerived(exchange(i, i * 100));
    const shown = outputs.renderLog();
    expect(shown).toBe(outputs.renderLog());
    expect(shown.trimEnd().split("\n")).toHaveLength(60);
    expect([...outputs.takeLogLines(), ...outputs.takeLogLines(true)].join("")).toBe(shown);
  });
});
