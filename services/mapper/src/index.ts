// @adi/mapper: facts and derived observations into the traffic log and the service map. Its one surface: the live
// service (startMapper) and the pure fold (MapperOutputs) that `adi replay` runs over a stream.
export { startMapper } from "./main.ts";
export type { Mapper, StartOptions } from "./main.ts";
export { MapperOutputs } from "./core/outputs.ts";
