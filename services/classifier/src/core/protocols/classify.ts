// Decides what a connection speaks from its first bytes in each direction and its server port.
//
//   1. the port's own rules, then the rest of the table: the first fingerprint that matches wins (90);
//      server-first protocols (MySQL, NATS) are read from the server's greeting, the others from the client;
//   2. a TLS ClientHello hides the protocol: the port's rule names it (60), or it stays "tls";
//   3. a port match alone is worth 60; nothing at all is "unknown" (0).
//
// Pure and total: any input, however truncated or hostile, gives a verdict, never an exception.
import type { ConnectionObservation } from "@adi/shared/wire/derived";
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
}

export type Verdict = Pick<ConnectionObservation, "protocol" | "category" | "confidence" | "reason" | "evidence" | "tls">;

export const CONFIDENCE = Object.freeze({ fingerprint: 90, portOnly: 60, none: 0 });

const TLS_RULE = "tls-client-hello";

interface Sides {
  client: Buffer | null;
  server: Buffer | null;
  port: number;
}

function asBuffer(bytes: unknown): Buffer | null {
  if (!(bytes instanceof Uint8Array) || bytes.length === 0) return null;
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
}

function normalise(input: ClassifyInput): Sides {
  const port = Number.isInteger(input?.serverPort) ? input.serverPort : -1;
  return { client: asBuffer(input?.clientFirstBytes), server: asBuffer(input?.serverFirstBytes), port };
}

/** The port's rules first, so that a protocol on its own port wins over a look-alike elsewhere in the table. */
function rulesInOrder(port: number): ProtocolRule[] {
  const own = rulesForPort(port);
  return [...own, ...RULES.filter((rule) => !own.includes(rule))];
}

function tryFingerprint(rule: ProtocolRule, bytes: Buffer): Fingerprint {
  try {
    return rule.fingerprint(bytes);
  } catch {
    return { match: false, detail: "fingerprint failed" }; // a bug in one rule must not hide the others
  }
}

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

function fingerprintVerdict(rule: ProtocolRule, fp: Fingerprint, sides: Sides, bytes: Buffer): Verdict {
  const portMatch = rule.ports.includes(sides.port);
  return {
    protocol: rule.protocol,
    category: rule.category,
    confidence: CONFIDENCE.fingerprint,
    reason: fingerprintReason(rule, fp.detail, sides.port),
    evidence: { rule: rule.name, port_match: portMatch, fingerprint_match: true, from: rule.reads, first_bytes_hex: hexPrefix(bytes) },
    tls: null,
  };
}

/** TLS hides the protocol: the port's rule names it with medium confidence, else the verdict is plain "tls". */
function tlsVerdict(tlsRule: ProtocolRule, fp: Fingerprint, sides: Sides, client: Buffer): Verdict {
  const tls = { sni: parseClientHello(client).sni };
  const portRule = rulesForPort(sides.port)[0];
  if (!portRule) return { ...fingerprintVerdict(tlsRule, fp, sides, client), tls };
  return {
    protocol: portRule.protocol,
    category: portRule.category,
    confidence: CONFIDENCE.portOnly,
    reason: `port ${sides.port} (no payload fingerprint: TLS, ${tls.sni === null ? "no SNI" : `SNI ${tls.sni}`})`,
    evidence: { rule: portRule.name, port_match: true, fingerprint_match: false, from: "port", first_bytes_hex: hexPrefix(client) },
    tls,
  };
}

function portOnlyVerdict(rule: ProtocolRule, sides: Sides): Verdict {
  return {
    protocol: rule.protocol,
    category: rule.category,
    confidence: CONFIDENCE.portOnly,
    reason: `port ${sides.port} (no payload fingerprint)`,
    evidence: { rule: rule.name, port_match: true, fingerprint_match: false, from: "port", first_bytes_hex: hexPrefix(examined(sides).bytes) },
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
    evidence: { rule: null, port_match: false, fingerprint_match: false, from, first_bytes_hex: hexPrefix(bytes) },
    tls: null,
  };
}

function decide(sides: Sides): Verdict {
  for (const rule of rulesInOrder(sides.port)) {
    const bytes = rule.reads === "client" ? sides.client : sides.server;
    if (!bytes) continue;
    const fp = tryFingerprint(rule, bytes);
    if (!fp.match) continue;
    return rule.name === TLS_RULE ? tlsVerdict(rule, fp, sides, bytes) : fingerprintVerdict(rule, fp, sides, bytes);
  }
  const portRule = rulesForPort(sides.port)[0];
  return portRule ? portOnlyVerdict(portRule, sides) : unknownVerdict(sides);
}

export function classifyConnection(input: ClassifyInput): Verdict {
  let sides: Sides = { client: null, server: null, port: -1 };
  try {
    sides = normalise(input);
    return decide(sides);
  } catch {
    // Unreachable by design (every read is bounds-checked); kept so that a classifier bug never stops a consumer.
    return unknownVerdict(sides);
  }
}

/**
 * True while bytes not yet seen could still improve the verdict: the client has written nothing (client-first
 * protocols are recognised from what it sends), or the port's protocol greets first and no greeting arrived.
 * Callers wait while this holds, and decide anyway when the connection closes or a deadline passes.
 */
export function needsMoreBytes(input: ClassifyInput): boolean {
  const verdict = classifyConnection(input);
  if (verdict.evidence.fingerprint_match || verdict.tls) return false;
  const sides = normalise(input);
  if (!sides.client) return true;
  // A client that writes (or a server that reads) a few bytes at a time: its first line may not be whole yet
  // (an HTTP request line is recognised at " HTTP/1.x"), and the server has not answered. Wait for the line's
  // end, the answer, FIRST_LINE_BYTES, or the close (the engine accumulates the bytes and decides at close).
  if (!sides.server && sides.client.length < FIRST_LINE_BYTES && !sides.client.includes("\n")) return true;
  return !sides.server && rulesForPort(sides.port).some((rule) => rule.speaks === "server-first");
}

/** First client bytes without a line end, and unanswered, are held until this many before an "unknown" verdict. */
export const FIRST_LINE_BYTES = 256;
