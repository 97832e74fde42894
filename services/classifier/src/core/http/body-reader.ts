// Reads one message body as its bytes arrive: Content-Length, chunked (extensions and trailers allowed), or
// until the connection closes; and skips what the capture lost where the framing allows it.
import type { BodyFraming } from "./framing.ts";
import { parseChunkSize } from "./framing.ts";
import { stripCr } from "./head-reader.ts";
import { addFieldLine } from "./headers.ts";
import type { MessageBuilder } from "./message.ts";
import { MAX_LINE } from "./start-line.ts";

export type BodyStep =
  | { pos: number; outcome: "more" | "complete" }
  /** The body's framing is broken; `held` is the offending line, ending at `pos` (it may start the next message). */
  | { pos: number; outcome: "error"; held: string };

/** How a gap ended for the body: it goes on, it ended inside the gap, or its framing is lost. */
export type GapOutcome = { used: number; outcome: "more" | "complete" | "lost" };

type BodyState = "length" | "chunk-size" | "chunk-data" | "chunk-end" | "trailers" | "close";

const LF = 0x0a;

export class BodyReader {
  #msg: MessageBuilder;
  private readonly maxTrailerBytes: number;
  private state: BodyState;
  /** Bytes left in a Content-Length body or in the current chunk. */
  private remaining = 0;
  /** A partial framing line (chunk size, chunk end, trailer) and the trailer section's size so far. */
  private line = "";
  private trailerBytes = 0;

  constructor(msg: MessageBuilder, framing: Exclude<BodyFraming, { mode: "none" }>, maxTrailerBytes: number) {
    this.#msg = msg;
    this.maxTrailerBytes = maxTrailerBytes;
    this.state = framing.mode === "length" ? "length" : framing.mode === "chunked" ? "chunk-size" : "close";
    if (framing.mode === "length") this.remaining = framing.length;
  }

  /** The message being read. */
  get msg(): MessageBuilder {
    return this.#msg;
  }

  /**
   * Keeps reading the framing (Content-Length count, chunk sizes) but no longer into the message, which its
   * owner finished early (a response came before the body was complete). Returns that message's builder.
   */
  detach(): MessageBuilder {
    const msg = this.#msg;
    this.#msg = msg.discarding();
    return msg;
  }

  /** The body is whole when the connection closes here (close-delimited, or only the trailers missing). */
  get completeAtClose(): boolean {
    return this.state === "close" || this.state === "trailers";
  }

  read(bytes: Buffer, pos: number, ts: bigint): BodyStep {
    this.msg.touch(ts);
    if (this.state === "length" || this.state === "chunk-data" || this.state === "close") {
      const n = this.state === "close" ? bytes.length - pos : Math.min(this.remaining, bytes.length - pos);
      const part = bytes.subarray(pos, pos + n);
      this.msg.addWire(part);
      this.msg.addBody(part);
      return { pos: pos + n, outcome: this.consumed(n) };
    }
    return this.readLine(bytes, pos);
  }

  gap(n: number, ts: bigint): GapOutcome {
    this.msg.touch(ts);
    if (this.state === "close") {
      this.msg.skipBody(n);
      return { used: n, outcome: "more" };
    }
    if (this.state === "length" || this.state === "chunk-data") {
      const k = Math.min(n, this.remaining);
      this.msg.skipBody(k);
      const outcome = this.consumed(k);
      if (k === n || outcome === "complete") return { used: k, outcome };
    }
    // Lost inside a framing line: where the body ends is unknown (after the last chunk, only trailers are lost).
    if (this.state !== "trailers") this.msg.markTruncated();
    return { used: n, outcome: "lost" };
  }

  private consumed(n: number): "more" | "complete" {
    if (this.state === "close") return "more";
    this.remaining -= n;
    if (this.remaining > 0) return "more";
    if (this.state === "length") return "complete";
    this.state = "chunk-end";
    return "more";
  }

  private readLine(bytes: Buffer, pos: number): BodyStep {
    // Never read further than the longest line allowed: what follows a bad one may be the next message.
    const limit = Math.min(bytes.length, pos + MAX_LINE + 1 - this.line.length);
    const found = bytes.subarray(pos, limit).indexOf(LF);
    const nl = found === -1 ? -1 : pos + found;
    const end = nl === -1 ? limit : nl + 1;
    const piece = bytes.toString("latin1", pos, end);
    this.line += piece;
    this.msg.addWire(piece);
    // Too long is an error whether or not the line is complete, so the verdict does not depend on how bytes split.
    if (this.line.length > MAX_LINE) return this.error(end);
    if (nl === -1) return { pos: end, outcome: "more" };
    const line = stripCr(this.line.slice(0, -1));
    if (this.state === "chunk-size") {
      const size = parseChunkSize(line);
      if (size === null) return this.error(end);
      this.state = size === 0 ? "trailers" : "chunk-data";
      this.remaining = size;
    } else if (this.state === "chunk-end") {
      if (line !== "") return this.error(end);
      this.state = "chunk-size";
    } else if (line === "") {
      return { pos: end, outcome: "complete" };
    } else {
      this.trailerBytes += this.line.length;
      if (this.trailerBytes > this.maxTrailerBytes || !addFieldLine(this.msg.trailerList, line)) return this.error(end);
    }
    this.line = "";
    return { pos: end, outcome: "more" };
  }

  private error(pos: number): BodyStep {
    this.msg.markTruncated();
    return { pos, outcome: "error", held: this.line };
  }
}
