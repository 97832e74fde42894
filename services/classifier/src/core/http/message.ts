// A parsed HTTP/1.x message, and the builder that collects one while its bytes arrive.
import type { HttpHeaderList } from "./headers.ts";
import type { RequestLine, StartLine, StatusLine } from "./start-line.ts";

interface MessageFields {
  /** As sent, e.g. "HTTP/1.1". */
  version: string;
  headers: HttpHeaderList;
  /** Trailer fields of a chunked body. */
  trailers: HttpHeaderList;
  /** Capture time of the push holding the first byte. */
  firstTs: bigint;
  /** Capture time of the push (or gap) holding the last byte. */
  lastTs: bigint;
  /** After transfer decoding (chunked), at most maxBodyBytes of it. */
  body: Buffer;
  /** True size after transfer decoding, lost bytes included. */
  bodySize: number;
  /** Some of the body is missing from `body`: lost in a gap, over maxBodyBytes, or cut by a framing error. */
  bodyTruncated: boolean;
  /** The first maxRawBytes bytes as received (head, then body bytes with their chunk framing), latin1. */
  raw: string;
  /** Bytes of the head as received (latin1 text: one character per byte), before any redaction of `raw`. */
  headSize: number;
}

export type ParsedRequest = MessageFields &
  Omit<RequestLine, "version"> & {
    /**
     * Set (true) when the parser refused the request line where a request was known to begin (a space in the
     * target, tab separators, an unknown version, bytes that are not HTTP): method and target are as far as they
     * could be read, and the bytes are an exchange only if the server answered them (HttpConnection).
     */
    refused?: true;
  };
export type ParsedResponse = MessageFields & Omit<StatusLine, "version">;
export type ParsedMessage = ParsedRequest | ParsedResponse;

export interface MessageLimits {
  maxBodyBytes: number;
  maxRawBytes: number;
}

export class MessageBuilder {
  private readonly start: StartLine;
  private readonly headers: HttpHeaderList;
  private readonly trailers: HttpHeaderList = [];
  private readonly limits: MessageLimits;
  private readonly firstTs: bigint;
  private lastTs: bigint;
  private raw = "";
  private readonly chunks: Buffer[] = [];
  private kept = 0;
  private size = 0;
  private truncated = false;
  private refused = false;
  private readonly headSize: number;

  constructor(start: StartLine, headers: HttpHeaderList, headText: string, firstTs: bigint, lastTs: bigint, limits: MessageLimits) {
    this.start = start;
    this.headers = headers;
    this.limits = limits;
    this.firstTs = firstTs;
    this.lastTs = lastTs;
    this.headSize = headText.length;
    this.addWire(headText);
  }

  /** Bytes as they were on the wire, for `raw`. */
  addWire(bytes: Buffer | string): void {
    const room = this.limits.maxRawBytes - this.raw.length;
    if (room <= 0) return;
    this.raw += typeof bytes === "string" ? bytes.slice(0, room) : bytes.toString("latin1", 0, Math.min(room, bytes.length));
  }

  /** Decoded body bytes; copied, since the caller's buffer may be reused. */
  addBody(bytes: Buffer): void {
    this.size += bytes.length;
    const room = this.limits.maxBodyBytes - this.kept;
    if (bytes.length > room) this.truncated = true;
    if (room <= 0 || bytes.length === 0) return;
    const part = Buffer.from(bytes.subarray(0, room));
    this.chunks.push(part);
    this.kept += part.length;
  }

  /** Body bytes that were not captured. */
  skipBody(n: number): void {
    this.size += n;
    this.truncated = true;
  }

  markTruncated(): void {
    this.truncated = true;
  }

  /** The request line was refused (see ParsedRequest.refused). */
  markRefused(): void {
    this.refused = true;
  }

  /** Where trailer fields go, as they are parsed. */
  get trailerList(): HttpHeaderList {
    return this.trailers;
  }

  /** Capture time of the message's first byte. */
  get startedAt(): bigint {
    return this.firstTs;
  }

  touch(tsNs: bigint): void {
    this.lastTs = tsNs;
  }

  /**
   * A builder that keeps nothing, for the rest of a body whose message was already finished (the peer answered
   * before it was all sent): its bytes are read only to stay in step with the framing.
   */
  discarding(): MessageBuilder {
    return new MessageBuilder(this.start, [], "", this.firstTs, this.lastTs, { maxBodyBytes: 0, maxRawBytes: 0 });
  }

  finish(): ParsedMessage {
    const fields: MessageFields = {
      version: this.start.version,
      headers: this.headers,
      trailers: this.trailers,
      firstTs: this.firstTs,
      lastTs: this.lastTs,
      body: this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks),
      bodySize: this.size,
      bodyTruncated: this.truncated,
      raw: this.raw,
      headSize: this.headSize,
    };
    if (this.start.kind === "request") {
      const { kind, method, target } = this.start;
      return this.refused ? { kind, method, target, ...fields, refused: true } : { kind, method, target, ...fields };
    }
    const { kind, status, reason } = this.start;
    return { kind, status, reason, ...fields };
  }
}
