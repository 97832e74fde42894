// The service map's exports (issue 13): OpenAPI 3.1 per serving service, and the graph of the map as a Mermaid
// flowchart or a Graphviz DOT digraph. Each is pure: a ServiceMap in, a document or text out.
export { compare, edgeLabel, mapGraph, NODE_KIND_RULES, nodeFacts, nodeKind } from "./graph.ts";
export type { GraphEdge, GraphNode, MapGraph, MapGraphOptions, NodeFacts, NodeKind } from "./graph.ts";
export { mermaidText, renderMermaid, toMermaid } from "./mermaid.ts";
export { dotText, renderDot, toDotGraph } from "./dot.ts";
export { InvalidOpenApiError, jsonSchema, OPENAPI_VERSION, openApiDocument, openApiDocuments, openApiYaml, servingServices, validateOpenApi } from "./openapi.ts";
export type { OpenApiDocument, OpenApiOptions, OperationField, OperationObject, PathItemObject, SchemaObject, UnlistedOperation } from "./openapi.ts";
