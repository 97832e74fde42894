// The agent's memory of process identities: names the kernel read at exec outlive /proc, a process's first network
// activity is marked once, an exec replaces what a process was, and memory is bounded.
import { describe, expect, it } from "vitest";
import { buildProcessFact, type KernelProcessInfo } from "../src/core/process-facts.ts";
import { ProcessLedger } from "../src/core/process-ledger.ts";
import { RedactionPolicy } from "@adi/shared/redaction";

const BOOT = "393a8351-01d1-4c4f-84ed-e7c686d9ae26";
const info = (over: Partial<KernelProcessInfo> = {}): KernelProcessInfo => ({
  pid: 100,
  startTicks: 7000,
  ppid: 1,
  comm: "start.sh",
  cmdline: ["/bin/sh", "start.sh"],
  profile: "e2e",
  profileName: "shop",
  optin: 1,
  ...over,
});

describe("ProcessLedger", () => {
  it("marks a process's first network activity once, per identity (pid + start ticks)", () => {
    const l = new ProcessLedger();
    l.remember(info());
    expect(l.markNet(100, 7000)).toBe(true);
    expect(l.markNet(100, 7000)).toBe(false);
    // The same pid, reused by another process (other start ticks), is another identity.
    expect(l.markNet(100, 7001)).toBe(true);
    // Unknown identities are marked too (a process the agent never saw start: its connection is still activity).
    expect(l.markNet(555, 1)).toBe(true);
    expect(l.markNet(555, 1)).toBe(false);
  });

  it("keeps an exited process for late records, and still says it was marked", () => {
    const l = new ProcessLedger();
    l.remember(info());
    l.markNet(100, 7000);
    l.exited(100, 7000);
    expect(l.lookup(100, 7000)).toMatchObject({ profile: "e2e", profileName: "shop" });
    expect(l.markNet(100, 7000)).toBe(false);
  });

  it("keeps the exec-time names when a later report lacks them, unless it is an exec", () => {
    const l = new ProcessLedger();
    l.remember(info());
    // An exit record or a fork whose names were evicted from the kernel's optin_names: no names.
    l.remember(info({ comm: "sh", profile: null, profileName: null }));
    expect(l.lookup(100, 7000)).toMatchObject({ comm: "sh", profile: "e2e", profileName: "shop" });
    // An exec replaces the program and its environment: what it lacks is gone.
    l.remember(info({ comm: "curl", profile: "other", profileName: null }), { exec: true });
    expect(l.lookup(100, 7000)).toMatchObject({ comm: "curl", profile: "other", profileName: null });
  });

  it("forgets the oldest exits beyond its bound, and the oldest identities beyond its size", () => {
    const l = new ProcessLedger(10, 3);
    for (let pid = 1; pid <= 5; pid++) {
      l.remember(info({ pid }));
      l.exited(pid, 7000);
    }
    expect([1, 2, 3, 4, 5].map((pid) => l.lookup(pid, 7000) !== undefined)).toEqual([false, false, true, true, true]);
    expect(l.size).toBe(3);
    for (let pid = 10; pid < 30; pid++) l.remember(info({ pid }));
    expect(l.size).toBe(10);
    expect(l.lookup(29, 7000)?.pid).toBe(29);
    expect(l.lookup(19, 7000)).toBeUndefined();
    // An identity evicted by size then exiting changes nothing.
    l.exited(3, 7000);
    expect(l.size).toBe(10);
  });

  it("refuses bounds that cannot hold", () => {
    expect(() => new ProcessLedger(0, 0)).toThrow(RangeError);
    expect(() => new ProcessLedger(5, 6)).toThrow(RangeError);
  });
});

describe("a net fact of a process gone before /proc was read", () => {
  it("carries the kernel's exec-time match and name, comm and arguments, and says why /proc is missing", () => {
    const l = new ProcessLedger();
    l.remember(info({ pid: 4242, comm: "curl", cmdline: ["curl", "-s", "http://127.0.0.1:8080/"] }), { exec: true });
    const known = l.lookup(4242, 7000)!;
    const fact = buildProcessFact(
      { event: "net", ts: 1_790_000_000_123_456_789n, host: "h1", bootId: BOOT, kernel: known, error: "open /proc/4242/stat: no such file or directory" },
      { redaction: RedactionPolicy.DEFAULT },
    );
    expect(fact).toMatchObject({
      event: "net",
      ts: "2026-09-21T14:13:20.123456789Z",
      pid: 4242,
      start_ticks: 7000,
      comm: "curl",
      cmdline: "curl -s http://127.0.0.1:8080/",
      adi_profile_match: "e2e",
      adi_profile_name: "shop",
      optin: "yes",
      env: {},
      error: "open /proc/4242/stat: no such file or directory",
    });
  });
});
