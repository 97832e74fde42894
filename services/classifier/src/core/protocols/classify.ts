// Decides what a connection speaks from its first bytes in each direction and its server port.
//
//   1. the port's own rules, then the rest of the table: the first fingerprint that matches wins (90);
//      server-first protocols (MySQL, NATS) are read from the server's greeting, the others from the client;
//      either side's bytes may decide (a status line, a greeting, a reply seen mid-connection);
//   2. TLS hides the protocol: the port's rule names it (60), or it stays "tls";
//   3. a port match alone is worth 60; nothing at all is "unknown" (0).
//
// Incremental: `assess` also says whether the verdict is still pending, i.e. more bytes of a side that can still
// grow could change it (a rule waits for the rest of its message, or for the other side's reply). The engine holds
// a connection undecided while pending, up to its byte budget or the connection's end, then takes the verdict.
//
// Pure and total: any input, however truncated or hostile, gives a verdict, never an exception.
import { MASK, maskFirstBytes, redactValues } from "@adi/shared/redaction";
import type { ConnectionObservation } from "@adi/shared/wire";
import { hexPrefix } from "./bytes.ts";
import { RULES, rulesForPort } from "./rules.ts";
import type { Fingerprint, ProtocolRule } from "./rules.ts";
import { parseClientHello } from "./tls.ts";

export interface ClassifyInput {
  /** What the client wrote first (null or empty: nothing seen yet). */
  clientFirstBytes: Uint8Array | null;
  /** What the server wrote first: the greeting of server-first protocols. */
  serverFirstBytes: Uint8Array | null;
  serverPort: number;
  /** No more client bytes will be added (a capture gap, the detection budget, the end): a prefix stays a prefix. */
  clientDone?: boolean;
  /** No more server bytes will be added. */
  serverDone?: boolean;
}

export type Verdict = Pick<ConnectionObservation, "protocol" | "category" | "confidence" | "reason" | "evidence" | "tls">;

export const CONFIDENCE = Object.freeze({ fingerprint: 90, portOnly: 60, none: 0 });

interface Sides {
  client: Buffer | null;
  server: Buffer | null;
  port: number;
  clientDone: boolean;
  serverDone: boolean;
}

/** A verdict, and whether bytes still to come could change it. */
export interface Assessment {
  verdict: Verdict;
  pending: boolean;
}

function asBuffer(bytes: unknown): Buffer | null {
  if (!(bytes instanceof Uint8Array) || bytes.length === 0) return null;
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
}

function normalise(input: ClassifyInput): Sides {
  const port = Number.isInteger(input?.serverPort) ? input.serverPort : -1;
  return {
    client: asBuffer(input?.clientFirstBytes),
    server: asBuffer(input?.serverFirstBytes),
    port,
    clientDone: input?.clientDone === true,
    serverDone: input?.serverDone === true,
  };
}

/** The port's rules first, so that a protocol on its own port wins over a look-alike elsewhere in the table. */
function rulesInOrder(port: number): ProtocolRule[] {
  const own = rulesForPort(port);
  return [...own, ...RULES.filter((rule) => !own.includes(rule))];
}

function tryFingerprint(rule: ProtocolRule, bytes: Buffer, other: Buffer | null): Fingerprint {
  try {
    return rule.fingerprint(bytes, other);
  } catch {
    return { match: false, detail: "fingerprint failed" }; // a bug in one rule must not hide the others
  }
}

/** Bytes of a side shown as evidence (hexPrefix's default). */
const EVIDENCE_BYTES = 32;

/**
 * Hex of the first bytes of `side` as evidence, with handshake secrets masked ('*', same length) by the shared wire
 * masker, fed both sides' prefixes (a Redis AUTH password, an Authorization header or a NATS CONNECT pass can sit
 * in the first 32 bytes): no credential reaches ADI_DERIVED. Empty for no side.
 */
function evidenceHex(sides: Sides, side: "client" | "server" | "port"): string {
  if (side === "port") return "";
  // The masker and the value rules read past the 32 bytes shown: a token cut at byte 32 no longer looks like one.
  const masked = maskFirstBytes(sides.client?.subarray(0, EVIDENCE_CONTEXT_BYTES) ?? null, sides.server?.subarray(0, EVIDENCE_CONTEXT_BYTES) ?? null)[side];
  if (!masked) return "";
  // Secrets by their look (an `sk_live_` key, a JWT, a URL password) in bytes no handshake rule knows: same length.
  const shown = Buffer.from(redactValues(masked.toString("latin1"), [], MASK), "latin1");
  return hexPrefix(shown, EVIDENCE_BYTES);
}

/** Bytes of each side the masks read before the evidence is cut to EVIDENCE_BYTES. */
const EVIDENCE_CONTEXT_BYTES = 1024;

/** The bytes shown as evidence when no fingerprint decided: the client's, else the server's. */
function examined(sides: Sides): { from: "client" | "server" | "port"; bytes: Buffer | null } {
  if (sides.client) return { from: "client", bytes: sides.client };
  if (sides.server) return { from: "server", bytes: sides.server };
  return { from: "port", bytes: null };
}

function fingerprintReason(rule: ProtocolRule, detail: string, port: number): string {
  if (rule.ports.includes(port)) return `port ${port}, ${detail}`;
  if (rule.ports.length === 0) return `${detail} on port ${port}`;
  return `fingerprint ${detail} on non-standard port ${port}`;
}

function fingerprintVerdict(rule: ProtocolRule, fp: Fingerprint, sides: Sides): Verdict {
  const portMatch = rule.ports.includes(sides.port);
  return {
    protocol: rule.protocol,
    category: rule.category,
    confidence: CONFIDENCE.fingerprint,
    reason: fingerprintReason(rule, fp.detail, sides.port),
    evidence: { rule: rule.name, port_match: portMatch, fingerprint_match: true, from: rule.reads, first_bytes_hex: evidenceHex(sides, rule.reads) },
    tls: null,
  };
}

/**
 * TLS hides the protocol: the port's rule names it with medium confidence, else the verdict is plain "tls". The SNI
 * comes from the client's ClientHello when it was seen (not mid-connection).
 */
function tlsVerdict(tlsRule: ProtocolRule, fp: Fingerprint, sides: Sides): Verdict {
  const tls = { sni: parseClientHello(sides.client).sni };
  const portRule = rulesForPort(sides.port)[0];
  if (!portRule) return { ...fingerprintVerdict(tlsRule, fp, sides), tls };
  const what = tlsRule.name === "tls-client-hello" ? (tls.sni === null ? "TLS, no SNI" : `TLS, SNI ${tls.sni}`) : `TLS, ${fp.detail}`;
  return {
    protocol: portRule.protocol,
    category: portRule.category,
    confidence: CONFIDENCE.portOnly,
    reason: `port ${sides.port} (no payload fingerprint: ${what})`,
    evidence: { rule: portRule.name, port_match: true, fingerprint_match: false, from: "port", first_bytes_hex: evidenceHex(sides, tlsRule.reads) },
    tls,
  };
}

function portOnlyVerdict(rule: ProtocolRule, sides: Sides): Verdict {
  return {
    protocol: rule.protocol,
    category: rule.category,
    confidence: CONFIDENCE.portOnly,
    reason: `port ${sides.port} (no payload fingerprint)`,
    evidence: { rule: rule.name, port_match: true, fingerprint_match: false, from: "port", first_bytes_hex: evidenceHex(sides, examined(sides).from) },
    tls: null,
  };
}

function unknownVerdict(sides: Sides): Verdict {
  const { from, bytes } = examined(sides);
  const seen = bytes ? "no fingerprint matched" : "no payload yet";
  const reason = `${seen} and port ${sides.port} is not a known service port`;
  return {
    protocol: "unknown",
    category: "unknown",
    confidence: CONFIDENCE.none,
    reason,
    evidence: { rule: null, port_match: false, fingerprint_match: false, from, first_bytes_hex: evidenceHex(sides, from) },
    tls: null,
  };
}

/** More bytes could change this fingerprint's answer, and the side they would come from can still grow. */
function waits(rule: ProtocolRule, fp: Fingerprint, sides: Sides): boolean {
  if (fp.more === undefined) return false;
  const selfDone = rule.reads === "client" ? sides.clientDone : sides.serverDone;
  const otherDone = rule.reads === "client" ? sides.serverDone : sides.clientDone;
  return fp.more === "bytes" ? !selfDone : !otherDone;
}

function decide(sides: Sides): Assessment {
  // A rule ahead in the order that may still match keeps a later match pending: the order is the priority.
  let pending = false;
  for (const rule of rulesInOrder(sides.port)) {
    const bytes = rule.reads === "client" ? sides.client : sides.server;
    if (!bytes) continue;
    const fp = tryFingerprint(rule, bytes, rule.reads === "client" ? sides.server : sides.client);
    const wait = waits(rule, fp, sides);
    if (!fp.match) {
      pending ||= wait;
      continue;
    }
    const verdict = rule.tunnel === true ? tlsVerdict(rule, fp, sides) : fingerprintVerdict(rule, fp, sides);
    return { verdict, pending: pending || wait };
  }
  // Nothing matched yet, and a side has not spoken: both directions count. The client's bytes are what client-first
  // protocols are recognised from; the server's answer decides when the client's did not (a status line after a
  // request line longer than the capture limit, TLS or MongoDB replies mid-connection), and server-first protocols
  // greet. The engine's byte budget and the close bound the wait.
  if (!sides.client && !sides.clientDone) pending = true;
  if (!sides.server && !sides.serverDone) pending = true;
  const portRule = rulesForPort(sides.port)[0];
  return { verdict: portRule ? portOnlyVerdict(portRule, sides) : unknownVerdict(sides), pending };
}

/**
 * The verdict on a connection's first bytes so far (each side's, up to the engine's detection budget), and whether
 * it is pending: bytes still to come from a side not `done` could change it (see the file comment). Pure, total:
 * any input gives an answer; a bug in one fingerprint counts as its miss.
 */
export function assess(input: ClassifyInput): Assessment {
  let sides: Sides = { client: null, server: null, port: -1, clientDone: true, serverDone: true };
  try {
    sides = normalise(input);
    return decide(sides);
  } catch {
    // Unreachable by design (every read is bounds-checked); kept so that a classifier bug never stops a consumer.
    return { verdict: unknownVerdict(sides), pending: false };
  }
}

/** The verdict if no more bytes came (see assess). */
export function classifyConnection(input: ClassifyInput): Verdict {
  return assess(input).verdict;
}

/**
 * True while bytes not yet seen could still change the verdict (see assess). Callers wait while this holds, and
 * decide anyway when the connection closes or their byte budget is spent.
 */
export function needsMoreBytes(input: ClassifyInput): boolean {
  return assess(input).pending;
}

/**
 * Bytes of each side's first bytes the engine keeps for detection: enough for the longest message a fingerprint
 * waits for whole (a TLS record of 2^14 + 2048 bytes with its header, an HTTP request line of MAX_LINE).
 */
export const DETECT_BYTES_PER_SIDE = 5 + 16_384 + 2_048;
