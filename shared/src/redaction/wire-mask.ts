// Length-preserving masking of credentials in captured bytes, one connection at a time.
//
//   createWireMasker() ─► mask(side, bytes): the secret bytes of `bytes` overwritten in place with MASK_BYTE ('*')
//
// Pure and streaming: a masker follows the two byte streams of one TCP connection (what the client sent, what the
// server sent) across calls, so a header split over two writes or a password message split across records is still
// masked; lengths and every non-secret byte stay as they were, so whatever frames the bytes later (the classifier's
// HTTP parser, its protocol fingerprints) sees the same messages.
//
// The protocol is told from the first bytes of the first side to speak (WIRE_RULES, each with the document it
// follows). A connection whose opening matches no rule is left alone from then on: bulk traffic costs one branch per
// call. The bytes before the decision are never secret (each opening decides within its first OPENING_BYTES bytes,
// before any credential can appear). State per connection is bounded: a few counters, the opening bytes and short
// name buffers (≤ 32 bytes each); an HTTP side adds its text scanner (a 32-byte window, names ≤ 128 bytes, a 64-level
// container stack).
//
// What is masked (the tables are in wire-mask-rules.ts):
//   HTTP/1.x   credential header values (Authorization keeps its scheme word: "Bearer ****"), folded lines too,
//              in requests and responses; in the request target and in bodies (identity or chunked, read by
//              Content-Length / chunked framing / the close) the text rules of the redaction policy: secret-named
//              query and form parameters, JSON values under secret names at any depth, token prefixes, JWTs,
//              URL passwords (TextScanner). Content-encoded bodies (gzip, br…) are counted (unmaskableBodies), not
//              masked; binary media types (HTTP_UNSCANNED_MEDIA_PREFIXES) are not scanned;
//   PostgreSQL every 'p' message's payload (password, md5 hash, SASL initial and final responses, GSS);
//   MySQL      the auth response of HandshakeResponse41/320, every client packet of the authentication exchange
//              (AuthSwitchResponse, caching_sha2 clear or RSA password), COM_CHANGE_USER's payload;
//   Redis      AUTH, HELLO ... AUTH, MIGRATE ... AUTH/AUTH2, CONFIG SET requirepass/masterauth, ACL SETUSER >pw,
//              array and inline forms;
//   NATS       CONNECT's "pass", "auth_token", "sig", "jwt" values ("user" and "nkey" stay);
//   AMQP 0-9-1 Connection.Start-Ok response (PLAIN: the password; AMQPLAIN: the PASSWORD value), Secure-Ok,
//              Update-Secret;
//   SMTP, POP3, IMAP  AUTH/AUTHENTICATE responses (initial and continuation lines), POP3 PASS and APOP's digest,
//              IMAP LOGIN's arguments (user name included).
// Not masked: TLS (already opaque, STARTTLS included), HTTP/2 (HPACK), WebSocket frames after an upgrade, IMAP
// literals ({n} strings sent after a continuation), a connection whose start was
// not seen (captured mid-stream: its opening matches nothing), secrets inside SQL text or non-HTTP payloads,
// compressed HTTP bodies. After bytes
// lost from a stream (mask's caller reports them with `lost`), length-framed parsers count them off; a text parser
// masks the rest of the line it was in; a parser that cannot find its place again stops masking that side.
import {
  AMQP_CONNECTION_CLASS,
  AMQP_PASSWORD_FIELDS,
  AMQP_SECRET_METHODS,
  HTTP_AUTH_SCHEMES,
  HTTP_CREDENTIAL_HEADERS,
  HTTP_METHODS,
  HTTP_TEXT_CODINGS,
  HTTP_UNSCANNED_MEDIA_PREFIXES,
  type HttpValueMask,
  MAIL_RULES,
  type MailProtocolRule,
  MASK_BYTE,
  MYSQL_CAPS,
  MYSQL_COM_CHANGE_USER,
  NATS_SECRET_FIELDS,
  PG_SECRET_TAGS,
  PG_UNTAGGED_CODES,
  REDIS_COMMAND_RULES,
  type RedisCommandRule,
} from "./wire-mask-rules.ts";
import { BUILTIN_SECRET_NAMES, type SecretNames } from "./names.ts";
import { TOKEN_PREFIX_RULES, VALUE_HINTS, VALUE_RULES, type ValueRule } from "./values.ts";

export { MASK_BYTE } from "./wire-mask-rules.ts";

/** Which end of the connection wrote the bytes: the one that connected, or the one that accepted. */
export type WireSide = "client" | "server";

/** A per-connection masker (see the file comment). */
export interface WireMasker {
  /**
   * Overwrites the secret bytes of the next `bytes` of `side`'s stream with MASK_BYTE, in place; returns how many
   * bytes were overwritten (0 for most calls). Never throws, never changes the length.
   */
  mask(side: WireSide, bytes: Uint8Array): number;
  /** `n` bytes of `side`'s stream were not seen (a capture gap): the masker skips them. */
  lost(side: WireSide, n: number): void;
  /** The protocol it follows (or followed), "off" when the opening matched no rule, null while still undecided. */
  readonly protocol: string | null;
  /** Nothing more will be masked on this connection (no rule matched, or both sides are past their secrets). */
  readonly done: boolean;
  /**
   * HTTP message bodies seen with a Content-Encoding other than identity (gzip, br, deflate, zstd): compressed
   * bytes cannot be masked in place, so secrets in them reach ADI_RAW. 0 for other protocols.
   */
  readonly unmaskableBodies: number;
}

/** Bytes of a side's opening kept to decide the protocol; a rule still undecided after them counts as a miss. */
export const OPENING_BYTES = 16;

type Opening = "yes" | "no" | "more";

/** One direction's parser of a protocol. */
interface SideParser {
  /** Masks the secrets of b[from, to) in place; returns the bytes overwritten. */
  feed(b: Uint8Array, from: number, to: number): number;
  lost(n: number): void;
  /** Nothing more to mask on this side (or its place in the stream was lost). */
  off: boolean;
}

interface Session {
  client: SideParser;
  server: SideParser;
  stats?: WireStats;
}

/** Counters a session keeps for its masker. */
interface WireStats {
  /** HTTP bodies with a content coding (gzip, br…): their text cannot be scanned, secrets in them stay. */
  unmaskableBodies: number;
}

interface WireRule {
  readonly protocol: string;
  /** The side whose first bytes the opening reads. */
  readonly side: WireSide;
  /** The document the framing and the secret fields follow. */
  readonly source: string;
  readonly opening: (b: Uint8Array, n: number) => Opening;
  readonly session: (options: Required<WireMaskerOptions>) => Session;
}

const CR = 0x0d, LF = 0x0a, SP = 0x20, HT = 0x09;

/** A side with nothing to mask (the server side of most protocols). */
function passThrough(): SideParser {
  return { off: true, feed: () => 0, lost: () => {} };
}

/** Masks b[from, to), line ends excepted; returns the count. */
function maskRange(b: Uint8Array, from: number, to: number): number {
  if (to <= from) return 0;
  b.fill(MASK_BYTE, from, to);
  return to - from;
}

function lower(c: number): number {
  return c >= 0x41 && c <= 0x5a ? c + 0x20 : c;
}

function upper(c: number): number {
  return c >= 0x61 && c <= 0x7a ? c - 0x20 : c;
}

/** The opening is `text` (exact bytes), or a prefix of it so far. */
function openingText(b: Uint8Array, n: number, text: string, caseless = false): Opening {
  const m = Math.min(n, text.length);
  for (let i = 0; i < m; i++) {
    const c = caseless ? upper(b[i]!) : b[i]!;
    if (c !== text.charCodeAt(i)) return "no";
  }
  return n >= text.length ? "yes" : "more";
}

/** The best of several openings: any yes, else more if any, else no. */
function anyOpening(results: Iterable<Opening>): Opening {
  let more = false;
  for (const r of results) {
    if (r === "yes") return "yes";
    if (r === "more") more = true;
  }
  return more ? "more" : "no";
}

// ───────────────────────────── secrets in HTTP request targets and bodies (text) ─────────────────────────────
//
// The text rules of the redaction policy (names.ts: the secret-name test; values.ts: token prefixes, JWTs, URL
// passwords), applied to a byte stream without looking ahead: the caller publishes each call's bytes as soon as
// mask() returns, so every byte is decided from the bytes before it. Three scanners run side by side over a
// request target or a body; a byte is masked when any of them says so:
// - JSON-ish: `"name": value` where the name is secret: a string's content or a number, and under a secret-named
//   object or array every value (keys stay), at any depth; also a `"name":` fragment inside non-JSON text;
// - key-value: `name=value` after a start or one of `?&;,` and whitespace (query strings, forms, matrix
//   parameters, TEXT_FIELD_RULES["key-value"]), names percent/plus-decoded;
// - by look: after a known token prefix (TOKEN_PREFIX_RULES, the JWT's `eyJ`), the token's alphabet; after
//   `scheme://user:`, the password up to '@' or the end of the authority.
// Decided causally, so a prefix stays visible (`ghp_****`, `eyJ****`), and a token shorter than its rule's minimum
// length is masked too (over-masking, accepted). State is bounded: a 32-byte window, names ≤ 128 bytes, a 64-deep
// container stack (deeper nesting is still counted).

const NAME_LIMIT = 128;
/** Calls shorter than this are scanned directly (the pre-check would cost more than it saves). */
const FAST_MIN = 64;
const DEPTH_LIMIT = 64;
const WINDOW = 32;

/** A 256-entry membership table of the bytes of `chars`. */
function byteTable(chars: string): Uint8Array {
  const t = new Uint8Array(256);
  for (let i = 0; i < chars.length; i++) t[chars.charCodeAt(i) & 0xff] = 1;
  return t;
}

/** The bytes a regex source's character classes admit (`[A-Za-z0-9_-]{20,}`), plus '.' when it has `\.`. */
function classTable(source: string): Uint8Array {
  const t = new Uint8Array(256);
  for (const m of source.matchAll(/\[([^\]]+)\]/g)) {
    const cls = m[1]!;
    for (let i = 0; i < cls.length; i++) {
      if (i + 2 < cls.length && cls[i + 1] === "-") {
        for (let c = cls.charCodeAt(i); c <= cls.charCodeAt(i + 2); c++) t[c] = 1;
        i += 2;
      } else t[cls.charCodeAt(i)] = 1;
    }
  }
  if (source.includes("\\.")) t[0x2e] = 1;
  return t;
}

/** A value rule as a trigger: after `prefix` (not preceded by a `notAfter` byte), mask `alphabet` bytes or a URL password. */
interface Trigger {
  readonly prefix: Uint8Array;
  readonly notAfter: Uint8Array;
  readonly alphabet: Uint8Array | null; // null: a URL's userinfo follows
}

const WORD_BYTES = classTable("[A-Za-z0-9_]");
const NO_BYTES = new Uint8Array(256);
/** PEM labels of private keys (RFC 7468 §10 PRIVATE KEY, §11 ENCRYPTED PRIVATE KEY; PKCS#1 RSA, SEC1 EC, DSA, OpenSSH). */
const PEM_KEY_LABELS = ["PRIVATE KEY", "ENCRYPTED PRIVATE KEY", "RSA PRIVATE KEY", "EC PRIVATE KEY", "DSA PRIVATE KEY", "OPENSSH PRIVATE KEY"];
const PEM_BODY = byteTable("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=\r\n\\ \t");
const valueRule = (name: string): ValueRule => VALUE_RULES.find((r) => r.name === name)!;
/** The value rules streamed (values.ts): token prefixes, the JWT (its alphabet with the dots), URL userinfo. */
const TRIGGERS: readonly Trigger[] = [
  ...TOKEN_PREFIX_RULES.flatMap((r) => r.prefixes.map((p) => ({ prefix: Buffer.from(p, "latin1"), notAfter: WORD_BYTES, alphabet: classTable(r.body) }))),
  ...valueRule("jwt").hints.map((h) => ({ prefix: Buffer.from(h, "latin1"), notAfter: classTable("[A-Za-z0-9_-]"), alphabet: classTable("[A-Za-z0-9_.-]") })),
  ...valueRule("url-userinfo-password").hints.map((h) => ({ prefix: Buffer.from(h, "latin1"), notAfter: NO_BYTES, alphabet: null })),
  // A PEM private key (values.ts pem-private-key): after its BEGIN line, the base64 lines, their line ends (escaped
  // `\n` in JSON too) and '=' padding, up to the '-' of its -----END line. The BEGIN line's last bytes (the window
  // holds 31 before the current one), so that the END line, which ends alike, starts nothing.
  ...PEM_KEY_LABELS.map((label) => ({ prefix: Buffer.from(`BEGIN ${label}-----`.slice(-(WINDOW - 1)), "latin1"), notAfter: NO_BYTES, alphabet: PEM_BODY })),
];
/** Triggers by their prefix's last byte: a byte that ends no prefix costs one lookup. */
const TRIGGERS_BY_LAST: readonly (readonly Trigger[] | undefined)[] = Array.from({ length: 256 }, (_, c) => {
  const list = TRIGGERS.filter((t) => t.prefix.at(-1) === c);
  return list.length > 0 ? list : undefined;
});
/** Ends of a URL's user or password (RFC 3986 §3.2: the authority ends at '/', '?', '#'), and of quoted text. */
const USERINFO_END = byteTable(" \t\r\n/?#@\"'<>\\");
/** TEXT_FIELD_RULES["key-value"]: where a name may start, what a name may not hold, where a value ends. */
const KV_START = byteTable(" \t\r\n?&;,");
const KV_NOT_NAME = byteTable("\"'<>");
const KV_VALUE_END = byteTable(" \t\r\n&;,?\"'<>\\"); // not '#': `--password=abc#X` is one value
const JSON_WS = byteTable(" \t\r\n");
const JSON_NUMBER = byteTable("0123456789.eE+-");

function decodedName(raw: string): string {
  if (!raw.includes("%") && !raw.includes("+")) return raw;
  try {
    return decodeURIComponent(raw.replaceAll("+", " "));
  } catch {
    return raw;
  }
}

function jsonName(raw: string): string {
  if (!raw.includes("\\")) return raw;
  try {
    return JSON.parse(`"${raw}"`) as string;
  } catch {
    return raw;
  }
}

/** The streaming text scanner of one side (see the section comment); reset at each target and each body. */
class TextScanner {
  readonly #names: SecretNames;
  // by look
  readonly #window = new Uint8Array(WINDOW);
  #seen = 0; // bytes since reset (the window holds the last min(seen, WINDOW))
  #run: Uint8Array | null = null; // masking bytes of this alphabet
  #url = 0; // 1: in a URL's user part, 2: in its password
  // key-value
  #kvName: string | null = "";
  #kvMask = false;
  // JSON-ish
  #inStr = false;
  #esc = false;
  #strMask = false;
  #str = ""; // the current string's raw bytes while it may be a name (≤ NAME_LIMIT, else null-ish "")
  #strLong = false;
  #afterStr = false; // the last token was a string: a ':' makes it a name
  #pending = false; // a secret name's ':' was seen: the next value is secret
  #num = false;
  #depth = 0;
  readonly #objects = new Uint8Array(DEPTH_LIMIT); // 1: object, 0: array, per level
  #expectKey = false;
  #secretDepth = -1;

  constructor(names: SecretNames) {
    this.#names = names;
  }

  reset(): void {
    this.#seen = 0;
    this.#run = null;
    this.#url = 0;
    this.#kvName = "";
    this.#kvMask = false;
    this.#inStr = this.#esc = this.#strMask = this.#strLong = this.#afterStr = this.#pending = this.#num = this.#expectKey = false;
    this.#str = "";
    this.#depth = 0;
    this.#secretDepth = -1;
  }

  /** Masks the secrets of b[from, to) in place; returns the bytes overwritten. */
  feed(b: Uint8Array, from: number, to: number): number {
    if (to - from >= FAST_MIN && this.#skip(b, from, to)) return 0;
    let masked = 0;
    for (let i = from; i < to; i++) {
      const c = b[i]!;
      // Each scanner reads the byte as it was sent; the verdicts are or-ed.
      const hit = this.#look(c) | this.#kv(c) | this.#json(c);
      if (hit !== 0) {
        b[i] = MASK_BYTE;
        masked++;
      }
    }
    return masked;
  }

  /**
   * The pre-check: when nothing is being masked, no name read so far holds a secret-name word, and the bytes (with
   * the window before them, for a word or prefix cut by the call) hold neither such a word nor a value rule's hint,
   * nothing in them can be masked: only the state the next call needs is brought forward (native searches, no
   * per-byte work). False, having changed nothing, when the bytes must be scanned.
   */
  #skip(b: Uint8Array, from: number, to: number): boolean {
    if (this.#run !== null || this.#url !== 0 || this.#kvMask || this.#num || this.#pending || this.#secretDepth >= 0) return false;
    if (this.#inStr && this.#strMask) return false;
    const hint = this.#names.hint;
    if ((this.#kvName !== null && hint.test(this.#kvName)) || hint.test(this.#str)) return false;
    const keep = Math.min(this.#seen, WINDOW);
    let before = "";
    for (let k = keep; k > 0; k--) before += String.fromCharCode(this.#window[(this.#seen - k) % WINDOW]!);
    const text = before + Buffer.from(b.buffer, b.byteOffset + from, to - from).toString("latin1");
    if (hint.test(text) || VALUE_HINTS.exact.test(text)) return false;
    // The window: the last bytes.
    this.#seen += Math.max(0, to - from - WINDOW);
    for (let i = Math.max(from, to - WINDOW); i < to; i++) this.#window[this.#seen++ % WINDOW] = b[i]!;
    // key-value: the name being read at the end (after the last place a name may start), if any.
    let j = to - 1;
    while (j >= from && to - j <= NAME_LIMIT + 1 && KV_START[b[j]!] !== 1 && b[j] !== 0x3d && KV_NOT_NAME[b[j]!] !== 1) j--;
    const tail = (at: number) => Buffer.from(b.buffer, b.byteOffset + at, to - at).toString("latin1");
    if (j < from) this.#kvName = this.#kvName !== null && this.#kvName.length + (to - from) <= NAME_LIMIT ? this.#kvName + tail(from) : null;
    else this.#kvName = KV_START[b[j]!] === 1 ? tail(j + 1) : null; // after '=', a quote, or too long
    // JSON-ish: string parity (quotes, backslashes inside strings) and the string or name at the end.
    let open = -1;
    let close = -1;
    let q = b.indexOf(0x22, from);
    let bs = b.indexOf(0x5c, from);
    for (;;) {
      if (q < 0 || q >= to) q = to;
      if (bs < 0 || bs >= to) bs = to;
      const at = Math.min(q, bs);
      if (at === to) break;
      if (this.#inStr && this.#esc) this.#esc = false;
      else if (at === bs) {
        if (this.#inStr) this.#esc = true;
      } else if (this.#inStr) {
        this.#inStr = false;
        close = at;
      } else {
        this.#inStr = true;
        this.#strMask = false;
        open = at;
      }
      if (at === q) q = b.indexOf(0x22, at + 1);
      else bs = b.indexOf(0x5c, at + 1);
      // An escaped character right after a backslash is consumed whatever it is (handled above for '"', '\\').
      if (this.#esc && at + 1 < to && b[at + 1] !== 0x22 && b[at + 1] !== 0x5c) this.#esc = false;
    }
    if (!this.#inStr && close >= 0) {
      // A string closed here held no secret-name word: as a name it tests false, as "" does.
      this.#str = "";
      this.#strLong = false;
    }
    if (this.#inStr) {
      const rest = open >= 0 ? tail(open + 1) : this.#str + tail(from);
      if (open >= 0) this.#strLong = false;
      if (rest.length > NAME_LIMIT) this.#strLong = true;
      else if (!this.#strLong) this.#str = rest;
    }
    let k = to - 1;
    while (k >= from && JSON_WS[b[k]!] === 1) k--;
    if (k >= from) this.#afterStr = k === close && !this.#strLong;
    return true;
  }

  #look(c: number): number {
    let hit = 0;
    if (this.#run !== null) {
      if (this.#run[c] === 1) hit = 1;
      else this.#run = null;
    } else if (this.#url === 1) {
      if (c === 0x3a) this.#url = 2;
      else if (USERINFO_END[c] === 1) this.#url = 0;
    } else if (this.#url === 2) {
      if (USERINFO_END[c] === 1) this.#url = 0;
      else hit = 1;
    }
    this.#window[this.#seen % WINDOW] = c;
    this.#seen++;
    if (hit === 0 && this.#url === 0) {
      const triggers = TRIGGERS_BY_LAST[c];
      if (triggers !== undefined) this.#trigger(triggers);
    }
    return hit;
  }

  /** The window ends with a trigger's prefix (at a word start): its secret follows. */
  #trigger(triggers: readonly Trigger[]): void {
    const seen = this.#seen;
    for (const t of triggers) {
      const n = t.prefix.length;
      if (n > seen || n >= WINDOW) continue;
      let same = true;
      for (let k = 0; k < n && same; k++) same = this.#window[(seen - n + k) % WINDOW] === t.prefix[k];
      if (!same) continue;
      if (seen > n && t.notAfter[this.#window[(seen - n - 1) % WINDOW]!] === 1) continue;
      if (t.alphabet === null) this.#url = 1;
      else this.#run = t.alphabet;
      return;
    }
  }

  #kv(c: number): number {
    if (this.#kvMask) {
      if (KV_VALUE_END[c] !== 1) return 1;
      this.#kvMask = false;
    }
    if (KV_START[c] === 1) this.#kvName = "";
    else if (c === 0x3d) {
      const name = this.#kvName;
      this.#kvName = null;
      if (name !== null && name !== "" && this.#names.test(decodedName(name))) this.#kvMask = true;
    } else if (this.#kvName !== null) {
      if (KV_NOT_NAME[c] === 1 || this.#kvName.length >= NAME_LIMIT) this.#kvName = null;
      else this.#kvName += String.fromCharCode(c);
    }
    return 0;
  }

  #json(c: number): number {
    if (this.#inStr) {
      if (this.#esc) this.#esc = false;
      else if (c === 0x5c) this.#esc = true;
      else if (c === 0x22) {
        this.#inStr = false;
        this.#afterStr = !this.#strLong;
        return 0;
      }
      if (this.#strMask) return 1;
      if (!this.#strLong) {
        if (this.#str.length >= NAME_LIMIT) this.#strLong = true;
        else this.#str += String.fromCharCode(c);
      }
      return 0;
    }
    if (this.#num) {
      if (JSON_NUMBER[c] === 1) return 1;
      this.#num = false;
    }
    if (JSON_WS[c] === 1) return 0;
    const top = this.#depth > 0 && this.#depth <= DEPTH_LIMIT ? this.#objects[this.#depth - 1]! : -1;
    /** A value here is secret: after a secret name, or under one (a key of a secret object is not). */
    const secretValue = this.#pending || (this.#secretDepth >= 0 && !(top === 1 && this.#expectKey));
    this.#afterStr = c === 0x3a && this.#afterStr;
    switch (c) {
      case 0x22:
        this.#inStr = true;
        this.#esc = false;
        this.#strMask = secretValue;
        this.#str = "";
        this.#strLong = false;
        this.#pending = false;
        return 0;
      case 0x3a:
        if (this.#afterStr && this.#names.test(jsonName(this.#str))) this.#pending = true;
        this.#afterStr = false;
        this.#expectKey = false;
        return 0;
      case 0x2c:
        this.#pending = false;
        this.#expectKey = top === 1;
        return 0;
      case 0x7b:
      case 0x5b:
        this.#depth++;
        if (this.#depth <= DEPTH_LIMIT) this.#objects[this.#depth - 1] = c === 0x7b ? 1 : 0;
        this.#expectKey = c === 0x7b;
        if (this.#pending && this.#secretDepth < 0) this.#secretDepth = this.#depth;
        this.#pending = false;
        return 0;
      case 0x7d:
      case 0x5d:
        if (this.#secretDepth === this.#depth) this.#secretDepth = -1;
        if (this.#depth > 0) this.#depth--;
        this.#expectKey = false;
        this.#pending = false;
        return 0;
      default:
        this.#pending = false;
        if ((c === 0x2d || (c >= 0x30 && c <= 0x39)) && secretValue) {
          this.#num = true;
          return 1;
        }
        return 0;
    }
  }
}

// ───────────────────────────── HTTP/1.x (RFC 9112) ─────────────────────────────

const H = {
  first: 0, lineStart: 1, name: 2, ws: 3, value: 4, maskLine: 5, skipLine: 6, headCr: 7,
  body: 8, eof: 9, chunkSize: 10, chunkExt: 11, chunkData: 12, chunkCrlf: 13,
} as const;
/** Value kinds: plain, a header whose value is read, or one of HttpValueMask. */
type HttpValueKind = "plain" | ReadHeader | HttpValueMask;
/** Headers whose values the parser reads: the body's framing, its coding and its media type. */
const READ_HEADERS = ["content-length", "transfer-encoding", "content-encoding", "content-type"] as const;
type ReadHeader = (typeof READ_HEADERS)[number];
const READ_HEADER_SET = new Set<string>(READ_HEADERS);

const NAME_MAX = 64;
const SCHEMES = new Set<string>(HTTP_AUTH_SCHEMES);
/** Every prefix of a scheme name: a value's first word stays visible only while it is one. */
const SCHEME_PREFIXES = new Set<string>(HTTP_AUTH_SCHEMES.flatMap((scheme) => [...scheme].map((_, i) => scheme.slice(0, i + 1))));

/**
 * A field's value kind: the exact-name table (HTTP_CREDENTIAL_HEADERS: how Authorization or Cookie is masked), the
 * framing headers read, then the redaction policy's own secret-name test (names.ts SecretNames, with
 * ADI_REDACT_NAMES), so that the wire and the text outputs hide the same headers (X-Csrftoken, X-Sessionid, X-Pass,
 * Authentication…). `name` as sent; SecretNames caches its answers.
 */
function httpValueKind(name: string, names: SecretNames): HttpValueKind {
  const key = name.toLowerCase();
  const kind = HTTP_CREDENTIAL_HEADERS[key];
  if (kind !== undefined) return kind;
  if (READ_HEADER_SET.has(key)) return key as ReadHeader;
  return names.test(name) ? "all" : "plain";
}

interface HttpShared {
  /** Methods of requests not yet answered (bounded): a response to HEAD or CONNECT is framed differently. */
  pending: string[];
  session: Session;
  stats: WireStats;
  names: SecretNames;
}

const PENDING_MAX = 64;

class HttpSide implements SideParser {
  off = false;
  #state: number = H.first;
  #line = ""; // the first line, up to 32 bytes
  readonly #nameBuf = Buffer.alloc(NAME_MAX);
  #nameLen = 0;
  #kind: HttpValueKind = "plain";
  #lastKind: HttpValueKind = "plain"; // for folded continuation lines
  #value = ""; // framing header value, up to 64 bytes
  #scheme = ""; // Authorization scheme so far
  #cookieValue = false; // in a cookie's value
  #contentLength = -1;
  #chunked = false;
  #trailer = false;
  #left = 0; // body or chunk bytes left
  #encoding = ""; // Content-Encoding, lower-case
  #mediaType = ""; // Content-Type, lower-case
  #target = 0; // request line: 0 in the method, 1 in the target (scanned), 2 after it
  #scanBody = false; // this message's body is scanned for text secrets
  #scanner: TextScanner | null = null;
  readonly #side: WireSide;
  readonly #shared: HttpShared;

  constructor(side: WireSide, shared: HttpShared) {
    this.#side = side;
    this.#shared = shared;
  }

  feed(b: Uint8Array, from: number, to: number): number {
    let masked = 0;
    let i = from;
    while (i < to && !this.off) {
      const s = this.#state;
      if (s === H.body || s === H.chunkData) {
        const k = Math.min(this.#left, to - i);
        if (this.#scanBody) masked += this.#scanner!.feed(b, i, i + k);
        i += k;
        this.#left -= k;
        if (this.#left === 0) this.#state = s === H.body ? H.first : H.chunkCrlf;
        continue;
      }
      if (s === H.eof) return this.#scanBody ? masked + this.#scanner!.feed(b, i, to) : masked;
      if (s === H.skipLine || (s === H.value && this.#kind === "plain") || s === H.chunkCrlf || s === H.chunkExt) {
        const lf = b.indexOf(LF, i);
        if (lf < 0 || lf >= to) return masked;
        i = lf + 1;
        if (s === H.chunkCrlf) this.#state = H.chunkSize;
        else if (s === H.chunkExt) this.#chunkLineEnd();
        else this.#state = H.lineStart;
        continue;
      }
      if (s === H.maskLine || (s === H.value && this.#kind === "all")) {
        let lf = b.indexOf(LF, i);
        if (lf < 0 || lf >= to) lf = to;
        // A line end's CR stays (also when its LF comes in the next call): framing is untouched.
        const end = lf > i && b[lf - 1] === CR ? lf - 1 : lf;
        masked += maskRange(b, i, end);
        if (lf === to) return masked;
        i = lf + 1;
        this.#state = H.lineStart;
        continue;
      }
      if (s === H.chunkSize) {
        this.#chunkSizeByte(b[i]!);
        i++;
        continue;
      }
      if (s === H.first && this.#line.length > 0) {
        // The rest of the request or status line: its first 32 bytes are kept (method, status code).
        let lf = b.indexOf(LF, i);
        if (lf < 0 || lf >= to) lf = to;
        for (let j = i; j < lf && this.#line.length < 32; j++) this.#line += String.fromCharCode(b[j]!);
        if (this.#side === "client") masked += this.#requestLine(b, i, lf);
        if (lf === to) return masked;
        i = lf + 1;
        this.#state = H.lineStart;
        continue;
      }
      if (s === H.name) {
        // A field name up to its colon (or a malformed line's end), as sent (the secret-name test splits camelCase).
        let j = i;
        for (; j < to; j++) {
          const c = b[j]!;
          if (c === 0x3a || c === LF) break;
          if (this.#nameLen < NAME_MAX) this.#nameBuf[this.#nameLen++] = c;
        }
        i = j;
        if (j === to) return masked;
        i++;
        if (b[j] === LF) {
          this.#state = H.lineStart;
          continue;
        }
        this.#kind = httpValueKind(this.#nameBuf.toString("latin1", 0, this.#nameLen).trim(), this.#shared.names);
        this.#lastKind = this.#kind;
        this.#value = "";
        this.#scheme = "";
        this.#cookieValue = false;
        this.#state = H.ws;
        continue;
      }
      masked += this.#byte(b, i);
      i++;
    }
    return masked;
  }

  /** One byte of a head: returns 1 when it was masked. */
  #byte(b: Uint8Array, i: number): number {
    const c = b[i]!;
    switch (this.#state) {
      case H.first:
        // Empty lines before a request line are tolerated (RFC 9112 §2.2: a CRLF left after a body).
        if (this.#line.length === 0 && (c === CR || c === LF)) return 0;
        if (this.#line.length === 0 && !this.#validFirstByte(c)) {
          this.off = true; // not HTTP/1.x any more (an upgrade, a tunnel): nothing we can frame
          return 0;
        }
        if (c === LF) {
          this.#state = H.lineStart;
          return 0;
        }
        if (this.#line.length < 32) this.#line += String.fromCharCode(c);
        this.#target = 0;
        return 0;
      case H.lineStart:
        if (c === CR) this.#state = H.headCr;
        else if (c === LF) this.#endHead();
        else if (c === SP || c === HT) this.#state = this.#lastKind === "plain" || READ_HEADER_SET.has(this.#lastKind) ? H.skipLine : H.maskLine;
        else {
          this.#nameBuf[0] = c;
          this.#nameLen = 1;
          this.#state = H.name;
        }
        return 0;
      case H.headCr:
        if (c === LF) this.#endHead();
        else this.#state = H.skipLine;
        return 0;
      case H.ws:
        if (c === SP || c === HT) return 0;
        this.#state = H.value;
        return this.#valueByte(b, i, c);
      default:
        return this.#valueByte(b, i, c);
    }
  }

  #validFirstByte(c: number): boolean {
    // A request line starts with a method token (upper-case letters), a status line with "HTTP/".
    return this.#side === "client" ? c >= 0x41 && c <= 0x5a : c === 0x48;
  }

  /** A byte of a header value whose kind is neither plain nor "all" (those are handled a line at a time). */
  #valueByte(b: Uint8Array, i: number, c: number): number {
    if (c === LF) {
      this.#endValue();
      this.#state = H.lineStart;
      return 0;
    }
    if (c === CR) return 0;
    switch (this.#kind) {
      case "plain":
        return 0;
      case "content-length":
      case "transfer-encoding":
      case "content-encoding":
      case "content-type":
        if (this.#value.length < 64) this.#value += String.fromCharCode(lower(c));
        return 0;
      case "scheme": {
        if (c === SP && SCHEMES.has(this.#scheme)) {
          this.#kind = "all"; // the credentials after the scheme word
          return 0;
        }
        const next = this.#scheme + String.fromCharCode(lower(c));
        if (SCHEME_PREFIXES.has(next)) {
          this.#scheme = next;
          return 0;
        }
        this.#kind = "all"; // not a scheme word: the whole value is the credential
        return maskRange(b, i, i + 1);
      }
      case "cookie":
      case "set-cookie":
        if (this.#cookieValue) {
          if (c !== 0x3b) return maskRange(b, i, i + 1);
          this.#cookieValue = false;
          if (this.#kind === "set-cookie") this.#kind = "plain"; // attributes (Path, Expires, HttpOnly)
          return 0;
        }
        if (c === 0x3d) this.#cookieValue = true;
        return 0;
      default:
        return maskRange(b, i, i + 1);
    }
  }

  #endValue(): void {
    if (this.#kind === "content-length") {
      const n = /^\s*(\d{1,15})\s*$/.exec(this.#value);
      if (n && this.#contentLength < 0) this.#contentLength = Number(n[1]);
    } else if (this.#kind === "transfer-encoding") {
      this.#chunked = /(^|[\s,])chunked\s*$/.test(this.#value);
    } else if (this.#kind === "content-encoding") {
      this.#encoding = this.#value.trim();
    } else if (this.#kind === "content-type") {
      this.#mediaType = this.#value.trim();
    }
  }

  /**
   * Bytes b[from, to) of a request line (no LF): the target, between the method's space and the next one, goes
   * through the text scanner (query parameters, tokens, URL userinfo). Returns the bytes masked.
   */
  #requestLine(b: Uint8Array, from: number, to: number): number {
    let masked = 0;
    let i = from;
    if (this.#target === 0) {
      const sp = b.indexOf(SP, i);
      if (sp < 0 || sp >= to) return 0;
      this.#target = 1;
      (this.#scanner ??= new TextScanner(this.#shared.names)).reset();
      i = sp + 1;
    }
    if (this.#target === 1) {
      let end = b.indexOf(SP, i);
      if (end < 0 || end >= to) end = to;
      if (end > i && b[end - 1] === CR && end === to) end--; // HTTP/0.9's line end stays
      masked += this.#scanner!.feed(b, i, end);
      if (end < to) this.#target = 2;
    }
    return masked;
  }

  /** Whether a body with this coding and media type is scanned; an encoded one is counted as unmaskable. */
  #scannable(): boolean {
    if (!(HTTP_TEXT_CODINGS as readonly string[]).includes(this.#encoding)) {
      this.#shared.stats.unmaskableBodies++;
      return false;
    }
    return !HTTP_UNSCANNED_MEDIA_PREFIXES.some((p) => this.#mediaType.startsWith(p));
  }

  #endHead(): void {
    const chunked = this.#chunked, length = this.#contentLength, line = this.#line;
    this.#scanBody = false;
    this.#chunked = false;
    this.#contentLength = -1;
    this.#line = "";
    this.#lastKind = "plain";
    this.#state = H.first;
    if (this.#trailer) {
      this.#trailer = false;
      return;
    }
    let noBody: boolean;
    if (this.#side === "client") {
      const method = line.slice(0, Math.max(0, line.indexOf(" ")));
      const pending = this.#shared.pending;
      if (pending.length >= PENDING_MAX) pending.shift();
      pending.push(method);
      if (method === "CONNECT") {
        this.off = true; // a tunnel follows
        return;
      }
      noBody = !chunked && length <= 0;
    } else {
      // "HTTP/1.1 200 ...": the code's three digits at 9..11 (RFC 9112 §4).
      const status = line.startsWith("HTTP/") && line.charCodeAt(8) === SP ? Number(line.slice(9, 12)) : NaN;
      if (status >= 100 && status < 200) {
        // Interim: the final answer is still to come; 101 switches protocols, which we do not follow.
        if (status === 101) this.#switchOff();
        return;
      }
      const method = this.#shared.pending.shift();
      if (method === "CONNECT" && status >= 200 && status < 300) {
        this.#switchOff();
        return;
      }
      noBody = method === "HEAD" || status === 204 || status === 304 || (!chunked && length === 0);
      if (!noBody && !chunked && length < 0) {
        this.#state = H.eof; // delimited by the close (RFC 9112 §6.3)
        this.#startBody();
        return;
      }
    }
    if (noBody) {
      this.#encoding = this.#mediaType = "";
      return;
    }
    this.#startBody();
    if (chunked) {
      this.#state = H.chunkSize;
      this.#left = 0;
    } else {
      this.#state = H.body;
      this.#left = length;
    }
  }

  #startBody(): void {
    this.#scanBody = this.#scannable();
    this.#encoding = this.#mediaType = "";
    if (this.#scanBody) (this.#scanner ??= new TextScanner(this.#shared.names)).reset();
  }

  #switchOff(): void {
    this.#shared.session.client.off = true;
    this.#shared.session.server.off = true;
  }

  /** Chunk-size state, one byte at a time (hex digits, then an extension or the line end). */
  #chunkSizeByte(c: number): void {
    const digit = c >= 0x30 && c <= 0x39 ? c - 0x30 : c >= 0x61 && c <= 0x66 ? c - 0x57 : c >= 0x41 && c <= 0x46 ? c - 0x37 : -1;
    if (digit >= 0) {
      this.#left = this.#left * 16 + digit;
      if (this.#left > 2 ** 48) this.off = true;
    } else if (c === LF) this.#chunkLineEnd();
    else if (c === 0x3b || c === SP || c === HT) this.#state = H.chunkExt;
    else if (c !== CR) this.off = true; // lost our place
  }

  #chunkLineEnd(): void {
    if (this.#left === 0) {
      this.#trailer = true; // trailer fields, then the empty line
      this.#state = H.lineStart;
    } else {
      this.#state = H.chunkData;
    }
  }

  lost(n: number): void {
    const s = this.#state;
    // Text lost from a scanned body: its place in a string or a name is unknown, scanning starts over.
    if (this.#scanBody) this.#scanner!.reset();
    if (s === H.body || s === H.chunkData) {
      if (n > this.#left) this.off = true; // the loss runs into the next message: its start is unknown
      else this.#left -= n;
      if (this.#left === 0 && !this.off) this.#state = s === H.body ? H.first : H.chunkCrlf;
    } else if (s === H.eof) {
      // still the body
    } else if (s === H.chunkSize || s === H.chunkExt || s === H.chunkCrlf) {
      this.off = true;
    } else {
      // Somewhere in a head: the rest of the line we are in may be a credential's.
      this.#state = H.maskLine;
    }
  }
}

/**
 * A request line's start: the method, a space, and the first byte of a request-target (RFC 9112 §3.2: "/", "*", a
 * scheme or an authority), which tells "CONNECT host:443" from NATS's "CONNECT {".
 */
function httpOpening(b: Uint8Array, n: number, method: string): Opening {
  const text = openingText(b, n, `${method} `);
  if (text !== "yes") return text;
  if (n <= method.length + 1) return "more";
  const c = b[method.length + 1]!;
  const target = c === 0x2f || c === 0x2a || c === 0x5b || (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a);
  return target ? "yes" : "no";
}

const httpRule: WireRule = {
  protocol: "http",
  side: "client",
  source: "RFC 9112 (HTTP/1.1 message syntax), RFC 9110 §11 (authentication), RFC 6265 (cookies)",
  opening: (b, n) => anyOpening(HTTP_METHODS.map((m) => httpOpening(b, n, m))),
  session: ({ names }) => {
    const session = {} as Session;
    const shared: HttpShared = { pending: [], session, stats: { unmaskableBodies: 0 }, names };
    session.client = new HttpSide("client", shared);
    session.server = new HttpSide("server", shared);
    session.stats = shared.stats;
    return session;
  },
};

// ───────────────────────────── PostgreSQL (protocol 3.x) ─────────────────────────────

const P = { untagged: 0, tagged: 1, skip: 2, mask: 3 } as const;
const PG_MESSAGE_MAX = 1 << 30; // the backend refuses longer ones
const PG_SECRET = new Set<number>(PG_SECRET_TAGS);

/**
 * The frontend stream: untagged first messages (length, code: startup, SSLRequest, GSSENCRequest, cancel), then
 * tagged ones (type byte, int32 length including itself). Every 'p' message's payload is masked whole, whichever
 * authentication it belongs to (the backend's request says which, the payload alone does not).
 */
class PgClient implements SideParser {
  off = false;
  #state: number = P.untagged;
  #head = new Uint8Array(8);
  #have = 0;
  #left = 0;
  #after: number = P.tagged; // where skip/mask go when done

  feed(b: Uint8Array, from: number, to: number): number {
    let masked = 0;
    let i = from;
    while (i < to && !this.off) {
      if (this.#state === P.skip || this.#state === P.mask) {
        const k = Math.min(this.#left, to - i);
        if (this.#state === P.mask) masked += maskRange(b, i, i + k);
        i += k;
        this.#left -= k;
        if (this.#left === 0) this.#state = this.#after;
        continue;
      }
      const need = this.#state === P.untagged ? 8 : 5;
      const c = b[i++]!;
      // An untagged message is short: a first byte other than 0 is TLS after SSLRequest's 'S', or not PostgreSQL.
      if (this.#state === P.untagged && this.#have === 0 && c !== 0) {
        this.off = true;
        break;
      }
      this.#head[this.#have++] = c;
      if (this.#have < need) continue;
      this.#have = 0;
      if (this.#state === P.untagged) this.#untagged();
      else this.#tagged();
    }
    return masked;
  }

  #untagged(): void {
    const h = this.#head;
    const len = ((h[0]! << 24) | (h[1]! << 16) | (h[2]! << 8) | h[3]!) >>> 0;
    const code = ((h[4]! << 24) | (h[5]! << 16) | (h[6]! << 8) | h[7]!) >>> 0;
    if (len < 8 || len > 10_000) {
      this.off = true;
      return;
    }
    if (code >>> 16 === PG_UNTAGGED_CODES.startupMajor3) this.#after = P.tagged;
    else if (code === PG_UNTAGGED_CODES.sslRequest || code === PG_UNTAGGED_CODES.gssencRequest || code === PG_UNTAGGED_CODES.cancelRequest) this.#after = P.untagged;
    else {
      this.off = true;
      return;
    }
    this.#left = len - 8;
    this.#state = this.#left > 0 ? P.skip : this.#after;
  }

  #tagged(): void {
    const h = this.#head;
    const len = ((h[1]! << 24) | (h[2]! << 16) | (h[3]! << 8) | h[4]!) >>> 0;
    if (len < 4 || len > PG_MESSAGE_MAX) {
      this.off = true;
      return;
    }
    this.#left = len - 4;
    this.#after = P.tagged;
    this.#state = this.#left === 0 ? P.tagged : PG_SECRET.has(h[0]!) ? P.mask : P.skip;
  }

  lost(n: number): void {
    if ((this.#state === P.skip || this.#state === P.mask) && n <= this.#left) {
      this.#left -= n;
      if (this.#left === 0) this.#state = this.#after;
    } else {
      this.off = true;
    }
  }
}

const pgRule: WireRule = {
  protocol: "postgres",
  side: "client",
  source: "PostgreSQL docs, Frontend/Backend Protocol: Message Formats (StartupMessage, PasswordMessage, SASLInitialResponse, SASLResponse)",
  opening: (b, n) => {
    if (n >= 1 && b[0] !== 0) return "no";
    if (n < 8) return "more";
    const len = ((b[0]! << 24) | (b[1]! << 16) | (b[2]! << 8) | b[3]!) >>> 0;
    const code = ((b[4]! << 24) | (b[5]! << 16) | (b[6]! << 8) | b[7]!) >>> 0;
    const known = code >>> 16 === PG_UNTAGGED_CODES.startupMajor3 || code === PG_UNTAGGED_CODES.sslRequest || code === PG_UNTAGGED_CODES.gssencRequest || code === PG_UNTAGGED_CODES.cancelRequest;
    return len >= 8 && len <= 10_000 && known ? "yes" : "no";
  },
  session: () => ({ client: new PgClient(), server: passThrough() }),
};

// ───────────────────────────── MySQL / MariaDB ─────────────────────────────

interface MysqlShared {
  /** Between the handshake response (or COM_CHANGE_USER) and the server's OK or ERR: client packets are auth data. */
  auth: boolean;
  /** CLIENT_COMPRESS was asked for: after authentication the framing changes, and we stop. */
  compress: boolean;
  session: Session;
}

/** Handshake-response fields, in order (Protocol::HandshakeResponse41). */
const MY = { caps: 0, fixed: 1, user: 2, authLen: 3, authLenExt: 4, auth: 5, authNul: 6, rest: 7, maskRest: 8, old: 9 } as const;

/** One direction of MySQL packets (int<3> length, int<1> sequence id, payload). */
class MysqlSide implements SideParser {
  off = false;
  #head = 0; // header bytes read
  #len = 0;
  #left = 0; // payload bytes left in this packet
  #pos = 0; // payload bytes read in this packet
  #packets = 0;
  // Client side, within a handshake response:
  #field: number = MY.rest;
  #caps = 0;
  #n = 0; // field length being read, or bytes left in it
  #extBytes = 0;
  #nBytes = 0; // bytes of a lenenc length read
  readonly #side: WireSide;
  readonly #shared: MysqlShared;

  constructor(side: WireSide, shared: MysqlShared) {
    this.#side = side;
    this.#shared = shared;
  }

  feed(b: Uint8Array, from: number, to: number): number {
    let masked = 0;
    let i = from;
    while (i < to && !this.off) {
      if (this.#head < 4) {
        const c = b[i++]!;
        if (this.#head < 3) this.#len |= c << (8 * this.#head);
        this.#head++;
        if (this.#head === 4) this.#startPacket();
        continue;
      }
      const k = Math.min(this.#left, to - i);
      masked += this.#payload(b, i, i + k);
      i += k;
      this.#left -= k;
      this.#pos += k;
      if (this.#left === 0) this.#endPacket();
    }
    return masked;
  }

  #startPacket(): void {
    this.#left = this.#len;
    this.#pos = 0;
    this.#field = this.#side === "client" && this.#packets === 0 ? MY.caps : MY.rest;
    this.#caps = 0;
    if (this.#left === 0) this.#endPacket();
  }

  #endPacket(): void {
    this.#packets++;
    this.#head = 0;
    this.#len = 0;
    if (this.#side === "client" && this.#packets === 1) {
      if (this.#pos === 32 && (this.#caps & MYSQL_CAPS.ssl) !== 0) this.#switchOff(); // SSLRequest: TLS follows
      else {
        this.#shared.auth = true;
        this.#shared.compress = (this.#caps & MYSQL_CAPS.compress) !== 0;
      }
    }
  }

  #switchOff(): void {
    this.#shared.session.client.off = true;
    this.#shared.session.server.off = true;
  }

  /** Payload bytes b[from, to) at packet offset this.#pos. */
  #payload(b: Uint8Array, from: number, to: number): number {
    if (from === to) return 0;
    if (this.#side === "server") {
      // The server's OK (0x00) or ERR (0xff) ends an authentication exchange.
      if (this.#pos === 0 && this.#packets > 0 && this.#shared.auth && (b[from] === 0x00 || b[from] === 0xff)) {
        this.#shared.auth = false;
        if (this.#shared.compress) this.#switchOff();
      }
      return 0;
    }
    if (this.#packets === 0) return this.#handshake(b, from, to);
    if (this.#shared.auth) return maskRange(b, from, to); // AuthSwitchResponse, auth more data, a clear password
    if (this.#pos === 0 && b[from] === MYSQL_COM_CHANGE_USER) {
      this.#shared.auth = true;
      return maskRange(b, from + 1, to); // user, auth response, database: a new authentication starts
    }
    if (this.#pos === 0) this.#field = MY.rest;
    return this.#field === MY.maskRest ? maskRange(b, from, to) : 0;
  }

  /** The handshake response, a field at a time (HandshakeResponse41; 320 is masked after its first 5 bytes). */
  #handshake(b: Uint8Array, from: number, to: number): number {
    let masked = 0;
    for (let i = from; i < to; i++) {
      const pos = this.#pos + (i - from);
      const c = b[i]!;
      switch (this.#field) {
        case MY.caps:
          this.#caps |= c << (8 * pos);
          if (pos === 3) this.#field = (this.#caps & MYSQL_CAPS.protocol41) !== 0 ? MY.fixed : MY.old;
          break;
        case MY.old: // HandshakeResponse320: int<3> max packet, then user and auth response
          if (pos >= 4) {
            this.#field = MY.maskRest;
            masked += maskRange(b, i, to);
            return masked;
          }
          break;
        case MY.fixed: // max packet, charset, filler: up to offset 32
          if (pos === 31) this.#field = MY.user;
          break;
        case MY.user:
          if (c === 0) this.#field = this.#caps & MYSQL_CAPS.pluginAuthLenencData ? MY.authLen : this.#caps & MYSQL_CAPS.secureConnection ? MY.authLen : MY.authNul;
          break;
        case MY.authLen:
          if (this.#caps & MYSQL_CAPS.pluginAuthLenencData && c >= 0xfb) {
            this.#extBytes = c === 0xfc ? 2 : c === 0xfd ? 3 : c === 0xfe ? 8 : 0;
            this.#field = this.#extBytes > 0 ? MY.authLenExt : MY.rest;
            this.#n = 0;
            this.#nBytes = 0;
          } else {
            this.#n = c;
            this.#field = c > 0 ? MY.auth : MY.rest;
          }
          break;
        case MY.authLenExt:
          if (this.#nBytes < 4) this.#n += c * 2 ** (8 * this.#nBytes);
          this.#nBytes++;
          if (this.#nBytes === this.#extBytes) this.#field = this.#n > 0 ? MY.auth : MY.rest;
          break;
        case MY.auth: {
          const k = Math.min(this.#n, to - i);
          masked += maskRange(b, i, i + k);
          this.#n -= k;
          i += k - 1;
          if (this.#n === 0) this.#field = MY.rest;
          break;
        }
        case MY.authNul:
          if (c === 0) this.#field = MY.rest;
          else masked += maskRange(b, i, i + 1);
          break;
        case MY.maskRest:
          masked += maskRange(b, i, to);
          return masked;
        default:
          return masked; // database, plugin name, attributes: in clear
      }
    }
    return masked;
  }

  lost(n: number): void {
    if (this.#head < 4 || n > this.#left) {
      this.off = true;
      return;
    }
    if (this.#side === "client" && this.#packets === 0 && this.#field !== MY.rest) this.#field = MY.maskRest;
    this.#left -= n;
    this.#pos += n;
    if (this.#left === 0) this.#endPacket();
  }
}

const mysqlRule: WireRule = {
  protocol: "mysql",
  side: "server",
  source: "MySQL Client/Server Protocol: Protocol::Handshake v10, HandshakeResponse41/320, AuthSwitchResponse, COM_CHANGE_USER (MariaDB: same)",
  opening: (b, n) => {
    if (n >= 4 && b[3] !== 0) return "no";
    if (n < 5) return "more";
    const len = b[0]! | (b[1]! << 8) | (b[2]! << 16);
    return b[4] === 10 && len >= 32 && len <= 1024 ? "yes" : "no";
  },
  session: () => {
    const session = {} as Session;
    const shared: MysqlShared = { auth: false, compress: false, session };
    session.client = new MysqlSide("client", shared);
    session.server = new MysqlSide("server", shared);
    return session;
  },
};

// ───────────────────────────── Redis (RESP2/3 requests, inline commands) ─────────────────────────────

const R = { command: 0, count: 1, bulkHead: 2, bulkLen: 3, bulk: 4, bulkEnd: 5, inline: 6 } as const;
const ARG_CAPTURE = 16;
/** How the current argument is masked: not, whole, or all but its first byte (a rule prefix). */
const A = { none: 0, all: 1, prefix: 2 } as const;

class RedisClient implements SideParser {
  off = false;
  #state: number = R.command;
  #argc = -1; // -1: inline, unknown
  #argi = -1;
  #n = 0;
  #digits = 0;
  #rule: RedisCommandRule | undefined;
  #queue: boolean[] = [];
  #arg = ""; // the argument so far, upper-cased, up to ARG_CAPTURE
  #mode: number = A.none;
  #first = true; // at the argument's first byte
  #inWord = false;

  feed(b: Uint8Array, from: number, to: number): number {
    let masked = 0;
    let i = from;
    while (i < to && !this.off) {
      if (this.#state === R.bulk) {
        const k = Math.min(this.#n, to - i);
        masked += this.#argBytes(b, i, i + k);
        i += k;
        this.#n -= k;
        if (this.#n === 0) {
          this.#endArg();
          this.#state = R.bulkEnd;
        }
        continue;
      }
      const c = b[i]!;
      switch (this.#state) {
        case R.command:
          if (c === 0x2a) {
            this.#state = R.count;
            this.#n = 0;
            this.#digits = 0;
          } else if (c !== CR && c !== LF) {
            this.#beginCommand(-1);
            this.#state = R.inline;
            continue; // the byte is the first of an inline command
          }
          break;
        case R.count:
        case R.bulkLen:
          if (c >= 0x30 && c <= 0x39) {
            this.#n = this.#n * 10 + (c - 0x30);
            if (++this.#digits > 10) this.off = true;
          } else if (c === LF) this.#endNumber();
          else if (c !== CR && !(c === 0x2d && this.#digits === 0)) this.off = true; // '-1' null arrays only
          break;
        case R.bulkHead:
          if (c !== 0x24) this.off = true; // lost our place
          this.#state = R.bulkLen;
          this.#n = 0;
          this.#digits = 0;
          break;
        case R.bulkEnd:
          if (c === LF) this.#nextArg();
          break;
        case R.inline:
          masked += this.#inlineByte(b, i, c);
          break;
      }
      i++;
    }
    return masked;
  }

  #beginCommand(argc: number): void {
    this.#argc = argc;
    this.#argi = -1;
    this.#rule = undefined;
    this.#queue = [];
    this.#inWord = false;
  }

  #endNumber(): void {
    if (this.#state === R.count) {
      this.#beginCommand(this.#n);
      if (this.#n <= 0) this.#state = R.command;
      else this.#nextArg();
      return;
    }
    this.#beginArg();
    if (this.#n === 0) {
      this.#endArg();
      this.#state = R.bulkEnd;
    } else this.#state = R.bulk;
  }

  #nextArg(): void {
    if (this.#argi + 1 >= this.#argc) this.#state = R.command;
    else this.#state = R.bulkHead;
  }

  #beginArg(): void {
    this.#argi++;
    this.#arg = "";
    this.#first = true;
    this.#mode = this.#decide();
  }

  /** Whether the argument now starting is secret (REDIS_COMMAND_RULES). */
  #decide(): number {
    const rule = this.#rule;
    if (this.#argi === 0 || !rule) return A.none;
    const queued = this.#queue.shift();
    if (queued !== undefined) return queued ? A.all : A.none;
    if (this.#argc >= 0 && rule.byArgc?.[this.#argc]?.includes(this.#argi)) return A.all;
    if (this.#argc < 0 && rule.inlineFrom !== undefined && this.#argi >= rule.inlineFrom) return A.all;
    return rule.prefixes ? A.prefix : A.none;
  }

  #endArg(): void {
    if (this.#argi === 0) this.#rule = REDIS_COMMAND_RULES[this.#arg];
    else if (this.#mode === A.none && this.#queue.length === 0) {
      const follows = this.#rule?.after?.[this.#arg];
      if (follows) this.#queue = [...follows];
    }
  }

  /** Argument bytes b[from, to): captured (for the command and keywords) or masked. */
  #argBytes(b: Uint8Array, from: number, to: number): number {
    if (from === to) return 0;
    if (this.#mode === A.prefix && this.#first) {
      this.#first = false;
      const p = String.fromCharCode(b[from]!);
      if (this.#rule?.prefixes?.includes(p)) {
        this.#mode = A.all; // the rest of this argument
        return maskRange(b, from + 1, to);
      }
      this.#mode = A.none;
    }
    this.#first = false;
    if (this.#mode === A.all) return maskRange(b, from, to);
    for (let i = from; i < to && this.#arg.length <= ARG_CAPTURE; i++) this.#arg += String.fromCharCode(upper(b[i]!));
    return 0;
  }

  #inlineByte(b: Uint8Array, i: number, c: number): number {
    if (c === LF || c === SP || c === HT || c === CR) {
      if (this.#inWord) {
        this.#endArg();
        this.#inWord = false;
      }
      if (c === LF) this.#state = R.command;
      return 0;
    }
    if (!this.#inWord) {
      this.#inWord = true;
      this.#beginArg();
    }
    return this.#argBytes(b, i, i + 1);
  }

  lost(n: number): void {
    if (this.#state === R.bulk && n <= this.#n) {
      this.#n -= n;
      this.#first = false;
      if (this.#n === 0) {
        this.#endArg();
        this.#state = R.bulkEnd;
      }
    } else {
      this.off = true;
    }
  }
}

const REDIS_INLINE_OPENINGS = Object.keys(REDIS_COMMAND_RULES).map((name) => `${name} `);

const redisRule: WireRule = {
  protocol: "redis",
  side: "client",
  source: "Redis serialization protocol (redis.io/docs/latest/develop/reference/protocol-spec): arrays of bulk strings, inline commands",
  opening: (b, n) => {
    if (b[0] === 0x2a) return n < 2 ? "more" : b[1]! >= 0x31 && b[1]! <= 0x39 ? "yes" : "no";
    // Inline: only a connection that starts with a command carrying a secret (AUTH, HELLO ...).
    return anyOpening(REDIS_INLINE_OPENINGS.map((text) => openingText(b, n, text, true)));
  },
  session: () => ({ client: new RedisClient(), server: passThrough() }),
};

// ───────────────────────────── NATS ─────────────────────────────

const J = { verb: 0, out: 1, key: 2, keyEsc: 3, value: 4, valueEsc: 5 } as const;
const NATS_SECRET = new Set<string>(NATS_SECRET_FIELDS);
const CONNECT = "CONNECT ";

/**
 * The client's first line, CONNECT {json}: the values of NATS_SECRET_FIELDS are masked (inside the quotes; a
 * non-string value whole). Nothing after that line carries a credential: the side stops there.
 */
class NatsClient implements SideParser {
  off = false;
  #state: number = J.verb;
  #pos = 0;
  #expectKey = true;
  #key = "";
  #secret = false;

  feed(b: Uint8Array, from: number, to: number): number {
    let masked = 0;
    for (let i = from; i < to && !this.off; i++) {
      const c = b[i]!;
      if (c === LF) {
        this.off = true; // CONNECT is done (or this was not one)
        break;
      }
      switch (this.#state) {
        case J.verb:
          if (upper(c) !== CONNECT.charCodeAt(this.#pos)) this.off = true; // TLS, or not a CONNECT: nothing to mask
          else if (++this.#pos === CONNECT.length) this.#state = J.out;
          break;
        case J.out:
          if (c === 0x22) {
            if (this.#expectKey) {
              this.#state = J.key;
              this.#key = "";
            } else this.#state = J.value;
          } else if (c === 0x3a) this.#expectKey = false;
          else if (c === 0x2c || c === 0x7b) {
            this.#expectKey = true;
            this.#secret = false;
          } else if (c === 0x7d) this.#secret = false;
          else if (this.#secret && !this.#expectKey && c !== SP && c !== HT && c !== CR) masked += maskRange(b, i, i + 1);
          break;
        case J.key:
          if (c === 0x5c) this.#state = J.keyEsc;
          else if (c === 0x22) {
            this.#state = J.out;
            this.#secret = NATS_SECRET.has(this.#key);
          } else if (this.#key.length < 32) this.#key += String.fromCharCode(c);
          break;
        case J.keyEsc:
          this.#state = J.key;
          break;
        case J.value:
          if (c === 0x22) {
            this.#state = J.out;
            break;
          }
          if (c === 0x5c) this.#state = J.valueEsc;
          if (this.#secret) masked += maskRange(b, i, i + 1);
          break;
        case J.valueEsc:
          this.#state = J.value;
          if (this.#secret) masked += maskRange(b, i, i + 1);
          break;
      }
    }
    return masked;
  }

  lost(): void {
    this.off = true;
  }
}

const natsRule: WireRule = {
  protocol: "nats",
  side: "server",
  source: "NATS client protocol (docs.nats.io/reference/reference-protocols/nats-protocol): INFO, CONNECT",
  opening: (b, n) => openingText(b, n, "INFO "),
  session: () => ({ client: new NatsClient(), server: passThrough() }),
};

// ───────────────────────────── AMQP 0-9-1 ─────────────────────────────

const AMQP_HEADER = 8; // "AMQP" 0 0 9 1
const AF = { header: 0, frameHead: 1, payload: 2, frameEnd: 3 } as const;
/** Fields of a secret-bearing connection method, in order. */
type AmqpField = "table" | "mechanism" | "response" | "secret" | "rest";
const AMQP_FIELDS: Readonly<Record<number, readonly AmqpField[]>> = {
  [AMQP_SECRET_METHODS.startOk]: ["table", "mechanism", "response", "rest"],
  [AMQP_SECRET_METHODS.secureOk]: ["secret", "rest"],
  [AMQP_SECRET_METHODS.updateSecret]: ["secret", "rest"],
};
const AMQP_PASSWORDS = new Set<string>(AMQP_PASSWORD_FIELDS);

/**
 * The client's frames (type, channel, size, payload, 0xCE): in the connection class's Start-Ok, Secure-Ok and
 * Update-Secret methods, the response is masked as AMQP_SECRET_METHODS says; every other frame is skipped by size.
 */
class AmqpClient implements SideParser {
  off = false;
  #state: number = AF.header;
  #pos = 0; // bytes into the current header / frame head / payload
  #head = new Uint8Array(7);
  #size = 0;
  #fields: readonly AmqpField[] | null = null;
  #field = 0;
  #lenBytes = 0; // length bytes of the current field still to read
  #n = 0; // the field's length, then bytes left in it
  #mechanism = "";
  // Within a response:
  #nuls = 0; // PLAIN: NULs seen
  #item = 0; // AMQPLAIN item state: 0 name length, 1 name, 2 type, 3 value length, 4 value, 5 unknown (mask rest)
  #itemName = "";
  #itemN = 0;
  #lenBytesItem = 0;

  feed(b: Uint8Array, from: number, to: number): number {
    let masked = 0;
    let i = from;
    while (i < to && !this.off) {
      if (this.#state === AF.payload) {
        const k = Math.min(this.#size - this.#pos, to - i);
        masked += this.#payload(b, i, i + k);
        i += k;
        this.#pos += k;
        if (this.#pos === this.#size) this.#state = AF.frameEnd;
        continue;
      }
      const c = b[i++]!;
      if (this.#state === AF.header) {
        if (++this.#pos === AMQP_HEADER) this.#frameStart();
      } else if (this.#state === AF.frameHead) {
        this.#head[this.#pos++] = c;
        if (this.#pos === 7) {
          const h = this.#head;
          this.#size = ((h[3]! << 24) | (h[4]! << 16) | (h[5]! << 8) | h[6]!) >>> 0;
          this.#pos = 0;
          this.#fields = null;
          this.#field = -1; // class and method ids to read
          this.#n = 0;
          this.#state = this.#size > 0 ? AF.payload : AF.frameEnd;
        }
      } else {
        if (c !== 0xce) this.off = true; // lost our place
        this.#frameStart();
      }
    }
    return masked;
  }

  #frameStart(): void {
    this.#state = AF.frameHead;
    this.#pos = 0;
  }

  /** Payload bytes b[from, to) at payload offset this.#pos. */
  #payload(b: Uint8Array, from: number, to: number): number {
    const h = this.#head;
    const method = h[0] === 1 && h[1] === 0 && h[2] === 0; // a method frame on channel 0
    if (!method) return 0;
    let masked = 0;
    for (let i = from; i < to; i++) {
      const pos = this.#pos + (i - from);
      const c = b[i]!;
      if (this.#field === -1) {
        this.#n = this.#n * 256 + c;
        if (pos === 3) {
          const cls = Math.floor(this.#n / 65536), m = this.#n % 65536;
          this.#fields = cls === AMQP_CONNECTION_CLASS ? (AMQP_FIELDS[m] ?? null) : null;
          if (!this.#fields) return masked;
          this.#beginField(0);
        }
        continue;
      }
      const field = this.#fields?.[this.#field];
      if (field === undefined || field === "rest") return masked;
      if (this.#lenBytes > 0) {
        this.#n = this.#n * 256 + c;
        if (--this.#lenBytes === 0 && this.#n === 0) this.#beginField(this.#field + 1);
        continue;
      }
      // Inside the field's content.
      if (field === "response") masked += this.#responseByte(b, i, c);
      else if (field === "secret") masked += maskRange(b, i, i + 1);
      else if (field === "mechanism" && this.#mechanism.length < 32) this.#mechanism += String.fromCharCode(c);
      if (--this.#n === 0) this.#beginField(this.#field + 1);
    }
    return masked;
  }

  #beginField(index: number): void {
    this.#field = index;
    const field = this.#fields?.[index];
    this.#n = 0;
    this.#lenBytes = field === "mechanism" ? 1 : field === "rest" || field === undefined ? 0 : 4;
    this.#nuls = 0;
    this.#item = 0;
    if (field === "mechanism") this.#mechanism = "";
  }

  /** A byte of a SASL response, by mechanism. */
  #responseByte(b: Uint8Array, i: number, c: number): number {
    if (this.#mechanism === "PLAIN") {
      // RFC 4616: [authzid] NUL authcid NUL passwd
      if (this.#nuls >= 2) return maskRange(b, i, i + 1);
      if (c === 0) this.#nuls++;
      return 0;
    }
    if (this.#mechanism !== "AMQPLAIN") return maskRange(b, i, i + 1);
    // AMQPLAIN: field-table items (shortstr name, type octet, value); only 'S' (longstr) values are expected.
    switch (this.#item) {
      case 0:
        this.#itemN = c;
        this.#itemName = "";
        this.#item = c > 0 ? 1 : 2;
        return 0;
      case 1:
        if (this.#itemName.length < 32) this.#itemName += String.fromCharCode(upper(c));
        if (--this.#itemN === 0) this.#item = 2;
        return 0;
      case 2:
        if (c !== 0x53) {
          this.#item = 5; // a value type we do not frame: the rest is masked
          return 0;
        }
        this.#item = 3;
        this.#itemN = 0;
        this.#lenBytesItem = 4;
        return 0;
      case 3:
        this.#itemN = this.#itemN * 256 + c;
        if (--this.#lenBytesItem === 0) this.#item = this.#itemN > 0 ? 4 : 0;
        return 0;
      case 4: {
        const secret = AMQP_PASSWORDS.has(this.#itemName);
        if (--this.#itemN === 0) this.#item = 0;
        return secret ? maskRange(b, i, i + 1) : 0;
      }
      default:
        return maskRange(b, i, i + 1);
    }
  }

  lost(n: number): void {
    if (this.#state === AF.payload && n <= this.#size - this.#pos && (this.#fields === null || this.#field === -1)) {
      this.#pos += n;
      if (this.#pos === this.#size) this.#state = AF.frameEnd;
    } else {
      this.off = true;
    }
  }
}

const amqpRule: WireRule = {
  protocol: "amqp",
  side: "client",
  source: "AMQP 0-9-1 specification §4.2 (frames), amqp0-9-1.xml connection.start-ok/secure-ok; RFC 4616 (PLAIN); RabbitMQ AMQPLAIN, connection.update-secret",
  opening: (b, n) => openingText(b, n, "AMQP"),
  session: () => ({ client: new AmqpClient(), server: passThrough() }),
};

// ───────────────────────────── SMTP, POP3, IMAP ─────────────────────────────

interface MailShared {
  /** The client's lines are SASL responses while the server keeps answering with its continuation. */
  sasl: boolean;
}

const ML = { word: 0, space: 1, mask: 2, skip: 3 } as const;
const MAIL_WORD_MAX = 16;

/** The client's command lines: the command word decides, the words after it are kept or masked (MAIL_RULES). */
class MailClient implements SideParser {
  off = false;
  #state: number = ML.word;
  #words = 0; // words finished on this line
  #word = "";
  #visible = -1; // words after the command still visible; -1: no rule yet
  #fresh = true; // at a line's first byte
  readonly #rule: MailProtocolRule;
  readonly #shared: MailShared;

  constructor(rule: MailProtocolRule, shared: MailShared) {
    this.#rule = rule;
    this.#shared = shared;
  }

  feed(b: Uint8Array, from: number, to: number): number {
    let masked = 0;
    let i = from;
    while (i < to) {
      if (this.#state === ML.mask || this.#state === ML.skip) {
        let lf = b.indexOf(LF, i);
        if (lf < 0 || lf >= to) lf = to;
        if (this.#state === ML.mask) masked += maskRange(b, i, lf > i && b[lf - 1] === CR ? lf - 1 : lf);
        if (lf === to) return masked;
        i = lf + 1;
        this.#lineStart();
        continue;
      }
      const c = b[i]!;
      if (this.#fresh) {
        // Decided at the line's first byte, not at the previous line's end: the server's answer comes in between.
        this.#fresh = false;
        if (this.#shared.sasl) {
          this.#state = ML.mask; // a SASL response is a whole line of credentials
          continue;
        }
      }
      if (c === LF) {
        this.#lineStart();
      } else if (c === SP || c === HT || c === CR) {
        if (this.#state === ML.word) this.#endWord();
      } else {
        if (this.#state === ML.space) {
          this.#state = ML.word;
          this.#word = "";
        }
        if (this.#visible === 0) {
          this.#state = ML.mask;
          continue; // this byte starts the masked rest
        }
        if (this.#word.length < MAIL_WORD_MAX) this.#word += String.fromCharCode(upper(c));
      }
      i++;
    }
    return masked;
  }

  #lineStart(): void {
    this.#words = 0;
    this.#word = "";
    this.#visible = -1;
    this.#state = ML.word;
    this.#fresh = true;
  }

  #endWord(): void {
    this.#state = ML.space;
    const commandAt = this.#rule.tagged ? 1 : 0;
    if (this.#visible > 0) this.#visible--;
    else if (this.#words === commandAt) {
      const command = this.#rule.commands[this.#word];
      if (command) {
        this.#visible = command.visible;
        if (command.sasl) this.#shared.sasl = true;
      } else if (!this.#rule.tagged || this.#words > 0) this.#state = ML.skip;
    }
    this.#words++;
  }

  lost(): void {
    this.#state = ML.mask; // the rest of the line we are in may be a password
  }
}

/** The server's lines: one that is not a continuation ends a SASL exchange. */
class MailServer implements SideParser {
  off = false;
  #at = 0; // bytes of the line seen, up to the continuation's length
  #continues = true;
  readonly #rule: MailProtocolRule;
  readonly #shared: MailShared;

  constructor(rule: MailProtocolRule, shared: MailShared) {
    this.#rule = rule;
    this.#shared = shared;
  }

  feed(b: Uint8Array, from: number, to: number): number {
    const cont = this.#rule.continuation;
    for (let i = from; i < to; i++) {
      const c = b[i]!;
      if (c === LF) {
        this.#at = 0;
        this.#continues = true;
        continue;
      }
      if (this.#at < cont.length) {
        if (c !== cont.charCodeAt(this.#at)) this.#continues = false;
        if (++this.#at === cont.length && !this.#continues) this.#shared.sasl = false;
        if (this.#at < cont.length) continue;
      }
      const lf = b.indexOf(LF, i);
      if (lf < 0 || lf >= to) return 0;
      i = lf - 1;
    }
    return 0;
  }

  lost(): void {
    this.#at = MAIL_WORD_MAX;
  }
}

const mailRules: WireRule[] = (Object.entries(MAIL_RULES) as [string, MailProtocolRule][]).map(([protocol, rule]) => ({
  protocol,
  side: "server",
  source: { smtp: "RFC 5321, RFC 4954 (AUTH)", pop3: "RFC 1939 (USER/PASS, APOP), RFC 5034 (AUTH)", imap: "RFC 9051 §6.2 (LOGIN, AUTHENTICATE)" }[protocol] ?? protocol,
  opening: (b, n) => anyOpening(rule.greetings.map((g) => openingText(b, n, g))),
  session: () => {
    const shared: MailShared = { sasl: false };
    return { client: new MailClient(rule, shared), server: new MailServer(rule, shared) };
  },
}));

// ───────────────────────────── the rule table and the masker ─────────────────────────────

/**
 * The protocols the masker follows, in the order their openings are tried (Redis's inline AUTH before HTTP's
 * methods). A rule's opening decides within OPENING_BYTES bytes and before any secret of its protocol can appear.
 */
export const WIRE_RULES: readonly WireRule[] = [redisRule, httpRule, pgRule, amqpRule, mysqlRule, natsRule, ...mailRules];

/** The protocol names of WIRE_RULES, for documentation and tests. */
export const WIRE_PROTOCOLS: readonly { protocol: string; opens: WireSide; source: string }[] = WIRE_RULES.map((r) => ({
  protocol: r.protocol,
  opens: r.side,
  source: r.source,
}));

const M = { opening: 0, on: 1, off: 2 } as const;

/** How a masker is built. */
export interface WireMaskerOptions {
  /**
   * The secret-name test for HTTP query, form and JSON names (RedactionPolicy.names, with ADI_REDACT_NAMES);
   * the built-in rules by default.
   */
  readonly names?: SecretNames;
}

class Masker implements WireMasker {
  readonly #options: Required<WireMaskerOptions>;
  #state: number = M.opening;
  #session: Session | null = null;
  #rule: WireRule | null = null;
  readonly #open = { client: new Uint8Array(OPENING_BYTES), server: new Uint8Array(OPENING_BYTES) };
  readonly #have = { client: 0, server: 0 };

  get protocol(): string | null {
    return this.#rule?.protocol ?? (this.#state === M.off ? "off" : null);
  }

  constructor(options: Required<WireMaskerOptions>) {
    this.#options = options;
  }

  get unmaskableBodies(): number {
    return this.#session?.stats?.unmaskableBodies ?? 0;
  }

  get done(): boolean {
    return this.#state === M.off || (this.#session !== null && this.#session.client.off && this.#session.server.off);
  }

  mask(side: WireSide, bytes: Uint8Array): number {
    if (this.#state === M.off || bytes.length === 0) return 0;
    try {
      if (this.#state === M.opening && !this.#decide(side, bytes)) return 0;
      const parser = this.#session![side];
      if (parser.off) {
        if (this.#session!.client.off && this.#session!.server.off) this.#state = M.off;
        return 0;
      }
      return parser.feed(bytes, 0, bytes.length);
    } catch {
      // Unreachable by design (every read is bounds-checked); a masker bug must not stop the capture.
      this.#state = M.off;
      return 0;
    }
  }

  lost(side: WireSide, n: number): void {
    if (this.#state === M.off || n <= 0) return;
    if (this.#state === M.opening) {
      this.#state = M.off; // the opening was not seen whole
      return;
    }
    const parser = this.#session![side];
    if (!parser.off) parser.lost(n);
  }

  /** Adds `bytes` to `side`'s opening; true once a rule is chosen (its parsers have seen the earlier bytes). */
  #decide(side: WireSide, bytes: Uint8Array): boolean {
    const buf = this.#open[side];
    const before = this.#have[side];
    const take = Math.min(bytes.length, OPENING_BYTES - before);
    buf.set(bytes.subarray(0, take), before);
    const have = before + take;
    this.#have[side] = have;
    let more = false;
    for (const rule of WIRE_RULES) {
      if (rule.side !== side) continue;
      const verdict = rule.opening(buf, have);
      if (verdict === "more") more = true;
      if (verdict !== "yes") continue;
      this.#rule = rule;
      this.#session = rule.session(this.#options);
      this.#state = M.on;
      // The bytes that came before are replayed to place the parsers; they were not secret (see WireRule).
      const other: WireSide = side === "client" ? "server" : "client";
      if (this.#have[other] > 0) this.#session[other].feed(this.#open[other].slice(0, this.#have[other]), 0, this.#have[other]);
      if (before > 0) this.#session[side].feed(buf.slice(0, before), 0, before);
      return true;
    }
    if (!more || have >= OPENING_BYTES) this.#state = M.off;
    return false;
  }
}

/**
 * A masker for one connection (see the file comment); drop it when the connection closes. `options.names`: the
 * secret-name test for HTTP targets and bodies (pass RedactionPolicy.names to honour ADI_REDACT_NAMES).
 */
export function createWireMasker(options: WireMaskerOptions = {}): WireMasker {
  return new Masker({ names: options.names ?? BUILTIN_SECRET_NAMES });
}

/**
 * The first bytes of each side of a connection with their secrets masked (copies; the inputs stay as they are), for
 * evidence shown in derived observations. The side whose opening names a protocol is fed first (the client's when
 * both do), so that a server-first protocol's client bytes (a MySQL handshake response, a NATS CONNECT) are read as
 * such.
 */
export function maskFirstBytes(client: Uint8Array | null, server: Uint8Array | null): { client: Buffer | null; server: Buffer | null } {
  const c = client ? Buffer.from(client) : null;
  const s = server ? Buffer.from(server) : null;
  const masker = createWireMasker();
  const opens = (side: WireSide, b: Buffer | null) => b !== null && WIRE_RULES.some((r) => r.side === side && r.opening(b, Math.min(b.length, OPENING_BYTES)) === "yes");
  // Which side spoke first is not known here: a client opening wins (a Redis "+OK" reply looks like a POP3
  // greeting), else a server greeting names the protocol.
  const serverFirst = !opens("client", c) && opens("server", s);
  const order: [WireSide, Buffer | null][] = serverFirst ? [["server", s], ["client", c]] : [["client", c], ["server", s]];
  for (const [side, bytes] of order) if (bytes) masker.mask(side, bytes);
  return { client: c, server: s };
}
