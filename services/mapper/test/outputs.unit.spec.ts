// MapperOutputs' traffic log: appended as lines become final, sorted by capture time, memory bounded to a window.
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ConnectionObservationSchema, HttpExchangeSchema, ContainerFactSchema, nsToIso, ProcessFactSchema } from "@adi/shared/wire";
import type { ConnectionObservation, HttpExchange } from "@adi/shared/wire";
import { at, BOOT, clientExchange } from "./support/client-exchange.ts";
import { MapperOutputs } from "../src/core/outputs.ts";
import { RedactionPolicy } from "@adi/shared/redaction";

/** One client-side exchange on connection `conn` to /items/<conn>: request at `ms`, response `latencyMs` later. */
const exchange = (conn: number, ms: number, latencyMs = 5): HttpExchange => clientExchange(conn, ms, `/items/${conn}`, 200, latencyMs);

const timestamps = (lines: string[]) => lines.map((l) => (JSON.parse(l) as { timestamp: string }).timestamp);
const isSorted = (xs: string[]) => xs.every((x, i) => i === 0 || xs[i - 1]! <= x);

describe("MapperOutputs traffic log", () => {
  it("hands out only lines the window has passed, then everything when asked (quiet stream, stop)", () => {
    const outputs = new MapperOutputs({ redaction: RedactionPolicy.DEFAULT, logSettleMs: 1000 });
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
    const outputs = new MapperOutputs({ redaction: RedactionPolicy.DEFAULT, logSettleMs: 1000 });
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
  }, 30_000);

  it("writes the same sorted log whatever the arrival order within the window", () => {
    const calls = Array.from({ length: 200 }, (_, i) => exchange(i, i * 37, 1 + (i % 7)));
    const render = (order: HttpExchange[]) => {
      const outputs = new MapperOutputs({ redaction: RedactionPolicy.DEFAULT, logSettleMs: 2000 });
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
    const outputs = new MapperOutputs({ redaction: RedactionPolicy.DEFAULT, logSettleMs: 1000 });
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
    const outputs = new MapperOutputs({ redaction: RedactionPolicy.DEFAULT, logSettleMs: 1000 });
    for (let i = 0; i < 15; i++) outputs.addDerived(exchange(i, i * 100));
    const taken = outputs.takeLogLines();
    expect(taken.some((l) => l.includes('"url":"/items/1"'))).toBe(true);
    outputs.addDerived(exchange(1, 100)); // final, handed out
    outputs.addDerived(exchange(14, 1400)); // pending
    expect(outputs.stats().duplicates).toBe(2);
    expect(taken.length + outputs.takeLogLines(true).length).toBe(30);
    // Connections are remembered for the idle window of capture time (here 10 min): still a duplicate 4.5 s later.
    for (let i = 15; i < 60; i++) outputs.addDerived(exchange(i, i * 100));
    outputs.addDerived(exchange(1, 100));
    expect(outputs.stats()).toMatchObject({ duplicates: 3, late: 0 });
  });

  it("forgets connections idle longer than seenIdleMs: a redelivery later than that is taken again (memory bound)", () => {
    const outputs = new MapperOutputs({ redaction: RedactionPolicy.DEFAULT, logSettleMs: 1000, seenIdleMs: 2000 });
    for (let i = 0; i < 60; i++) outputs.addDerived(exchange(i, i * 100));
    outputs.addDerived(exchange(1, 100));
    expect(outputs.stats()).toMatchObject({ duplicates: 0, late: 1 });
  });

  it("renderLog shows final lines not taken and pending ones, without taking them", () => {
    const outputs = new MapperOutputs({ redaction: RedactionPolicy.DEFAULT, logSettleMs: 1000 });
    for (let i = 0; i < 30; i++) outputs.addDerived(exchange(i, i * 100));
    const shown = outputs.renderLog();
    expect(shown).toBe(outputs.renderLog());
    expect(shown.trimEnd().split("\n")).toHaveLength(60);
    expect([...outputs.takeLogLines(), ...outputs.takeLogLines(true)].join("")).toBe(shown);
  });
});

/** Live heap (after a full GC on both ends) that `fill` left behind, divided by `n`: bytes per call held. */
function heapGrowthPer(n: number, fill: () => void): number {
  setFlagsFromString("--expose-gc");
  const gc = runInNewContext("gc") as () => void;
  gc();
  const before = process.memoryUsage().heapUsed;
  fill();
  gc();
  return (process.memoryUsage().heapUsed - before) / n;
}

describe("MapperOutputs: memory of the calls held for the pairing window (issue 12)", () => {
  it("keeps one copy of a body schema key, not one per decoded message", () => {
    // A 4 KiB schema key, as a v3 message carries it; every decoded message brings its own copy of the string.
    const key = JSON.stringify(Object.fromEntries(Array.from({ length: 200 }, (_, i) => [`field_${String(i).padStart(4, "0")}`, "string"])));
    const outputs = new MapperOutputs({ redaction: RedactionPolicy.DEFAULT, logSettleMs: 10 });
    const N = 20_000;
    const grownPerCall = heapGrowthPer(N, () => {
      const made = Array.from({ length: N }, (_, i) => {
        const x = exchange(i, i * 0.5); // 10 s of capture time: inside the 60 s pairing window, every call is held
        return { ...x, request: { ...x.request, body_schema: JSON.parse(JSON.stringify(key)) as string }, response: x.response && { ...x.response, body_schema: '"null"' } };
      });
      for (const x of made) outputs.addDerived(x);
      made.length = 0;
      outputs.takeLogLines(true);
    });
    expect(outputs.stats().observations).toBe(N);
    // Each held call's own copy of the key was > 4,000 bytes; one shared copy leaves the call's few hundred.
    expect(grownPerCall).toBeLessThan(1500);
  });

  it("keeps no decoded message alive through a value it keeps (a Host header sliced from its message's text)", () => {
    const outputs = new MapperOutputs({ redaction: RedactionPolicy.DEFAULT, logSettleMs: 10 });
    const N = 2_000;
    const grownPerCall = heapGrowthPer(N, () => {
      for (let i = 0; i < N; i++) {
        // A decoder's string run (msgpackr slices short strings out of one decoded run): 16 KiB per message here.
        const run = `${"x".repeat(8192)}svc-${String(i).padStart(6, "0")}.internal:8080${"y".repeat(8192)}`;
        const host = run.slice(8192, 8192 + 24);
        const x = exchange(i, i * 0.5);
        outputs.addDerived({ ...x, request: { ...x.request, headers: [["Host", host]] } });
      }
      outputs.takeLogLines(true);
    });
    expect(outputs.stats().observations).toBe(N);
    // Kept as a slice, each destination's hint held its 16 KiB run; its own copy is a few dozen bytes.
    expect(grownPerCall).toBeLessThan(4000);
  });
});

describe("MapperOutputs: final lines not taken yet (readyChars: when the live mapper drains the log)", () => {
  it("counts the characters of the final lines until they are taken", () => {
    const outputs = new MapperOutputs({ redaction: RedactionPolicy.DEFAULT });
    expect(outputs.readyChars()).toBe(0);
    // 1 s of log window: exchanges 0..2 s become final once capture time passes 3.1 s.
    for (let i = 0; i < 40; i++) outputs.addDerived(exchange(i, i * 100));
    const held = outputs.readyChars();
    expect(held).toBeGreaterThan(0);
    const lines = outputs.takeLogLines();
    expect(lines.join("").length).toBe(held);
    expect(outputs.readyChars()).toBe(0);
  });
});

describe("MapperOutputs: capture times outside a sane window (a record stamped 2^64-1 ns)", () => {
  const FAR = nsToIso(2n ** 64n - 1n); // 2554-07-21T23:34:33.709551615Z
  const stamped = (d: HttpExchange, ts: string, where: "request" | "response"): HttpExchange => ({ ...d, [where]: { ...d[where]!, ts, end_ts: ts } });
  const generatedAt = (o: MapperOutputs) => /generated_at: "([^"]+)"/.exec(o.renderMap())?.[1];

  it("drops an observation stamped in 2554 and counts it: generated_at, the log and the map do not move", () => {
    const outputs = new MapperOutputs({ redaction: RedactionPolicy.DEFAULT });
    for (let i = 0; i < 5; i++) outputs.addDerived(exchange(i, i * 100));
    const before = generatedAt(outputs);
    expect(FAR.startsWith("2554-")).toBe(true);
    outputs.addDerived(stamped(exchange(77, 600), FAR, "request"));
    outputs.addDerived(stamped(exchange(78, 700), FAR, "response"));
    expect(generatedAt(outputs)).toBe(before);
    expect(outputs.stats()).toMatchObject({ bad_time: 2, observations: 5 });
    const lines = outputs.takeLogLines(true);
    expect(lines).toHaveLength(10);
    expect(lines.some((l) => l.includes("/items/77") || l.includes("/items/78"))).toBe(false);
    // The window did not jump to 2554: a line of ordinary time arriving next is not late.
    outputs.addDerived(exchange(5, 500));
    expect(outputs.stats().late).toBe(0);
  });

  it("with the message's store time: more than a day ahead of it, or a year behind, is dropped; an hour ahead is kept", () => {
    const outputs = new MapperOutputs({ redaction: RedactionPolicy.DEFAULT });
    const stored = Date.parse(at(0));
    outputs.addDerived(exchange(1, 3_600_000), stored); // capture clock an hour ahead of the broker's: kept
    outputs.addDerived(exchange(2, 25 * 3_600_000), stored);
    outputs.addDerived(exchange(3, 0), stored + 400 * 24 * 3_600_000);
    outputs.addDerived(exchange(4, 0)); // no store time: only the absolute window applies
    expect(outputs.stats()).toMatchObject({ observations: 2, bad_time: 2 });
    expect(generatedAt(outputs)).toBe(at(3_600_005.1));
  });

  it("drops a boot-relative time (1970) and a fact stamped in 2554, which would otherwise name a process forever", () => {
    const outputs = new MapperOutputs({ redaction: RedactionPolicy.DEFAULT });
    const fact = (ts: string, name: string) => ProcessFactSchema.parse({
      v: 1, type: "process", event: "exec", ts, host: "a", boot_id: BOOT, pid: 10, start_ticks: 1, ppid: 1, comm: name, exe: null,
      cmdline: name, cgroup: null, container_id: null, adi_profile_match: "x", adi_profile_name: name, optin: "yes", env: {}, env_redacted: true, error: null, exit_code: null,
    });
    outputs.addFact(fact(at(0), "right"));
    outputs.addFact(fact(FAR, "wrong"));
    outputs.addDerived(stamped(exchange(1, 0), "1970-01-01T00:00:12.000000000Z", "request"));
    outputs.addDerived(exchange(2, 10));
    expect(outputs.stats()).toMatchObject({ bad_time: 2, observations: 1 });
    expect(outputs.renderMap()).toContain("name: right");
  });
});

describe("MapperOutputs: connections no rule recognised", () => {
  const connection = (category: ConnectionObservation["category"], protocol: string, hex: string): ConnectionObservation => {
    const client = { ip: "10.0.0.1", port: 45_000 };
    const server = { ip: "10.0.0.2", port: 9999 };
    return ConnectionObservationSchema.parse({
      v: 1, type: "connection", host: "a", boot_id: BOOT, conn_id: "1", side: "client", pid: 10, start_ticks: 1,
      local: client, remote: server, family: 4, transport: "tcp", ts: at(0), client, server, protocol, category,
      confidence: category === "unknown" ? 0 : 90, reason: category === "unknown" ? "no rule matched the first bytes" : "fingerprint",
      evidence: { rule: null, port_match: false, fingerprint_match: category !== "unknown", from: "client", first_bytes_hex: hex }, tls: null,
    });
  };

  it("logs an unknown connection as a connection line: protocol unknown, confidence 0, its first bytes in hex", () => {
    const outputs = new MapperOutputs({ redaction: RedactionPolicy.DEFAULT });
    outputs.addDerived(connection("unknown", "unknown", "474554202f" + "61".repeat(27)));
    const lines = outputs.takeLogLines(true).map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines).toEqual([expect.objectContaining({
      event_type: "connection", protocol: "unknown", category: "unknown", confidence: 0, dest_port: 9999,
      detection_reason: "no rule matched the first bytes", first_bytes_hex: "474554202f" + "61".repeat(27),
    })]);
    // Not a service-map connection: the map lists databases, caches and message buses.
    expect(outputs.renderMap()).not.toContain("protocol: unknown");
  });

  it("still logs no line for a web connection (its HTTP exchanges are the lines)", () => {
    const outputs = new MapperOutputs({ redaction: RedactionPolicy.DEFAULT });
    outputs.addDerived(connection("web", "tls", "16030100"));
    expect(outputs.takeLogLines(true)).toEqual([]);
  });
});

describe("MapperOutputs: a container calling a published port through its network's gateway", () => {
  it("names the destination after the container publishing the port, in the log and the map (not external)", () => {
    const outputs = new MapperOutputs({ redaction: RedactionPolicy.DEFAULT });
    outputs.addFact(ContainerFactSchema.parse({
      v: 1, type: "container", event: "snapshot", ts: at(0), host: "a", boot_id: BOOT, runtime: "podman", namespace: null,
      container_id: "c0ffee", container_name: "ratings-1", image: "ratings:2", service: "ratings", project: null, labels: {}, pid: 4242,
      ips: ["10.88.0.7"], ports: [{ container_port: 9080, protocol: "tcp", host_ip: "0.0.0.0", host_port: 19080 }], gateways: ["10.88.0.1"], state: "running",
    }));
    const call = exchange(1, 0);
    const server = { ip: "10.88.0.1", port: 19080 };
    outputs.addDerived({ ...call, remote: server, server, request: { ...call.request, headers: [] } });
    const [request] = outputs.takeLogLines(true).map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(request).toMatchObject({ dest_ip: "10.88.0.1", destination_type: "container", destination_container: { service: "ratings", container_id: "c0ffee" } });
    expect(outputs.renderMap()).toMatch(/destination: ratings\n\s+destination_type: container/);
  });
});

describe("MapperOutputs redaction (defense in depth: streams written by older classifiers and agents)", () => {
  const JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl";
  /** An exchange as an older classifier published it: secrets in clear everywhere. */
  function leaky(): HttpExchange {
    const ex = exchange(1, 0);
    const head = "POST /login?token=t1 HTTP/1.1\r\nAuthorization: Bearer b1\r\nX-Session: s1\r\n\r\n";
    const body = '{"password":"p1","user":"bob"}';
    return HttpExchangeSchema.parse({
      ...ex,
      request: { ...ex.request, method: "POST", target: `/login/${JWT}?token=t1`, headers: [["Authorization", "Bearer b1"], ["X-Session", "s1"]], body, body_size: body.length, raw: head + body },
      response: { ...ex.response!, headers: [["Set-Cookie", "sid=c1"]], body: '{"access_token":"a1"}', raw: 'HTTP/1.1 200 OK\r\nSet-Cookie: sid=c1\r\n\r\n{"access_token":"a1"}' },
    });
  }
  const fact = (cmdline: string) => ProcessFactSchema.parse({
    v: 1, type: "process", event: "exec", ts: at(0), host: "a", boot_id: BOOT, pid: 10, start_ticks: 1, ppid: 1, comm: "curl", exe: null,
    cmdline, cgroup: null, container_id: null, adi_profile_match: "x", adi_profile_name: "cli", optin: "yes", env: {}, env_redacted: true, error: null, exit_code: null,
  });

  it("writes log lines with headers, url, body, raw_payload and cmdline redacted", () => {
    const outputs = new MapperOutputs({ redaction: RedactionPolicy.DEFAULT });
    outputs.addFact(fact("curl -u bob:pw1 -H Authorization: Bearer b1 https://api/login"));
    outputs.addDerived(leaky());
    const lines = outputs.takeLogLines(true).map((l) => JSON.parse(l) as Record<string, unknown>);
    const text = JSON.stringify(lines) + outputs.renderMap();
    for (const secret of ["t1", "b1", "s1", "p1", "c1", "a1", "pw1", JWT]) expect(text, secret).not.toMatch(new RegExp(`\\b${secret}\\b`));
    expect(lines[0]).toMatchObject({
      url: "/login/[REDACTED]?token=[REDACTED]",
      cmdline: "curl -u bob:[REDACTED] -H Authorization: [REDACTED] https://api/login",
      headers: { Authorization: "[REDACTED]", "X-Session": "[REDACTED]" },
      body: '{"password":"[REDACTED]","user":"bob"}',
      raw_payload: 'POST /login?token=[REDACTED] HTTP/1.1\r\nAuthorization: [REDACTED]\r\nX-Session: [REDACTED]\r\n\r\n{"password":"[REDACTED]","user":"bob"}',
    });
    expect(lines[1]).toMatchObject({ headers: { "Set-Cookie": "[REDACTED]" }, body: '{"access_token":"[REDACTED]"}' });
  });

  it("does not redact again what a policy with its own id redacted, and does what another policy redacted", () => {
    // The leaky exchange stands in for one whose secrets this policy would not find: skipped means untouched.
    const policy = new RedactionPolicy({ names: ["x-extra"] });
    const redactedBy = (id: string) => {
      const outputs = new MapperOutputs({ redaction: policy });
      outputs.addDerived(leaky(), undefined, id);
      return JSON.parse(outputs.takeLogLines(true)[0]!) as Record<string, unknown>;
    };
    expect(redactedBy(policy.id)).toMatchObject({ headers: { Authorization: "Bearer b1" } });
    expect(redactedBy(RedactionPolicy.DEFAULT.id)).toMatchObject({ headers: { Authorization: "[REDACTED]" } });
  });

  it("writes them as they came with ADI_REDACT_OFF=all", () => {
    const outputs = new MapperOutputs({ redaction: RedactionPolicy.NONE });
    outputs.addFact(fact("curl -u bob:pw1 https://api"));
    outputs.addDerived(leaky());
    const [request] = outputs.takeLogLines(true).map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(request).toMatchObject({ url: `/login/${JWT}?token=t1`, cmdline: "curl -u bob:pw1 https://api", headers: { Authorization: "Bearer b1" } });
  });
});

describe("MapperOutputs.serviceMap", () => {
  it("builds once per version: readers share one map until the fold changes", () => {
    const outputs = new MapperOutputs({ redaction: RedactionPolicy.DEFAULT });
    outputs.addDerived(exchange(1, 0));
    const first = outputs.serviceMap();
    expect(outputs.serviceMap()).toBe(first);
    expect(outputs.renderMap()).toBe(outputs.renderMap());
    outputs.addDerived(exchange(2, 10));
    const second = outputs.serviceMap();
    expect(second).not.toBe(first);
    expect(second.services[0]!.endpoints.reduce((n, e) => n + e.count, 0)).toBe(2);
    expect(first.services[0]!.endpoints.reduce((n, e) => n + e.count, 0)).toBe(1);
  });
});
