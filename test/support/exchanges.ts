// What the classifier makes of a test's captured stream: every raw batch, in stream order (each connection's
// records are in order within its partition), through the real ClassifierEngine, as the live classifiers and
// replay do. Connections still open at the end yield nothing more (the engine finishes them at their close).
import { ClassifierEngine } from "@adi/classifier";
import type { ConnectionObservation, HttpExchange } from "@adi/shared/wire";
import type { RawContents } from "./stream.ts";

export interface Classified {
  http: HttpExchange[];
  connections: ConnectionObservation[];
}

export function classify(raw: RawContents): Classified {
  const engine = new ClassifierEngine();
  const out: Classified = { http: [], connections: [] };
  for (const b of raw.batches) {
    const host = b.subject.split(".")[3] ?? "";
    for (const d of engine.onRecords(host, b.header.bootId, b.records)) {
      if (d.type === "http_exchange") out.http.push(d);
      else out.connections.push(d);
    }
  }
  return out;
}

/** The HTTP body of a response or request as bytes: `raw` holds the head and the start of the body (latin1). */
export function rawBody(message: { raw: string }): Buffer {
  const raw = Buffer.from(message.raw, "latin1");
  return raw.subarray(raw.indexOf("\r\n\r\n") + 4);
}
