// A restarted mapper re-reads the facts and the derived stream from the start, in the stream's order and in
// its own chunks; replay feeds the same observations in raw-stream order. Both must write the same map and the
// same log lines (as a set: a line later than the log window is appended where it arrives).
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ConnectionObservationSchema, HttpExchangeSchema, nsToIso, ProcessFactSchema } from "@adi/shared/wire";
import type { ConnectionObservation, Derived, HttpExchange, Fact } from "@adi/shared/wire";
import { MapperOutputs } from "../src/core/outputs.ts";
import { RedactionPolicy } from "@adi/shared/redaction";

const BOOT = "11111111-2222-4333-8444-555555555555";
const at = (ms: number) => nsToIso(1_712_600_650_000_000_000n + BigInt(Math.round(ms * 1000)) * 1000n);
const CLIENT_IP = "10.0.0.1";
const SERVER = { ip: "10.0.0.1", port: 8080 };

function processFact(pid: number, name: string): Fact {
  return ProcessFactSchema.parse({
    v: 1, type: "process", event: "exec", ts: at(0), host: "a", boot_id: BOOT, pid, start_ticks: 100, ppid: 1,
    comm: name, exe: null, cmdline: `/bin/${name}`, cgroup: null, container_id: null,
    adi_profile_match: "local", adi_profile_name: name, optin: "yes", env: {}, env_redacted: true, error: null, exit_code: null,
  });
}

/**
 * One keep-alive exchange `seq` on client connection `conn`, seen by `side`. The server's connection is another
 * conn id (another partition): its observations are the ones a killed classifier republishes late.
 */
function exchange(conn: number, seq: number, ms: number, side: "client" | "server"): HttpExchange {
  const client = { ip: CLIENT_IP, port: 40_000 + conn };
  const [local, remote] = side === "client" ? [client, SERVER] : [SERVER, client];
  const t = ms + (side === "server" ? 0.05 : 0);
  const message = (m: number, body: string | null) => ({ ts: at(m), end_ts: at(m + 0.1), version: "1.1", headers: [["Host", "api"]] as [string, string][], body, body_size: body?.length ?? 0, body_truncated: false, body_binary: false, raw: "" });
  return HttpExchangeSchema.parse({
    v: 1, type: "http_exchange", host: "a", boot_id: BOOT, conn_id: String(side === "client" ? conn : 100_000 + conn), side,
    pid: side === "client" ? 10 : 20, start_ticks: 100, local, remote, family: 4, transport: "tcp", seq, client, server: SERVER,
    request: { ...message(t, null), method: "GET", target: `/ratings/${(conn * 7 + seq) % 30}` },
    response: { ...message(t + 3, '{"stars":5}'), status: 200, reason: "OK" },
    latency_ns: 3_000_000,
  });
}

function unknownConnection(conn: number, ms: number): ConnectionObservation {
  const client = { ip: CLIENT_IP, port: 50_000 + conn };
  const server = { ip: "10.0.0.9", port: 7777 };
  return ConnectionObservationSchema.parse({
    v: 1, type: "connection", host: "a", boot_id: BOOT, conn_id: String(200_000 + conn), side: "client", pid: 10, start_ticks: 100,
    local: client, remote: server, family: 4, transport: "tcp", ts: at(ms), client, server, protocol: "unknown", category: "unknown",
    confidence: 0, reason: "no rule matched", evidence: { rule: null, port_match: false, fingerprint_match: false, from: "client", first_bytes_hex: "deadbeef" }, tls: null,
  });
}

/** 60 s of traffic: 12 keep-alive connections, an exchange every 250 ms on each, both ends observed; a few unknown connections. */
function traffic(): Derived[] {
  const out: Derived[] = [];
  for (let conn = 0; conn < 12; conn++) {
    for (let seq = 0; seq < 240; seq++) {
      const ms = seq * 250 + conn * 17;
      out.push(exchange(conn, seq, ms, "client"), exchange(conn, seq, ms, "server"));
    }
  }
  for (let i = 0; i < 5; i++) out.push(unknownConnection(i, i * 9_000 + 5));
  return out;
}

const startMs = (d: Derived) => Date.parse(d.type === "connection" ? d.ts : d.request.ts);
/** Replay's order: as the classifier emits them from the raw stream (by the end of the exchange, close to capture order). */
const replayOrder = (all: Derived[]) => [...all].sort((a, b) => startMs(a) - startMs(b) || (a.conn_id < b.conn_id ? -1 : 1));

interface Run {
  map: string;
  lines: string[];
}

/**
 * Feeds one fold: facts first (the live mapper reads the facts stored so far before following the derived
 * stream), then the observations in `order`, taking final log lines every `chunk` observations, and everything
 * (the writer found the stream quiet) at the positions in `quiet`.
 */
function run(order: Derived[], chunk: number, quiet: ReadonlySet<number> = new Set()): Run {
  const outputs = new MapperOutputs({ redaction: RedactionPolicy.DEFAULT });
  for (const f of [processFact(10, "productpage"), processFact(20, "ratings")]) outputs.addFact(f);
  const lines: string[] = [];
  order.forEach((d, i) => {
    outputs.addDerived(d);
    if (quiet.has(i)) lines.push(...outputs.takeLogLines(true));
    else if (i % chunk === 0) lines.push(...outputs.takeLogLines());
  });
  lines.push(...outputs.takeLogLines(true));
  return { map: outputs.renderMap(), lines };
}

const sorted = (lines: string[]) => [...lines].sort();

describe("a restarted mapper converges to replay", () => {
  const all = traffic();
  const replay = run(replayOrder(all), 1);

  it("replay's own outputs: every exchange once, one route, unknown connections logged", () => {
    expect(replay.lines).toHaveLength(12 * 240 * 2 * 2 + 5);
    expect(replay.map).toContain("path: /ratings/{id}");
    expect(replay.map).toContain(`count: ${12 * 240}`);
    expect(replay.map).not.toContain("name: external");
    expect(replay.lines.filter((l) => l.includes('"protocol":"unknown"'))).toHaveLength(5);
  });

  it("the same observations in other chunks, with quiet flushes between them: same map, same lines", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 500 }), fc.array(fc.integer({ min: 0, max: all.length - 1 }), { maxLength: 6 }), (chunk, quiet) => {
        const restarted = run(replayOrder(all), chunk, new Set(quiet));
        expect(restarted.map).toBe(replay.map);
        expect(sorted(restarted.lines)).toEqual(sorted(replay.lines));
      }),
      { seed: 77, numRuns: 4 },
    );
  }, 60_000);

  it("a classifier killed for 25 s: its partition's observations stored in one late burst", () => {
    // The derived stream after a kill: the server's partition published nothing from 20 s to 45 s, then caught
    // up (ack wait, restart, warm-up) while the client's partition kept going.
    const order = replayOrder(all);
    const held = (d: Derived) => d.side === "server" && startMs(d) >= startMs(order[0]!) + 20_000 && startMs(d) < startMs(order[0]!) + 45_000;
    const resumeAt = order.findIndex((d) => startMs(d) >= startMs(order[0]!) + 45_000);
    const stream = [...order.slice(0, resumeAt).filter((d) => !held(d)), ...order.filter(held), ...order.slice(resumeAt)];
    expect(stream).toHaveLength(all.length);
    for (const [chunk, quiet] of [[1, []], [64, [resumeAt - 1000, resumeAt + 10]]] as const) {
      const restarted = run(stream, chunk, new Set(quiet));
      expect(restarted.map).toBe(replay.map);
      expect(sorted(restarted.lines)).toEqual(sorted(replay.lines));
    }
  });

  it("a lag longer than the pairing window is not hidden: the late views are counted unpaired_late", () => {
    const order = replayOrder(all);
    const t0 = startMs(order[0]!);
    const held = (d: Derived) => d.side === "server" && startMs(d) >= t0 + 20_000 && startMs(d) < t0 + 45_000;
    const resumeAt = order.findIndex((d) => startMs(d) >= t0 + 45_000);
    const stream = [...order.slice(0, resumeAt).filter((d) => !held(d)), ...order.filter(held), ...order.slice(resumeAt)];
    const feed = (pairingWindowMs: number) => {
      const outputs = new MapperOutputs({ redaction: RedactionPolicy.DEFAULT, pairingWindowMs });
      for (const d of stream) outputs.addDerived(d);
      return outputs;
    };
    expect(feed(60_000).stats().unpaired_late).toBe(0);
    const short = feed(10_000);
    expect(short.stats().unpaired_late).toBeGreaterThan(0);
    expect(short.renderMap()).toContain("name: external"); // the phantom caller of issue 10, now counted
  });

  it("an observation redelivered after its lines were final is not logged nor counted twice", () => {
    const order = replayOrder(all);
    // The same batch stored again (a classifier republishing after a restart, past the stream's duplicate window).
    const stream = [...order.slice(0, 3000), ...order.slice(2000, 2100), ...order.slice(3000)];
    const restarted = run(stream, 10);
    expect(restarted.map).toBe(replay.map);
    expect(sorted(restarted.lines)).toEqual(sorted(replay.lines));
  });
});
