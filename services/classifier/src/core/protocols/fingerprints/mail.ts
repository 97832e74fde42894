// Fingerprints of the mail protocols, from their RFCs: the greetings POP3 (RFC 1939 4), IMAP (RFC 9051 7.1) and
// SMTP (RFC 5321 4.2) servers open with, and SMTP's EHLO/HELO. They are in the table mostly so that their lines are
// not taken for another protocol's: a POP3 "+OK ..." greeting or a bare "AUTH" line is not Redis.
import { couldBeLine, firstLine, firstLineEndsInCrlf } from "../bytes.ts";
import { matched, needMore, notMatched } from "./result.ts";
import type { Fingerprint } from "./result.ts";

/** Mail protocol lines are at most 512 (SMTP, RFC 5321 4.5.3.1.5) or 1000 octets; greetings are far shorter. */
const MAIL_LINE_MAX = 1024;

/** A complete CRLF-terminated first line, "more" while one is still coming, or null when these bytes are not text lines. */
function crlfLine(bytes: Buffer): string | "more" | null {
  const line = firstLine(bytes, MAIL_LINE_MAX);
  if (line === null) return couldBeLine(bytes, MAIL_LINE_MAX) ? "more" : null;
  return firstLineEndsInCrlf(bytes, MAIL_LINE_MAX) ? line : null;
}

/**
 * POP3 greeting "+OK <text>" (RFC 1939 4). The text is required here: Redis answers "+OK" alone, never with text.
 */
export function pop3Greeting(bytes: Buffer): Fingerprint {
  if (bytes.length > 0 && bytes[0] !== 0x2b) return notMatched('no "+OK" greeting');
  const line = crlfLine(bytes);
  if (line === "more") return needMore('"+OK" line so far');
  return line !== null && /^\+OK [\x20-\x7e]+$/.test(line) ? matched("POP3 +OK greeting") : notMatched('no "+OK <text>" greeting');
}

/** IMAP greeting "* OK", "* PREAUTH" or "* BYE" (RFC 9051 7.1). */
export function imapGreeting(bytes: Buffer): Fingerprint {
  if (bytes.length > 0 && bytes[0] !== 0x2a) return notMatched('no "* OK" greeting');
  const line = crlfLine(bytes);
  if (line === "more") return needMore('"*" line so far');
  return line !== null && /^\* (?:OK|PREAUTH|BYE)(?: |$)/i.test(line) ? matched(`IMAP ${line.slice(2).split(" ")[0]!.toUpperCase()} greeting`) : notMatched('no "* OK" greeting');
}

/**
 * SMTP greeting "220 <domain> ... (E)SMTP ..." (RFC 5321 4.2, 4.3.1). FTP greets with 220 too, so the line must
 * name SMTP, as every common server's does (Postfix, Exim, Sendmail, Exchange).
 */
export function smtpGreeting(bytes: Buffer): Fingerprint {
  if (bytes.length > 0 && bytes[0] !== 0x32) return notMatched('no "220" greeting');
  const line = crlfLine(bytes);
  if (line === "more") return needMore('"220" line so far');
  return line !== null && /^220[ -].*\bE?SMTP\b/i.test(line) ? matched("SMTP 220 greeting") : notMatched('no "220 ... SMTP" greeting');
}

/** SMTP client's "EHLO <domain>" / "HELO <domain>" (RFC 5321 4.1.1.1). */
export function smtpHello(bytes: Buffer): Fingerprint {
  const line = crlfLine(bytes);
  if (line === "more") return /^(?:E(?:H(?:L(?:O)?)?)?|H(?:E(?:L(?:O)?)?)?)?$/i.test(bytes.toString("latin1", 0, Math.min(4, bytes.length))) ? needMore('"EHLO" so far') : notMatched("no EHLO/HELO line");
  return line !== null && /^(?:EHLO|HELO) [\x21-\x7e]+$/i.test(line) ? matched(`SMTP ${line.slice(0, 4).toUpperCase()}`) : notMatched("no EHLO/HELO line");
}
