// Environment filtering and secret redaction for the environment inventory. The Go tool wrote values
// such as POSTGRES_PASSWORD in clear; here secrets are replaced before anything leaves the host.

export const REDACTED = "[REDACTED]";

/**
 * Which variable names hold secrets, as data. Names are upper-cased first, so `apiKey` is seen as APIKEY.
 * - `contains`: the word anywhere in the name. Long words only, where a substring match is almost never
 *   wrong (MYSQL_ROOT_PASSWORD, GITHUB_TOKEN, CLIENT_SECRET, DB_CREDENTIALS, apiKey).
 * - `segment`: the word as a whole `_`/`-`/`.`-separated part of the name. Short words such as KEY would
 *   otherwise hit KEYSPACE, MONKEY or HOTKEY; as a segment they catch API_KEY, ACCESS_KEY, PRIVATE_KEY,
 *   SSL_KEYFILE, REDIS_AUTH, DB_PASS. Known over-matches, accepted because a hidden value costs less than
 *   a leaked one: KEY_PREFIX, PARTITION_KEY, PRIVATE_NETWORK, TOKENIZERS_PARALLELISM, and Kubernetes'
 *   AUTH_SERVICE_HOST for a service named "auth".
 *   PWD is deliberately absent: the shell sets it to the working directory.
 */
export const SECRET_NAME_RULES = {
  contains: ["PASSWORD", "PASSWD", "PASSPHRASE", "SECRET", "TOKEN", "CREDENTIAL", "APIKEY", "PRIVATEKEY"],
  segment: ["KEY", "KEYS", "KEYFILE", "AUTH", "PRIVATE", "PASS", "PW", "CREDS"],
} as const;

/** The opt-in variables are the inventory's own keys: never hidden. */
const NEVER_REDACTED_PREFIX = "ADI_PROFILE";

const SEGMENT_SEPARATORS = /[_.-]+/;

export function isSecretName(name: string): boolean {
  const upper = name.toUpperCase();
  if (SECRET_NAME_RULES.contains.some((word) => upper.includes(word))) return true;
  const segments = upper.split(SEGMENT_SEPARATORS);
  return segments.some((segment) => (SECRET_NAME_RULES.segment as readonly string[]).includes(segment));
}

/**
 * `scheme://user:password@host` with the password replaced; scheme, user and host kept. The password runs
 * to the last '@' before the path (an unencoded '@' in a password is common and parsers accept it).
 * Several URLs in one value (comma-separated server lists) are each handled.
 */
const URL_USERINFO = /([a-z][a-z0-9+.-]*:\/\/)([^\s:/?#@]*):([^\s/?#]*)@/gi;

export function redactUrlPasswords(value: string): string {
  return value.replace(URL_USERINFO, (_match, scheme: string, user: string) => `${scheme}${user}:${REDACTED}@`);
}

export interface EnvFilterOptions {
  /** Keep only names starting with one of these (case-sensitive); unset or empty keeps everything. */
  readonly prefixes?: readonly string[] | undefined;
  /** Replace secret values (see SECRET_NAME_RULES and redactUrlPasswords). */
  readonly redact: boolean;
}

/** Filters by prefix, redacts, and returns the result with its keys sorted (deterministic output). */
export function filterAndRedactEnv(env: Record<string, string>, opts: EnvFilterOptions): Record<string, string> {
  const prefixes = opts.prefixes ?? [];
  const entries: [string, string][] = [];
  for (const [name, value] of Object.entries(env)) {
    if (prefixes.length > 0 && !prefixes.some((prefix) => name.startsWith(prefix))) continue;
    entries.push([name, opts.redact ? redactValue(name, value) : value]);
  }
  return sortedRecord(entries);
}

function redactValue(name: string, value: string): string {
  if (name.startsWith(NEVER_REDACTED_PREFIX)) return value;
  if (isSecretName(name)) return REDACTED;
  return redactUrlPasswords(value);
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
