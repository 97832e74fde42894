// @adi/capture: the eBPF capture agent. Its one surface: start it (it publishes to ADI_RAW and ADI_FACTS), the
// capabilities it keeps after attaching, and where its native addon is.
export { startCaptureAgent, STATS_INTERVAL_MS } from "./agent.ts";
export type { CaptureAgent, CaptureAgentOptions } from "./agent.ts";
export { RUNTIME_CAPABILITIES } from "./adapters/capabilities.ts";
export { ADDON_PATH, preflight } from "./adapters/kernel.ts";
// Its Prometheus families when it runs alone (`adi capture`): its own stats, as adi_capture_*.
export { captureMetricFamilies } from "./metrics.ts";
