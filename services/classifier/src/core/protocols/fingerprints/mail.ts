// Fingerprints of the mail protocols, from their RFCs: the greetings POP3 (RFC 1939 4), IMAP (RFC 9051 7.1) and
// SMTP (RFC 5321 4.2) servers open with, SMTP's EHLO/HELO, and POP3 and IMAP commands seen mid-connection with their
// answers. They are in the table mostly so that their lines are not taken for another protocol's: a POP3 "+OK ..."
// greeting, an "AUTH PLAIN" answered "+ " or a NOOP answered "+OK" is not Redis.
import { couldBeLine, firstLine, firstLineEndsInCrlf } from "../bytes.ts";
import { awaitReply, matched, needMore, notMatched } from "./result.ts";
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

/**
 * POP3 commands (RFC 1939 5-7, RFC 2449 CAPA, RFC 5034 AUTH, RFC 2595 STLS) with the arguments each takes: a count
 * range, and which must be message numbers. AUTH and QUIT are Redis commands too: this rule comes before Redis's
 * inline rule, except on Redis's ports, where the port's rules come first.
 */
const POP3_COMMANDS: Readonly<Record<string, { min: number; max: number; numbers?: boolean }>> = {
  USER: { min: 1, max: 1 }, PASS: { min: 1, max: Infinity }, APOP: { min: 2, max: 2 }, AUTH: { min: 0, max: 2 },
  STAT: { min: 0, max: 0 }, LIST: { min: 0, max: 1, numbers: true }, RETR: { min: 1, max: 1, numbers: true },
  DELE: { min: 1, max: 1, numbers: true }, NOOP: { min: 0, max: 0 }, RSET: { min: 0, max: 0 }, QUIT: { min: 0, max: 0 },
  TOP: { min: 2, max: 2, numbers: true }, UIDL: { min: 0, max: 1, numbers: true }, CAPA: { min: 0, max: 0 },
  STLS: { min: 0, max: 0 },
};

/** The first CRLF line of the other side's bytes: "more" while it may still come, null when there is none. */
function replyLine(reply: Buffer | null): string | "more" | null {
  if (reply === null || reply.length === 0) return "more";
  return crlfLine(reply);
}

/**
 * A POP3 client command seen mid-connection ("USER bob", "STAT", "RETR 1", "AUTH PLAIN"...), answered by the
 * server with "+OK", "-ERR" (either with text) or, to AUTH, the SASL continuation "+ " (RFC 5034 4). A line alone
 * says little, so the verdict waits for the answer.
 */
export function pop3Command(bytes: Buffer, reply: Buffer | null = null): Fingerprint {
  const line = crlfLine(bytes);
  if (line === "more") return /^[A-Za-z]{0,4}$/.test(bytes.toString("latin1", 0, Math.min(bytes.length, 5)).replace(/[ \r]$/, "")) ? needMore("a POP3 command line so far") : notMatched("no POP3 command line");
  if (line === null) return notMatched("no POP3 command line");
  const [word = "", ...args] = line.split(" ");
  const command = word.toUpperCase();
  const spec = Object.hasOwn(POP3_COMMANDS, command) ? POP3_COMMANDS[command]! : null;
  if (spec === null) return notMatched(`"${word.slice(0, 20)}" is not a POP3 command`);
  if (args.length < spec.min || args.length > spec.max || args.some((a) => a === "")) return notMatched(`${command} with ${args.length} arguments`);
  if (spec.numbers === true && !args.every((a) => /^[0-9]{1,10}$/.test(a))) return notMatched(`${command} without message numbers`);
  if (command === "APOP" && !/^[0-9a-f]{32}$/i.test(args[1]!)) return notMatched("APOP without an MD5 digest");
  if (command === "AUTH" && args[0] !== undefined && !/^[A-Z0-9_-]{1,20}$/.test(args[0])) return notMatched("AUTH without a SASL mechanism name"); // RFC 4422 3.1
  const answer = replyLine(reply);
  if (answer === "more") return awaitReply(`POP3 ${command}, awaiting its answer`);
  if (answer === null) return notMatched(`POP3 ${command} answered outside POP3`);
  if (command === "AUTH" && /^\+(?: [\x20-\x7e]*)?$/.test(answer)) return matched("POP3 AUTH answered with a continuation");
  if (!/^(?:\+OK|-ERR)(?: [\x20-\x7e]*)?$/.test(answer)) return notMatched(`POP3 ${command} not answered +OK/-ERR`);
  return matched(`POP3 ${command} answered ${answer.startsWith("+") ? "+OK" : "-ERR"}`);
}

/** IMAP commands (RFC 9051 6, RFC 3501 6, and the extensions common servers announce). */
const IMAP_COMMANDS = new Set([
  "CAPABILITY", "NOOP", "LOGOUT", "STARTTLS", "AUTHENTICATE", "LOGIN", "ENABLE", "SELECT", "EXAMINE", "CREATE",
  "DELETE", "RENAME", "SUBSCRIBE", "UNSUBSCRIBE", "LIST", "LSUB", "XLIST", "NAMESPACE", "STATUS", "APPEND", "IDLE",
  "CHECK", "CLOSE", "UNSELECT", "EXPUNGE", "SEARCH", "FETCH", "STORE", "COPY", "MOVE", "UID", "ID", "SORT", "THREAD",
  "GETQUOTA", "GETQUOTAROOT", "SETQUOTA", "GETACL", "SETACL", "DELETEACL", "LISTRIGHTS", "MYRIGHTS", "GETMETADATA",
  "SETMETADATA", "COMPRESS", "NOTIFY", "UNAUTHENTICATE", "REPLACE", "ESEARCH",
]);
/** UID takes one of these (RFC 9051 6.4.9). */
const IMAP_UID_COMMANDS = new Set(["FETCH", "STORE", "COPY", "MOVE", "SEARCH", "EXPUNGE", "SORT", "THREAD"]);
/** A tag: atom characters except "+" (RFC 9051 9: tag = 1*<any ASTRING-CHAR except "+">). */
const IMAP_TAG_CHARS = "[!#$&',\\-./0-9:;<=>?@A-Z[^_`a-z|}~]";
const IMAP_TAG = new RegExp(`^${IMAP_TAG_CHARS}{1,64}$`);
/** A command line still being written: a tag so far, maybe its command word so far. */
const IMAP_LINE_SO_FAR = new RegExp(`^${IMAP_TAG_CHARS}{0,64}(?: [A-Za-z]*)?\\r?$`);

/**
 * An IMAP client command seen mid-connection: "<tag> <COMMAND> [arguments]" (RFC 9051 2.2.1), answered by the
 * server with untagged data "* ...", a continuation request "+ ..." or the command's completion "<tag> OK|NO|BAD".
 */
export function imapCommand(bytes: Buffer, reply: Buffer | null = null): Fingerprint {
  const line = crlfLine(bytes);
  if (line === "more") {
    const head = bytes.toString("latin1", 0, Math.min(bytes.length, 80));
    return IMAP_LINE_SO_FAR.test(head) ? needMore("an IMAP command line so far") : notMatched("no IMAP command line");
  }
  if (line === null) return notMatched("no IMAP command line");
  const [tag = "", word = "", sub = ""] = line.split(" ");
  const command = word.toUpperCase();
  if (!IMAP_TAG.test(tag)) return notMatched("no IMAP tag");
  if (!IMAP_COMMANDS.has(command)) return notMatched(`"${word.slice(0, 20)}" is not an IMAP command`);
  if (command === "UID" && !IMAP_UID_COMMANDS.has(sub.toUpperCase())) return notMatched("UID without a command");
  const answer = replyLine(reply);
  if (answer === "more") return awaitReply(`IMAP ${command}, awaiting its answer`);
  if (answer === null) return notMatched(`IMAP ${command} answered outside IMAP`);
  if (/^\* [\x21-\x7e]/.test(answer)) return matched(`IMAP ${command} answered with untagged data`);
  if (/^\+(?: |$)/.test(answer)) return matched(`IMAP ${command} answered with a continuation request`);
  const done = answer.split(" ");
  if (done[0] === tag && /^(?:OK|NO|BAD)$/i.test(done[1] ?? "")) return matched(`IMAP ${command} completed ${done[1]!.toUpperCase()}`);
  return notMatched(`IMAP ${command} not answered "*", "+" or "${tag.slice(0, 20)} OK|NO|BAD"`);
}
