// Listening TCP ports of every network namespace on the host, read once at start to seed the kernel's
// listening-ports map (bpf/common/conn.h), which from then on follows listen() and close by itself. The kernel
// uses it to tell the server's end of a connection from the client's when it did not see the connection open
// (it was open before capture started): a local port that listens in the socket's namespace is a server's.
import { readdirSync, readFileSync, readlinkSync } from "node:fs";
import { parseProcNetTcp } from "@adi/shared";
import type { ListeningSocket } from "@adi/shared";
import type { ListeningPort } from "./kernel.ts";

const NETNS_LINK = /^net:\[(\d+)\]$/;

/**
 * Counts listening sockets per port of one namespace's /proc/PID/net/tcp{,6} tables.
 * Shape: [{ netns, port, sockets }], ports in 1..65535 only.
 */
export function listeningPortsOf(netns: number, sockets: readonly ListeningSocket[]): ListeningPort[] {
  const byPort = new Map<number, number>();
  for (const s of sockets) byPort.set(s.port, (byPort.get(s.port) ?? 0) + 1);
  return [...byPort].map(([port, n]) => ({ netns, port, sockets: n }));
}

/**
 * Every network namespace some process is in (one process read per namespace), with its listening ports.
 * Processes that vanish while being read are skipped; never throws for a single unreadable entry.
 */
export function scanListeningPorts(procRoot = "/proc"): ListeningPort[] {
  const seen = new Set<number>();
  const out: ListeningPort[] = [];
  for (const name of readdirSync(procRoot)) {
    if (!/^\d+$/.test(name)) continue;
    let netns: number;
    try {
      const m = NETNS_LINK.exec(readlinkSync(`${procRoot}/${name}/ns/net`));
      if (!m) continue;
      netns = Number(m[1]);
    } catch {
      continue;
    }
    if (seen.has(netns)) continue;
    try {
      const v4 = parseProcNetTcp(readFileSync(`${procRoot}/${name}/net/tcp`, "utf8"), 4);
      let v6: ListeningSocket[] = [];
      try {
        v6 = parseProcNetTcp(readFileSync(`${procRoot}/${name}/net/tcp6`, "utf8"), 6);
      } catch {
        // IPv6 disabled in this namespace
      }
      seen.add(netns);
      out.push(...listeningPortsOf(netns, [...v4, ...v6]));
    } catch {
      // gone while we read it: another process of the namespace will do
    }
  }
  return out;
}
