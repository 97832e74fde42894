// Least privilege: once the BPF programs are loaded and attached and the ring buffer is mapped, the agent keeps only
// the capabilities it still uses and drops every other one, in every thread, from the effective, permitted,
// inheritable, bounding and ambient sets, with no_new_privs (the addon: services/capture/native/src/capabilities.cc).
//
// What the agent does afterwards, and what it takes (found by dropping each one and running the capture e2e tests,
// Linux 6.18):
//   - BPF map updates, lookups and deletes (opt-in, listening ports, counters) through the map fds it holds: none
//     since Linux 6.5 (the unprivileged-BPF checks moved into BPF_MAP_CREATE and BPF_PROG_LOAD);
//   - the ring buffer: none (mapped and polled through an fd opened before the drop);
//   - detaching at stop: none (closing the link fds);
//   - /proc/PID/{stat,cmdline,cgroup}, /proc/net/tcp{,6}, the cgroup2 hierarchy: none (world-readable);
//   - /proc/PID/{environ,exe,ns/net,fd/*} of other processes: CAP_SYS_PTRACE and CAP_DAC_READ_SEARCH, below;
//   - publishing to NATS: none. The agent writes no file and talks to no container runtime.

import { createRequire } from "node:module";
import type { Logger } from "pino";
import { ADDON_PATH } from "./kernel.ts";

/**
 * The capabilities the capture agent keeps once attached, and why (names as capabilities(7) spells them). Everything
 * else is dropped. Both are needed for every process of another user, and CAP_SYS_PTRACE alone for root's own
 * processes (they hold capabilities the agent no longer has).
 */
export const RUNTIME_CAPABILITIES: Readonly<Record<string, string>> = {
  // ptrace_may_access(PTRACE_MODE_READ_FSCREDS) guards /proc/PID/environ (opt-in decisions and process facts),
  // /proc/PID/exe, /proc/PID/ns/net (listening ports per namespace) and the /proc/PID/fd links (listener owners):
  // without it, any process whose permitted capabilities are not a subset of the agent's own (every root process
  // once the agent has dropped), of another uid, or not dumpable (setuid programs, prctl PR_SET_DUMPABLE 0) is refused.
  CAP_SYS_PTRACE: "read other processes' /proc/PID/environ, exe, ns/net and fd links (ptrace read access)",
  // /proc/PID/environ is mode 0400 and /proc/PID/fd 0500, owned by the process's uid: read and list permission for
  // the processes of every other user (CAP_DAC_OVERRIDE would also allow writing: not needed).
  CAP_DAC_READ_SEARCH: "read /proc/PID/environ and list /proc/PID/fd of other users' processes (owner-only modes)",
};

/** What the addon's dropCapabilities returns (services/capture/native/src/capabilities.h). */
export interface CapabilityDrop {
  /** Asked for and held: every thread's effective, permitted and bounding sets now. */
  kept: string[];
  /** Held before and given up, in capability-number order. */
  dropped: string[];
  /** Asked for but not held (an agent started with fewer capabilities): not kept. */
  notHeld: string[];
  /** False when the bounding set could not be reduced (no CAP_SETPCAP) or nothing was changed. */
  bounding: boolean;
  /** False for a process that held no capability: nothing was changed, no_new_privs included. */
  changed: boolean;
  /** Threads changed, the calling one included. */
  threads: number;
  /** Thread ids still holding other credentials after 2 s of asking (empty unless something is wrong). */
  unchangedThreads: number[];
}

/**
 * Keeps `keep` (default RUNTIME_CAPABILITIES) and drops every other capability of this process (all threads), sets
 * no_new_privs, and logs what was kept (with why) and dropped. A process without capabilities is left as it is (no
 * error). Throws TypeError for a name capabilities(7) does not know, Error if this thread's capset(2) fails.
 */
export function dropCapabilities(log: Logger, keep: Readonly<Record<string, string>> = RUNTIME_CAPABILITIES): CapabilityDrop {
  const require = createRequire(import.meta.url);
  const addon = require(ADDON_PATH) as { dropCapabilities(keep: string[]): CapabilityDrop };
  const r = addon.dropCapabilities(Object.keys(keep));
  if (!r.changed) {
    log.info({ kept: [] }, "capabilities: none held, nothing to drop");
    return r;
  }
  log.info(
    { kept: Object.fromEntries(r.kept.map((name) => [name, keep[name]])), dropped: r.dropped.length, bounding: r.bounding, noNewPrivs: true, threads: r.threads },
    "capabilities dropped to those still needed",
  );
  if (r.notHeld.length > 0) log.warn({ notHeld: r.notHeld }, "capabilities the agent uses were not held: other processes' /proc entries may be unreadable");
  if (!r.bounding) log.warn({}, "the bounding set could not be reduced (no CAP_SETPCAP)");
  if (r.unchangedThreads.length > 0) log.warn({ threads: r.unchangedThreads }, "threads that did not drop their capabilities");
  return r;
}
