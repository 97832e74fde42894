// Reads a message head (start line and field lines) as its bytes arrive, checking each line as soon as it is
// complete, so garbage fails on its first bytes instead of after 64 KiB.
import { addFieldLine } from "./headers.ts";
import type { HttpHeaderList } from "./headers.ts";
import { MAX_LINE, couldStartLine, parseStartLine } from "./start-line.ts";
import type { MessageKind, StartLine } from "./start-line.ts";

export type HeadStep =
  /** Everything up to `pos` was taken; the head is not complete yet. */
  | { result: "more"; pos: number }
  /** Not a head: `held` is the text read, ending at `pos`; a search for the next message should restart at held[from]. */
  | { result: "bad"; held: string; from: number; pos: number }
  /** Over maxHeadBytes; everything up to `pos` is worthless. */
  | { result: "too-big"; pos: number }
  | { result: "done"; text: string; pos: number; start: StartLine; headers: HttpHeaderList; firstTs: bigint; lastTs: bigint };

const CR = 0x0d;
const LF = 0x0a;

export class HeadReader {
  private readonly kind: MessageKind;
  private readonly maxHeadBytes: number;
  /** The head so far (latin1), where its current line starts, and what its complete lines parsed to. */
  private text = "";
  private lineStart = 0;
  /** The current line's text so far, when it spans pushes. */
  private partial = "";
  private start: StartLine | null = null;
  private headers: HttpHeaderList = [];
  private firstTs = 0n;

  constructor(kind: MessageKind, maxHeadBytes: number) {
    this.kind = kind;
    this.maxHeadBytes = maxHeadBytes;
  }

  /** Some of a head has been read. */
  get started(): boolean {
    return this.text !== "";
  }

  reset(): void {
    this.text = "";
    this.lineStart = 0;
    this.partial = "";
    this.start = null;
    this.headers = [];
  }

  read(bytes: Buffer, pos: number, ts: bigint): HeadStep {
    if (this.text === "") {
      // Blank lines between messages are tolerated (RFC 9112 2.2).
      while (pos < bytes.length && (bytes[pos] === CR || bytes[pos] === LF)) pos++;
      if (pos === bytes.length) return { result: "more", pos };
      this.firstTs = ts;
    }
    // Line by line, converting only what belongs to the head: a push may hold many messages and bodies.
    const limit = Math.min(bytes.length, pos + this.maxHeadBytes - this.text.length);
    while (pos < limit) {
      const nl = bytes.subarray(pos, limit).indexOf(LF);
      const end = nl === -1 ? limit : pos + nl + 1;
      const piece = bytes.toString("latin1", pos, end);
      const base = this.text.length;
      this.text += piece;
      pos = end;
      if (this.start === null && base < 8 && !couldStartLine(this.kind, this.text.slice(0, 8))) return this.bad(this.text, 1, pos);
      if (nl === -1) {
        this.partial += piece;
        break;
      }
      const lineStart = this.lineStart;
      this.lineStart = this.text.length;
      const verdict = this.line(stripCr((this.partial + piece).slice(0, -1)));
      this.partial = "";
      if (verdict === "more") continue;
      // A bad field line may be the start of the next message (the previous one was cut): re-read from it.
      if (verdict === "bad") return this.bad(this.text, Math.max(1, lineStart), pos);
      const done = { text: this.text, pos, start: this.start!, headers: this.headers, firstTs: this.firstTs, lastTs: ts };
      this.reset();
      return { result: "done", ...done };
    }
    if (this.start === null && this.text.length > MAX_LINE) return this.bad(this.text, 1, pos);
    if (this.text.length >= this.maxHeadBytes) {
      this.reset();
      return { result: "too-big", pos };
    }
    return { result: "more", pos };
  }

  /**
   * What an unfinished head holds, for a message that will never complete (the capture lost the rest of the head,
   * the connection ended, the peer answered first): its start line (complete, or a start-line prefix long enough to
   * name the method and some target, or the status) and the field lines completed so far. Null when not even that
   * was read. The reader is left as it was; callers reset it.
   */
  unfinished(): { text: string; start: StartLine; headers: HttpHeaderList; firstTs: bigint } | null {
    if (this.text === "") return null;
    const start = this.start ?? partialStartLine(this.kind, stripCr(this.partial));
    if (start === null) return null;
    return { text: this.text, start, headers: this.headers, firstTs: this.firstTs };
  }

  private line(line: string): "more" | "end" | "bad" {
    if (this.start === null) {
      this.start = parseStartLine(this.kind, line);
      return this.start === null ? "bad" : "more";
    }
    if (line === "") return "end";
    return addFieldLine(this.headers, line) ? "more" : "bad";
  }

  private bad(held: string, from: number, pos: number): HeadStep {
    this.reset();
    return { result: "bad", held, from, pos };
  }
}

/** A request line cut inside its target keeps the part captured; a status line cut after its code keeps the code. */
const PARTIAL_REQUEST_LINE = /^([A-Z][A-Z_-]{0,31}) ([\x21-\x7e\x80-\xff]+)(?: (HTTP\/1\.[0-9]?)?)?$/;
const PARTIAL_STATUS_LINE = /^(HTTP\/1\.[0-9]) ([1-9][0-9]{2})(?: ([^\r\n]*))?$/;

/** The start line a cut-off first line begins, or null (see HeadReader.unfinished). */
function partialStartLine(kind: MessageKind, line: string): StartLine | null {
  if (kind === "request") {
    const m = PARTIAL_REQUEST_LINE.exec(line);
    return m ? { kind, method: m[1]!, target: m[2]!, version: m[3]?.length === 8 ? m[3] : "" } : null;
  }
  const m = PARTIAL_STATUS_LINE.exec(line);
  return m ? { kind, version: m[1]!, status: Number(m[2]), reason: m[3] ?? "" } : null;
}

export function stripCr(line: string): string {
  return line.endsWith("\r") ? line.slice(0, -1) : line;
}
