// The service map as YAML, laid out as in the Go README: its key order, timestamps as quoted strings,
// schemas as nested YAML, null as null. Like the README's example, a service without endpoints (or without
// connections) has no such key.
import { Document, isScalar } from "yaml";
import type { ConnectionEntry, EndpointEntry, ServiceEntry, ServiceMap } from "./map-types.ts";

export function toYaml(map: ServiceMap): string {
  const doc = new Document(
    { generated_at: map.generated_at, services: map.services.map(serviceNode) },
    // Schemas are shared objects: written out each time, never as YAML anchors and aliases.
    { aliasDuplicateObjects: false },
  );
  quote(doc, ["generated_at"]);
  map.services.forEach((service, i) => {
    for (const field of ["first_seen", "last_seen"]) quote(doc, ["services", i, field]);
    for (const list of ["endpoints", "connections"] as const) {
      service[list].forEach((_entry, j) => {
        for (const field of ["first_seen", "last_seen"]) quote(doc, ["services", i, list, j, field]);
      });
    }
  });
  return doc.toString({ lineWidth: 0 });
}

/** RFC 3339 text would be read back as a YAML timestamp by some parsers: quoted, it stays a string. */
function quote(doc: Document, path: (string | number)[]): void {
  const node = doc.getIn(path, true);
  if (isScalar(node) && typeof node.value === "string") node.type = "QUOTE_DOUBLE";
}

function serviceNode(service: ServiceEntry): Record<string, unknown> {
  return {
    name: service.name,
    image: service.image,
    ...(service.endpoints.length > 0 ? { endpoints: service.endpoints.map(endpointNode) } : {}),
    ...(service.connections.length > 0 ? { connections: service.connections.map(connectionNode) } : {}),
    first_seen: service.first_seen,
    last_seen: service.last_seen,
  };
}

function endpointNode(e: EndpointEntry): Record<string, unknown> {
  return {
    destination: e.destination,
    destination_type: e.destination_type,
    method: e.method,
    path: e.path,
    request_schema: e.request_schema,
    response_schema: e.response_schema,
    first_seen: e.first_seen,
    last_seen: e.last_seen,
    count: e.count,
  };
}

function connectionNode(c: ConnectionEntry): Record<string, unknown> {
  return {
    destination: c.destination,
    destination_type: c.destination_type,
    protocol: c.protocol,
    category: c.category,
    port: c.port,
    confidence: c.confidence,
    reason: c.reason,
    first_seen: c.first_seen,
    last_seen: c.last_seen,
    count: c.count,
  };
}
