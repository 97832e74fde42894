// Reads a message head (start line and field lines) as its bytes arrive, checking each line as soon as it is
// complete, so garbage fails on its first bytes instead of after 64 KiB. A request the parser refuses or cannot
// hold is still kept with what was read (see KeptHead): a start line over MAX_LINE (its target cut at
// TARGET_LIMIT, the rest of the line skipped), a head over maxHeadBytes, a bad field line, and, where a message
// is known to start, a start line that is not one.
import { addFieldLine } from "./headers.ts";
import type { HttpHeaderList } from "./headers.ts";
import { MAX_LINE, TARGET_LIMIT, couldStartLine, parseStartLine } from "./start-line.ts";
import type { MessageKind, RequestLine, StartLine } from "./start-line.ts";

/**
 * What a head that will not complete normally holds, kept as a truncated message: its start line (complete, a
 * prefix long enough to name the method and some target, or the status) and the field lines completed so far.
 * `refused`: the first line is not a request line (a space in the target, tab separators, an unknown version,
 * garbage) where a message was known to start; method and target are as far as they could be read, and it is an
 * exchange only if the server answered it (HttpConnection).
 */
export interface KeptHead {
  text: string;
  start: StartLine;
  headers: HttpHeaderList;
  firstTs: bigint;
  refused: boolean;
}

export type HeadStep =
  /** Everything up to `pos` was taken; the head is not complete yet. */
  | { result: "more"; pos: number }
  /**
   * Not a head (or no more of one): `held` is the text read, ending at `pos`; a search for the next message should
   * restart at held[from]. `kept`: what the head held, kept as a truncated message.
   */
  | { result: "bad"; held: string; from: number; pos: number; kept: KeptHead | null }
  /** Over maxHeadBytes; everything up to `pos` is taken. `kept`: the start line and complete field lines. */
  | { result: "too-big"; pos: number; kept: KeptHead | null }
  /** `truncated`: the start line was longer than MAX_LINE, its target is cut. */
  | { result: "done"; text: string; pos: number; start: StartLine; headers: HttpHeaderList; firstTs: bigint; lastTs: bigint; truncated: boolean };

const CR = 0x0d;
const LF = 0x0a;

export class HeadReader {
  private readonly kind: MessageKind;
  private readonly maxHeadBytes: number;
  /** The head so far as kept (latin1): an over-long start line only up to MAX_LINE + 1 characters. */
  private text = "";
  /** Bytes of the head read, skipped ones included (compared with maxHeadBytes). */
  private size = 0;
  /** Where the current line starts in `text`. */
  private lineStart = 0;
  /** The current line's text so far, when it spans pushes. */
  private partial = "";
  private start: StartLine | null = null;
  private headers: HttpHeaderList = [];
  private firstTs = 0n;
  /** The start line is over MAX_LINE: its target is cut; while `skipping`, the rest of the line is read and dropped. */
  private cut = false;
  private skipping = false;
  /** The last characters of the over-long line (its version) and the separators and controls seen in it. */
  private lineTail = "";
  private lineSeparators = 0;
  /** A message is known to start here (a request): a first line that is not a request line is kept as refused. */
  private trusted = false;
  /** The first line is not a start line, but is read to its end (up to MAX_LINE) to keep what it says. */
  private refusing = false;

  constructor(kind: MessageKind, maxHeadBytes: number) {
    this.kind = kind;
    this.maxHeadBytes = maxHeadBytes;
  }

  /** Some of a head has been read. */
  get started(): boolean {
    return this.size > 0;
  }

  reset(): void {
    this.text = "";
    this.size = 0;
    this.lineStart = 0;
    this.partial = "";
    this.start = null;
    this.headers = [];
    this.cut = false;
    this.skipping = false;
    this.lineTail = "";
    this.lineSeparators = 0;
    this.trusted = false;
    this.refusing = false;
  }

  /** `trusted`: a message is known to begin with these bytes (the connection's start, or after a whole message). */
  read(bytes: Buffer, pos: number, ts: bigint, trusted = false): HeadStep {
    if (this.size === 0) {
      // Blank lines between messages are tolerated (RFC 9112 2.2).
      while (pos < bytes.length && (bytes[pos] === CR || bytes[pos] === LF)) pos++;
      if (pos === bytes.length) return { result: "more", pos };
      this.firstTs = ts;
      this.trusted = trusted && this.kind === "request";
    }
    // Line by line, converting only what belongs to the head: a push may hold many messages and bodies.
    while (pos < bytes.length) {
      const room = this.maxHeadBytes - this.size;
      if (room <= 0) break;
      let limit = Math.min(bytes.length, pos + room);
      if (this.skipping) {
        pos = this.skipLine(bytes, pos, limit);
        if (this.skipping || this.start!.version !== "") continue;
        // The over-long line was not a request line after all (a space or control inside, no version at its end).
        return this.refuse(pos);
      }
      // A start line is read no further than MAX_LINE + 1 characters: the verdict does not depend on the splits.
      if (this.start === null) limit = Math.min(limit, pos + MAX_LINE + 1 - this.partial.length);
      const nl = bytes.subarray(pos, limit).indexOf(LF);
      const end = nl === -1 ? limit : pos + nl + 1;
      const piece = bytes.toString("latin1", pos, end);
      const base = this.text.length;
      this.text += piece;
      this.size += piece.length;
      pos = end;
      if (this.start === null && !this.refusing && base < 8 && !couldStartLine(this.kind, this.text.slice(0, 8))) {
        if (!this.trusted) return this.bad(this.text, 1, pos, null);
        this.refusing = true;
      }
      if (nl === -1) {
        this.partial += piece;
        if (this.start === null && this.partial.length > MAX_LINE) {
          if (this.refusing || !this.startOverlong()) return this.refuse(pos);
        }
        continue;
      }
      const lineStart = this.lineStart;
      this.lineStart = this.text.length;
      const line = stripCr((this.partial + piece).slice(0, -1));
      this.partial = "";
      if (this.start === null) {
        const start = this.refusing ? null : (parseStartLine(this.kind, line) ?? this.overlongLine(line));
        if (start === null) return this.refuse(pos, line);
        this.start = start;
        continue;
      }
      if (line === "") {
        const done = { text: this.text, pos, start: this.start, headers: this.headers, firstTs: this.firstTs, lastTs: ts, truncated: this.cut };
        this.reset();
        return { result: "done", ...done };
      }
      // A bad field line may be the start of the next message (the previous one was cut): re-read from it. The
      // head before it is kept, truncated.
      if (!addFieldLine(this.headers, line)) {
        const kept = this.keep(this.text.slice(0, lineStart), this.start, false);
        return this.bad(this.text, Math.max(1, lineStart), pos, kept);
      }
    }
    if (this.size >= this.maxHeadBytes) {
      const kept = this.unfinished(true);
      this.reset();
      return { result: "too-big", pos, kept };
    }
    return { result: "more", pos };
  }

  /**
   * What an unfinished head holds, for a message that will never complete (the capture lost the rest of the head,
   * the connection ended, the peer answered first, the head is over the limit): see KeptHead. Null when not even a
   * start line's beginning was read. `refused`: a first line that is not a request line may be kept as refused
   * (not at the connection's end, when no answer can come any more). The reader is left as it was; callers reset it.
   */
  unfinished(refused = true): KeptHead | null {
    if (this.size === 0) return null;
    if (this.start !== null) return this.keep(this.text, this.start, false);
    const line = stripCr(this.partial);
    const start = this.refusing ? null : partialStartLine(this.kind, line);
    if (start !== null) return this.keep(this.text, start, false);
    const read = refused && this.trusted ? refusedRequestLine(line) : null;
    return read === null ? null : this.keep(this.text, read, true);
  }

  private keep(text: string, start: StartLine, refused: boolean): KeptHead {
    return { text, start, headers: this.headers, firstTs: this.firstTs, refused };
  }

  /** A complete request line whose target is over TARGET_LIMIT: kept with its target cut. */
  private overlongLine(line: string): StartLine | null {
    if (this.kind !== "request") return null;
    const m = OVERLONG_REQUEST_LINE.exec(line);
    if (m === null) return null;
    this.cut = true;
    return { kind: "request", method: m[1]!, target: m[2]!.slice(0, TARGET_LIMIT), version: m[3]! };
  }

  /** The start line so far is over MAX_LINE: when it still looks like a request line, its rest is skipped. */
  private startOverlong(): boolean {
    if (this.kind !== "request") return false;
    const m = OVERLONG_REQUEST_PREFIX.exec(this.partial);
    if (m === null) return false;
    this.start = { kind: "request", method: m[1]!, target: m[2]!.slice(0, TARGET_LIMIT), version: "" };
    this.cut = true;
    this.skipping = true;
    this.lineTail = this.partial.slice(-16);
    this.lineSeparators = m[3] === undefined ? 0 : 1;
    this.partial = "";
    return true;
  }

  /** Reads the rest of an over-long start line, keeping only its end; at its LF, the version is read from that end. */
  private skipLine(bytes: Buffer, pos: number, limit: number): number {
    const nl = bytes.subarray(pos, limit).indexOf(LF);
    const end = nl === -1 ? limit : pos + nl + 1;
    const stop = nl === -1 ? end : end - 1;
    for (let i = pos; i < stop; i++) if (bytes[i]! < 0x21 || bytes[i] === 0x7f) this.lineSeparators++;
    this.lineTail = (this.lineTail + bytes.toString("latin1", Math.max(pos, stop - 16), stop)).slice(-16);
    this.size += end - pos;
    if (nl === -1) return end;
    this.skipping = false;
    this.lineStart = this.text.length;
    let tail = this.lineTail;
    let separators = this.lineSeparators;
    if (tail.endsWith("\r")) {
      tail = tail.slice(0, -1);
      separators--;
    }
    const version = / (HTTP\/1\.[0-9])$/.exec(tail);
    if (version !== null && separators === 1) this.start = { ...(this.start as RequestLine), version: version[1]! };
    return end;
  }

  /**
   * The first line is not a start line: where a message was known to start, it is kept as a refused request (what
   * could be read of it); the search for the next message restarts after its first byte, or, when the line was
   * skipped in part, after the line.
   */
  private refuse(pos: number, line?: string): HeadStep {
    let kept: KeptHead | null = null;
    if (this.trusted) {
      const read = this.start ?? refusedRequestLine(line ?? stripCr(this.partial));
      if (read !== null) kept = this.keep(this.text, read, true);
    }
    return this.skipping || this.cut ? this.bad("", 0, pos, kept) : this.bad(this.text, 1, pos, kept);
  }

  private bad(held: string, from: number, pos: number, kept: KeptHead | null): HeadStep {
    this.reset();
    return { result: "bad", held, from, pos, kept };
  }
}

/** A request line cut inside its target keeps the part captured; a status line cut after its code keeps the code. */
const PARTIAL_REQUEST_LINE = /^([A-Z][A-Z_-]{0,31}) ([\x21-\x7e\x80-\xff]+)(?: (HTTP\/1\.[0-9]?)?)?$/;
const PARTIAL_STATUS_LINE = /^(HTTP\/1\.[0-9]) ([1-9][0-9]{2})(?: ([^\r\n]*))?$/;

/** The start line a cut-off first line begins, or null (see HeadReader.unfinished). */
function partialStartLine(kind: MessageKind, line: string): StartLine | null {
  if (kind === "request") {
    const m = PARTIAL_REQUEST_LINE.exec(line);
    return m ? { kind, method: m[1]!, target: m[2]!.slice(0, TARGET_LIMIT), version: m[3]?.length === 8 ? m[3] : "" } : null;
  }
  const m = PARTIAL_STATUS_LINE.exec(line);
  return m ? { kind, version: m[1]!, status: Number(m[2]), reason: m[3] ?? "" } : null;
}

/** A request line whose target is longer than TARGET_LIMIT (and the line within MAX_LINE). */
const OVERLONG_REQUEST_LINE = /^([A-Z][A-Z_-]{0,31}) ([\x21-\x7e\x80-\xff]{8001,}) (HTTP\/1\.[0-9])$/;
/** The first MAX_LINE + 1 characters of a longer one: method, target, maybe the start of the version. */
const OVERLONG_REQUEST_PREFIX = /^([A-Z][A-Z_-]{0,31}) ([\x21-\x7e\x80-\xff]+)( [\x21-\x7e]{0,8})?$/;
const VERSION_AT_END = /[ \t]+(HTTP\/[0-9](?:\.[0-9])?)$/;

/**
 * A first line the request parser refused, read as far as it goes: the method is its first word (at most 32
 * characters), the version a trailing `HTTP/x.y`, the target what lies between (cut at TARGET_LIMIT). Null for a
 * line of separators only.
 */
export function refusedRequestLine(line: string): RequestLine | null {
  const rest = line.replace(/^[ \t]+/, "");
  const word = /^[^ \t]+/.exec(rest);
  if (word === null) return null;
  let target = rest.slice(word[0].length).replace(/^[ \t]+/, "");
  const version = VERSION_AT_END.exec(target);
  if (version !== null) target = target.slice(0, version.index);
  return { kind: "request", method: word[0].slice(0, 32), target: target.replace(/[ \t]+$/, "").slice(0, TARGET_LIMIT), version: version?.[1] ?? "" };
}

export function stripCr(line: string): string {
  return line.endsWith("\r") ? line.slice(0, -1) : line;
}
