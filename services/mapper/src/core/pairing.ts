// One call (or connection) may be observed twice: by the client and by the server, when both opted in.
// Views with the same key (both ends, and for HTTP the exchange's index and request line) and opposite
// roles are the same call when their capture times are within a tolerance; the rest stand alone. The
// pairing works on the sorted set of views, so it does not depend on the order views arrived in.
//
// Memory stays bounded: a key whose newest view is older than the settle window (capture time, behind the
// newest view seen) is settled: its calls are handed out and the key forgotten. A view arriving later
// than that for a settled key is counted again; the window is wide enough for ordinary disorder.
import type { Role } from "./observation.ts";

export interface View<T> {
  /** Same id, same view: a redelivered observation is ignored. */
  id: string;
  role: Role;
  /** Capture time (ms since the epoch, fractional) and its text. */
  ms: number;
  data: T;
}

/** One call: the client's view when there is one (it names both ends best), else the server's. */
export interface Call<T> {
  primary: View<T>;
  other: View<T> | null;
}

export interface PairingOptions {
  /** Largest capture-time difference between the two views of one call. */
  toleranceMs: number;
  /** How far behind the newest view a key is settled. */
  settleAfterMs: number;
}

export class PairingLog<T> {
  // A key has one or two views (both ends), rarely more: an array, not a Map per key (a Map's overhead was most of
  // the mapper's memory at 10,000 exchanges/s with a 60 s window: BENCHMARKS.md, issue 12).
  readonly #groups = new Map<string, { newestMs: number; views: View<T>[] }>();
  readonly #options: PairingOptions;
  #newestMs = -Infinity;
  #settledUpToMs = -Infinity;
  #lateViews = 0;

  constructor(options: PairingOptions) {
    this.#options = options;
  }

  /** Adds a view; returns the calls of keys that became old enough to settle (usually none). */
  add(key: string, view: View<T>): Call<T>[] {
    // Keys this old were settled already: a partner that was there has been counted alone.
    if (view.ms < this.#settledUpToMs) this.#lateViews++;
    let group = this.#groups.get(key);
    if (!group) this.#groups.set(key, (group = { newestMs: view.ms, views: [] }));
    if (!group.views.some((v) => v.id === view.id)) group.views.push(view);
    group.newestMs = Math.max(group.newestMs, view.ms);
    this.#newestMs = Math.max(this.#newestMs, view.ms);
    // Scanning every key costs, so settle only after capture time moved on by a tenth of the window.
    const horizon = this.#newestMs - this.#options.settleAfterMs;
    if (horizon - this.#settledUpToMs < this.#options.settleAfterMs / 10) return [];
    this.#settledUpToMs = horizon;
    const settled: Call<T>[] = [];
    for (const [groupKey, candidate] of this.#groups) {
      if (candidate.newestMs >= horizon) continue;
      settled.push(...pairViews(candidate.views, this.#options.toleranceMs));
      this.#groups.delete(groupKey);
    }
    return settled;
  }

  /** Views that arrived older than the settled horizon (their call may be counted twice). */
  lateViews(): number {
    return this.#lateViews;
  }

  /** Views held, waiting for their other end or for the window to pass (bounded by the window, for tests). */
  size(): number {
    let n = 0;
    for (const group of this.#groups.values()) n += group.views.length;
    return n;
  }

  /** The calls of every key not settled yet (nothing is removed). */
  pending(): Call<T>[] {
    const calls: Call<T>[] = [];
    for (const group of this.#groups.values()) {
      calls.push(...pairViews(group.views, this.#options.toleranceMs));
    }
    return calls;
  }
}

/**
 * Greedy pairing over the views sorted by time: each view takes the earliest unpaired view of the other
 * role within the tolerance. Deterministic for a given set of views.
 */
export function pairViews<T>(views: readonly View<T>[], toleranceMs: number): Call<T>[] {
  const sorted = [...views].sort((a, b) => a.ms - b.ms || compare(a.role, b.role) || compare(a.id, b.id));
  const unpaired: View<T>[] = [];
  const calls: Call<T>[] = [];
  for (const view of sorted) {
    const match = unpaired.findIndex((u) => u.role !== view.role && view.ms - u.ms <= toleranceMs);
    if (match < 0) {
      unpaired.push(view);
      continue;
    }
    const [partner] = unpaired.splice(match, 1) as [View<T>];
    const [client, server] = view.role === "client" ? [view, partner] : [partner, view];
    calls.push({ primary: client, other: server });
  }
  for (const view of unpaired) calls.push({ primary: view, other: null });
  return calls;
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
