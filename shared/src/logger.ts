// Structured logs: JSON lines on stdout (pino's default), tagged with the service name and pid so the
// lines of several adi processes stay apart once collected.
import { pino, type Logger } from "pino";

export type { Logger } from "pino";

export function createLogger(name: string, level = "info"): Logger {
  return pino({ level, base: { svc: name, pid: process.pid } });
}
