// After lost or unparsable bytes: looks for the next plausible start line in later bytes, across pushes.
import { MAX_LINE, findStartLine } from "./start-line.ts";
import type { MessageKind } from "./start-line.ts";

/** Scans at most this much at once, so a large push of garbage costs linear time. */
const SCAN_WINDOW = 65536;

export type SearchStep =
  /** No start line up to `pos`. */
  | { found: false; pos: number }
  /** A message starts at `pos`, or, when `carry` is set, inside earlier text: read `carry` before bytes[pos..]. */
  | { found: true; pos: number; carry: Buffer | null };

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
    const end = Math.min(bytes.length, pos + SCAN_WINDOW);
    const old = this.text;
    const text = old + bytes.toString("latin1", pos, end);
    const at = findStartLine(this.kind, text);
    if (at >= 0) {
      this.text = "";
      if (at >= old.length) return { found: true, pos: pos + at - old.length, carry: null };
      return { found: true, pos, carry: Buffer.from(old.slice(at), "latin1") };
    }
    if (end === bytes.length) {
      // Start lines are shorter than MAX_LINE, so the tail is all that can still become one.
      this.text = text.slice(-MAX_LINE);
      return { found: false, pos: end };
    }
    // The next window overlaps this one, so a start line across the boundary is still found.
    this.text = "";
    return { found: false, pos: end - MAX_LINE };
  }
}
