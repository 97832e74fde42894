// @adi/enricher: the environment inventory and container identities. Its one surface: the live service
// (startEnricher) and the pure fold (EnvInventory) that `adi replay` runs over the facts.
export { startEnricher, RESYNC_MS } from "./main.ts";
export type { Enricher, StartOptions } from "./main.ts";
export { EnvInventory } from "./core/env-inventory.ts";
