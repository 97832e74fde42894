// Bounds-checked byte helpers for the fingerprints. Captured payloads are truncated, split and sometimes
// garbage, so every read here answers "not there" instead of throwing a RangeError.

/** Unsigned big-endian integer of `width` bytes at `at`, or null when the bytes stop short. */
export function uintBE(bytes: Uint8Array, at: number, width: 1 | 2 | 3 | 4): number | null {
  if (at < 0 || at + width > bytes.length) return null;
  let value = 0;
  for (let i = 0; i < width; i++) value = value * 256 + bytes[at + i]!;
  return value;
}

/** Unsigned little-endian integer of `width` bytes at `at`, or null when the bytes stop short. */
export function uintLE(bytes: Uint8Array, at: number, width: 1 | 2 | 3 | 4): number | null {
  if (at < 0 || at + width > bytes.length) return null;
  let value = 0;
  for (let i = width - 1; i >= 0; i--) value = value * 256 + bytes[at + i]!;
  return value;
}

/** Signed 32-bit little-endian integer (MongoDB's header fields), or null. */
export function int32LE(bytes: Uint8Array, at: number): number | null {
  const u = uintLE(bytes, at, 4);
  return u === null ? null : u | 0;
}

/** Signed 32-bit big-endian integer (Kafka's header fields), or null. */
export function int32BE(bytes: Uint8Array, at: number): number | null {
  const u = uintBE(bytes, at, 4);
  return u === null ? null : u | 0;
}

/** Signed 16-bit big-endian integer, or null. */
export function int16BE(bytes: Uint8Array, at: number): number | null {
  const u = uintBE(bytes, at, 2);
  return u === null ? null : (u << 16) >> 16;
}

export function isPrintableByte(b: number): boolean {
  return b >= 0x20 && b <= 0x7e;
}

/** Every byte in [start, end) is printable ASCII (the range must be within the buffer). */
export function isPrintableRange(bytes: Uint8Array, start: number, end: number): boolean {
  if (start < 0 || end > bytes.length || start > end) return false;
  for (let i = start; i < end; i++) if (!isPrintableByte(bytes[i]!)) return false;
  return true;
}

/** Index of the first `value` at or after `from` and before `limit`, or -1. */
export function indexOfByte(bytes: Uint8Array, value: number, from: number, limit = bytes.length): number {
  const end = Math.min(limit, bytes.length);
  for (let i = Math.max(0, from); i < end; i++) if (bytes[i] === value) return i;
  return -1;
}

/** The bytes start with this ASCII text (exact case). */
export function startsWithAscii(bytes: Uint8Array, text: string): boolean {
  if (bytes.length < text.length) return false;
  for (let i = 0; i < text.length; i++) if (bytes[i] !== text.charCodeAt(i)) return false;
  return true;
}

/**
 * The first line (without its terminator) when it ends in "\n" within `maxLength` bytes and is printable
 * ASCII (tabs allowed); null otherwise. Text protocols are only recognised from a complete first line.
 */
export function firstLine(bytes: Uint8Array, maxLength = 4096): string | null {
  const lf = indexOfByte(bytes, 0x0a, 0, maxLength + 1);
  if (lf < 0) return null;
  const end = lf > 0 && bytes[lf - 1] === 0x0d ? lf - 1 : lf;
  let line = "";
  for (let i = 0; i < end; i++) {
    const b = bytes[i]!;
    if (!isPrintableByte(b) && b !== 0x09) return null;
    line += String.fromCharCode(b);
  }
  return line;
}

/** The first line ends in CRLF (the text protocols' terminator), not a bare LF. */
export function firstLineEndsInCrlf(bytes: Uint8Array, maxLength = 4096): boolean {
  const lf = indexOfByte(bytes, 0x0a, 0, maxLength + 1);
  return lf > 0 && bytes[lf - 1] === 0x0d;
}

/** Hex of at most `max` leading bytes: the evidence kept with a verdict. */
export function hexPrefix(bytes: Uint8Array | null, max = 32): string {
  if (!bytes) return "";
  return Buffer.from(bytes.buffer, bytes.byteOffset, Math.min(bytes.length, max)).toString("hex");
}

/**
 * The bytes could still become a first line of text: no line end yet, fewer than `maxLength` bytes, and all
 * printable ASCII (tabs and a trailing CR allowed). Line-based fingerprints wait while this holds.
 */
export function couldBeLine(bytes: Uint8Array, maxLength = 4096): boolean {
  if (bytes.length >= maxLength) return false;
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i]!;
    if (b === 0x0a) return false;
    if (!isPrintableByte(b) && b !== 0x09 && !(b === 0x0d && i === bytes.length - 1)) return false;
  }
  return true;
}

/** `bytes` begin with a prefix of `template`, where "#" stands for any decimal digit (the whole of `bytes` if shorter). */
export function prefixOfTemplate(bytes: Uint8Array, template: string): boolean {
  const n = Math.min(bytes.length, template.length);
  for (let i = 0; i < n; i++) {
    const t = template.charCodeAt(i);
    const b = bytes[i]!;
    if (t === 0x23 ? b < 0x30 || b > 0x39 : b !== t) return false;
  }
  return true;
}
