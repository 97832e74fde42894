#!/usr/bin/env node
// Kept for callers that run `node bin/adi.mjs ...` (older service units, npx caches made when this was the
// package's bin): `bin/adi` is the launcher now. Where this Node has process.execve (22.15+, 23.11+) this process
// replaces itself with it, so the pid that was started is the service, as with `bin/adi`. An older Node cannot
// exec: it runs bin/adi as a child joined to it by an IPC channel, which the child watches (cli/lifeline.ts), so
// the child stops when this process dies, SIGKILL included; signals are passed on and the exit code mirrored.
import { spawn } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const launcher = join(dirname(fileURLToPath(import.meta.url)), "adi");
const args = process.argv.slice(2);

if (typeof process.execve === "function") {
  process.execve("/bin/sh", ["/bin/sh", launcher, ...args], process.env);
}

const child = spawn("/bin/sh", [launcher, ...args], { stdio: ["inherit", "inherit", "inherit", "ipc"] });
for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"]) {
  process.on(signal, () => child.kill(signal));
}
child.on("exit", (code, signal) => {
  if (signal) {
    process.removeAllListeners(signal);
    process.kill(process.pid, signal);
  } else process.exit(code ?? 1);
});
