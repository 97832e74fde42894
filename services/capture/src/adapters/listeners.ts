// Who listens where on this host: /proc/net/tcp{,6} for the sockets, /proc/PID/fd links for their owners.
// The fd walk is the expensive part, so it runs only when a listening socket appears that no known
// process owns.
import { readdirSync, readFileSync, readlinkSync } from "node:fs";
import type { Logger } from "pino";
import { isListeningPort, parseProcNetTcp } from "@adi/shared";
import { parseStat } from "./procfs.ts";

export interface Listener {
  ip: string;
  port: number;
  family: 4 | 6;
  pid: number | null;
  start_ticks: number | null;
  comm: string | null;
  adi_profile_name: string | null;
}

export interface Owner {
  pid: number;
  startTicks: number;
  comm: string;
  name: string | null;
}

function readOrEmpty(path: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return "";
  }
}

/**
 * Inode of the agent's network namespace (/proc/self/ns/net → "net:[4026531840]"), the one its /proc/net/tcp{,6}
 * scans read; null (logged) when it cannot be read, and then listen records of every namespace are taken.
 */
export function readOwnNetns(log: Logger, procRoot = "/proc"): number | null {
  try {
    const m = /^net:\[(\d+)\]$/.exec(readlinkSync(`${procRoot}/self/ns/net`));
    if (m) return Number(m[1]);
    log.warn({ link: `${procRoot}/self/ns/net` }, "unexpected network namespace link: listen records of every namespace are taken");
  } catch (err) {
    log.warn({ err }, "cannot read the agent's network namespace: listen records of every namespace are taken");
  }
  return null;
}

/**
 * The owner of a listening socket as /proc shows it now: pid, start ticks, comm and ADI_PROFILE_NAME (nothing else
 * of its environment is kept: it may not have opted in). Null when it is gone or unreadable.
 */
export function readListenerOwner(pid: number, procRoot = "/proc"): Owner | null {
  return ownerOf(procRoot, pid);
}

function ownerOf(procRoot: string, pid: number): Owner | null {
  try {
    const stat = parseStat(readFileSync(`${procRoot}/${pid}/stat`, "utf8"));
    const env = readFileSync(`${procRoot}/${pid}/environ`, "latin1").split("\0");
    const name = env.find((e) => e.startsWith("ADI_PROFILE_NAME="))?.slice("ADI_PROFILE_NAME=".length) || null;
    return { pid, startTicks: stat.startTicks, comm: stat.comm, name };
  } catch {
    return null;
  }
}

export class ListenerScanner {
  #owners = new Map<number, Owner>(); // socket inode -> owner
  readonly #proc: string;

  /** `procRoot`: where /proc is (tests point it at a fixture). */
  constructor(procRoot = "/proc") {
    this.#proc = procRoot;
  }

  #resolve(inodes: Set<number>): void {
    const wanted = new Set([...inodes].filter((i) => !this.#owners.has(i)));
    if (wanted.size === 0) return;
    for (const entry of readdirSync(this.#proc)) {
      if (!/^\d+$/.test(entry)) continue;
      let fds: string[];
      try {
        fds = readdirSync(`${this.#proc}/${entry}/fd`);
      } catch {
        continue;
      }
      for (const fd of fds) {
        let link: string;
        try {
          link = readlinkSync(`${this.#proc}/${entry}/fd/${fd}`);
        } catch {
          continue;
        }
        const m = /^socket:\[(\d+)\]$/.exec(link);
        if (!m || !wanted.has(Number(m[1]))) continue;
        const owner = ownerOf(this.#proc, Number(entry));
        if (owner) this.#owners.set(Number(m[1]), owner);
        wanted.delete(Number(m[1]));
      }
      if (wanted.size === 0) break;
    }
  }

  /** The current listeners, sorted (so two scans of the same state compare equal). */
  scan(): Listener[] {
    const sockets = [
      ...parseProcNetTcp(readOrEmpty(`${this.#proc}/net/tcp`), 4),
      ...parseProcNetTcp(readOrEmpty(`${this.#proc}/net/tcp6`), 6),
    ];
    const inodes = new Set(sockets.map((s) => s.inode));
    for (const inode of this.#owners.keys()) if (!inodes.has(inode)) this.#owners.delete(inode);
    this.#resolve(inodes);
    const seen = new Set<string>();
    const out: Listener[] = [];
    for (const s of sockets) {
      if (!isListeningPort(s.port)) continue; // never a "port 0 listener": a destination would be named after it
      const key = `${s.ip}|${s.port}`;
      if (seen.has(key)) continue; // SO_REUSEPORT: one entry per address
      seen.add(key);
      const o = this.#owners.get(s.inode);
      out.push({ ip: s.ip, port: s.port, family: s.family, pid: o?.pid ?? null, start_ticks: o?.startTicks ?? null, comm: o?.comm ?? null, adi_profile_name: o?.name ?? null });
    }
    return out.sort((a, b) => a.port - b.port || a.ip.localeCompare(b.ip));
  }
}
