// The classifier's core: raw socket records in, derived observations out. Pure and deterministic: the same
// records in the same per-connection order give the same observations, live or in a replay.
//
//   conn_open ─► state ─► data ─► detect (first bytes of each side, port) ─┬─ http ─► HttpConnection ─► HttpExchange
//                                                                           └─ other ─► ConnectionObservation (once)
//
// Every HttpExchange leaves redacted (headers, target, body, raw of both messages) by the policy it was given: the
// classifier's publish and replay both go through here, so ADI_DERIVED and a replay never hold what it hides.
import { isUtf8 } from "node:buffer";
import { inferSchemaKey, nsToIso } from "@adi/shared/wire";
import type { ConnectionObservation, Derived, Direction, Endpoint, HttpExchange, HttpRequest, HttpResponse, ConnRecord, DataRecord, RawRecord, Tuple } from "@adi/shared/wire";
import { RedactionPolicy } from "@adi/shared/redaction";
import { decodeBody } from "./http/body.ts";
import { HttpConnection } from "./http/exchanges.ts";
import type { ConnectionSide, PairedExchange } from "./http/exchanges.ts";
import type { ParsedRequest, ParsedResponse } from "./http/parser.ts";
import { assess, classifyConnection } from "./protocols/classify.ts";
import { FirstBytes } from "./protocols/first-bytes.ts";
import { rulesForPort } from "./protocols/rules.ts";

export interface EngineOptions {
  /** Connections tracked at once; the oldest is finished early beyond it (counted). */
  maxConnections?: number;
  /** Bytes held per connection while its protocol is undecided. */
  maxDetectBytes?: number;
  /**
   * Capture time (ns) a connection may stay undecided, counted on its own records: a connection whose one side
   * never speaks (a NATS subscriber seen mid-stream only receives MSG lines) is decided at its first record this
   * long after its first bytes, on what it has. Its own records, not a clock: live and replay decide alike.
   */
  maxDetectWaitNs?: bigint;
  /** Redaction of every exchange (RedactionPolicy.fromConfig in main); default: everything redacted. */
  redaction?: RedactionPolicy;
}

interface Held {
  direction: Direction;
  payload: Buffer;
  tsNs: bigint;
  gap: number;
}

interface ConnState {
  host: string;
  bootId: string;
  connId: bigint;
  pid: number;
  startTicks: number;
  side: ConnectionSide;
  /**
   * The side used to tell client bytes from server bytes when `side` is unknown: for UDP (no connection, no side
   * from the kernel) the end that sent first is the client; otherwise (a stream from an agent older than wire v2)
   * port heuristics.
   */
  assumedSide: "client" | "server";
  /** UDP with no side yet: the first datagram's direction decides. */
  sideFromFirstDatagram: boolean;
  tuple: Tuple;
  mode: "detect" | "http" | "done";
  held: Held[];
  heldBytes: number;
  /** Each direction's first bytes (its stream's prefix) while the protocol is undecided. */
  clientFirst: FirstBytes;
  serverFirst: FirstBytes;
  firstTs: bigint | null;
  http: HttpConnection | null;
  /** Raw stream position of the batch that created this state (`onRecords`' `pos`): where a warm-up must start. */
  firstPos: number | undefined;
}

export interface EngineStats {
  connections: number;
  exchanges: number;
  observations: number;
  evicted: number;
}

function knownServerPort(port: number): boolean {
  return rulesForPort(port).length > 0;
}

/** Which end a process is on when the kernel did not see the connection open. */
function assumeSide(t: Tuple): "client" | "server" {
  if (knownServerPort(t.lport) !== knownServerPort(t.rport)) return knownServerPort(t.lport) ? "server" : "client";
  return t.lport < t.rport ? "server" : "client";
}

/**
 * Bytes the syscall moved that this record's chunk stream does not carry: the capture limit (truncated), a read
 * failure, or a gap the kernel marked (sendfile/splice/io_uring bytes, an unreadable iovec).
 */
function gapAfter(r: DataRecord): number {
  if (r.readFailed) return r.lastChunk ? r.totalLen - r.offset : Math.min(16384, r.totalLen - r.offset);
  return r.lastChunk && (r.truncated || r.gap) ? Math.max(0, r.totalLen - (r.offset + r.payload.length)) : 0;
}

export class ClassifierEngine {
  readonly #conns = new Map<string, ConnState>();
  readonly #maxConnections: number;
  readonly #maxDetectBytes: number;
  readonly #maxDetectWaitNs: bigint;
  readonly #redaction: RedactionPolicy;
  readonly #stats: EngineStats = { connections: 0, exchanges: 0, observations: 0, evicted: 0 };
  /** The position of the batch being fed (`onRecords`). */
  #pos: number | undefined;

  constructor(opts: EngineOptions = {}) {
    this.#maxConnections = opts.maxConnections ?? 100_000;
    this.#maxDetectBytes = opts.maxDetectBytes ?? 64 * 1024;
    this.#maxDetectWaitNs = opts.maxDetectWaitNs ?? 5_000_000_000n;
    this.#redaction = opts.redaction ?? RedactionPolicy.DEFAULT;
  }

  /**
   * The lowest raw stream position (`onRecords`' `pos`) of any connection state held now, or undefined when none is
   * held (or positions were not given). Re-reading the partition from there through a fresh engine rebuilds every
   * state held now exactly (the engine is deterministic per connection): the classifier's restart warm-up. O(1):
   * states are kept in creation order, and positions do not decrease.
   */
  lowWater(): number | undefined {
    for (const s of this.#conns.values()) return s.firstPos;
    return undefined;
  }

  stats(): Readonly<EngineStats> {
    return { ...this.#stats };
  }

  /**
   * Feeds the records of one batch (from `host`, boot `bootId`); returns what they completed, in order. `pos` is
   * the batch's raw stream sequence: positions must not decrease from one call to the next (one engine per
   * partition, fed in stream order); states created by this batch remember it (`lowWater`).
   */
  onRecords(host: string, bootId: string, records: readonly RawRecord[], pos?: number): Derived[] {
    this.#pos = pos;
    const out: Derived[] = [];
    for (const r of records) {
      if (r.type === "conn_open") this.#open(host, bootId, r, out);
      else if (r.type === "data") this.#data(host, bootId, r, out);
      else if (r.type === "conn_close") this.#close(`${host}|${bootId}|${r.connId}`, r.tsNs, out);
    }
    return out;
  }

  #state(host: string, bootId: string, r: ConnRecord | DataRecord, side: ConnectionSide, out: Derived[]): ConnState {
    const s: ConnState = {
      host,
      bootId,
      connId: r.connId,
      pid: r.pid,
      startTicks: r.startTicks,
      side,
      assumedSide: side === "unknown" ? assumeSide(r.tuple) : side,
      sideFromFirstDatagram: side === "unknown" && r.tuple.protocol === "udp",
      tuple: r.tuple,
      mode: "detect",
      held: [],
      heldBytes: 0,
      clientFirst: new FirstBytes(),
      serverFirst: new FirstBytes(),
      firstTs: null,
      http: null,
      firstPos: this.#pos,
    };
    this.#conns.set(`${host}|${bootId}|${r.connId}`, s);
    this.#stats.connections++;
    if (this.#conns.size > this.#maxConnections) {
      const oldest = this.#conns.keys().next().value!;
      this.#stats.evicted++;
      this.#close(oldest, r.tsNs, out);
    }
    return s;
  }

  #open(host: string, bootId: string, r: ConnRecord, out: Derived[]): void {
    const key = `${host}|${bootId}|${r.connId}`;
    if (this.#conns.has(key)) this.#close(key, r.tsNs, out);
    this.#state(host, bootId, r, r.role === "client" ? "client" : r.role === "server" ? "server" : "unknown", out);
  }

  #data(host: string, bootId: string, r: DataRecord, out: Derived[]): void {
    const s = this.#conns.get(`${host}|${bootId}|${r.connId}`) ?? this.#state(host, bootId, r, "unknown", out);
    // Unconnected UDP: the peer of this datagram. A TCP connection keeps the tuple it was opened with (a socket
    // reset by its peer loses its local port; an older agent reported that as port 0).
    if (r.tuple.protocol === "udp" && r.tuple.rport !== 0) s.tuple = r.tuple;
    // The observer is the process that moves the bytes: a socket accepted by one process (inetd, a pre-fork
    // server's parent) or passed to another is used by that other one.
    if (r.pid !== s.pid || r.startTicks !== s.startTicks) {
      s.pid = r.pid;
      s.startTicks = r.startTicks;
    }
    const gap = gapAfter(r);
    if (s.mode === "http") {
      s.http!.onData(r.direction, r.payload, r.tsNs, gap);
      this.#collect(s, out);
      return;
    }
    if (s.mode === "done" || (r.payload.length === 0 && gap === 0)) return;
    if (s.sideFromFirstDatagram) {
      s.sideFromFirstDatagram = false;
      s.assumedSide = r.direction === "egress" ? "client" : "server";
    }
    s.firstTs ??= r.tsNs;
    s.held.push({ direction: r.direction, payload: r.payload, tsNs: r.tsNs, gap });
    s.heldBytes += r.payload.length;
    const fromClient = (r.direction === "egress") === (s.assumedSide === "client");
    // Each direction's stream from its start, across records and turns, up to its budget or a gap: a request line
    // of any length up to the head limit, a head a byte per write (a shell handler behind socat), a ClientHello to
    // its end. The connection stays undecided while a rule may still match (assess), never "unknown" because a
    // write was short; it is decided when nothing can change the verdict, at the byte budget, or at close.
    (fromClient ? s.clientFirst : s.serverFirst).add(r.payload, gap);
    const waited = r.tsNs - s.firstTs;
    if (assess(this.#input(s)).pending && s.heldBytes < this.#maxDetectBytes && waited < this.#maxDetectWaitNs) return;
    this.#decide(s, out);
  }

  #input(s: ConnState) {
    const serverPort = s.assumedSide === "client" ? s.tuple.rport : s.tuple.lport;
    return {
      clientFirstBytes: s.clientFirst.bytes,
      serverFirstBytes: s.serverFirst.bytes,
      serverPort,
      clientDone: s.clientFirst.done,
      serverDone: s.serverFirst.done,
    };
  }

  /**
   * Takes the verdict on the bytes held (pending or not: the budget or the close ends the wait). HTTP goes to its
   * parser with everything held; anything else, "unknown" included (confidence 0, its first bytes in the evidence),
   * becomes one connection observation, so no connection disappears silently.
   */
  #decide(s: ConnState, out: Derived[]): void {
    const verdict = classifyConnection(this.#input(s));
    s.clientFirst.release();
    s.serverFirst.release();
    const held = s.held;
    s.held = [];
    s.heldBytes = 0;
    if (verdict.protocol === "http") {
      s.mode = "http";
      s.http = new HttpConnection(s.side);
      for (const h of held) s.http.onData(h.direction, h.payload, h.tsNs, h.gap);
      this.#collect(s, out);
      return;
    }
    s.mode = "done";
    const { client, server } = this.#ends(s);
    const obs: ConnectionObservation = {
      v: 1,
      type: "connection",
      ...this.#observer(s),
      ts: nsToIso(s.firstTs!),
      client,
      server,
      ...verdict,
    };
    this.#stats.observations++;
    out.push(obs);
  }

  #close(key: string, tsNs: bigint, out: Derived[]): void {
    const s = this.#conns.get(key);
    if (!s) return;
    this.#conns.delete(key);
    if (s.mode === "detect" && s.firstTs !== null) this.#decide(s, out);
    if (s.mode === "http") {
      s.http!.onClose(tsNs);
      this.#collect(s, out);
    }
  }

  #ends(s: ConnState): { client: Endpoint; server: Endpoint } {
    const local = { ip: s.tuple.laddr, port: s.tuple.lport };
    const remote = { ip: s.tuple.raddr, port: s.tuple.rport };
    return s.assumedSide === "client" ? { client: local, server: remote } : { client: remote, server: local };
  }

  #observer(s: ConnState) {
    return {
      host: s.host,
      boot_id: s.bootId,
      conn_id: s.connId.toString(),
      side: s.side,
      pid: s.pid,
      start_ticks: s.startTicks,
      local: { ip: s.tuple.laddr, port: s.tuple.lport },
      remote: { ip: s.tuple.raddr, port: s.tuple.rport },
      family: s.tuple.family,
      transport: s.tuple.protocol,
    } as const;
  }

  #collect(s: ConnState, out: Derived[]): void {
    for (const x of s.http!.take()) {
      this.#stats.exchanges++;
      out.push(this.#exchange(s, x));
    }
  }

  #exchange(s: ConnState, x: PairedExchange): HttpExchange {
    const exchange = this.#redaction.exchange({
      v: 1,
      type: "http_exchange",
      ...this.#observer(s),
      seq: x.seq,
      ...this.#ends(s),
      request: request(x.request),
      response: x.response ? response(x.response) : null,
      latency_ns: x.latencyNs === null ? null : Number(x.latencyNs),
    });
    setBodySchema(exchange.request);
    if (exchange.response) setBodySchema(exchange.response);
    return exchange;
  }
}

/**
 * Sets a message's body schema (its canonical key), inferred here where the body was decoded and after redaction
 * (the schema of what is published), so no consumer parses the body's JSON again (derived.ts v3). In place, on
 * the hot path without a copy: the message is this exchange's own, built just now by request()/response() or
 * rebuilt by the redaction policy (RedactionPolicy.request/response return the message given or a new object,
 * never one they keep), so nothing else holds it. `body_schema` is added last, as the copy placed it.
 */
function setBodySchema(m: HttpRequest | HttpResponse): void {
  m.body_schema = inferSchemaKey(m.body, m.body_binary);
}

/**
 * Head text as the sender meant it. The parser reads a head as latin1 (one character per byte: its lengths and
 * positions are byte counts, and any byte sequence parses); a target or field value sent as raw UTF-8 (`/café/日本`)
 * would reach the outputs as mojibake (`/cafÃ©/æ¥æ¬`). Its bytes are decoded as UTF-8 when they are valid UTF-8,
 * else kept latin1 (obs-text in an old client's header, a cut or binary target). ASCII is returned as is.
 * `raw` stays latin1: the mapper counts its bytes by its length.
 */
export function headText(latin1: string): string {
  // eslint-disable-next-line no-control-regex
  if (/^[\x00-\x7f]*$/.test(latin1)) return latin1;
  const bytes = Buffer.from(latin1, "latin1");
  return isUtf8(bytes) ? bytes.toString("utf8") : latin1;
}

function messageFields(m: ParsedRequest | ParsedResponse) {
  const decoded = decodeBody(m.body, m.headers, { truncated: m.bodyTruncated });
  return {
    ts: nsToIso(m.firstTs),
    end_ts: nsToIso(m.lastTs),
    version: m.version,
    headers: m.headers.map(([k, v]) => [headText(k), headText(v)] as [string, string]),
    body: decoded.text,
    body_size: m.bodySize,
    body_truncated: decoded.truncated,
    body_binary: decoded.binary,
    raw: m.raw,
    head_size: m.headSize,
  };
}

function request(m: ParsedRequest): HttpRequest {
  return { ...messageFields(m), method: m.method, target: headText(m.target) };
}

function response(m: ParsedResponse): HttpResponse {
  return { ...messageFields(m), status: m.status, reason: headText(m.reason) };
}
