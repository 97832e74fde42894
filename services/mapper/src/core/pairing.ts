// One call (or connection) may be observed twice: by the client and by the server, when both opted in.
// Views with the same key (both ends, and for HTTP the exchange's index and request line) and opposite
// roles are the same call when their capture times are within a tolerance; the rest stand alone. The
// pairing works on the sorted set of views, so it does not depend on the order views arrived in.
//
// Memory stays bounded: a key whose newest view is older than the settle window (capture time, behind the
// newest view seen) is settled: its calls are handed out and the key forgotten. A view arriving later
// than that for a settled key is counted again; the window is wide enough for ordinary disorder.
import type { Role } from "./observation.ts";

/**
 * What pairing needs of a view; the held object is the caller's own record with these fields (no wrapper object
 * per view: at 10,000 exchanges/s the 60 s window holds ~600,000 of them, issue 12).
 */
export interface View {
  /**
   * Capture time as RFC 3339 text (nanoseconds). With `role` it identifies a view within its key (both ends, and
   * for HTTP the exchange's index and request line): the same role at the same nanosecond is the same view
   * delivered again, and is ignored. (No id string of its own: one per held view was ~60 bytes of the mapper's
   * memory at 600,000 held views.)
   */
  ts: string;
  role: Role;
  /** Capture time, ms since the epoch (fractional). */
  ms: number;
}

/** One call: the client's view when there is one (it names both ends best), else the server's. */
export interface Call<T extends View> {
  primary: T;
  other: T | null;
}

export interface PairingOptions {
  /** Largest capture-time difference between the two views of one call. */
  toleranceMs: number;
  /** How far behind the newest view a key is settled. */
  settleAfterMs: number;
}

export class PairingLog<T extends View> {
  // Most keys hold one view (one end observed) for the whole window, some two: a lone view is the map's value
  // itself, a group is made only for a second one. At 10,000 exchanges/s a 60 s window holds ~600,000 keys, and
  // a Map per key, then a group and an array per key, were most of the mapper's memory (issue 12).
  readonly #groups = new Map<string, T | Group<T>>();
  readonly #options: PairingOptions;
  #newestMs = -Infinity;
  #settledUpToMs = -Infinity;
  #lateViews = 0;

  constructor(options: PairingOptions) {
    this.#options = options;
  }

  /** Adds a view; returns the calls of keys that became old enough to settle (usually none). */
  add(key: string, view: T): Call<T>[] {
    // Keys this old were settled already: a partner that was there has been counted alone.
    if (view.ms < this.#settledUpToMs) this.#lateViews++;
    const held = this.#groups.get(key);
    if (held === undefined) this.#groups.set(key, view);
    else if (!isGroup(held)) {
      if (!sameView(held, view)) this.#groups.set(key, { newestMs: Math.max(held.ms, view.ms), views: [held, view] });
    } else {
      if (!held.views.some((v) => sameView(v, view))) held.views.push(view);
      held.newestMs = Math.max(held.newestMs, view.ms);
    }
    this.#newestMs = Math.max(this.#newestMs, view.ms);
    // Scanning every key costs, so settle only after capture time moved on by a tenth of the window.
    const horizon = this.#newestMs - this.#options.settleAfterMs;
    if (horizon - this.#settledUpToMs < this.#options.settleAfterMs / 10) return [];
    this.#settledUpToMs = horizon;
    const settled: Call<T>[] = [];
    for (const [groupKey, candidate] of this.#groups) {
      if (!isGroup(candidate)) {
        if (candidate.ms >= horizon) continue;
        settled.push({ primary: candidate, other: null });
      } else {
        if (candidate.newestMs >= horizon) continue;
        settled.push(...pairViews(candidate.views, this.#options.toleranceMs));
      }
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
    for (const group of this.#groups.values()) n += isGroup(group) ? group.views.length : 1;
    return n;
  }

  /** The calls of every key not settled yet (nothing is removed). */
  pending(): Call<T>[] {
    const calls: Call<T>[] = [];
    for (const group of this.#groups.values()) {
      if (isGroup(group)) calls.push(...pairViews(group.views, this.#options.toleranceMs));
      else calls.push({ primary: group, other: null });
    }
    return calls;
  }
}

/** Views of one key once it has more than one. */
interface Group<T extends View> {
  newestMs: number;
  views: T[];
}

function sameView(a: View, b: View): boolean {
  return a.role === b.role && a.ts === b.ts;
}

function isGroup<T extends View>(held: T | Group<T>): held is Group<T> {
  return "views" in held;
}

/**
 * Greedy pairing over the views sorted by time: each view takes the earliest unpaired view of the other
 * role within the tolerance. Deterministic for a given set of views.
 */
export function pairViews<T extends View>(views: readonly T[], toleranceMs: number): Call<T>[] {
  const sorted = [...views].sort((a, b) => a.ms - b.ms || compare(a.role, b.role) || compare(a.ts, b.ts));
  const unpaired: T[] = [];
  const calls: Call<T>[] = [];
  for (const view of sorted) {
    const match = unpaired.findIndex((u) => u.role !== view.role && view.ms - u.ms <= toleranceMs);
    if (match < 0) {
      unpaired.push(view);
      continue;
    }
    const [partner] = unpaired.splice(match, 1) as [T];
    const [client, server] = view.role === "client" ? [view, partner] : [partner, view];
    calls.push({ primary: client, other: server });
  }
  for (const view of unpaired) calls.push({ primary: view, other: null });
  return calls;
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
