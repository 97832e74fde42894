// HTTP messages: headers (pairs in wire order), the request target, the body, and `raw` (the head and first body
// bytes as captured, latin1). The same rules run on the parsed parts and on `raw`, so a secret hidden in
// `headers` is hidden in `raw` too.

/**
 * What the HTTP functions need from the policy, one function per category (identity when it is off). Value rules
 * run before the name-driven ones: they only shorten a text, and a name rule must see what a second pass would
 * (redacting redacted text changes nothing: the mapper re-applies the classifier's redaction).
 */
export interface HttpRules {
  /** headers: is this header's whole value a credential (by its name)? */
  readonly credentialHeader: (name: string) => boolean;
  /** query: secret-named parameters in a target or a header value (`?token=…`). */
  readonly query: (text: string) => string;
  /** body: secret-named fields in a body (JSON, form, multipart, text). */
  readonly body: (text: string) => string;
  /** values: secrets by their look. */
  readonly values: (text: string) => string;
  readonly marker: string;
}

/** One header value: the marker when its name is a credential (and it is not empty), else query and value rules. */
export function redactHeaderValue(name: string, value: string, rules: HttpRules): string {
  if (rules.credentialHeader(name)) return value === "" ? value : rules.marker;
  return rules.query(rules.values(value));
}

/** Header pairs in wire order; a new array (pairs not secret are the same arrays). */
export function redactHeaderPairs(headers: readonly (readonly [string, string])[], rules: HttpRules): [string, string][] {
  return headers.map((pair) => {
    const value = redactHeaderValue(pair[0], pair[1], rules);
    return value === pair[1] ? (pair as [string, string]) : [pair[0], value];
  });
}

export function redactTarget(target: string, rules: HttpRules): string {
  return rules.query(rules.values(target));
}

export function redactBody(body: string | null, rules: HttpRules): string | null {
  if (body === null || body === "") return body;
  return rules.body(rules.values(body));
}

const REQUEST_LINE = /^([!#$%&'*+.^_`|~0-9A-Za-z-]+)( +)(\S+)(.*)$/;
const STATUS_LINE = /^HTTP\/\d/;

/**
 * `raw` (latin1) redacted as its parsed parts are: the request line's target, each header line (a folded
 * continuation line, starting with a space or tab, belongs to the header before it: RFC 9112 §5.2), and what
 * follows the blank line as a body. A head cut by the capture limit is handled line by line, so a cut
 * Authorization line is still hidden.
 */
export function redactRaw(raw: string, rules: HttpRules): string {
  if (raw === "") return raw;
  const sep = /\r?\n\r?\n/.exec(raw);
  const head = sep === null ? raw : raw.slice(0, sep.index);
  const lines = head.split("\n");
  let previousCredential = false;
  for (let i = 0; i < lines.length; i++) {
    const full = lines[i]!;
    const cr = full.endsWith("\r") ? "\r" : "";
    const line = cr === "" ? full : full.slice(0, -1);
    let out: string;
    if (i === 0) {
      const m = STATUS_LINE.test(line) ? null : REQUEST_LINE.exec(line);
      out = m === null ? rules.values(line) : `${m[1]}${m[2]}${redactTarget(m[3]!, rules)}${rules.values(m[4]!)}`;
    } else if (line.startsWith(" ") || line.startsWith("\t")) {
      const ws = /^[ \t]*/.exec(line)![0];
      out = previousCredential && line.length > ws.length ? ws + rules.marker : rules.query(rules.values(line));
    } else {
      const colon = line.indexOf(":");
      if (colon <= 0) {
        previousCredential = false;
        out = rules.values(line);
      } else {
        const name = line.slice(0, colon).trim();
        const value = line.slice(colon + 1);
        previousCredential = rules.credentialHeader(name);
        if (previousCredential) out = value.trim() === "" ? line : `${line.slice(0, colon)}: ${rules.marker}`;
        else out = line.slice(0, colon + 1) + redactHeaderValue(name, value, rules);
      }
    }
    lines[i] = out + cr;
  }
  if (sep === null) return lines.join("\n");
  const body = raw.slice(sep.index + sep[0].length);
  return lines.join("\n") + sep[0] + (redactBody(body, rules) ?? "");
}
