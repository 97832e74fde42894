// HTTP headers as the Go tool logged them (an object, canonical names, repeated values joined), with the
// values that carry credentials hidden: the Go tool wrote Authorization and Cookie headers in clear.
import { isSecretName, REDACTED } from "@adi/shared/redact";

/** Headers whose value is a credential whatever it looks like (lower case). */
export const CREDENTIAL_HEADERS: ReadonlySet<string> = new Set([
  "authorization",
  "proxy-authorization",
  "cookie",
  "set-cookie",
  "x-api-key",
  "api-key",
  "apikey",
  "x-auth-token",
  "x-access-token",
  "x-refresh-token",
  "x-csrf-token",
  "x-xsrf-token",
  "x-amz-security-token",
  "x-goog-api-key",
  "x-vault-token",
  "private-token",
  "x-session-id",
  "x-upstream-authorization",
]);

/** The table, plus the environment's secret-name rules (X-Stripe-Secret, X-Service-Token, X-Client-Key...). */
export function isCredentialHeader(name: string): boolean {
  return CREDENTIAL_HEADERS.has(name.toLowerCase()) || isSecretName(name);
}

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/** Go's textproto.CanonicalMIMEHeaderKey: content-type -> Content-Type; names with odd bytes unchanged. */
export function canonicalHeaderName(name: string): string {
  if (!TOKEN.test(name)) return name;
  return name.toLowerCase().replace(/(^|-)([a-z])/g, (_m, dash: string, letter: string) => dash + letter.toUpperCase());
}

/**
 * Wire-order pairs to the Go tool's object: canonical names, repeated headers joined with ", ", keys
 * sorted (Go's JSON encoder sorts map keys), credential values replaced when `redact`.
 */
export function headerObject(headers: readonly (readonly [string, string])[], redact: boolean): Record<string, string> {
  const joined = new Map<string, string[]>();
  for (const [rawName, value] of headers) {
    const name = canonicalHeaderName(rawName);
    const values = joined.get(name);
    if (values) values.push(value);
    else joined.set(name, [value]);
  }
  const names = [...joined.keys()].sort();
  return Object.fromEntries(
    names.map((name) => {
      const value = redact && isCredentialHeader(name) ? REDACTED : (joined.get(name) as string[]).join(", ");
      return [name, value];
    }),
  );
}

/**
 * The raw payload with credential header values replaced, in its head only (the body is left alone).
 * A head cut by the capture limit is handled line by line, so a cut Authorization line is still hidden.
 */
export function redactRawHead(raw: string): string {
  const headEnd = raw.search(/\r?\n\r?\n/);
  const head = headEnd < 0 ? raw : raw.slice(0, headEnd);
  const rest = headEnd < 0 ? "" : raw.slice(headEnd);
  const lines = head.split("\n");
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i] as string;
    const colon = line.indexOf(":");
    if (colon <= 0 || !isCredentialHeader(line.slice(0, colon).trim())) continue;
    lines[i] = `${line.slice(0, colon)}: ${REDACTED}${line.endsWith("\r") ? "\r" : ""}`;
  }
  return lines.join("\n") + rest;
}
