// Fingerprints of the web: HTTP/1.x request and status lines, the HTTP/2 preface, a TLS ClientHello, and TLS
// records seen mid-connection.
import { prefixOfTemplate, uintBE } from "../bytes.ts";
import { parseClientHello } from "../tls.ts";
import { matched, matchedSoFar, needMore, notMatched } from "./result.ts";
import type { Fingerprint } from "./result.ts";

/**
 * Method token, one space, a target without spaces (raw UTF-8 tolerated, as servers do), " HTTP/1.<d>"
 * (RFC 9112 3). Bounds as the HTTP parser's (start-line.ts), so whatever it would parse is recognised here.
 */
const REQUEST_LINE = /^([A-Z][A-Z_-]{0,31}) [\x21-\x7e\x80-\xff]{1,8000} HTTP\/1\.[0-9]/;
/** What a request line looks like before its end arrived: each part optional from the right. */
const REQUEST_LINE_PREFIX = /^[A-Z][A-Z_-]{0,31}(?: (?:[\x21-\x7e\x80-\xff]{1,8000}(?: (?:H(?:T(?:T(?:P(?:\/(?:1(?:\.)?)?)?)?)?)?)?)?)?)?$/;
const H2_PREFACE = "PRI * HTTP/2.0\r\n";
const STATUS_LINE = /^HTTP\/1\.[0-9] ([1-9][0-9]{2})(?=[ \r\n]|$)/;
const STATUS_TEMPLATE = "HTTP/1.# ###";
/** The longest request line the HTTP parser accepts (MAX_LINE in start-line.ts): the detection's head limit. */
export const MAX_REQUEST_LINE = 8192;

/**
 * An HTTP/1.x request line (or the HTTP/2 prior-knowledge preface) at the start of the client's bytes. A prefix of
 * one (a two-byte first write, a 2,000-character target arriving in pieces) waits for more, up to MAX_REQUEST_LINE.
 */
export function httpRequest(bytes: Buffer): Fingerprint {
  const head = bytes.toString("latin1", 0, Math.min(bytes.length, MAX_REQUEST_LINE));
  if (head.startsWith(H2_PREFACE)) return matched("HTTP/2 connection preface");
  const line = REQUEST_LINE.exec(head);
  if (line) return matched(`HTTP/1.x request line (${line[1]})`);
  if (bytes.length < MAX_REQUEST_LINE && (REQUEST_LINE_PREFIX.test(head) || H2_PREFACE.startsWith(head))) {
    return needMore("an HTTP request line so far");
  }
  return notMatched("no HTTP/1.x request line");
}

/** An HTTP/1.x status line from the server (its request was not captured, or not recognised). */
export function httpResponse(bytes: Buffer): Fingerprint {
  const line = STATUS_LINE.exec(bytes.toString("latin1", 0, Math.min(bytes.length, 32)));
  if (line) return matched(`HTTP/1.x status line (${line[1]})`);
  if (bytes.length < STATUS_TEMPLATE.length && prefixOfTemplate(bytes, STATUS_TEMPLATE)) return needMore("an HTTP status line so far");
  return notMatched("no HTTP/1.x status line");
}

/**
 * A TLS handshake record holding a ClientHello. It matches on the record header and message type, but waits for
 * the whole hello (its record length) while the server name has not been read: the SNI may sit past any prefix.
 */
export function tlsClientHello(bytes: Buffer): Fingerprint {
  if (bytes.length < 6 && prefixOfTemplate(bytes, "\x16\x03")) return needMore("a TLS record header so far");
  const hello = parseClientHello(bytes);
  if (!hello.isClientHello) return notMatched("no TLS ClientHello record");
  if (hello.sni !== null) return matched(`TLS ClientHello (SNI ${hello.sni})`);
  return hello.complete ? matched("TLS ClientHello (no SNI)") : matchedSoFar("TLS ClientHello (no SNI yet)");
}

/** TLS record content types (RFC 8446 5.1): change_cipher_spec, alert, handshake, application_data. */
const TLS_CONTENT_TYPES: ReadonlySet<number> = new Set([20, 21, 22, 23]);
/** TLSCiphertext.length may not exceed 2^14 + 2048 (TLS 1.2; 1.3 allows 2^14 + 256). */
const TLS_MAX_RECORD = 16_384 + 2_048;
const TLS_RECORD_NAMES: Readonly<Record<number, string>> = { 20: "change cipher spec", 21: "alert", 22: "handshake", 23: "application data" };

/**
 * TLS records from a connection already past its handshake (RFC 8446 5.1): content type 20-23, version 3.1-3.4,
 * length within 2^14 + 2048. Five header bytes alone are too easy to forge, so the captured bytes must be whole
 * records that end exactly where the capture ends, or at least two whole records in a row; a first record not
 * complete yet waits for its bytes.
 */
export function tlsRecords(bytes: Buffer): Fingerprint {
  let at = 0;
  let records = 0;
  const first = bytes[0];
  while (at < bytes.length) {
    if (bytes.length - at < 5) {
      const header = bytes.subarray(at);
      const plausible = TLS_CONTENT_TYPES.has(header[0]!) && (header.length < 2 || header[1] === 0x03) && (header.length < 3 || header[2]! >= 1 && header[2]! <= 4);
      if (records >= 2 || !plausible) break;
      return records === 0 ? needMore("a TLS record header so far") : needMore("TLS record, then a partial header");
    }
    const type = bytes[at]!;
    const length = uintBE(bytes, at + 3, 2)!;
    if (!TLS_CONTENT_TYPES.has(type) || bytes[at + 1] !== 0x03 || bytes[at + 2]! < 1 || bytes[at + 2]! > 4 || length === 0 || length > TLS_MAX_RECORD) break;
    if (type === 20 && length !== 1 && records === 0) break; // ChangeCipherSpec is one byte (0x01) in every version
    if (at + 5 + length > bytes.length) {
      if (records >= 2) break;
      return needMore(`TLS ${TLS_RECORD_NAMES[type]} record not whole yet`);
    }
    at += 5 + length;
    records++;
  }
  const name = TLS_RECORD_NAMES[first!] ?? "";
  if (records >= 2 || (records === 1 && at === bytes.length)) return matched(`TLS ${name} record${records > 1 ? "s" : ""}`);
  return notMatched("no whole TLS records");
}
