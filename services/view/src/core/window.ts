// The time windows the page offers (issue 13: "last 5 minutes, since start, or a window from the stream"), read
// from /api/map's query: pure, so what each one means is unit-tested without a server.

/** The windows, by the `window` query value. */
export const WINDOW_KINDS = ["live", "5m", "range"] as const;
export type WindowKind = (typeof WINDOW_KINDS)[number];

/** How far back "5m" looks, ms. */
export const RECENT_WINDOW_MS = 5 * 60_000;

/**
 * A window of the stream. `live`: the running fold, since the stream's start (what the files show). Otherwise a
 * fold of the events stored in [since, until] (either open), computed on request.
 */
export type ViewWindow = { kind: "live" } | { kind: "5m" | "range"; since: Date | null; until: Date | null };

/** A query the page should not have sent: answered 400 with `message`. */
export class WindowQueryError extends Error {
  override readonly name = "WindowQueryError";
}

/**
 * `window` (default live), and for `range` `since` and/or `until` (ISO 8601, e.g. 2026-11-27T09:00:00Z); `now` in
 * ms since the epoch (5m ends there: its until stays open, so events stored while it is computed count too).
 * Throws WindowQueryError for an unknown window, an unparsable time, a range with neither bound or with since
 * after until, or since/until given with another window.
 */
export function parseWindow(query: Readonly<Record<string, unknown>>, nowMs: number): ViewWindow {
  const kind = query.window ?? "live";
  if (typeof kind !== "string" || !(WINDOW_KINDS as readonly string[]).includes(kind)) {
    throw new WindowQueryError(`window ${JSON.stringify(kind)}: expected one of ${WINDOW_KINDS.join(", ")}`);
  }
  const since = time("since", query.since);
  const until = time("until", query.until);
  if (kind !== "range" && (since || until)) throw new WindowQueryError(`since and until go with window=range, not window=${kind}`);
  if (kind === "live") return { kind };
  if (kind === "5m") return { kind, since: new Date(nowMs - RECENT_WINDOW_MS), until: null };
  if (!since && !until) throw new WindowQueryError("window=range needs since, until or both");
  if (since && until && since.getTime() > until.getTime()) throw new WindowQueryError(`since ${since.toISOString()} is after until ${until.toISOString()}`);
  return { kind: "range", since, until };
}

function time(name: string, value: unknown): Date | null {
  if (value === undefined || value === "") return null;
  const d = typeof value === "string" ? new Date(value) : new Date(NaN);
  if (Number.isNaN(d.getTime())) throw new WindowQueryError(`${name} ${JSON.stringify(value)}: expected an ISO 8601 time, e.g. 2026-11-27T09:00:00Z`);
  return d;
}
