// The mapper's two output files as projections of its one fold (MapperOutputs): the traffic log (append-lines,
// OUTPUT_PATH) and the service map (atomic-rewrite, SERVICE_MAP_PATH). The live mapper and `adi replay` hand
// them to the one writer, @adi/shared's OutputFiles, so both write the same bytes from the same events.
import type { DocumentProjection, LinesProjection } from "@adi/shared";
import type { MapperOutputs } from "./outputs.ts";

/** OUTPUT_PATH: the log lines that became final (MapperOutputs.takeLogLines), appended in order. */
export function trafficLogProjection(outputs: MapperOutputs): LinesProjection {
  return {
    kind: "append-lines",
    get version() {
      return outputs.version;
    },
    takeLines: (all) => outputs.takeLogLines(all),
  };
}

/** SERVICE_MAP_PATH: the Go tool's YAML service map (MapperOutputs.renderMap), rewritten whole. */
export function serviceMapProjection(outputs: MapperOutputs): DocumentProjection {
  return {
    kind: "atomic-rewrite",
    get version() {
      return outputs.version;
    },
    render: () => outputs.renderMap(),
  };
}
