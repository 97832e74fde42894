// Fingerprints of the caches: Redis (RESP arrays and inline commands) and Memcached (text and binary).
import { firstLine, firstLineEndsInCrlf, uintBE } from "../bytes.ts";
import { matched, notMatched } from "./result.ts";
import type { Fingerprint } from "./result.ts";

/** "*<count>\r\n" then, when more was captured, the "$" of the first bulk string. */
const RESP_ARRAY = /^\*([0-9]{1,7})\r\n(\$|$)/;
/** Commands a person types at a Redis server without RESP framing (redis-cli, telnet, health checks). */
const REDIS_INLINE = new Set(["PING", "AUTH", "HELLO", "SELECT", "ECHO", "INFO", "CLIENT", "COMMAND"]);

export function redisCommand(bytes: Buffer): Fingerprint {
  const head = bytes.subarray(0, 16).toString("latin1");
  const array = RESP_ARRAY.exec(head);
  if (array) return Number(array[1]) > 0 ? matched("redis RESP array") : notMatched("empty RESP array");
  const line = firstLine(bytes, 1024);
  if (line === null) return notMatched("no RESP array or inline command line");
  // Redis arguments are words; a "{" means JSON, as in NATS's "INFO {...}" greeting.
  if (line.includes("{")) return notMatched("inline line carries JSON, not Redis arguments");
  const [word = "", protover] = line.split(/[ \t]+/);
  const command = word.toUpperCase();
  if (command === "HELLO" && protover !== undefined && !/^[0-9]+$/.test(protover)) return notMatched("HELLO without a protocol version");
  return REDIS_INLINE.has(command) ? matched(`redis inline command ${command}`) : notMatched(`"${command}" not a Redis inline command`);
}

const MEMCACHED_STORAGE = new Set(["set", "add", "replace", "append", "prepend", "cas"]);
const MEMCACHED_RETRIEVAL = new Set(["get", "gets", "gat", "gats", "delete", "incr", "decr", "touch"]);
const MEMCACHED_OTHER = new Set([
  "version", "stats", "flush_all", "verbosity", "quit", "mg", "ms", "md", "ma", "mn", "me", "lru_crawler", "watch",
]);

/** Memcached's text protocol: lower-case command words, CRLF-terminated lines. */
export function memcachedText(bytes: Buffer): Fingerprint {
  const line = firstLine(bytes, 2048);
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
  if (keyLength === null || bodyLength === null || bytes.length < 24) return notMatched("fewer than 24 bytes");
  if (bytes[0] !== MEMCACHED_REQUEST_MAGIC) return notMatched("magic not 0x80");
  if (bytes[1]! > MEMCACHED_MAX_OPCODE) return notMatched("unknown opcode");
  if (bytes[5] !== 0) return notMatched("data type not raw (0)");
  const extrasLength = bytes[4]!;
  if (bodyLength < keyLength + extrasLength || bodyLength > MEMCACHED_MAX_BODY) return notMatched("body length not sane");
  return matched(`memcached binary request (opcode 0x${bytes[1]!.toString(16).padStart(2, "0")})`);
}
