// `adi export openapi|mermaid|dot [--service NAME] [--out FILE] [--since T] [--until T]`: the service map, folded
// from the durable streams over a window as `adi replay` folds them (foldStreams: fresh state, nothing written,
// no live consumer touched), written as OpenAPI 3.1 (a document per serving service), a Mermaid flowchart or a
// Graphviz DOT digraph. This file is the command: its flags, where the text goes, the error lines; the documents
// are @adi/mapper's pure exports.
//
// The text goes to standard output unless --out: so the logs go to standard error (a log line in the middle of a
// YAML stream would spoil it).
import { adiError, AtomicFileWriter, checkOutputPath } from "@adi/shared";
import { openApiDocument, openApiDocuments, openApiYaml, processServiceName, servingServices, toDotGraph, toMermaid, validateOpenApi } from "@adi/mapper";
import type { OpenApiDocument, ServiceMap } from "@adi/mapper";
import { openRuntime } from "../runtime.ts";
import { foldStreams } from "../replay/replay.ts";
import { parseTime, replayError } from "./replay.ts";

export interface ExportOptions {
  service?: string;
  out?: string;
  since?: string;
  until?: string;
}

/**
 * What each format makes of the map (the options: --service, --out's extension, the window for OpenAPI's info;
 * processNames: the inventory's processes by the name they have in the map, for the graph's node kinds).
 */
type Render = (map: ServiceMap, o: ExportOptions, processNames: readonly string[]) => Promise<string>;

/** The formats, by the name given on the command line. */
const FORMATS: Readonly<Record<string, Render>> = {
  openapi: renderOpenApi,
  mermaid: async (map, _o, processNames) => toMermaid(map, { processNames }),
  dot: async (map, _o, processNames) => toDotGraph(map, { processNames }),
};

/**
 * Runs the export: checks the format, the flags and --out before any broker is started or reached (AdiError
 * ADI_ERR_CONFIG, ADI_ERR_OUTPUT_PATH: exit 2), folds the streams over the window, renders, and writes the text
 * to --out (a new file, mode 0600, renamed into place: AtomicFileWriter) or standard output. Errors while reading
 * are named as replay names them (replayError): ADI_ERR_NO_STREAM, ADI_ERR_NOT_FOLLOWING, ADI_ERR_OUTPUT_PATH. An
 * OpenAPI document that does not validate is a bug: InvalidOpenApiError, exit 1, nothing written.
 */
export async function runExport(format: string, o: ExportOptions): Promise<void> {
  const render = Object.hasOwn(FORMATS, format) ? FORMATS[format] : undefined;
  if (render === undefined) throw adiError("ADI_ERR_CONFIG", `format ${JSON.stringify(format)}: expected one of ${Object.keys(FORMATS).join(", ")}`);
  if (o.service !== undefined && format !== "openapi") throw adiError("ADI_ERR_CONFIG", `--service applies to openapi only (a ${format} graph shows every service)`);
  const since = parseTime("--since", o.since);
  const until = parseTime("--until", o.until);
  if (since && until && since > until) throw adiError("ADI_ERR_CONFIG", `--since ${o.since} is after --until ${o.until}: the window is empty`);
  // --out is checked before any broker is started or reached; logs go to stderr, stdout may be the output.
  const rt = await openRuntime(
    "export",
    () => {
      if (o.out !== undefined) checkOutputPath("--out", o.out);
    },
    { attach: true, logToStderr: true },
  );
  let reading: string | null = null;
  try {
    const { fold, summary } = await foldStreams(rt.nc, rt.cfg, { since, until, log: rt.log, onStream: (stream) => (reading = stream) });
    const map = fold.serviceMap();
    // The view's node kinds (an opted-in server that only answers is a service): the same processes.
    const text = await render(map, o, fold.processes().map(processServiceName));
    if (o.out !== undefined) {
      const file = new AtomicFileWriter(o.out, { timed: false, variable: "--out" });
      file.schedule(() => text);
      await file.close();
    } else await writeStdout(text);
    rt.log.info({ format, services: map.services.length, batches: summary.batches, facts: summary.facts, out: o.out ?? "stdout" }, "export done");
  } catch (err) {
    throw replayError(err, o.out ?? "-", reading, "export");
  } finally {
    await rt.close();
  }
}

/**
 * The OpenAPI text: with --service, that service's document (AdiError ADI_ERR_CONFIG when it served nothing in
 * the window, listing those that did); else one per serving service. Each is validated before anything is
 * written. YAML (a `---` separated stream without --service), or JSON when --out ends in .json (one document:
 * several serving services need --service). A window where nothing served endpoints is AdiError ADI_ERR_CONFIG.
 */
async function renderOpenApi(map: ServiceMap, o: ExportOptions): Promise<string> {
  const window = { since: o.since ?? null, until: o.until ?? null };
  let docs: OpenApiDocument[];
  if (o.service !== undefined) {
    const doc = openApiDocument(map, o.service, window);
    if (doc === null) {
      const serving = servingServices(map);
      const known = serving.length === 0 ? "no service served HTTP endpoints in this window" : `services serving HTTP endpoints: ${serving.map((s) => JSON.stringify(s)).join(", ")}`;
      throw adiError("ADI_ERR_CONFIG", `--service ${JSON.stringify(o.service)}: served no HTTP endpoint in this window (${known})`);
    }
    docs = [doc];
  } else docs = openApiDocuments(map, window);
  // Never an empty file or stream that reads as success: say what the window held.
  if (docs.length === 0) throw adiError("ADI_ERR_CONFIG", "no service served HTTP endpoints in this window: nothing to describe (see --since/--until)");
  for (const doc of docs) await validateOpenApi(doc);
  if (o.out !== undefined && o.out.toLowerCase().endsWith(".json")) {
    // A JSON file is one OpenAPI document (an array of them is none): several services need --service, or YAML.
    if (docs.length > 1) {
      throw adiError("ADI_ERR_CONFIG", `--out ${JSON.stringify(o.out)}: ${docs.length} services serve HTTP endpoints (${docs.map((d) => JSON.stringify(d.info.title)).join(", ")}) and a JSON file holds one document: give --service, or a YAML file (one document per service)`);
    }
    return `${JSON.stringify(docs[0], null, 2)}\n`;
  }
  return openApiYaml(docs);
}

/** Writes `text` to standard output and waits for it; a reader gone (EPIPE: `| head`) is not an error. */
function writeStdout(text: string): Promise<void> {
  return new Promise((resolve, reject) => {
    // The stream emits the failure as an event too, after the callback: heard (and left) here, so it is not an
    // uncaught one; the command ends right after.
    process.stdout.once("error", () => undefined);
    process.stdout.write(text, (err) => {
      if (err && (err as NodeJS.ErrnoException).code !== "EPIPE") reject(err);
      else resolve();
    });
  });
}
