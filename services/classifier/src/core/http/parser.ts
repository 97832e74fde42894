// An incremental HTTP/1.x parser for one direction of one connection. Bytes arrive as captured: split anywhere,
// several messages per push, with holes where the capture limit cut a syscall short. It never throws: what it
// cannot parse is counted, and it looks for the next plausible message start.
import { BodyReader } from "./body-reader.ts";
import { requestFraming, responseFraming, switchesProtocol } from "./framing.ts";
import type { BodyFraming } from "./framing.ts";
import { HeadReader } from "./head-reader.ts";
import type { HeadStep, KeptHead } from "./head-reader.ts";
import { MessageBuilder } from "./message.ts";
import type { MessageLimits, ParsedMessage } from "./message.ts";
import { StartLineSearch } from "./start-search.ts";
import { looksLikeHttpRequest, looksLikeHttpResponse } from "./start-line.ts";
import type { MessageKind } from "./start-line.ts";

export { getHeader, getHeaderValues } from "./headers.ts";
export type { HttpHeaderList } from "./headers.ts";
export type { ParsedMessage, ParsedRequest, ParsedResponse } from "./message.ts";
export type { MessageKind } from "./start-line.ts";

export interface ParserOptions {
  /** Body bytes kept per message (default 64 KiB); bodySize still counts all of them. */
  maxBodyBytes?: number;
  /** Bytes of each message kept as `raw` (default 4 KiB). */
  maxRawBytes?: number;
  /** A longer head is an error (default 64 KiB). */
  maxHeadBytes?: number;
  /** Called when a request head is complete (before its body), so the response side learns the method in time. */
  onRequestHead?: (method: string) => void;
  /**
   * The first bytes pushed begin a message (the connection is seen from its start; default true). Where a request
   * is known to begin, a first line that is not a request line is kept as a refused request (`refused`), not just
   * skipped. False for a connection first seen mid-life, whose first bytes may be the tail of anything.
   */
  fromStart?: boolean;
}

export interface ParserStats {
  /** Messages completed (take() has returned or will return them). */
  messages: number;
  /** Bytes that could not be parsed as HTTP; each one starts a resync. */
  errors: number;
  /** Searches for the next message start: after an error, or after bytes lost in a head or framing line. */
  resyncs: number;
  /** Unfinished messages given up: by a gap inside a head, at the end of the connection, or on a protocol switch. */
  droppedPartial: number;
  /**
   * Unfinished or refused messages kept as they were, marked truncated: a body that never came (the peer answered
   * first, the connection ended or was reset), a head cut by the capture limit or by the end of the connection, a
   * head over maxHeadBytes, a start line over MAX_LINE (target cut), a head with a bad field line or no valid
   * framing, a request line the parser refused (`refused`).
   */
  incomplete: number;
}

/** `skip`: the rest of a body whose message was already finished early, read only to keep the framing. */
type State = "head" | "body" | "skip" | "resync" | "opaque" | "ended";

/** Methods still awaiting a response beyond this many are forgotten (their responses were lost). */
const MAX_PENDING_METHODS = 1024;

export class HttpMessageParser {
  readonly kind: MessageKind;
  private readonly maxHeadBytes: number;
  private readonly limits: MessageLimits;
  private readonly onRequestHead: ((method: string) => void) | undefined;
  private state: State = "head";
  private readonly head: HeadReader;
  private body: BodyReader | null = null;
  private readonly search: StartLineSearch;
  /** Resync found a start in earlier pushes' text: these bytes are read again ahead of the rest of the push. */
  private carry: Buffer | null = null;
  /** Methods of the requests awaiting a response, oldest first (response parser only). */
  private readonly methods: string[] = [];
  private done: ParsedMessage[] = [];
  private readonly counters: ParserStats = { messages: 0, errors: 0, resyncs: 0, droppedPartial: 0, incomplete: 0 };
  /** The next step reads the first byte of a push (a new write of the peer). */
  private atPushStart = false;
  /** A head read now begins where a message is known to start (see ParserOptions.fromStart). */
  private atMessageStart: boolean;

  constructor(kind: MessageKind, opts: ParserOptions = {}) {
    this.kind = kind;
    this.maxHeadBytes = Math.max(16, opts.maxHeadBytes ?? 65536);
    this.limits = { maxBodyBytes: Math.max(0, opts.maxBodyBytes ?? 65536), maxRawBytes: Math.max(0, opts.maxRawBytes ?? 4096) };
    this.onRequestHead = opts.onRequestHead;
    this.atMessageStart = opts.fromStart ?? true;
    this.head = new HeadReader(kind, this.maxHeadBytes);
    this.search = new StartLineSearch(kind);
  }

  push(bytes: Buffer, tsNs: bigint): void {
    let buf = bytes;
    let pos = 0;
    this.atPushStart = true;
    while (pos < buf.length) {
      pos = this.step(buf, pos, tsNs);
      this.atPushStart = false;
      if (this.carry !== null) {
        buf = Buffer.concat([this.carry, buf.subarray(pos)]);
        this.carry = null;
        pos = 0;
      }
    }
  }

  /** `n` bytes of the stream were not captured. */
  gap(n: number, tsNs: bigint): void {
    if (!(Number.isFinite(n) && n > 0)) return;
    if (this.state === "body" || this.state === "skip") {
      const skipping = this.state === "skip";
      const { used, outcome } = this.body!.gap(n, tsNs);
      if (outcome === "more") return;
      if (skipping) this.body = null;
      else this.complete();
      this.state = "head";
      if (outcome === "complete" && used === n) return;
      // The rest fell on framing: where the next message starts is unknown.
      this.enterResync("");
    } else if (this.state === "head") {
      // A head longer than the capture limit: kept with what was captured (start line, complete fields), truncated.
      if (!this.finishUnfinishedHead(tsNs, true) && this.head.started) this.counters.droppedPartial++;
      this.enterResync("");
    } else if (this.state === "resync") {
      this.search.reset(); // a start line cannot span lost bytes
    }
  }

  /**
   * The connection closed: a close-delimited body is complete; a message cut short (a body that never came, a
   * reset, a head that stopped after its start line) is kept as it was, marked truncated; bytes that never formed
   * a start line are dropped.
   */
  end(tsNs: bigint): void {
    if (this.state === "body" && this.body!.completeAtClose) this.complete();
    else if (!this.finishUnfinished(tsNs)) this.dropPartial();
    this.body = null;
    this.state = "ended";
  }

  /**
   * Capture time of the first byte of the message being read (head begun with its start line, or body), or null
   * when none is in progress. Lets the other direction tell whether an answer came while this one was unfinished.
   */
  unfinishedSince(): bigint | null {
    if (this.state === "body") return this.body!.msg.startedAt;
    if (this.state === "head") return this.head.unfinished()?.firstTs ?? null;
    return null;
  }

  /**
   * The peer answered while this message was unfinished (a 413/417/401 to an `Expect: 100-continue` request whose
   * body is then never sent, an error before the upload ended, a 431 before the head ended): the message is
   * finished now as it is, marked truncated, so it can be paired. The rest of a framed body, if it still comes, is
   * read and discarded (its framing kept) unless a new write starts with a request line instead; after a cut head,
   * the next start line is searched. Returns whether a message was finished.
   */
  finishEarly(tsNs: bigint): boolean {
    if (this.state === "body") {
      const msg = this.body!.detach();
      msg.markTruncated();
      this.done.push(msg.finish());
      this.counters.messages++;
      this.counters.incomplete++;
      this.state = "skip";
      return true;
    }
    if (this.state === "head" && this.finishUnfinishedHead(tsNs, true)) {
      this.enterResync("");
      return true;
    }
    return false;
  }

  /** Completed messages since the last call, in stream order. */
  take(): ParsedMessage[] {
    const out = this.done;
    this.done = [];
    return out;
  }

  stats(): ParserStats {
    return { ...this.counters };
  }

  /** Response parser: the method of the next request on this connection (HEAD and CONNECT responses differ). */
  expectResponseTo(method: string): void {
    this.methods.push(method);
    if (this.methods.length > MAX_PENDING_METHODS) this.methods.shift();
  }

  /** The connection now carries another protocol (the other direction saw 101 or a CONNECT tunnel). */
  switchToOpaque(): void {
    if (this.state === "ended") return;
    this.dropPartial();
    this.state = "opaque";
  }

  /** Parsing stopped for good: the connection switched protocols. */
  get isOpaque(): boolean {
    return this.state === "opaque";
  }

  private step(bytes: Buffer, pos: number, ts: bigint): number {
    switch (this.state) {
      case "head":
        return this.readHead(bytes, pos, ts);
      case "body":
        return this.readBody(bytes, pos, ts);
      case "skip":
        return this.skipBody(bytes, pos, ts);
      case "resync": {
        const step = this.search.scan(bytes, pos);
        if (step.found) {
          this.state = "head";
          this.carry = step.carry;
          this.atMessageStart = true;
        }
        return step.pos;
      }
      case "opaque":
      case "ended":
        return bytes.length;
    }
  }

  private readHead(bytes: Buffer, pos: number, ts: bigint): number {
    const step = this.head.read(bytes, pos, ts, this.atMessageStart);
    switch (step.result) {
      case "more":
        return step.pos;
      case "bad":
        // What the head held before the bad line (or the refused line itself) is kept, truncated.
        if (step.kept !== null) this.keep(step.kept, ts);
        return this.fail(step.held, step.from, step.pos);
      case "too-big":
        // Kept with its start line and complete field lines, like a head cut by the capture limit; the rest is
        // skipped rather than re-read: 64 KiB of field lines hold no message start worth finding.
        if (step.kept !== null) this.keep(step.kept, ts);
        this.counters.errors++;
        this.enterResync("");
        return step.pos;
      case "done":
        return this.startBody(step);
    }
  }

  private startBody(head: HeadStep & { result: "done" }): number {
    const { start, headers, pos } = head;
    let framing: BodyFraming | null;
    let opaqueAfter = false;
    if (start.kind === "request") {
      framing = requestFraming(headers);
    } else {
      // Interim (1xx) responses come before the final one to the same request; 101 is final for it.
      const interim = start.status < 200 && start.status !== 101;
      const method = interim ? this.methods[0] : this.methods.shift();
      framing = responseFraming(start.status, method, headers);
      opaqueAfter = switchesProtocol(start.status, method);
    }
    if (framing === null) {
      // No valid framing (a bad Content-Length, a transfer coding other than chunked last): the head is kept,
      // truncated, and the next message searched after it (its body, if any, cannot be delimited).
      if (start.kind === "request") this.onRequestHead?.(start.method);
      const kept = new MessageBuilder(start, headers, head.text, head.firstTs, head.lastTs, this.limits);
      kept.markTruncated();
      this.done.push(kept.finish());
      this.counters.messages++;
      this.counters.incomplete++;
      return this.fail("", 0, pos);
    }
    if (start.kind === "request") this.onRequestHead?.(start.method);
    const msg = new MessageBuilder(start, headers, head.text, head.firstTs, head.lastTs, this.limits);
    if (head.truncated) {
      // A start line over MAX_LINE: its target is cut at TARGET_LIMIT.
      msg.markTruncated();
      this.counters.incomplete++;
    }
    if (framing.mode !== "none") {
      this.body = new BodyReader(msg, framing, this.maxHeadBytes);
      this.state = "body";
      return pos;
    }
    this.finish(msg);
    if (opaqueAfter) this.state = "opaque";
    return pos;
  }

  private readBody(bytes: Buffer, pos: number, ts: bigint): number {
    const step = this.body!.read(bytes, pos, ts);
    if (step.outcome === "more") return step.pos;
    this.complete();
    // A broken body keeps its good head: the message is kept, cut short, and the bad line is searched.
    return step.outcome === "error" ? this.fail(step.held, 0, step.pos) : step.pos;
  }

  private skipBody(bytes: Buffer, pos: number, ts: bigint): number {
    // The peer gave up on the body (it was answered early) and wrote its next message instead.
    if (this.atPushStart && (this.kind === "request" ? looksLikeHttpRequest(bytes.subarray(pos)) : looksLikeHttpResponse(bytes.subarray(pos)))) {
      this.body = null;
      this.state = "head";
      this.atMessageStart = true;
      return pos;
    }
    const step = this.body!.read(bytes, pos, ts);
    if (step.outcome === "more") return step.pos;
    this.body = null;
    this.state = "head";
    this.atMessageStart = true;
    return step.outcome === "error" ? this.fail(step.held, 0, step.pos) : step.pos;
  }

  /** Finishes the message in progress as it is (see end()); false when there was none worth keeping. */
  private finishUnfinished(tsNs: bigint): boolean {
    if (this.state === "body") {
      const msg = this.body!.msg;
      msg.markTruncated();
      this.done.push(msg.finish());
      this.counters.messages++;
      this.counters.incomplete++;
      this.body = null;
      return true;
    }
    // At the end no answer can come any more: a refused line is not kept then.
    return this.state === "head" && this.finishUnfinishedHead(tsNs, false);
  }

  /**
   * An unfinished head with at least a start line (or its useful prefix) becomes a truncated message; `refused`:
   * so does a first line that is not a request line, where a request was known to begin (see KeptHead).
   */
  private finishUnfinishedHead(tsNs: bigint, refused: boolean): boolean {
    const partial = this.head.unfinished(refused);
    if (partial === null) return false;
    this.head.reset();
    this.keep(partial, tsNs);
    return true;
  }

  /**
   * A head that did not complete normally (see KeptHead) becomes a truncated message. The response side learns a
   * request's method; a refused request's is not a method the server knew, so it is not passed on (the server
   * frames its answer as for any request).
   */
  private keep(kept: KeptHead, tsNs: bigint): void {
    const { start, headers, text, firstTs, refused } = kept;
    if (start.kind === "request") {
      if (!refused) this.onRequestHead?.(start.method);
    } else if (start.status >= 200 || start.status === 101) this.methods.shift();
    const msg = new MessageBuilder(start, headers, text, firstTs, tsNs < firstTs ? firstTs : tsNs, this.limits);
    msg.markTruncated();
    if (refused) msg.markRefused();
    this.done.push(msg.finish());
    this.counters.messages++;
    this.counters.incomplete++;
  }

  /**
   * Counts an error and looks for a message again from `held[from]`, where `held` is text read so far that ends
   * at `pos` in `bytes`. What lies in earlier pushes is handed to the search as text; the rest is re-read in place.
   */
  private fail(held: string, from: number, pos: number): number {
    this.counters.errors++;
    const back = Math.max(0, held.length - from);
    if (back <= pos) {
      this.enterResync("");
      return pos - back;
    }
    this.enterResync(held.slice(from, held.length - pos));
    return 0;
  }

  private complete(): void {
    this.finish(this.body!.msg);
  }

  private finish(msg: MessageBuilder): void {
    this.done.push(msg.finish());
    this.counters.messages++;
    this.body = null;
    this.state = "head";
    this.atMessageStart = true;
  }

  private dropPartial(): void {
    if ((this.body !== null && this.state !== "skip") || (this.state === "head" && this.head.started)) this.counters.droppedPartial++;
    this.body = null;
    this.head.reset();
  }

  private enterResync(seed: string): void {
    this.counters.resyncs++;
    this.state = "resync";
    this.search.reset(seed);
    this.body = null;
    this.head.reset();
  }
}
