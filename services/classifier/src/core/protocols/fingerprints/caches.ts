// Fingerprints of the caches: Redis (RESP arrays and inline commands) and Memcached (text and binary).
import { couldBeLine, firstLine, firstLineEndsInCrlf, uintBE } from "../bytes.ts";
import { fitsArity, redisArity } from "./redis-commands.ts";
import { awaitReply, matched, needMore, notMatched } from "./result.ts";
import type { Fingerprint } from "./result.ts";

/** A Redis command name: a letter, then letters, digits and the separators module commands use (JSON.SET, FT.SEARCH). */
const REDIS_COMMAND_NAME = /^[A-Za-z][A-Za-z0-9_.|:-]{0,63}$/;
/** Longest RESP count or length line waited for ("*" or "$", up to 10 digits, CRLF). */
const RESP_NUMBER_LINE = 13;
/** Longest inline command line waited for (Redis's own PROTO_INLINE_MAX_SIZE is 64 KiB; real ones are short). */
const REDIS_INLINE_MAX = 4096;
/** Reads "<prefix><integer>\r\n" at `at`: the value and where the line ends, "more" if cut short, null if not one. */
function respNumber(bytes: Buffer, at: number, prefix: number): { value: number; next: number } | "more" | null {
  if (at >= bytes.length) return "more";
  if (bytes[at] !== prefix) return null;
  let i = at + 1;
  let negative = false;
  if (bytes[i] === 0x2d) {
    negative = true;
    i++;
  }
  const digitsFrom = i;
  while (i < bytes.length && bytes[i]! >= 0x30 && bytes[i]! <= 0x39 && i - at < RESP_NUMBER_LINE) i++;
  if (i === bytes.length) return "more";
  if (i === digitsFrom || bytes[i] !== 0x0d) return null;
  if (i + 1 === bytes.length) return "more";
  if (bytes[i + 1] !== 0x0a) return null;
  const value = Number(bytes.toString("latin1", digitsFrom, i));
  return { value: negative ? -value : value, next: i + 2 };
}

/**
 * A Redis command in RESP (the Redis serialization protocol spec): an array "*<n>\r\n" of bulk strings whose first
 * is the command name, "$<len>\r\n<name>\r\n". Any command name, so a connection is recognised from whatever
 * command it is in the middle of; the lengths must add up.
 */
export function redisCommand(bytes: Buffer): Fingerprint {
  const count = respNumber(bytes, 0, 0x2a);
  if (count === "more") return bytes.length === 0 || bytes[0] === 0x2a ? needMore("a RESP array header so far") : notMatched("no RESP array");
  if (count === null) return notMatched("no RESP array");
  if (count.value <= 0 || count.value > 1_048_576) return notMatched("empty or oversized RESP array");
  const length = respNumber(bytes, count.next, 0x24);
  if (length === "more") return needMore("a RESP array, its first bulk string not whole yet");
  if (length === null || length.value <= 0 || length.value > 64) return notMatched("RESP array without a command name bulk string");
  const end = length.next + length.value;
  const name = bytes.toString("latin1", length.next, Math.min(end, bytes.length));
  if (!/^[A-Za-z][A-Za-z0-9_.|:-]*$/.test(name)) return notMatched("RESP bulk string is not a command name");
  if (bytes.length < end + 2) return needMore("a RESP command name so far");
  if (bytes[end] !== 0x0d || bytes[end + 1] !== 0x0a) return notMatched("RESP bulk string length does not fit");
  return matched("redis RESP array");
}

const RESP_LINE_TYPES = new Set([0x2b, 0x2d, 0x3a, 0x5f, 0x2c, 0x23, 0x28]); // + - : _ , # (
const RESP_BULK_TYPES = new Set([0x24, 0x3d, 0x21]); // $ = !
const RESP_AGGREGATE_TYPES = new Set([0x2a, 0x7e, 0x3e, 0x25, 0x7c]); // * ~ > % |
/** Enough values to be sure; a long reply is not read to its end. */
const RESP_MAX_VALUES = 64;

/**
 * Checks that bytes a server sent are RESP replies (RESP2 and RESP3 types) from their first byte, value by value
 * (an aggregate's header and each of its elements count as values): "valid" when at least one whole value was read
 * and nothing broke the grammar, "partial" when not even one is whole yet, "invalid" otherwise. POP3's
 * "+OK\r\nPLAIN\r\n.\r\n", SMTP's "250 ..." and IMAP's "* OK ..." are invalid.
 */
export function respReplies(bytes: Buffer): "valid" | "partial" | "invalid" {
  let at = 0;
  let values = 0;
  while (at < bytes.length && values < RESP_MAX_VALUES) {
    const type = bytes[at]!;
    if (RESP_LINE_TYPES.has(type)) {
      const lf = bytes.indexOf(0x0a, at);
      if (lf === -1) break;
      if (bytes[lf - 1] !== 0x0d) return "invalid";
      const text = bytes.toString("latin1", at + 1, lf - 1);
      // Redis's status replies are words (OK, PONG, QUEUED, a type name): "+ " or "+" alone is the continuation
      // request of POP3 and IMAP (RFC 5034 4, RFC 9051 7.5), never a Redis reply.
      if (type === 0x2b && !/^[^\s]/.test(text)) return "invalid";
      if (type === 0x2d && !/^[A-Z][A-Z_]*(?: |$)/.test(text)) return "invalid"; // errors start with a code: ERR, WRONGTYPE
      if ((type === 0x3a || type === 0x28) && !/^-?[0-9]+$/.test(text)) return "invalid";
      if (type === 0x5f && text !== "") return "invalid";
      if (type === 0x23 && text !== "t" && text !== "f") return "invalid";
      if (type === 0x2c && !/^(?:[-+]?[0-9.eE+-]+|inf|-inf|nan)$/.test(text)) return "invalid";
      for (let i = at + 1; i < lf - 1; i++) if (bytes[i]! < 0x20 && bytes[i] !== 0x09) return "invalid"; // a line is text
      at = lf + 1;
    } else if (RESP_BULK_TYPES.has(type) || RESP_AGGREGATE_TYPES.has(type)) {
      const n = respNumber(bytes, at, type);
      if (n === "more") break;
      if (n === null || n.value < -1) return "invalid";
      at = n.next;
      if (RESP_BULK_TYPES.has(type) && n.value >= 0) {
        if (at + n.value + 2 > bytes.length) break;
        if (bytes[at + n.value] !== 0x0d || bytes[at + n.value + 1] !== 0x0a) return "invalid";
        at += n.value + 2;
      }
    } else {
      return "invalid";
    }
    values++;
  }
  return values > 0 ? "valid" : "partial";
}

/**
 * Splits an inline line into arguments as Redis does (sdssplitargs): words separated by blanks, "double quoted"
 * with backslash escapes, or 'single quoted'; a closing quote must end its word. Null when the quoting is broken.
 */
export function splitInlineArgs(line: string): string[] | null {
  const args: string[] = [];
  let i = 0;
  while (i < line.length) {
    while (line[i] === " " || line[i] === "\t") i++;
    if (i >= line.length) break;
    const quote = line[i] === '"' || line[i] === "'" ? line[i] : null;
    let word = "";
    if (quote === null) {
      while (i < line.length && line[i] !== " " && line[i] !== "\t") word += line[i++];
    } else {
      i++;
      for (;;) {
        if (i >= line.length) return null; // unterminated quotes
        if (quote === '"' && line[i] === "\\" && i + 1 < line.length) {
          word += line[i + 1];
          i += 2;
          continue;
        }
        if (line[i] === quote) break;
        word += line[i++];
      }
      i++;
      if (i < line.length && line[i] !== " " && line[i] !== "\t") return null; // a closing quote must end the word
    }
    args.push(word);
  }
  return args;
}

/**
 * A Redis inline command (the protocol spec's "inline commands": a line of space-separated arguments, as redis-cli
 * and health checks send): its first word must be one of Redis's commands (redis-commands.ts, from redis.io's
 * command list) with the number of arguments its arity allows, and the line must be answered in RESP: a line alone
 * is also a POP3, IMAP or SMTP command (AUTH, QUIT), so the reply decides, and the verdict waits for it.
 */
export function redisInlineCommand(bytes: Buffer, reply: Buffer | null = null): Fingerprint {
  const line = firstLine(bytes, REDIS_INLINE_MAX);
  if (line === null) {
    const word = /^[^ \t\r]*/.exec(bytes.toString("latin1", 0, Math.min(bytes.length, 66)))![0];
    const nameSoFar = REDIS_COMMAND_NAME.test(word) || (word === "" && bytes.length === 0);
    return nameSoFar && couldBeLine(bytes, REDIS_INLINE_MAX) ? needMore("an inline command line so far") : notMatched("no inline command line");
  }
  // Redis arguments are words; a "{" means JSON, as in NATS's "INFO {...}" greeting.
  if (line.includes("{")) return notMatched("inline line carries JSON, not Redis arguments");
  const words = splitInlineArgs(line);
  if (words === null || words.length === 0) return notMatched("no inline command words");
  const word = words[0]!;
  if (!REDIS_COMMAND_NAME.test(word)) return notMatched(`"${word}" is not a command name`);
  const command = word.toUpperCase();
  const arity = redisArity(command);
  if (arity === null) return notMatched(`"${word}" is not a Redis command`);
  if (!fitsArity(arity, words.length)) return notMatched(`${command} with ${words.length - 1} arguments does not fit its arity ${arity}`);
  if (command === "HELLO" && words[1] !== undefined && !/^[0-9]+$/.test(words[1])) return notMatched("HELLO without a protocol version");
  if (reply === null || reply.length === 0) return awaitReply(`inline ${command}, awaiting a RESP reply`);
  const answer = respReplies(reply);
  if (answer === "partial") return awaitReply(`inline ${command}, RESP reply not whole yet`);
  return answer === "valid" ? matched(`redis inline command ${command} answered in RESP`) : notMatched(`inline ${command} answered outside RESP`);
}

/** One RESP value read at `at`: where it ends and what it was ("more" when cut short, null when not RESP). */
type RespValue = { next: number; type: number; text?: string; count?: number };

/** Reads one whole RESP value (aggregates with their elements, up to `depth` levels). */
function respValue(bytes: Buffer, at: number, depth = 4): RespValue | "more" | null {
  if (at >= bytes.length) return "more";
  const type = bytes[at]!;
  if (RESP_LINE_TYPES.has(type)) {
    const lf = bytes.indexOf(0x0a, at);
    if (lf === -1) return bytes.length - at > 4096 ? null : "more";
    if (bytes[lf - 1] !== 0x0d) return null;
    const text = bytes.toString("latin1", at + 1, lf - 1);
    if (respReplies(bytes.subarray(at, lf + 1)) !== "valid") return null;
    return { next: lf + 1, type, text };
  }
  if (!RESP_BULK_TYPES.has(type) && !RESP_AGGREGATE_TYPES.has(type)) return null;
  const n = respNumber(bytes, at, type);
  if (n === "more" || n === null) return n;
  if (n.value < -1) return null;
  if (RESP_BULK_TYPES.has(type)) {
    if (n.value === -1) return { next: n.next, type, count: -1 };
    const end = n.next + n.value;
    if (end + 2 > bytes.length) return "more";
    if (bytes[end] !== 0x0d || bytes[end + 1] !== 0x0a) return null;
    return { next: end + 2, type, text: bytes.toString("latin1", n.next, end) };
  }
  if (depth === 0 || n.value > RESP_MAX_VALUES) return null;
  const elements = type === 0x25 || type === 0x7c ? n.value * 2 : n.value; // maps and attributes hold pairs
  let next = n.next;
  for (let i = 0; i < elements; i++) {
    const element = respValue(bytes, next, depth - 1);
    if (element === "more" || element === null) return element;
    next = element.next;
  }
  return { next, type, count: n.value };
}

/**
 * The layouts of what a Redis server pushes to a subscribed client (redis.io, "Redis Pub/Sub" and "Client-side
 * caching"): the kind's name first, then its elements' types ("$" bulk string or null, ":" integer, "*" array or
 * null). RESP2 sends them as arrays ("*"), RESP3 as pushes (">").
 */
const REDIS_PUSH_LAYOUTS: Readonly<Record<string, readonly string[]>> = {
  message: ["$", "$"],
  smessage: ["$", "$"],
  pmessage: ["$", "$", "$"],
  subscribe: ["$", ":"],
  psubscribe: ["$", ":"],
  ssubscribe: ["$", ":"],
  unsubscribe: ["$", ":"],
  punsubscribe: ["$", ":"],
  sunsubscribe: ["$", ":"],
  pong: ["$"], // PING while subscribed (RESP2)
  invalidate: ["*"], // client tracking (RESP3 push only)
};

function elementFits(expected: string, value: RespValue): boolean {
  if (expected === ":") return value.type === 0x3a;
  if (expected === "$") return value.type === 0x24 || (value.type === 0x5f && expected === "$");
  return value.type === 0x2a || value.type === 0x5f || (value.type === 0x24 && value.count === -1);
}

/**
 * What a Redis server sends a subscriber connected before the capture began, whose client writes nothing: pub/sub
 * messages and (un)subscribe confirmations as RESP2 arrays "*3\r\n$7\r\nmessage\r\n$<n>\r\n<channel>\r\n..."
 * (pmessage, smessage too), or RESP3 pushes ">...". The first value must be such a push, whole, each length landing
 * on its CRLF, and whatever follows it RESP as far as it was captured.
 */
export function redisPush(bytes: Buffer): Fingerprint {
  const type = bytes[0];
  if (type !== undefined && type !== 0x2a && type !== 0x3e) return notMatched("no RESP array or push");
  const head = respNumber(bytes, 0, type ?? 0x2a);
  if (head === "more") return needMore("a RESP push header so far");
  if (head === null) return notMatched("no RESP array or push header");
  const kind = respValue(bytes, head.next, 0);
  if (kind === "more") return needMore("a RESP push kind so far");
  if (kind === null || kind.type !== 0x24 || kind.text === undefined) return notMatched("RESP array without a push kind");
  const layout = Object.hasOwn(REDIS_PUSH_LAYOUTS, kind.text) ? REDIS_PUSH_LAYOUTS[kind.text]! : null;
  if (layout === null || head.value !== layout.length + 1) return notMatched(`"${kind.text.slice(0, 20)}" with ${head.value} elements is not a Redis push`);
  if (kind.text === "invalidate" && type !== 0x3e) return notMatched("invalidate outside a RESP3 push");
  let next = kind.next;
  for (const expected of layout) {
    const element = respValue(bytes, next);
    if (element === "more") return needMore("a RESP push not whole yet");
    if (element === null || !elementFits(expected, element)) return notMatched(`${kind.text} element not ${expected}`);
    next = element.next;
  }
  if (next < bytes.length && respReplies(bytes.subarray(next)) === "invalid") return notMatched("bytes after the push are not RESP");
  return matched(`redis ${type === 0x3e ? "RESP3 push" : "pub/sub"} ${kind.text}`);
}

const MEMCACHED_STORAGE = new Set(["set", "add", "replace", "append", "prepend", "cas"]);
const MEMCACHED_RETRIEVAL = new Set(["get", "gets", "gat", "gats", "delete", "incr", "decr", "touch"]);
const MEMCACHED_OTHER = new Set([
  "version", "stats", "flush_all", "verbosity", "quit", "mg", "ms", "md", "ma", "mn", "me", "lru_crawler", "watch",
]);

/** Memcached's text protocol: lower-case command words, CRLF-terminated lines. */
export function memcachedText(bytes: Buffer): Fingerprint {
  const line = firstLine(bytes, 2048);
  if (line === null && couldBeLine(bytes, 2048) && /^[a-z_]*(?: |$)/.test(bytes.toString("latin1", 0, Math.min(bytes.length, 16)))) {
    return needMore("a memcached command line so far");
  }
  if (line === null || !firstLineEndsInCrlf(bytes, 2048)) return notMatched("no CRLF-terminated command line");
  const [command = "", ...args] = line.split(" ");
  // Storage commands carry "<key> <flags> <exptime> <bytes>": the numbers make the match much less accidental.
  if (MEMCACHED_STORAGE.has(command)) {
    const numbers = args.slice(1, 4);
    const ok = args.length >= 4 && numbers.every((a) => /^-?[0-9]+$/.test(a));
    return ok ? matched(`memcached text command ${command}`) : notMatched(`"${command}" without <flags> <exptime> <bytes>`);
  }
  if (MEMCACHED_RETRIEVAL.has(command)) {
    return args.length >= 1 && args[0] !== "" ? matched(`memcached text command ${command}`) : notMatched(`"${command}" without a key`);
  }
  if (MEMCACHED_OTHER.has(command)) return matched(`memcached text command ${command}`);
  return notMatched(`"${command}" not a memcached command`);
}

const MEMCACHED_REQUEST_MAGIC = 0x80;
/** Highest opcode the binary protocol defines (the TAP/vbucket range ends below it). */
const MEMCACHED_MAX_OPCODE = 0x48;
const MEMCACHED_MAX_BODY = 128 * 1024 * 1024;

/** Memcached's binary protocol: 24-byte request header with magic 0x80 and raw data type 0. */
export function memcachedBinary(bytes: Buffer): Fingerprint {
  const keyLength = uintBE(bytes, 2, 2);
  const bodyLength = uintBE(bytes, 8, 4);
  if (bytes.length > 0 && bytes[0] !== MEMCACHED_REQUEST_MAGIC) return notMatched("magic not 0x80");
  if (keyLength === null || bodyLength === null || bytes.length < 24) return needMore("fewer than 24 bytes");
  if (bytes[1]! > MEMCACHED_MAX_OPCODE) return notMatched("unknown opcode");
  if (bytes[5] !== 0) return notMatched("data type not raw (0)");
  const extrasLength = bytes[4]!;
  if (bodyLength < keyLength + extrasLength || bodyLength > MEMCACHED_MAX_BODY) return notMatched("body length not sane");
  return matched(`memcached binary request (opcode 0x${bytes[1]!.toString(16).padStart(2, "0")})`);
}
