// Environments: /proc/PID/environ parsed, filtered by ENV_PREFIX_LIST and redacted (the `env` category of the
// policy: by variable name, then by the look of the value). The Go tool wrote values such as POSTGRES_PASSWORD in
// clear; here secrets are replaced before anything leaves the host.
import type { RedactionPolicy } from "./policy.ts";

export interface EnvFilterOptions {
  /** Keep only names starting with one of these (case-sensitive); unset or empty keeps everything. */
  readonly prefixes?: readonly string[] | undefined;
  /** The policy whose `env` category redacts the values; null or absent: values kept as they are. */
  readonly redaction?: RedactionPolicy | null | undefined;
}

/** Filters by prefix, redacts, and returns the result with its keys sorted (deterministic output). */
export function filterAndRedactEnv(env: Readonly<Record<string, string>>, opts: EnvFilterOptions): Record<string, string> {
  const prefixes = opts.prefixes ?? [];
  const entries: [string, string][] = [];
  for (const [name, value] of Object.entries(env)) {
    if (prefixes.length > 0 && !prefixes.some((prefix) => name.startsWith(prefix))) continue;
    entries.push([name, opts.redaction ? opts.redaction.envValue(name, value) : value]);
  }
  return sortedRecord(entries);
}

/**
 * Parses /proc/PID/environ: NUL-separated `NAME=value` entries, split at the first '='. Entries without
 * '=' or with an empty name are skipped. When a name repeats, the FIRST wins, as getenv(3) returns the
 * first match. Bytes that are not UTF-8 become U+FFFD. Keys come back sorted.
 */
export function parseEnviron(buf: Buffer | Uint8Array): Record<string, string> {
  const seen = new Map<string, string>();
  for (const entry of Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength).toString("utf8").split("\0")) {
    const eq = entry.indexOf("=");
    if (eq <= 0) continue;
    const name = entry.slice(0, eq);
    if (!seen.has(name)) seen.set(name, entry.slice(eq + 1));
  }
  return sortedRecord([...seen]);
}

/**
 * Object.fromEntries defines own properties, so a variable named `__proto__` stays a plain key. Note that
 * JavaScript lists integer-like keys ("1") first whatever the insertion order; still deterministic.
 */
function sortedRecord(entries: [string, string][]): Record<string, string> {
  entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return Object.fromEntries(entries);
}
