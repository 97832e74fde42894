// Fingerprints of the web: HTTP/1.x request and status lines, the HTTP/2 preface, and a TLS ClientHello.
import { parseClientHello } from "../tls.ts";
import { matched, notMatched } from "./result.ts";
import type { Fingerprint } from "./result.ts";

/** Method token, one space, a target without spaces, " HTTP/1.<d>" (RFC 9112 3). */
const REQUEST_LINE = /^([A-Z][A-Z_-]{0,23}) [\x21-\x7e]+ HTTP\/1\.[0-9]/;
const H2_PREFACE = "PRI * HTTP/2.0\r\n";
const STATUS_LINE = /^HTTP\/1\.[0-9] ([1-9][0-9]{2})(?=[ \r\n]|$)/;
/** Long enough for any request line worth recognising; the capture's payload limit is smaller anyway. */
const MAX_REQUEST_LINE = 8192;

export function httpRequest(bytes: Buffer): Fingerprint {
  const head = bytes.subarray(0, MAX_REQUEST_LINE).toString("latin1");
  if (head.startsWith(H2_PREFACE)) return matched("HTTP/2 connection preface");
  const line = REQUEST_LINE.exec(head);
  return line ? matched(`HTTP/1.x request line (${line[1]})`) : notMatched("no HTTP/1.x request line");
}

export function httpResponse(bytes: Buffer): Fingerprint {
  const line = STATUS_LINE.exec(bytes.subarray(0, 32).toString("latin1"));
  return line ? matched(`HTTP/1.x status line (${line[1]})`) : notMatched("no HTTP/1.x status line");
}

export function tlsClientHello(bytes: Buffer): Fingerprint {
  const hello = parseClientHello(bytes);
  if (!hello.isClientHello) return notMatched("no TLS ClientHello record");
  return matched(hello.sni === null ? "TLS ClientHello (no SNI)" : `TLS ClientHello (SNI ${hello.sni})`);
}
