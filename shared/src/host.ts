// Facts about the host every service stamps on what it publishes.
import { readFileSync } from "node:fs";

const BOOT_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** This boot's random id: with it, pid + start ticks identify a process across reboots. */
export function readBootId(procRoot = "/proc"): string {
  const path = `${procRoot}/sys/kernel/random/boot_id`;
  const id = readFileSync(path, "utf8").trim();
  if (!BOOT_ID.test(id)) throw new TypeError(`${path}: unexpected content ${JSON.stringify(id)}`);
  return id;
}
