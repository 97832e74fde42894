// What the agent knows of each process identity (pid + start ticks, on this boot) from the kernel's records and its
// own /proc scan, kept past the process's exit for a while: a record that arrives after /proc is gone (a connection
// open, a listen, an exit) still gets the names the kernel read at exec, and the first network activity of a process
// is marked once. Pure and bounded: no I/O, at most `maxEntries` identities, exited ones forgotten first.
import type { KernelProcessInfo } from "./process-facts.ts";

export interface LedgerEntry {
  /** The latest description (exec replaces fork, which replaces nothing); null when only its activity was seen. */
  info: KernelProcessInfo | null;
  /** Its first network activity was reported (a `net` process fact). */
  net: boolean;
  exited: boolean;
}

/**
 * Default bounds: identities in all (as many as the kernel's optin_names map keeps names for; an entry holds up to
 * ~1 KiB, so at most ~16 MiB, in practice the opted-in processes alive) and exited ones kept for late records.
 */
export const LEDGER_MAX_ENTRIES = 16_384;
export const LEDGER_MAX_EXITED = 4_096;

const keyOf = (pid: number, startTicks: number) => `${pid}:${startTicks}`;

export class ProcessLedger {
  readonly #entries = new Map<string, LedgerEntry>();
  readonly #exited: string[] = []; // FIFO of exited identities, oldest first
  readonly #maxEntries: number;
  readonly #maxExited: number;

  /**
   * `maxEntries`: identities kept in all (the oldest inserted is forgotten beyond it); `maxExited`: exited identities
   * kept for records that arrive after the exit (the oldest exit is forgotten beyond it).
   */
  constructor(maxEntries = LEDGER_MAX_ENTRIES, maxExited = LEDGER_MAX_EXITED) {
    if (!(maxEntries >= 1 && maxExited >= 0 && maxExited <= maxEntries)) throw new RangeError(`bad ledger bounds ${maxEntries}/${maxExited}`);
    this.#maxEntries = maxEntries;
    this.#maxExited = maxExited;
  }

  get size(): number {
    return this.#entries.size;
  }

  /**
   * Records what an exec, fork or scan said of a process. Names (ADI_PROFILE, ADI_PROFILE_NAME) survive a report
   * that lacks them (the kernel's exit record of an older agent, a fork of a parent whose names were evicted) unless
   * the report is an exec, which replaces the program and its environment.
   */
  remember(info: KernelProcessInfo, opts: { exec?: boolean } = {}): void {
    const entry = this.#entry(info.pid, info.startTicks);
    const known = entry.info;
    entry.info =
      known && !opts.exec
        ? { ...info, profile: info.profile || known.profile, profileName: info.profileName || known.profileName }
        : info;
  }

  /** What is known of an identity, or undefined. */
  lookup(pid: number, startTicks: number): KernelProcessInfo | undefined {
    return this.#entries.get(keyOf(pid, startTicks))?.info ?? undefined;
  }

  /** True the first time an identity shows network activity, false after (also after its exit, while kept). */
  markNet(pid: number, startTicks: number): boolean {
    const entry = this.#entry(pid, startTicks);
    if (entry.net) return false;
    entry.net = true;
    return true;
  }

  /** The process ended: its entry is kept for late records, among the last `maxExited` exits. */
  exited(pid: number, startTicks: number): void {
    const key = keyOf(pid, startTicks);
    const entry = this.#entries.get(key);
    if (!entry || entry.exited) return;
    entry.exited = true;
    this.#exited.push(key);
    while (this.#exited.length > this.#maxExited) this.#entries.delete(this.#exited.shift()!);
  }

  #entry(pid: number, startTicks: number): LedgerEntry {
    const key = keyOf(pid, startTicks);
    let entry = this.#entries.get(key);
    if (entry) return entry;
    entry = { info: null, net: false, exited: false };
    this.#entries.set(key, entry);
    // Bounded: the oldest identity goes first (a Map iterates in insertion order).
    if (this.#entries.size > this.#maxEntries) {
      const oldest = this.#entries.keys().next().value as string;
      this.#entries.delete(oldest);
      const i = this.#exited.indexOf(oldest);
      if (i >= 0) this.#exited.splice(i, 1);
    }
    return entry;
  }
}
