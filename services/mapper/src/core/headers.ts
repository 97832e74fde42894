// HTTP headers as the Go tool logged them: an object, canonical names, repeated values joined. Credentials are
// not this file's business: the pairs come redacted by the policy (@adi/shared/redaction), which the classifier
// applied before publishing and the mapper applies again (streams written by older versions).

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/** Names seen, canonicalised: a handful of header names make up nearly every message. Bounded: cleared when full. */
const CANONICAL = new Map<string, string>();
const CANONICAL_MAX = 4096;

/** Go's textproto.CanonicalMIMEHeaderKey: content-type -> Content-Type; names with odd bytes unchanged. */
export function canonicalHeaderName(name: string): string {
  const known = CANONICAL.get(name);
  if (known !== undefined) return known;
  const canonical = TOKEN.test(name) ? name.toLowerCase().replace(/(^|-)([a-z])/g, (_m, dash: string, letter: string) => dash + letter.toUpperCase()) : name;
  if (CANONICAL.size >= CANONICAL_MAX) CANONICAL.clear();
  CANONICAL.set(name, canonical);
  return canonical;
}

/**
 * Wire-order pairs to the Go tool's object: canonical names, repeated headers joined with ", ", keys sorted (Go's
 * JSON encoder sorts map keys). Values as given: redact the pairs first (RedactionPolicy.headers).
 */
export function headerObject(headers: readonly (readonly [string, string])[]): Record<string, string> {
  const joined = new Map<string, string[]>();
  for (const [rawName, value] of headers) {
    const name = canonicalHeaderName(rawName);
    const values = joined.get(name);
    if (values) values.push(value);
    else joined.set(name, [value]);
  }
  const names = [...joined.keys()].sort();
  return Object.fromEntries(names.map((name) => [name, (joined.get(name) as string[]).join(", ")]));
}
