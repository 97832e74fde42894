// After lost or unparsable bytes: looks for the next plausible start line in later bytes, across pushes.
import { MAX_LINE, findStartLine } from "./start-line.ts";
import type { MessageKind } from "./start-line.ts";

export type SearchStep =
  /** No start line up to `pos`. */
  | { found: false; pos: number }
  /** A message starts at `pos`, or, when `carry` is set, inside earlier text: read `carry` before bytes[pos..]. */
  | { found: true; pos: number; carry: Buffer | null };

/** Every request and status line holds this. */
const MARK = Buffer.from("HTTP/1.", "latin1");
const LF = 0x0a;

export class StartLineSearch {
  private readonly kind: MessageKind;
  /** Text just before the next bytes (the end of earlier pushes), which may hold the beginning of a start line. */
  private text = "";

  constructor(kind: MessageKind) {
    this.kind = kind;
  }

  /** Starts a search; `seed` is text that comes right before the next bytes. */
  reset(seed = ""): void {
    this.text = seed;
  }

  scan(bytes: Buffer, pos: number): SearchStep {
    const len = bytes.length;
    const old = this.text;
    this.text = "";
    if (old !== "") {
      // A start line begun in earlier text ends within MAX_LINE more bytes.
      const end = Math.min(len, pos + MAX_LINE);
      const text = old + bytes.toString("latin1", pos, end);
      const at = findStartLine(this.kind, text);
      if (at >= old.length) return { found: true, pos: pos + at - old.length, carry: null };
      if (at >= 0) return { found: true, pos, carry: Buffer.from(old.slice(at), "latin1") };
      if (end === len) {
        this.text = text.slice(-MAX_LINE);
        return { found: false, pos: len };
      }
    }
    // Find the mark natively and read only the line around it: garbage costs no text conversion, and many
    // failed starts in one push each cost a line, not a window.
    for (let h = bytes.indexOf(MARK, pos); h !== -1; h = bytes.indexOf(MARK, h + 1)) {
      const after = bytes.subarray(h, Math.min(len, h + MAX_LINE)).indexOf(LF);
      if (after === -1 && h + MAX_LINE >= len) break; // may still complete in the next push: kept below
      if (after === -1) continue; // too long to be a start line
      let lo = h;
      if (this.kind === "request") {
        const from = Math.max(pos, h - MAX_LINE);
        lo = from + bytes.subarray(from, h).lastIndexOf(LF) + 1;
      }
      const at = findStartLine(this.kind, bytes.toString("latin1", lo, h + after + 1));
      if (at >= 0) return { found: true, pos: lo + at, carry: null };
    }
    // Start lines are shorter than MAX_LINE, so the tail is all that can still become one.
    this.text = bytes.toString("latin1", Math.max(pos, len - MAX_LINE), len);
    return { found: false, pos: len };
  }
}
