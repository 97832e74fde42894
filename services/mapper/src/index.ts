// @adi/mapper: facts and derived observations into the traffic log and the service map. Its one surface: the live
// service (startMapper), the pure fold (MapperOutputs) and its projections, which `adi replay` composes.
export { startMapper } from "./main.ts";
export type { Mapper, StartOptions } from "./main.ts";
export { MapperOutputs } from "./core/outputs.ts";
export type { MapperOutputOptions } from "./core/outputs.ts";
// Its two files as projections of that fold, for @adi/shared's OutputFiles (live and replay write alike).
export { serviceMapProjection, trafficLogProjection } from "./core/projections.ts";
// The map as data (RED figures included), for the view, the exports, the metrics and `adi diff`.
export type { ConnectionEntry, DurationHistogram, EndpointEntry, EndpointStats, ServiceEntry, ServiceMap } from "./core/map-types.ts";
export { DURATION_BOUNDS_MS, PROMETHEUS_BOUNDS_MS, durationQuantileMs, isError, mergeHistograms } from "./core/call-stats.ts";
// Its exports (adi export): OpenAPI 3.1 per serving service, the map's graph as Mermaid or DOT.
export { InvalidOpenApiError, mapGraph, NODE_KIND_RULES, nodeFacts, nodeKind, openApiDocument, openApiDocuments, openApiYaml, servingServices, toDotGraph, toMermaid, validateOpenApi } from "./core/exports/index.ts";
export type { MapGraph, MapGraphOptions, NodeFacts, NodeKind, OpenApiDocument, OpenApiOptions } from "./core/exports/index.ts";
// The name a process of the inventory has as a source of the map: how the view and the exports match them.
export { processServiceName } from "./core/names.ts";
// `adi diff`: two maps (from windows of the stream, or saved SERVICE_MAP_PATH files) into a list of changes.
export { CHANGE_KINDS, HTTP_EDGE, NO_BODY, diffMaps, diffSummary, formatChange } from "./core/map-diff.ts";
export type { ChangeKind, DiffableMap, MapChange } from "./core/map-diff.ts";
export { SavedMapError, parseSavedMap } from "./core/saved-map.ts";
export type { SavedEndpointEntry, SavedServiceEntry, SavedServiceMap } from "./core/saved-map.ts";
// Its Prometheus families (RED per edge from the fold, its counters, the agents' figures from their stats facts).
export { mapperMetricFamilies, MonotonicSeries, redMetricFamilies, redSamples } from "./metrics.ts";
export type { MapperMetricsOptions, RedSamples } from "./metrics.ts";
