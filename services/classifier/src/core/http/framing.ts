// How long a message body is (RFC 9112 6.3), decided from its head; and the chunk-size line of a chunked body.
import { getHeaderTokens, getHeaderValues } from "./headers.ts";
import type { HeaderView } from "./headers.ts";

export type BodyFraming = { mode: "none" } | { mode: "length"; length: number } | { mode: "chunked" } | { mode: "close" };

const NONE: BodyFraming = { mode: "none" };
const CHUNKED: BodyFraming = { mode: "chunked" };
const CLOSE: BodyFraming = { mode: "close" };

/** Content-Length: undefined when absent, null when invalid or when repeated values disagree. */
function contentLength(headers: HeaderView): number | null | undefined {
  const values = getHeaderValues(headers, "content-length").flatMap((v) => v.split(",").map((s) => s.trim()));
  if (values.length === 0) return undefined;
  if (!values.every((v) => /^[0-9]{1,15}$/.test(v) && v === values[0])) return null;
  return Number(values[0]);
}

function lengthFraming(length: number): BodyFraming {
  return length === 0 ? NONE : { mode: "length", length };
}

/** Null: the request cannot be framed (bad Content-Length, or a transfer coding other than chunked last). */
export function requestFraming(headers: HeaderView): BodyFraming | null {
  const codings = getHeaderTokens(headers, "transfer-encoding");
  if (codings.length > 0) return codings.at(-1) === "chunked" ? CHUNKED : null;
  const length = contentLength(headers);
  if (length === null) return null;
  // A request without a length has no body (unlike a response).
  return length === undefined ? NONE : lengthFraming(length);
}

/** `requestMethod`: the method this response answers, when known (HEAD and CONNECT change the rules). */
export function responseFraming(status: number, requestMethod: string | undefined, headers: HeaderView): BodyFraming | null {
  if (status < 200 || status === 204 || status === 304 || requestMethod === "HEAD") return NONE;
  if (switchesProtocol(status, requestMethod)) return NONE;
  const codings = getHeaderTokens(headers, "transfer-encoding");
  if (codings.length > 0) return codings.at(-1) === "chunked" ? CHUNKED : CLOSE;
  const length = contentLength(headers);
  if (length === null) return null;
  return length === undefined ? CLOSE : lengthFraming(length);
}

/** After this response the connection carries something else: 101 Switching Protocols, or a CONNECT tunnel. */
export function switchesProtocol(status: number, requestMethod: string | undefined): boolean {
  return status === 101 || (requestMethod === "CONNECT" && status >= 200 && status < 300);
}

/** The size in a chunk-size line (extensions after ";" ignored); null when it is not one. */
export function parseChunkSize(line: string): number | null {
  const semi = line.indexOf(";");
  const digits = (semi === -1 ? line : line.slice(0, semi)).replace(/^[ \t]+|[ \t]+$/g, "");
  // At most 13 significant hex digits keeps the size a safe integer.
  const m = /^0*([0-9a-fA-F]{1,13})$/.exec(digits);
  return m ? parseInt(m[1]!, 16) : null;
}
