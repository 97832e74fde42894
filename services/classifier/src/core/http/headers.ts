// Header fields as sent: [name, value] in wire order, repeats kept, names in the sender's case (RFC 9112 5).

export type HttpHeaderList = [name: string, value: string][];
export type HeaderView = readonly (readonly [string, string])[];

const FIELD_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/** First value of `name`, compared case-insensitively; null when absent. */
export function getHeader(headers: HeaderView, name: string): string | null {
  const wanted = name.toLowerCase();
  for (const [n, v] of headers) if (n.toLowerCase() === wanted) return v;
  return null;
}

/** Every value of `name`, in wire order. */
export function getHeaderValues(headers: HeaderView, name: string): string[] {
  const wanted = name.toLowerCase();
  return headers.filter(([n]) => n.toLowerCase() === wanted).map(([, v]) => v);
}

/** Comma-separated list elements of every `name` field, trimmed and lower-cased (Transfer-Encoding, Content-Encoding). */
export function getHeaderTokens(headers: HeaderView, name: string): string[] {
  return getHeaderValues(headers, name)
    .flatMap((v) => v.split(","))
    .map((t) => trimOws(t).toLowerCase())
    .filter((t) => t !== "");
}

/**
 * Adds one field line (without its CRLF) to `into`; a line starting with whitespace continues the previous
 * value (obsolete line folding, still sent by old software). False when the line is not a field line.
 */
export function addFieldLine(into: HttpHeaderList, line: string): boolean {
  if (line.startsWith(" ") || line.startsWith("\t")) {
    const last = into.at(-1);
    if (last === undefined) return false;
    const more = trimOws(line);
    if (more !== "") last[1] = last[1] === "" ? more : `${last[1]} ${more}`;
    return true;
  }
  const colon = line.indexOf(":");
  if (colon <= 0 || !FIELD_NAME.test(line.slice(0, colon))) return false;
  into.push([line.slice(0, colon), trimOws(line.slice(colon + 1))]);
  return true;
}

/** Trims spaces and tabs only: String.trim would also eat latin1 0xA0 inside a value. */
function trimOws(s: string): string {
  let start = 0;
  let end = s.length;
  while (start < end && (s[start] === " " || s[start] === "\t")) start++;
  while (end > start && (s[end - 1] === " " || s[end - 1] === "\t")) end--;
  return s.slice(start, end);
}
