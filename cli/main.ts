// The `adi` command line. Configuration comes from environment variables (see README), validated once;
// each command is a thin wrapper around a service's start function.
import { Command } from "commander";
import { CONFIG_VARIABLES } from "@adi/shared";
import { ALL_SERVICES, runServices } from "./commands/services.ts";
import { stopWhenParentDies } from "./lifeline.ts";
import { die } from "./runtime.ts";
import type { DiffOptions } from "./commands/diff.ts";
import type { ExportOptions } from "./commands/export.ts";

// Started by another adi process (the capture agent of `adi up`): stop when it dies, SIGKILL included.
stopWhenParentDies();

// Loaded when run: replay and demo bring the classifier, mapper and enricher cores and the demo workload.
const runReplay = async (o: { out: string; since?: string; until?: string }) => (await import("./commands/replay.ts")).runReplay(o);
const runDemo = async (o: { out: string; port: string; duration?: string }) => (await import("./commands/demo.ts")).runDemo(o);

const runView = async () => (await import("./commands/view.ts")).runView();
const runExport = async (format: string, o: ExportOptions) => (await import("./commands/export.ts")).runExport(format, o);
const runDiff = async (a: string | undefined, b: string | undefined, o: DiffOptions) => (await import("./commands/diff.ts")).runDiff(a, b, o);

const envHelp = () =>
  "\nEnvironment:\n" +
  CONFIG_VARIABLES.map((v) => `  ${v.name.padEnd(26)} ${v.description}${v.default === null ? "" : ` (default: ${v.default})`}`).join("\n");

const program = new Command()
  .name("adi")
  .description("What does each of my services talk to? eBPF capture into NATS JetStream, and the outputs built from it.")
  .showHelpAfterError()
  .addHelpText("after", envHelp);

program
  .command("capture")
  .description("Run the eBPF capture agent: socket syscalls and process facts of opted-in processes into JetStream (needs root).")
  .addHelpText("after", envHelp)
  .action(() => runServices("capture", ["capture"]));

program
  .command("classify")
  .description("Run a classifier: raw socket events into HTTP exchanges and classified connections (ADI_DERIVED). Run more to split the partitions.")
  .addHelpText("after", envHelp)
  .action(() => runServices("classify", ["classify"]));

program
  .command("map")
  .description("Run a mapper: writes OUTPUT_PATH (JSON lines) and SERVICE_MAP_PATH (YAML) from the streams.")
  .addHelpText("after", envHelp)
  .action(() => runServices("map", ["map"]));

program
  .command("enrich")
  .description("Run the enricher: ENV_OUTPUT_PATH (YAML) from the process facts, and container identities from CONTAINERD_SOCKET or DOCKER_HOST.")
  .addHelpText("after", envHelp)
  .action(() => runServices("enrich", ["enrich"]));

program
  .command("up")
  .description("Run capture, classifier, mapper and enricher together until Ctrl-C: the consumers in this process, the capture agent in a child process that dies with it.")
  .addHelpText("after", envHelp)
  .action(() => runServices("up", ALL_SERVICES));

program
  .command("demo")
  .description("Run the whole pipeline and the demo workload (HTTP service, request logger, traffic generator) against local PostgreSQL, Redis and NATS, until Ctrl-C.")
  .option("--out <dir>", "directory for the three outputs (unless OUTPUT_PATH, ENV_OUTPUT_PATH, SERVICE_MAP_PATH are set)", "adi-demo")
  .option("--port <port>", "HTTP port of the demo service", "8080")
  .option("--duration <seconds>", "stop by itself after this many seconds")
  .addHelpText("after", envHelp)
  .action((o: { out: string; port: string; duration?: string }) => runDemo(o));

program
  .command("replay")
  .description("Rebuild every output from the durable streams into DIR, with fresh state; the live outputs are not touched.")
  .requiredOption("--out <dir>", "directory for the rebuilt files")
  .option("--since <time>", "only raw events stored at or after this ISO 8601 time")
  .option("--until <time>", "only events stored up to this ISO 8601 time")
  .addHelpText("after", envHelp)
  .action((o: { out: string; since?: string; until?: string }) => runReplay(o));

program
  .command("view")
  .description("Serve the view on ADI_VIEW_ADDR: the live service map in a browser (graph, endpoints and schemas, connections, environments), from the streams.")
  .addHelpText("after", envHelp)
  .action(() => runView());

program
  .command("export")
  .description("Write the service map, built from the streams, as OpenAPI 3.1 (one document per service), a Mermaid flowchart or a Graphviz DOT graph.")
  .argument("<format>", "openapi, mermaid or dot")
  .option("--service <name>", "openapi: only this service (the server whose endpoints are described)")
  .option("--out <file>", "write here (mode 0600) instead of standard output")
  .option("--since <time>", "only events stored at or after this ISO 8601 time")
  .option("--until <time>", "only events stored up to this ISO 8601 time")
  .addHelpText("after", envHelp)
  .action((format: string, o: ExportOptions) => runExport(format, o));

program
  .command("diff")
  .description("What changed between two windows of the stream, or two saved service maps (YAML): edges, endpoints and schema fields added, removed or changed.")
  .argument("[a]", "a saved service map (SERVICE_MAP_PATH, or replay's) for side A")
  .argument("[b]", "a saved service map for side B")
  .option("--a-since <time>", "side A: events stored at or after this ISO 8601 time")
  .option("--a-until <time>", "side A: events stored up to this ISO 8601 time")
  .option("--b-since <time>", "side B: events stored at or after this ISO 8601 time")
  .option("--b-until <time>", "side B: events stored up to this ISO 8601 time")
  .option("--json", "print the changes as JSON instead of text")
  .addHelpText("after", "\nExit status, as diff(1)'s: 0 no changes, 1 changes, 2 a usage error or a saved map that cannot be read (ADI_ERR_CONFIG), 5 the broker (ADI_ERR_NO_STREAM, ADI_ERR_NOT_FOLLOWING, ADI_ERR_NATS_UNREACHABLE).\n")
  .addHelpText("after", envHelp)
  .action((a: string | undefined, b: string | undefined, o: DiffOptions) => runDiff(a, b, o));

program.parseAsync(process.argv).then(
  () => process.exit(0),
  (err: unknown) => die(err),
);
