// Structured logs, tagged with the service name and pid so the lines of several adi processes stay apart once
// collected. LOG_FORMAT (config.ts) chooses the lines: `auto` (the default) writes one human-readable line each
// (pino-pretty) on a terminal and JSON lines elsewhere (a supervisor, a file, CI); `json` and `pretty` force one.
import { pino, type DestinationStream, type Logger } from "pino";
import PinoPretty from "pino-pretty";
import type { LogFormatSetting } from "./config-values.ts";

export type { Logger } from "pino";

export interface LoggerOptions {
  /** LOG_FORMAT's value (cfg.logFormat); default `auto`: pretty when stdout is a terminal. */
  format?: LogFormatSetting;
  /** Where lines go (tests); default stdout. */
  destination?: DestinationStream;
  /**
   * Lines on stderr instead of stdout (synchronous), and `auto` decided by stderr's terminal: for a command whose
   * stdout is its output (`adi diff`, `adi export`), which a log line would corrupt.
   */
  stderr?: boolean;
}

/**
 * The line's own keys (pino's base) and the name a log call's field of the same name is written under. A field
 * about another process (`{ pid: r.pid }`, the traced process) would otherwise repeat `pid` in one JSON line, the
 * second silently winning in most parsers (issue 13, item 5).
 */
const BASE_KEY_RENAMES: Readonly<Record<string, string>> = { pid: "observed_pid", svc: "observed_svc" };

/** A log call's fields with the line's own keys renamed (BASE_KEY_RENAMES); the same object when none collide. */
function withoutBaseKeys(fields: Record<string, unknown>): Record<string, unknown> {
  let out = fields;
  for (const [key, renamed] of Object.entries(BASE_KEY_RENAMES)) {
    if (!(key in fields)) continue;
    if (out === fields) out = { ...fields };
    out[renamed] = out[key];
    delete out[key];
  }
  return out;
}

/**
 * A logger for service `name` at `level` (pino's levels). Every line carries `svc` and `pid` (this process) once;
 * a field of the same name given by a call is written as `observed_pid` / `observed_svc`.
 */
export function createLogger(name: string, level = "info", options: LoggerOptions = {}): Logger {
  const setting = options.format ?? "auto";
  const terminal = options.stderr ? process.stderr.isTTY : process.stdout.isTTY;
  const format = setting === "auto" ? (terminal ? "pretty" : "json") : setting;
  const settings = { level, base: { svc: name, pid: process.pid }, formatters: { log: withoutBaseKeys } };
  const destination = options.destination ?? (options.stderr ? pino.destination({ fd: 2, sync: true }) : undefined);
  if (format === "json") return destination ? pino(settings, destination) : pino(settings);
  // Synchronous, like pino's own stdout: a line logged just before exit is not lost.
  const pretty = PinoPretty({ sync: true, translateTime: "SYS:HH:MM:ss.l", ignore: "hostname,svc", messageFormat: "{svc}: {msg}", ...(destination ? { destination } : {}) });
  return pino(settings, pretty);
}
