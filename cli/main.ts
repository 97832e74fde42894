// The `adi` command line. Configuration comes from environment variables (see README), validated once;
// each command is a thin wrapper around a service's start function.
import { Command } from "commander";
import { CONFIG_VARIABLES } from "@adi/shared/config";
import { runCapture } from "./commands/capture.ts";
import { die } from "./runtime.ts";

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
  .action(() => runCapture("capture"));

program
  .command("up")
  .description("Run capture and every consumer together in one process tree, until Ctrl-C.")
  .addHelpText("after", envHelp)
  .action(() => runCapture("up"));

program.parseAsync(process.argv).then(
  () => process.exit(0),
  (err: unknown) => die(err),
);
