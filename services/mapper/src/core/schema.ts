// Body schemas: inferred where the bytes were parsed (the classifier; @adi/shared/wire body-schema.ts) and shipped
// as their canonical key; the mapper adds only what a route's tally needs on top.
export { inferSchema, NON_JSON, schemaKey } from "@adi/shared/wire";
export type { BodySchema, JsonSchema, ScalarTypeName } from "@adi/shared/wire";

/**
 * The schema of a route whose bodies had more shapes than the map lists (routes.ts DEFAULT_MAX_VARIANTS): bodies
 * keyed by data (a JSON object whose keys are user names or ids) would otherwise make one variant per call.
 */
export const VARIES = "varies";
