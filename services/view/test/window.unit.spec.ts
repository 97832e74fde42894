// The page's time windows as /api/map reads them from its query.
import { describe, expect, it } from "vitest";
import { parseWindow, RECENT_WINDOW_MS } from "../src/index.ts";

const NOW = Date.parse("2026-11-27T09:10:00Z");

describe("parseWindow", () => {
  it("is the live fold by default and for window=live", () => {
    expect(parseWindow({}, NOW)).toEqual({ kind: "live" });
    expect(parseWindow({ window: "live" }, NOW)).toEqual({ kind: "live" });
  });

  it("is the last five minutes up to now, its end open, for window=5m", () => {
    expect(RECENT_WINDOW_MS).toBe(300_000);
    expect(parseWindow({ window: "5m" }, NOW)).toEqual({ kind: "5m", since: new Date("2026-11-27T09:05:00Z"), until: null });
  });

  it("takes since and/or until for window=range", () => {
    expect(parseWindow({ window: "range", since: "2026-11-27T09:00:00Z", until: "2026-11-27T09:01:00Z" }, NOW)).toEqual({
      kind: "range",
      since: new Date("2026-11-27T09:00:00Z"),
      until: new Date("2026-11-27T09:01:00Z"),
    });
    expect(parseWindow({ window: "range", since: "2026-11-27T09:00:00Z", until: "" }, NOW)).toEqual({ kind: "range", since: new Date("2026-11-27T09:00:00Z"), until: null });
    expect(parseWindow({ window: "range", until: "2026-11-27T09:00:00Z" }, NOW)).toEqual({ kind: "range", since: null, until: new Date("2026-11-27T09:00:00Z") });
  });

  it.each([
    [{ window: "1h" }, /window "1h": expected one of live, 5m, range/],
    [{ window: ["live", "5m"] }, /window \["live","5m"\]/],
    [{ window: "range" }, /needs since, until or both/],
    [{ window: "range", since: "yesterday" }, /since "yesterday": expected an ISO 8601 time/],
    [{ window: "range", since: "2026-11-27T09:02:00Z", until: "2026-11-27T09:01:00Z" }, /is after until/],
    [{ window: "live", since: "2026-11-27T09:00:00Z" }, /go with window=range, not window=live/],
    [{ window: "5m", until: "2026-11-27T09:00:00Z" }, /not window=5m/],
  ])("refuses %j", (query, message) => {
    expect(() => parseWindow(query, NOW)).toThrow(message);
  });
});
