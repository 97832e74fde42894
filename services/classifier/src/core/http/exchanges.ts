// Pairs the requests and responses of one connection as seen by one process into exchanges: in order
// (keep-alive and pipelining), interim 1xx responses skipped, a request unanswered at close kept alone, a request
// answered before it was whole (early 4xx, refused 100-continue) or cut by a reset kept truncated and paired, and
// bytes the request parser refused or could not hold (a bad request line, a line or head over the limits) kept
// with what was read, truncated, paired with the server's answer.
import { HttpMessageParser } from "./parser.ts";
import type { ParsedRequest, ParsedResponse, ParserOptions, ParserStats } from "./parser.ts";
import { RequestDirectionDetector } from "./side-detect.ts";
import type { Direction } from "./side-detect.ts";

export { looksLikeHttpRequest, looksLikeHttpResponse } from "./start-line.ts";
export type { Direction } from "./side-detect.ts";

/** client: this process connected (it sends requests); server: it accepted; unknown: first seen mid-life. */
export type ConnectionSide = "client" | "server" | "unknown";

export interface PairedExchange {
  /** 0, 1, 2... per connection. */
  seq: number;
  request: ParsedRequest;
  /** null: the connection closed before a response. */
  response: ParsedResponse | null;
  /** Response first byte minus request last byte; null without a response. */
  latencyNs: bigint | null;
}

export interface ConnectionStats {
  requests: ParserStats;
  responses: ParserStats;
  /** Responses with no request to pair with (the capture started after their request). */
  unmatchedResponses: number;
  /** Refused request lines (ParsedRequest.refused) dropped: no response answered them. */
  refusedUnanswered: number;
}

export class HttpConnection {
  readonly side: ConnectionSide;
  private requestDirection: Direction | null;
  private detector: RequestDirectionDetector | null;
  private readonly requestParser: HttpMessageParser;
  private readonly responseParser: HttpMessageParser;
  private readonly requests: ParsedRequest[] = [];
  private readonly responses: ParsedResponse[] = [];
  private ready: PairedExchange[] = [];
  private seq = 0;
  private closed = false;
  private unmatchedResponses = 0;
  private refusedUnanswered = 0;

  constructor(side: ConnectionSide, opts: Omit<ParserOptions, "onRequestHead" | "fromStart"> = {}) {
    this.side = side;
    this.responseParser = new HttpMessageParser("response", opts);
    const onRequestHead = (method: string): void => this.responseParser.expectResponseTo(method);
    // A connection first seen mid-life (side unknown) may begin inside anything: nothing there is a refused request.
    this.requestParser = new HttpMessageParser("request", { ...opts, onRequestHead, fromStart: side !== "unknown" });
    this.requestDirection = side === "client" ? "egress" : side === "server" ? "ingress" : null;
    this.detector = side === "unknown" ? new RequestDirectionDetector() : null;
  }

  /** `gapBytes`: bytes of this direction lost right after `payload` (the capture cut the syscall short). */
  onData(direction: Direction, payload: Buffer, tsNs: bigint, gapBytes = 0): void {
    if (this.closed) return;
    if (this.detector !== null) {
      const found = this.detector.offer({ direction, payload, tsNs, gapBytes });
      if (found === null) return;
      this.requestDirection = found;
      const held = this.detector.drain();
      this.detector = null;
      for (const h of held) this.feed(h.direction, h.payload, h.tsNs, h.gapBytes);
      return;
    }
    this.feed(direction, payload, tsNs, gapBytes);
  }

  onClose(tsNs: bigint): void {
    if (this.closed) return;
    this.closed = true;
    this.detector = null;
    this.requestParser.end(tsNs);
    this.responseParser.end(tsNs);
    this.collect();
    for (const request of this.requests) {
      // Refused bytes are a request only if the server answered them.
      if (request.refused) this.refusedUnanswered++;
      else this.ready.push({ seq: this.seq++, request, response: null, latencyNs: null });
    }
    this.requests.length = 0;
    this.unmatchedResponses += this.responses.length;
    this.responses.length = 0;
  }

  /** Exchanges completed since the last call, in order. */
  take(): PairedExchange[] {
    const out = this.ready;
    this.ready = [];
    return out;
  }

  /** The connection switched protocols (101, CONNECT tunnel): no more HTTP on it. */
  get isOpaque(): boolean {
    return this.responseParser.isOpaque;
  }

  stats(): ConnectionStats {
    return {
      requests: this.requestParser.stats(),
      responses: this.responseParser.stats(),
      unmatchedResponses: this.unmatchedResponses,
      refusedUnanswered: this.refusedUnanswered,
    };
  }

  private feed(direction: Direction, payload: Buffer, tsNs: bigint, gapBytes: number): void {
    const parser = direction === this.requestDirection ? this.requestParser : this.responseParser;
    if (payload.length > 0) parser.push(payload, tsNs);
    if (gapBytes > 0) parser.gap(gapBytes, tsNs);
    this.collect();
  }

  private collect(): void {
    for (const m of this.requestParser.take()) if (m.kind === "request") this.requests.push(m);
    for (const m of this.responseParser.take()) {
      // Interim responses (100 Continue, 103 Early Hints) precede the real one; 101 is the answer to an upgrade.
      if (m.kind === "response" && (m.status >= 200 || m.status === 101)) this.responses.push(m);
    }
    this.pair();
    this.finishAnsweredRequest();
    if (this.responseParser.isOpaque) this.requestParser.switchToOpaque();
    this.pair();
  }

  /**
   * A final response with no complete request left to answer, while a request is still being received: the server
   * answered before the request ended (413/417/401 to `Expect: 100-continue`, after which the body never comes; an
   * error mid-upload; 431 to a head too long). That request is finished as it is (truncated) so the two pair; waiting
   * for a body that may never come would lose both.
   */
  private finishAnsweredRequest(): void {
    const answer = this.responses[this.requests.length];
    if (answer === undefined) return;
    const since = this.requestParser.unfinishedSince();
    if (since === null || since > answer.firstTs) return;
    if (!this.requestParser.finishEarly(answer.firstTs)) return;
    for (const m of this.requestParser.take()) if (m.kind === "request") this.requests.push(m);
  }

  /** Did the client begin another request (queued, or still being read) at or before `tsNs`? */
  private nextRequestBy(tsNs: bigint): boolean {
    const since = this.requests[1]?.firstTs ?? this.requestParser.unfinishedSince();
    return since !== null && since <= tsNs;
  }

  private pair(): void {
    while (this.requests.length > 0 && this.responses.length > 0) {
      const request = this.requests[0]!;
      const response = this.responses[0]!;
      // A response begun before its request answers one the capture never saw (it started mid-exchange).
      if (response.firstTs < request.firstTs) {
        this.responses.shift();
        this.unmatchedResponses++;
        continue;
      }
      // Refused bytes answered before the client began another request were a request to the server (a 400 to a
      // bad request line, a 200 to a target over the limit). When another request had begun first (a PROXY
      // protocol line, bytes of a body the server read as such), the response is that request's.
      if (request.refused === true && this.nextRequestBy(response.firstTs)) {
        this.requests.shift();
        this.refusedUnanswered++;
        continue;
      }
      this.responses.shift();
      this.requests.shift();
      this.ready.push({ seq: this.seq++, request, response, latencyNs: response.firstTs - request.lastTs });
    }
  }
}
