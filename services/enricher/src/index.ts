// @adi/enricher: the environment inventory and container identities. Its one surface: the live service
// (startEnricher), the pure fold (EnvInventory) and its projection, which `adi replay` composes.
export { startEnricher, RESYNC_MS } from "./main.ts";
export type { Enricher, StartOptions } from "./main.ts";
export { EnvInventory } from "./core/env-inventory.ts";
export type { EnvInventoryOptions } from "./core/env-inventory.ts";
// Its file as a projection of that fold, for @adi/shared's OutputFiles (live and replay write alike).
export { envInventoryProjection } from "./core/env-projection.ts";
// Its Prometheus families (facts taken, invalid messages, its consumer's lag).
export { enricherMetricFamilies } from "./metrics.ts";
