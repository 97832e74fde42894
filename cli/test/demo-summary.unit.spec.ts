import { describe, expect, it } from "vitest";
import type { ServiceMap } from "@adi/mapper";
import { demoSummary, SUMMARY_EDGES_MAX, summaryEdges } from "../commands/demo-summary.ts";

const T = "2026-12-01T10:00:00.000000000Z";
const stats = { status_codes: { "200": 1 }, errors: 0, p50_ms: 1, p99_ms: 1, duration: { bounds_ms: [1], counts: [1, 0], count: 1, sum_ms: 1 } };
const endpoint = (path: string, count: number) => ({
  destination: "http-service", destination_type: "container" as const, method: "GET", path, request_schema: null, response_schema: null,
  first_seen: T, last_seen: T, count, stats, example: null,
});
const MAP: ServiceMap = {
  generated_at: T,
  services: [
    {
      name: "traffic-generator", image: null, first_seen: T, last_seen: T,
      // Two variants of one route (two body shapes) are one route.
      endpoints: [endpoint("/", 3), endpoint("/healthz", 5), endpoint("/healthz", 2)],
      connections: [{ destination: "postgres", destination_type: "external", protocol: "postgres", category: "database", port: 5432, confidence: 90, reason: "r", first_seen: T, last_seen: T, count: 1 }],
    },
    { name: "http-service", image: null, first_seen: T, last_seen: T, endpoints: [], connections: [] },
  ],
};

describe("adi demo's summary", () => {
  it("groups HTTP endpoints per destination and counts routes, calls and connections", () => {
    expect(summaryEdges(MAP)).toEqual([
      { source: "traffic-generator", destination: "http-service", protocol: "HTTP", count: 10, routes: 2 },
      { source: "traffic-generator", destination: "postgres", protocol: "postgres", count: 1, routes: null },
    ]);
  });

  it("says what was found and where the files, the view and the metrics are", () => {
    expect(demoSummary({ map: MAP, files: ["/o/a.log", "/o/b.yaml"], viewUrl: "http://127.0.0.1:8090/", metricsUrl: null })).toBe(
      [
        "adi demo: outputs written",
        "  services  2 found: traffic-generator, http-service",
        `  edges     2 (traffic on this broker since ${T})`,
        "    traffic-generator -> http-service  HTTP, 2 routes, 10 calls",
        "    traffic-generator -> postgres  postgres, 1 connection",
        "  files     /o/a.log",
        "            /o/b.yaml",
        "  view      http://127.0.0.1:8090/ (stopped with the demo; `adi view` serves it again from the streams)",
      ].join("\n"),
    );
  });

  it("says so when nothing was captured", () => {
    expect(demoSummary({ map: { generated_at: null, services: [] }, files: [], viewUrl: null, metricsUrl: null })).toContain("0 found (nothing was captured");
  });

  it("lists the busiest edges first, at most SUMMARY_EDGES_MAX, and counts the rest", () => {
    const many: ServiceMap = {
      generated_at: T,
      services: Array.from({ length: 20 }, (_, i) => ({
        name: `svc-${String(i).padStart(2, "0")}`, image: null, first_seen: T, last_seen: T, connections: [],
        endpoints: [{ ...endpoint("/", i + 1), destination: "api" }],
      })),
    };
    const lines = demoSummary({ map: many, files: [], viewUrl: null, metricsUrl: null }).split("\n");
    const edgeLines = lines.filter((l) => l.includes(" -> api "));
    expect(edgeLines).toHaveLength(SUMMARY_EDGES_MAX);
    expect(edgeLines[0]).toContain("svc-19 -> api  HTTP, 1 route, 20 calls");
    expect(lines).toContain(`    + ${20 - SUMMARY_EDGES_MAX} more (the view and the map list them all)`);
  });

  it("escapes control characters of names chosen by whoever runs a process (ADI_PROFILE_NAME)", () => {
    const evil = "esc\u001b]0;PWNED\u0007\u001b[2Jname";
    const map: ServiceMap = { ...MAP, services: [{ ...MAP.services[0]!, name: evil }] };
    const text = demoSummary({ map, files: [], viewUrl: null, metricsUrl: null });
    // eslint-disable-next-line no-control-regex -- control characters are what must not be there
    expect(text).not.toMatch(/[\u0000-\u0008\u000b-\u001f\u007f]/u);
    expect(text).toContain("esc\\x1b]0;PWNED\\x07\\x1b[2Jname -> http-service");
  });
});
