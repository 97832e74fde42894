// @adi/mapper: facts and derived observations into the traffic log and the service map. Its one surface: the live
// service (startMapper), the pure fold (MapperOutputs) and its projections, which `adi replay` composes.
export { startMapper } from "./main.ts";
export type { Mapper, StartOptions } from "./main.ts";
export { MapperOutputs } from "./core/outputs.ts";
export type { MapperOutputOptions } from "./core/outputs.ts";
// Its two files as projections of that fold, for @adi/shared's OutputFiles (live and replay write alike).
export { serviceMapProjection, trafficLogProjection } from "./core/projections.ts";
