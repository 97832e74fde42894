// An incremental HTTP/1.x parser for one direction of one connection. Bytes arrive as captured: split anywhere,
// several messages per push, with holes where the capture limit cut a syscall short. It never throws: what it
// cannot parse is counted, and it looks for the next plausible message start.
import { BodyReader } from "./body-reader.ts";
import { requestFraming, responseFraming, switchesProtocol } from "./framing.ts";
import type { BodyFraming } from "./framing.ts";
import { HeadReader } from "./head-reader.ts";
import type { HeadStep } from "./head-reader.ts";
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
   * Unfinished messages kept as they were, marked truncated: a body that never came (the peer answered first, the
   * connection ended or was reset), a head cut by the capture limit or by the end of the connection.
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

  constructor(kind: MessageKind, opts: ParserOptions = {}) {
    this.kind = kind;
    this.maxHeadBytes = Math.max(16, opts.maxHeadBytes ?? 65536);
    this.limits = { maxBodyBytes: Math.max(0, opts.maxBodyBytes ?? 65536), maxRawBytes: Math.max(0, opts.maxRawBytes ?? 4096) };
    this.onRequestHead = opts.onRequestHead;
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
      if (!this.finishUnfinishedHead(tsNs) && this.head.started) this.counters.droppedPartial++;
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
    if (this.state === "head" && this.finishUnfinishedHead(tsNs)) {
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
        }
        return step.pos;
      }
      case "opaque":
      case "ended":
        return bytes.length;
    }
  }

  private readHead(bytes: Buffer, pos: number, ts: bigint): number {
    const step = this.head.read(bytes, pos, ts);
    switch (step.result) {
      case "more":
        return step.pos;
      case "bad":
        return this.fail(step.held, step.from, step.pos);
      case "too-big":
        // Skipped whole rather than re-read: 64 KiB of field lines hold no message start worth finding.
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
    if (framing === null) return this.fail(head.text, 1, pos);
    if (start.kind === "request") this.onRequestHead?.(start.method);
    const msg = new MessageBuilder(start, headers, head.text, head.firstTs, head.lastTs, this.limits);
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
      return pos;
    }
    const step = this.body!.read(bytes, pos, ts);
    if (step.outcome === "more") return step.pos;
    this.body = null;
    this.state = "head";
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
    return this.state === "head" && this.finishUnfinishedHead(tsNs);
  }

  /** An unfinished head with at least a start line (or its useful prefix) becomes a truncated message. */
  private finishUnfinishedHead(tsNs: bigint): boolean {
    const partial = this.head.unfinished();
    if (partial === null) return false;
    this.head.reset();
    const { start, headers, text, firstTs } = partial;
    if (start.kind === "request") this.onRequestHead?.(start.method);
    else if (start.status >= 200 || start.status === 101) this.methods.shift();
    const msg = new MessageBuilder(start, headers, text, firstTs, tsNs, this.limits);
    msg.markTruncated();
    this.done.push(msg.finish());
    this.counters.messages++;
    this.counters.incomplete++;
    return true;
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
