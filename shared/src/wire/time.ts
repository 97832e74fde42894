// Capture timestamps: integer nanoseconds since the Unix epoch (UTC) inside the pipeline and on the binary wire
// contracts; RFC 3339 text with nine fractional digits (2024-04-08T18:24:10.123456789Z, the Go tool's form) where a
// person or a JSON contract reads them. Both conversions cache the last whole second: timestamps come in runs
// within one second, and Date's formatting and parsing are what cost.

const NS_PER_SECOND = 1_000_000_000n;
/** 10000-01-01T00:00:00Z: beyond it an ISO year needs more than four digits. */
const MAX_NS = 253_402_300_800n * NS_PER_SECOND;

let formattedSecond = -1n;
let formattedPrefix = "";

/**
 * UTC nanoseconds since the epoch to RFC 3339 with nine fractional digits: 2024-04-08T18:24:10.123456789Z.
 * Throws RangeError outside 1970..9999.
 */
export function nsToIso(ns: bigint): string {
  if (ns < 0n || ns >= MAX_NS) throw new RangeError(`timestamp ${ns}ns is outside 1970..9999`);
  const seconds = ns / NS_PER_SECOND;
  const fraction = (ns % NS_PER_SECOND).toString().padStart(9, "0");
  if (seconds !== formattedSecond) {
    // toISOString always prints milliseconds (".000Z" here, the seconds being whole): swap in the nanoseconds.
    formattedPrefix = new Date(Number(seconds) * 1000).toISOString().slice(0, -4);
    formattedSecond = seconds;
  }
  // Joined, not concatenated: a flat string, not a tree of V8 cons strings holding its parts (timestamps are kept
  // for as long as the mapper holds a call: ~100 bytes less each).
  return [formattedPrefix, fraction, "Z"].join("");
}

const ISO9 = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})\.(\d{9})Z$/;
let parsedPrefix = "";
let parsedSecondNs = 0n;

/**
 * The inverse of nsToIso: RFC 3339 UTC with exactly nine fractional digits to nanoseconds since the epoch.
 * Throws RangeError for any other form (the contracts only carry this one).
 */
export function isoToNs(iso: string): bigint {
  const m = ISO9.exec(iso);
  if (!m) throw new RangeError(`timestamp ${JSON.stringify(iso)}: expected RFC 3339 UTC with 9 fractional digits`);
  const prefix = m[1]!;
  if (prefix !== parsedPrefix) {
    const ms = Date.parse(`${prefix}Z`);
    if (Number.isNaN(ms)) throw new RangeError(`timestamp ${JSON.stringify(iso)}: not a date`);
    parsedSecondNs = BigInt(ms / 1000) * NS_PER_SECOND;
    parsedPrefix = prefix;
  }
  return parsedSecondNs + BigInt(Number(m[2]));
}
