// The enricher's output file as a projection of its fold (EnvInventory): ENV_OUTPUT_PATH, rewritten whole
// (atomic-rewrite) by @adi/shared's OutputFiles, live and in `adi replay` alike.
import type { DocumentProjection } from "@adi/shared";
import type { EnvInventory } from "./env-inventory.ts";

/** ENV_OUTPUT_PATH: the inventory's YAML (EnvInventory.render). */
export function envInventoryProjection(inventory: EnvInventory): DocumentProjection {
  return {
    kind: "atomic-rewrite",
    get version() {
      return inventory.version;
    },
    render: () => inventory.render(),
  };
}
