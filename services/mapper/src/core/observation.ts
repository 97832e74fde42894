// Small pure helpers over derived observations: endpoints, which end the observer is, the keys that make
// two observations of one call (or one connection) recognisable, and capture timestamps.
import type { ConnectionObservation, Endpoint, HttpExchange } from "@adi/shared/wire";

export type Role = "client" | "server";

/** 10.0.0.1:80, [fd00::1]:80 */
export function formatEndpoint(endpoint: Endpoint): string {
  return endpoint.ip.includes(":") ? `[${endpoint.ip}]:${endpoint.port}` : `${endpoint.ip}:${endpoint.port}`;
}

export function sameEndpoint(a: Endpoint, b: Endpoint): boolean {
  return a.ip === b.ip && a.port === b.port;
}

export function isLoopback(ip: string): boolean {
  return ip.startsWith("127.") || ip === "::1";
}

export function isWildcard(ip: string): boolean {
  return ip === "0.0.0.0" || ip === "::";
}

/** Which end of the call the observer is. "unknown" (first seen mid-life) is told by its local endpoint. */
export function observerRole(obs: HttpExchange | ConnectionObservation): Role {
  // Literals, not obs.side: a decoded message carries its own copy of the string, which a held view would keep.
  if (obs.side === "client") return "client";
  if (obs.side === "server") return "server";
  return sameEndpoint(obs.local, obs.client) ? "client" : "server";
}

/**
 * The same for the client's and the server's observation of one call: both ends, the exchange's index on
 * its connection, and the request line. (Timestamps differ between observers, so they are not part of it.)
 */
export function exchangeKey(exchange: HttpExchange): string {
  const { transport, client, server, seq, request } = exchange;
  return flat([transport, " ", formatEndpoint(client), ">", formatEndpoint(server), " #", seq, " ", request.method, " ", request.target]);
}

/**
 * exchangeKey for the pairing window, which holds one per call seen by one end (600,000 at 10,000 exchanges/s for
 * 60 s): the key as a 64-bit hash (two 32-bit FNV-1a with different offset bases, base 36: about 14 characters
 * instead of 60 to 200, issue 12). Two views of one call have the same key, so they still meet. Two different
 * calls would have to collide in 64 bits (a 32-bit hash of the target alone collided on `/orders/list?id=199988`
 * and `?id=1758476`, found by a break test), be seen from opposite ends, and have capture times within the pairing
 * tolerance to be taken for one.
 */
export function exchangePairingKey(exchange: HttpExchange): string {
  return hash64(exchangeKey(exchange));
}

/** Two 32-bit FNV-1a hashes (http://www.isthe.com/chongo/tech/comp/fnv/) over UTF-16 code units, one flat string. */
function hash64(text: string): string {
  let a = 0x811c9dc5;
  let b = 0x050c5d1f; // another offset basis: the two hashes are independent enough to make 64 bits
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    a = Math.imul(a ^ c, 0x01000193);
    b = Math.imul(b ^ c, 0x01000193);
  }
  return flat([(a >>> 0).toString(36), ".", (b >>> 0).toString(36)]);
}

/**
 * The parts joined into one flat string. Keys and ids are held for the whole pairing window (600,000 of them at
 * 10,000 exchanges/s); a template literal makes a tree of V8 cons strings holding every part, ~400 bytes more per
 * key and id than the flat string Array.join makes (issue 12, measured).
 */
function flat(parts: readonly (string | number)[]): string {
  return parts.join("");
}

/** The same for both sides of one connection; reuse of the 4-tuple is told apart by time (see pairing.ts). */
export function connectionKey(obs: ConnectionObservation): string {
  return flat([obs.transport, " ", formatEndpoint(obs.client), ">", formatEndpoint(obs.server)]);
}


let parsedPrefix = "";
let parsedMs = 0;

/**
 * RFC 3339 with nine fractional digits to milliseconds (fractional part kept) since the epoch. The last whole
 * second parsed is cached: timestamps come in runs within one second, and Date.parse is what costs.
 */
export function isoToMs(iso: string): number {
  const dot = iso.indexOf(".");
  if (dot < 0) return Date.parse(iso);
  const prefix = iso.slice(0, dot);
  if (prefix !== parsedPrefix) {
    parsedMs = Date.parse(`${prefix}Z`);
    parsedPrefix = prefix;
  }
  return parsedMs + Number(`0.${iso.slice(dot + 1, -1)}`) * 1000;
}

/** Our timestamps all have the same fixed width, so text order is time order. */
export function maxIso(a: string | null, b: string | null): string | null {
  if (a === null) return b;
  if (b === null) return a;
  return a > b ? a : b;
}

export function minIso(a: string | null, b: string | null): string | null {
  if (a === null) return b;
  if (b === null) return a;
  return a < b ? a : b;
}

/** Request target to the path the service map shows: no query or fragment, no scheme://authority. */
export function targetPath(target: string): string {
  let path = target;
  const absolute = /^[a-z][a-z0-9+.-]*:\/\/[^/?#]*/i.exec(path);
  if (absolute) {
    path = path.slice(absolute[0].length);
    if (!path.startsWith("/")) path = `/${path}`;
  }
  const cut = path.search(/[?#]/);
  return cut < 0 ? path : path.slice(0, cut);
}

/**
 * A path segment that names one record rather than a route: a number, a UUID, a long hex or token id. Routes fold
 * by cardinality whatever the values look like (routes.ts); this only names the parameter, {id} or {param}.
 */
const ID_SEGMENT = [/^\d+$/, /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i, /^[0-9a-f]{16,}$/i, /^(?=[A-Za-z_-]*\d)[A-Za-z0-9_-]{20,}$/];

/** Whether one path segment looks like a record id (ID_SEGMENT). */
export function isIdSegment(segment: string): boolean {
  return ID_SEGMENT.some((re) => re.test(segment));
}
