// A listen record from the kernel becomes a listener fact at once: the bound address keeps its family, the owner is
// named from /proc while alive (same start ticks only), else from the kernel's exec-time name, else its comm.
import { describe, expect, it } from "vitest";
import { ListenersFactSchema } from "@adi/shared/wire";
import type { ListenRecord, Tuple } from "@adi/shared/wire";
import { listenerFactOf, withV6Only } from "../src/core/listener-facts.ts";

const BOOT = "393a8351-01d1-4c4f-84ed-e7c686d9ae26";
const tuple = (laddr: string, lport: number, family: 4 | 6 = 4): Tuple => ({ family, protocol: "tcp", laddr, lport, raddr: family === 4 ? "0.0.0.0" : "::", rport: 0 });
const rec = (over: Partial<ListenRecord> = {}): ListenRecord => ({
  type: "listen_start",
  tsNs: 1_790_000_000_000_000_001n,
  startTicks: 8800,
  cgroupId: 0n,
  size: 104,
  kind: 7,
  cpu: 0,
  pid: 4321,
  tid: 4321,
  tuple: tuple("0.0.0.0", 8080),
  netns: 4026531840,
  v6only: false,
  comm: "python3",
  ...over,
});
const ctx = { host: "h1", bootId: BOOT };

describe("listenerFactOf", () => {
  it("names a listener whose owner is alive after its ADI_PROFILE_NAME, with family and the kernel's time", () => {
    const fact = listenerFactOf(rec(), { ...ctx, owner: { pid: 4321, startTicks: 8800, comm: "python3", name: "api" } });
    expect(ListenersFactSchema.parse(fact)).toEqual({
      v: 1,
      type: "listeners",
      event: "listen",
      ts: "2026-09-21T14:13:20.000000001Z",
      host: "h1",
      boot_id: BOOT,
      listeners: [{ ip: "0.0.0.0", port: 8080, family: 4, v6only: false, pid: 4321, start_ticks: 8800, comm: "python3", adi_profile_name: "api" }],
    });
  });

  it("names an owner already gone after the record's comm (a server that answered once and exited)", () => {
    const fact = listenerFactOf(rec(), { ...ctx, owner: null });
    expect(fact!.listeners[0]).toMatchObject({ comm: "python3", adi_profile_name: null, pid: 4321, start_ticks: 8800 });
  });

  it("never takes the name of another process that reuses the pid; falls back to the kernel's exec-time name", () => {
    const other = { pid: 4321, startTicks: 9999, comm: "intruder", name: "wrong" };
    expect(listenerFactOf(rec(), { ...ctx, owner: other })!.listeners[0]).toMatchObject({ comm: "python3", adi_profile_name: null });
    expect(listenerFactOf(rec(), { ...ctx, owner: other, kernelName: "shop" })!.listeners[0]).toMatchObject({ adi_profile_name: "shop" });
    // /proc's name wins over the kernel's when the owner is alive (it is the same environment, read whole).
    const alive = { pid: 4321, startTicks: 8800, comm: "python3", name: "api" };
    expect(listenerFactOf(rec(), { ...ctx, owner: alive, kernelName: "shop" })!.listeners[0]).toMatchObject({ adi_profile_name: "api" });
  });

  it("keeps the address family and bound address: 0.0.0.0, [::] with IPV6_V6ONLY, loopback of each", () => {
    const cases: Array<[Tuple, boolean, object]> = [
      [tuple("0.0.0.0", 9000), false, { ip: "0.0.0.0", family: 4, v6only: false }],
      [tuple("::", 9000, 6), true, { ip: "::", family: 6, v6only: true }],
      [tuple("::", 9001, 6), false, { ip: "::", family: 6, v6only: false }],
      [tuple("127.0.0.1", 9002), false, { ip: "127.0.0.1", family: 4 }],
      [tuple("::1", 9003, 6), true, { ip: "::1", family: 6, v6only: true }],
    ];
    for (const [t, v6only, want] of cases) expect(listenerFactOf(rec({ tuple: t, v6only }), { ...ctx, owner: null })!.listeners[0]).toMatchObject(want);
    // The flag means nothing on an IPv4 socket: never reported true there.
    expect(listenerFactOf(rec({ v6only: true }), { ...ctx, owner: null })!.listeners[0]!.v6only).toBe(false);
  });

  it("reports a listener leaving LISTEN as a close", () => {
    expect(listenerFactOf(rec({ type: "listen_stop", kind: 8 }), { ...ctx, owner: null })).toMatchObject({ event: "close", listeners: [{ port: 8080 }] });
  });

  it("makes no fact of a socket without a port or of another protocol", () => {
    expect(listenerFactOf(rec({ tuple: tuple("0.0.0.0", 0) }), { ...ctx, owner: null })).toBeNull();
    expect(listenerFactOf(rec({ tuple: { ...tuple("0.0.0.0", 53), protocol: "udp" } }), { ...ctx, owner: null })).toBeNull();
  });
});

describe("withV6Only", () => {
  it("adds the kernel's IPV6_V6ONLY to a /proc scan's IPv6 listeners, unknown (null) when it has none", () => {
    const scan = [
      { ip: "::", port: 9000, family: 6 as const, pid: 1, start_ticks: 1, comm: "a", adi_profile_name: null },
      { ip: "::", port: 9001, family: 6 as const, pid: 2, start_ticks: 2, comm: "b", adi_profile_name: null },
      { ip: "0.0.0.0", port: 9000, family: 4 as const, pid: 3, start_ticks: 3, comm: "c", adi_profile_name: null },
    ];
    const out = withV6Only(scan, new Map([["::|9000", true], ["0.0.0.0|9000", true]]));
    expect(out.map((l) => l.v6only)).toEqual([true, null, false]);
    expect(scan[0]).not.toHaveProperty("v6only");
  });
});

describe("listenerFactOf and network namespaces", () => {
  it("takes listeners of the agent's namespace only: a container's 0.0.0.0:80 is not the host's", () => {
    expect(listenerFactOf(rec({ netns: 4026532999 }), { ...ctx, owner: null, netns: 4026531840 })).toBeNull();
    expect(listenerFactOf(rec({ netns: 4026531840 }), { ...ctx, owner: null, netns: 4026531840 })).not.toBeNull();
    // Unknown (the agent could not read its own): every namespace is taken rather than none.
    expect(listenerFactOf(rec({ netns: 4026532999 }), { ...ctx, owner: null, netns: null })).not.toBeNull();
  });
});
