import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ZodError } from "zod";
import { decodeFact, encodeFact, type AgentStatsFact, type ProcessFact } from "../src/wire/facts.ts";
import { nsToIso } from "../src/wire/time.ts";

const processFact: ProcessFact = {
  v: 1,
  type: "process",
  event: "exec",
  ts: "2024-04-08T18:24:10.123456789Z",
  host: "node-1",
  boot_id: "3c5e5b0e-8f4a-4c1e-9b7a-2f0d6c1e4a11",
  pid: 12345,
  start_ticks: 987654,
  ppid: 1,
  comm: "python3",
  exe: "/usr/bin/python3.12",
  cmdline: "/usr/bin/python3 /app/server.py --port 9080",
  cgroup: "/system.slice/docker-0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef.scope",
  container_id: "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
  adi_profile_match: "local",
  adi_profile_name: "reviews",
  optin: "yes",
  env: { ADI_PROFILE: "local", DB_PASSWORD: "[REDACTED]" },
  env_redacted: true,
  error: null,
  exit_code: null,
};

const agentFact: AgentStatsFact = {
  v: 1,
  type: "agent_stats",
  ts: "2024-04-08T18:24:10.000000000Z",
  host: "node-1",
  boot_id: "3c5e5b0e-8f4a-4c1e-9b7a-2f0d6c1e4a11",
  agent_id: "node-1:4242",
  uptime_s: 12.5,
  kernel: { events: 100, bytes: 4096, drops: { ringbuf_full: 1, payload_read: 0, conn_table_full: 0, args_table_full: 0, no_tuple: 0 }, drops_by_cpu: { "1": { ringbuf_full: 1, payload_read: 0, conn_table_full: 0, args_table_full: 0, no_tuple: 0 } } },
  user: {
    batches_published: 3,
    events_published: 99,
    bytes_published: 4000,
    batches_dropped: 0,
    events_dropped: 0,
    buffered_bytes: 96,
    publish_retries: 2,
    process_events: 3,
    malformed: 0,
    optin_undecided: 0,
  },
};

describe("facts", () => {
  it("round-trips both kinds through encode and decode", () => {
    for (const fact of [processFact, agentFact]) {
      const json = encodeFact(fact);
      expect(decodeFact(JSON.parse(json))).toEqual(fact);
      expect(decodeFact(json)).toEqual(fact);
      expect(decodeFact(new TextEncoder().encode(json))).toEqual(fact);
    }
  });

  it("discriminates on type", () => {
    const fact = decodeFact(JSON.parse(encodeFact(agentFact)));
    if (fact.type !== "agent_stats") throw new Error("wrong type");
    expect(fact.kernel.drops.ringbuf_full).toBe(1);
  });

  it("accepts the Go tool's error document shape (process gone)", () => {
    const gone = {
      ...processFact,
      exe: null,
      cgroup: null,
      container_id: null,
      adi_profile_name: null,
      env: {},
      error: "open /proc/99999/environ: no such file or directory",
    };
    expect(decodeFact(gone)).toEqual(gone);
  });

  it("strips unknown fields (producers may add within v1)", () => {
    expect(decodeFact({ ...processFact, later: "x" })).toEqual(processFact);
  });

  it.each([
    ["another version", { v: 2 }],
    ["an unknown type", { type: "container" }],
    ["millisecond timestamps", { ts: "2024-04-08T18:24:10.123Z" }],
    ["non-UTC timestamps", { ts: "2024-04-08T18:24:10.123456789+02:00" }],
    ["an impossible month", { ts: "2024-13-08T18:24:10.123456789Z" }],
    ["a host that is not a token", { host: "node.1" }],
    ["an uppercase boot id", { boot_id: "3C5E5B0E-8F4A-4C1E-9B7A-2F0D6C1E4A11" }],
    ["pid 0", { pid: 0 }],
    ["fractional start ticks", { start_ticks: 1.5 }],
    ["an unknown event", { event: "clone" }],
    ["an unknown verdict", { optin: "maybe" }],
    ["a non-hex container id", { container_id: "not-hex" }],
    ["a 65-digit container id", { container_id: "a".repeat(65) }],
    ["non-string env values", { env: { A: 1 } }],
    ["a missing field", { error: undefined }],
  ])("rejects %s", (_what, change) => {
    expect(() => decodeFact({ ...processFact, ...change })).toThrow(ZodError);
  });

  it("rejects negative counters", () => {
    expect(() => decodeFact({ ...agentFact, user: { ...agentFact.user, events_dropped: -1 } })).toThrow(ZodError);
  });

  it("will not encode an invalid fact", () => {
    expect(() => encodeFact({ ...processFact, pid: -1 })).toThrow(ZodError);
  });

  it("reports bad JSON as a SyntaxError", () => {
    expect(() => decodeFact("{not json")).toThrow(SyntaxError);
  });
});

describe("nsToIso", () => {
  it("prints nine fractional digits", () => {
    expect(nsToIso(1712600650123456789n)).toBe("2024-04-08T18:24:10.123456789Z");
    expect(nsToIso(0n)).toBe("1970-01-01T00:00:00.000000000Z");
    expect(nsToIso(1n)).toBe("1970-01-01T00:00:00.000000001Z");
    expect(nsToIso(1712600650000000000n)).toBe("2024-04-08T18:24:10.000000000Z");
  });

  it("handles the last representable nanosecond and refuses beyond", () => {
    expect(nsToIso(253402300799999999999n)).toBe("9999-12-31T23:59:59.999999999Z");
    expect(() => nsToIso(253402300800000000000n)).toThrow(RangeError);
    expect(() => nsToIso(-1n)).toThrow(RangeError);
  });

  it("agrees with Date to the millisecond and keeps the rest (property)", () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: 253402300799999999999n }), (ns) => {
        const iso = nsToIso(ns);
        expect(iso).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{9}Z$/);
        expect(Date.parse(iso)).toBe(Number(ns / 1_000_000n));
        expect(iso.slice(20, 29)).toBe((ns % 1_000_000_000n).toString().padStart(9, "0"));
      }),
    );
  });

  it("produces timestamps the schema accepts", () => {
    expect(decodeFact({ ...processFact, ts: nsToIso(1n) }).ts).toBe("1970-01-01T00:00:00.000000001Z");
  });
});
