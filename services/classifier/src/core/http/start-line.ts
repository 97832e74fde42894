// HTTP/1.x start lines (RFC 9112 3 and 4): strict parsing for a well-framed stream, a search that finds the next
// plausible message start after lost bytes, and cheap prefix checks for the protocol classifier.

export type RequestLine = { kind: "request"; method: string; target: string; version: string };
export type StatusLine = { kind: "response"; version: string; status: number; reason: string };
export type StartLine = RequestLine | StatusLine;
export type MessageKind = StartLine["kind"];

/** Methods trusted when searching or sniffing; a well-framed stream may use any upper-case word. */
export const HTTP_METHODS = [
  "GET",
  "HEAD",
  "POST",
  "PUT",
  "DELETE",
  "CONNECT",
  "OPTIONS",
  "TRACE",
  "PATCH",
  "PURGE",
  "PROPFIND",
  "PROPPATCH",
  "MKCOL",
  "COPY",
  "MOVE",
  "LOCK",
  "UNLOCK",
  "REPORT",
  "SEARCH",
  "MKCALENDAR",
] as const;
const METHOD_SET: ReadonlySet<string> = new Set(HTTP_METHODS);
const LONGEST_METHOD = Math.max(...HTTP_METHODS.map((m) => m.length));

/** Longest start line (or chunk-size / trailer line) waited for before the bytes are judged not HTTP. */
export const MAX_LINE = 8192;

/** Longest target kept; a longer one is cut here (the message is then marked truncated). */
export const TARGET_LIMIT = 8000;

/** RFC 9110 allows any token as a method; real ones are upper-case words, and being strict keeps bytes glued
 * before a method (a capture that began mid-stream) from passing for part of it. */
const METHOD = "[A-Z][A-Z_-]{0,31}";
/** Visible bytes; raw UTF-8 (>= 0x80) is tolerated in targets, as servers do. Target and reason are bounded so
 * that every start line fits in MAX_LINE, whichever way its bytes were split. */
const TARGET = `[\\x21-\\x7e\\x80-\\xff]{1,${TARGET_LIMIT}}`;
const REQUEST_LINE = new RegExp(`^(${METHOD}) (${TARGET}) (HTTP/1\\.[0-9])$`);
const REASON = "[^\\r\\n]{0,4096}";
const STATUS_LINE = new RegExp(`^(HTTP/1\\.[0-9]) ([1-9][0-9]{2})(?: (${REASON}))?$`);
/** The same lines, unanchored and complete with their LF, for searching lost-sync bytes. */
const REQUEST_SEARCH = new RegExp(`(?:${HTTP_METHODS.join("|")}) ${TARGET} HTTP/1\\.[0-9]\\r?\\n`);
const STATUS_SEARCH = new RegExp(`HTTP/1\\.[0-9] [1-9][0-9]{2}(?: ${REASON})?\\r?\\n`);

/** Parses a start line without its CRLF; null when it is not one of `kind`. */
export function parseStartLine(kind: MessageKind, line: string): StartLine | null {
  if (kind === "request") {
    const m = REQUEST_LINE.exec(line);
    return m ? { kind, method: m[1]!, target: m[2]!, version: m[3]! } : null;
  }
  const m = STATUS_LINE.exec(line);
  return m ? { kind, version: m[1]!, status: Number(m[2]), reason: m[3] ?? "" } : null;
}

/** Could a start line of `kind` begin with these (latin1) characters? Lets garbage fail on its first byte. */
export function couldStartLine(kind: MessageKind, prefix: string): boolean {
  if (prefix === "") return true;
  if (kind === "request") return /^[A-Z]/.test(prefix);
  return "HTTP/1.".startsWith(prefix.slice(0, 7));
}

/** Index of the first complete, plausible start line of `kind` in `text` (latin1), or -1. */
export function findStartLine(kind: MessageKind, text: string): number {
  return text.search(kind === "request" ? REQUEST_SEARCH : STATUS_SEARCH);
}

/** Do these first bytes of a stream begin with a known method and a space? */
export function looksLikeHttpRequest(bytes: Uint8Array): boolean {
  const head = Buffer.from(bytes.buffer, bytes.byteOffset, Math.min(bytes.length, LONGEST_METHOD + 1));
  const text = head.toString("latin1");
  const space = text.indexOf(" ");
  return space > 0 && METHOD_SET.has(text.slice(0, space));
}

/** Do these first bytes of a stream begin with "HTTP/1."? */
export function looksLikeHttpResponse(bytes: Uint8Array): boolean {
  if (bytes.length < 7) return false;
  return Buffer.from(bytes.buffer, bytes.byteOffset, 7).toString("latin1") === "HTTP/1.";
}
