import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { BACKOFF_MAX_MS, BACKOFF_MIN_MS, Outbox } from "../src/core/outbox.ts";
import type { OutboxItem } from "../src/core/outbox.ts";

let nextId = 0;
function item(subject: string, bytes = 10, records = 1): OutboxItem {
  return { subject, data: new Uint8Array(bytes), msgId: `${subject}-${nextId++}`, records };
}

/** Takes and acks until nothing is sendable at `now`, returning msgIds in send order. */
function drain(o: Outbox, now = 0): string[] {
  const out: string[] = [];
  for (let it = o.take(now); it; it = o.take(now)) {
    out.push(it.msgId);
    o.ack(it);
  }
  return out;
}

describe("Outbox", () => {
  it("is FIFO per subject and round robin across subjects", () => {
    const o = new Outbox(1_000);
    const a = [item("a"), item("a"), item("a")];
    const b = [item("b"), item("b")];
    const c = [item("c")];
    for (const x of [...a, ...b, ...c]) expect(o.offer(x)).toBe(true);
    expect(o.empty).toBe(false);
    expect(drain(o)).toEqual([a[0], b[0], c[0], a[1], b[1], a[2]].map((x) => x!.msgId));
    expect(o.empty).toBe(true);
    expect(o.stats()).toMatchObject({ bufferedBytes: 0, bufferedItems: 0 });
  });

  it("keeps at most one item of a subject in flight", () => {
    const o = new Outbox(1_000);
    const [a1, a2, b1] = [item("a"), item("a"), item("b")];
    o.offer(a1); o.offer(a2); o.offer(b1);
    expect(o.take(0)).toBe(a1);
    expect(o.take(0)).toBe(b1);
    expect(o.take(0)).toBeUndefined(); // a2 waits for a1
    o.ack(b1);
    expect(o.take(0)).toBeUndefined();
    o.ack(a1);
    expect(o.take(0)).toBe(a2);
  });

  it("ignores ack and fail of an item that is not at the head", () => {
    const o = new Outbox(1_000);
    const [a1, a2] = [item("a"), item("a")];
    o.offer(a1); o.offer(a2);
    o.take(0);
    o.ack(a2);
    expect(o.fail(a2, 0)).toBe(0);
    expect(o.fail(item("zzz"), 0)).toBe(0);
    expect(o.stats().bufferedItems).toBe(2);
    expect(o.stats().retries).toBe(0);
  });

  it("drops what does not fit the byte budget and counts items, records and bytes", () => {
    const o = new Outbox(100);
    expect(o.offer(item("a", 60, 3))).toBe(true);
    expect(o.offer(item("b", 41, 5))).toBe(false);
    expect(o.offer(item("a", 50, 2))).toBe(false);
    expect(o.offer(item("c", 40, 1))).toBe(true); // exactly fills the budget
    expect(o.offer(item("c", 1, 1))).toBe(false);
    expect(o.stats()).toEqual({ bufferedBytes: 100, bufferedItems: 2, droppedItems: 3, droppedRecords: 8, droppedBytes: 92, retries: 0 });
    o.ack(o.take(0)!); // freeing space lets new items in
    expect(o.offer(item("b", 60))).toBe(true);
  });

  it("keeps a failed item at the head with exponential backoff, capped", () => {
    const o = new Outbox(1_000);
    const [a1, a2] = [item("a"), item("a")];
    o.offer(a1); o.offer(a2);
    let now = 1_000;
    const delays: number[] = [];
    for (let i = 0; i < 8; i++) {
      const got = o.take(now);
      expect(got).toBe(a1);
      const d = o.fail(a1, now);
      delays.push(d);
      expect(o.nextRetryAt()).toBe(now + d);
      expect(o.take(now + d - 1)).toBeUndefined(); // not before retryAt
      now += d;
    }
    expect(delays).toEqual([100, 200, 400, 800, 1600, 2000, 2000, 2000]);
    expect(delays[0]).toBe(BACKOFF_MIN_MS);
    expect(Math.max(...delays)).toBe(BACKOFF_MAX_MS);
    expect(o.stats().retries).toBe(8);
    o.ack(o.take(now)!);
    expect(o.nextRetryAt()).toBeUndefined();
    // The ack reset the backoff: the next failure waits the minimum again.
    expect(o.take(now)).toBe(a2);
    expect(o.fail(a2, now)).toBe(BACKOFF_MIN_MS);
  });

  it("backs off per subject: other subjects keep flowing, nextRetryAt is the earliest", () => {
    const o = new Outbox(1_000);
    const [a1, b1, c1] = [item("a"), item("b"), item("c")];
    o.offer(a1); o.offer(b1); o.offer(c1);
    expect(o.nextRetryAt()).toBeUndefined();
    expect(o.take(0)).toBe(a1);
    expect(o.fail(a1, 0)).toBe(100);
    expect(o.take(50)).toBe(b1); // a is backing off, b is not
    expect(o.fail(b1, 50)).toBe(100);
    expect(o.nextRetryAt()).toBe(100);
    expect(o.take(60)).toBe(c1);
    expect(o.take(99)).toBeUndefined();
    expect(o.take(100)).toBe(a1);
    expect(o.nextRetryAt()).toBe(150); // a is in flight: only b waits
    expect(o.take(149)).toBeUndefined();
    expect(o.take(150)).toBe(b1);
    expect(o.nextRetryAt()).toBeUndefined();
  });
});

// ---- model-based test ----

type Op =
  | { op: "offer"; s: number; bytes: number; records: number }
  | { op: "take"; dt: number }
  | { op: "ack" | "fail"; pick: number };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ op: fc.constant("offer" as const), s: fc.nat(3), bytes: fc.nat(40), records: fc.nat(5) }),
  fc.record({ op: fc.constant("take" as const), dt: fc.oneof(fc.constant(0), fc.nat(2500)) }),
  fc.record({ op: fc.constantFrom("ack" as const, "fail" as const), pick: fc.nat() }),
);

describe("Outbox model", () => {
  it("agrees with a reference model on random operation sequences", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 150 }), fc.array(opArb, { maxLength: 120 }), (budget, ops) => {
        const o = new Outbox(budget);
        const queues = new Map<string, { items: OutboxItem[]; retryAt: number; failures: number }>();
        const inFlight: OutboxItem[] = [];
        const offered = new Map<string, string[]>();
        const acked = new Map<string, string[]>();
        const order: string[] = [];
        let now = 0, dropped = 0, cursor = 0;
        const queued = () => [...queues.values()].reduce((n, q) => n + q.items.reduce((m, x) => m + x.data.length, 0), 0);
        const eligible = () =>
          [...queues.entries()].filter(([s, q]) => q.items.length > 0 && q.retryAt <= now && !inFlight.some((x) => x.subject === s));
        for (const op of ops) {
          if (op.op === "offer") {
            const x = item(`s${op.s}`, op.bytes, op.records);
            const fits = queued() + op.bytes <= budget;
            expect(o.offer(x)).toBe(fits);
            if (!fits) { dropped++; continue; }
            const q = queues.get(x.subject) ?? { items: [], retryAt: 0, failures: 0 };
            if (!queues.has(x.subject)) order.push(x.subject);
            queues.set(x.subject, q);
            q.items.push(x);
            offered.set(x.subject, [...(offered.get(x.subject) ?? []), x.msgId]);
          } else if (op.op === "take") {
            now += op.dt;
            const ok = eligible();
            const got = o.take(now);
            if (ok.length === 0) { expect(got).toBeUndefined(); continue; }
            expect(got).toBeDefined();
            const q = queues.get(got!.subject)!;
            expect(got).toBe(q.items[0]); // the head of a subject that may send
            expect(ok.map(([s]) => s)).toContain(got!.subject);
            // Round robin: the first eligible subject at or after the cursor, in first-offer order.
            const n = order.length;
            const i = [...Array(n).keys()].find((k) => ok.some(([s]) => s === order[(cursor + k) % n]))!;
            expect(got!.subject).toBe(order[(cursor + i) % n]);
            cursor = (cursor + i + 1) % n;
            inFlight.push(got!);
          } else if (inFlight.length > 0) {
            const x = inFlight.splice(op.pick % inFlight.length, 1)[0]!;
            const q = queues.get(x.subject)!;
            if (op.op === "ack") {
              o.ack(x);
              q.items.shift(); q.failures = 0; q.retryAt = 0;
              acked.set(x.subject, [...(acked.get(x.subject) ?? []), x.msgId]);
            } else {
              q.failures++;
              const delay = Math.min(BACKOFF_MAX_MS, BACKOFF_MIN_MS * 2 ** (q.failures - 1));
              expect(o.fail(x, now)).toBe(delay);
              q.retryAt = now + delay;
            }
          }
          const st = o.stats();
          expect(st.bufferedBytes).toBe(queued());
          expect(st.bufferedBytes).toBeLessThanOrEqual(budget);
          expect(st.bufferedItems).toBe([...queues.values()].reduce((n, q) => n + q.items.length, 0));
          expect(st.droppedItems).toBe(dropped);
          expect(o.empty).toBe(st.bufferedItems === 0);
        }
        for (const [s, ids] of acked) expect(ids).toEqual(offered.get(s)!.slice(0, ids.length));
      }),
      { seed: 42, numRuns: 500 },
    );
  });
});
