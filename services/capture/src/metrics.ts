// The capture agent's metrics when it runs alone (`adi capture` with ADI_METRICS_ADDR): its own stats, the same
// figures (and families, shared/src/metrics.ts agentMetricFamilies) it publishes every 5 s as its AgentStatsFact.
// Under `adi up` the agent runs in a child process and serves none: the parent's mapper reads those facts and the
// parent's /metrics shows them, for this host's agent and any other publishing to the broker.
import type { AdiConfig, MetricFamily } from "@adi/shared";
import { agentMetricFamilies } from "@adi/shared";
import type { CaptureAgent } from "./agent.ts";

/** One scrape reads a dozen families: the kernel's counters (a map read per CPU) are read once per this window. */
const STATS_REUSE_MS = 500;

/**
 * The agent's families (adi_capture_*), labelled with its host, read from `agent.stats()` at scrape time; the publish
 * buffer's limit is cfg.publishBufferBytes (ADI_PUBLISH_BUFFER_BYTES).
 */
export function captureMetricFamilies(agent: Pick<CaptureAgent, "stats">, cfg: Pick<AdiConfig, "publishBufferBytes">): MetricFamily[] {
  let last: { atMs: number; fact: ReturnType<CaptureAgent["stats"]> } | undefined;
  return agentMetricFamilies(() => {
    const now = Date.now();
    if (!last || now - last.atMs > STATS_REUSE_MS) last = { atMs: now, fact: agent.stats() };
    return [{ fact: last.fact, atMs: last.atMs, bufferLimitBytes: cfg.publishBufferBytes }];
  });
}
