// A socket entering or leaving LISTEN, reported by the kernel (struct adi_listen_event), turned into a listener fact
// at once: the owner named while it is alive (its ADI_PROFILE_NAME from /proc), or after it is gone (the name the
// kernel read at its exec, else the record's comm). Pure: the /proc read is the caller's.
import type { ListenersFact, ListenRecord } from "@adi/shared/wire";
import { nsToIso } from "@adi/shared/wire";
import { isListeningPort } from "@adi/shared";

export type ListenerEntry = ListenersFact["listeners"][number];

/** The listen record's owner as /proc showed it (adapters/listeners.ts readListenerOwner), read when it arrived. */
export interface ListenerOwner {
  readonly pid: number;
  readonly startTicks: number;
  readonly comm: string;
  /** Its ADI_PROFILE_NAME; null when unset. */
  readonly name: string | null;
}

/**
 * The listener fact of one listen record, or null for a socket without a port (nothing can connect to it), or one
 * in another network namespace than `netns` (when given).
 *
 * - `owner`: /proc's view of the record's pid, or null when it could not be read. It names the listener only when
 *   its start ticks are the record's (the pid may already belong to another process).
 * - `kernelName`: the ADI_PROFILE_NAME the kernel read at the owner's exec (the agent's ProcessLedger), the fallback
 *   when /proc is gone: an opted-in process is still named as it asked.
 * - `netns`: the inode of the agent's network namespace. A listener elsewhere (a container's own namespace) is not
 *   reachable at these addresses from here: a 0.0.0.0:80 in a container must not name the host's 127.0.0.1:80.
 *   The /proc scan reads the agent's namespace only, for the same reason; containers are named by the enricher.
 * The comm is always the record's: the kernel took it from the owner at listen() time.
 * `event` is "listen" for LISTEN, "close" for LISTEN → CLOSE; the address keeps its family (0.0.0.0 vs ::), and
 * an IPv6 listener carries its IPV6_V6ONLY.
 */
export function listenerFactOf(
  r: ListenRecord,
  ctx: { host: string; bootId: string; owner: ListenerOwner | null; kernelName?: string | null | undefined; netns?: number | null | undefined },
): ListenersFact | null {
  if (!isListeningPort(r.tuple.lport) || r.tuple.protocol !== "tcp") return null;
  if (ctx.netns != null && r.netns !== ctx.netns) return null;
  const alive = ctx.owner !== null && ctx.owner.pid === r.pid && ctx.owner.startTicks === r.startTicks;
  const name = alive ? ctx.owner!.name : null;
  const entry: ListenerEntry = {
    ip: r.tuple.laddr,
    port: r.tuple.lport,
    family: r.tuple.family,
    v6only: r.tuple.family === 6 ? r.v6only : false,
    pid: r.pid > 0 ? r.pid : null,
    start_ticks: r.pid > 0 ? r.startTicks : null,
    comm: r.comm || (alive ? ctx.owner!.comm : null) || null,
    adi_profile_name: name || ctx.kernelName || null,
  };
  return {
    v: 1,
    type: "listeners",
    event: r.type === "listen_start" ? "listen" : "close",
    ts: nsToIso(r.tsNs),
    host: ctx.host,
    boot_id: ctx.bootId,
    listeners: [entry],
  };
}

/**
 * Adds what only the kernel knows (IPV6_V6ONLY, from listen records) to a /proc scan's listeners: `v6only` maps
 * "ip|port" to the flag of the latest listen record there. Entries it does not know keep v6only null (IPv6) or
 * false (IPv4: the flag has no meaning there). Returns new objects; the input is not changed.
 */
export function withV6Only(listeners: readonly ListenerEntry[], v6only: ReadonlyMap<string, boolean>): ListenerEntry[] {
  return listeners.map((l) => ({
    ...l,
    v6only: l.family === 4 || (l.family === undefined && !l.ip.includes(":")) ? false : (v6only.get(`${l.ip}|${l.port}`) ?? null),
  }));
}
