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
}

type State = "head" | "body" | "resync" | "opaque" | "ended";

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
  private readonly counters: ParserStats = { messages: 0, errors: 0, resyncs: 0, droppedPartial: 0 };

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
    while (pos < buf.length) {
      pos = this.step(buf, pos, tsNs);
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
    if (this.state === "body") {
      const { used, outcome } = this.body!.gap(n, tsNs);
      if (outcome === "more") return;
      this.complete();
      if (outcome === "complete" && used === n) return;
      // The rest fell on framing: where the next message starts is unknown.
      this.enterResync("");
    } else if (this.state === "head") {
      if (this.head.started) this.counters.droppedPartial++;
      this.enterResync("");
    } else if (this.state === "resync") {
      this.search.reset(); // a start line cannot span lost bytes
    }
  }

  /** The connection closed: a close-delimited body is complete; anything else unfinished is dropped. */
  end(_tsNs: bigint): void {
    if (this.state === "body" && this.body!.completeAtClose) this.complete();
    else this.dropPartial();
    this.state = "ended";
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
    if (this.body !== null || (this.state === "head" && this.head.started)) this.counters.droppedPartial++;
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
