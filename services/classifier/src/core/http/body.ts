// Content decoding of a message body (Content-Encoding gzip, deflate, br) and its text, if it is text.
// Bodies are often cut (capture limit, gaps, maxBodyBytes): a cut or corrupt stream yields what decodes.
import * as zlib from "node:zlib";
import { getHeaderTokens } from "./headers.ts";
import type { HeaderView } from "./headers.ts";

export interface DecodeOptions {
  /** Decoded bytes kept at most (default 1 MiB): a zip bomb stops here. */
  maxOutputBytes?: number;
  /** The body given is already cut short (the message's bodyTruncated). */
  truncated?: boolean;
}

export interface DecodedBody {
  /** UTF-8 text of the decoded body; null when empty or not valid UTF-8. */
  text: string | null;
  /** Not empty and not valid UTF-8. */
  binary: boolean;
  /** Partial: the body was cut, or decoding stopped at corrupt data or at maxOutputBytes. */
  truncated: boolean;
}

/** One content coding undone; `partial` flushes what a cut stream holds instead of failing at its end. */
type Inflate = (input: Buffer, maxOutputLength: number, partial: boolean) => Buffer;

const zlibOptions = (max: number, partial: boolean): zlib.ZlibOptions => ({
  maxOutputLength: max,
  finishFlush: partial ? zlib.constants.Z_SYNC_FLUSH : zlib.constants.Z_FINISH,
});

const gunzip: Inflate = (input, max, partial) => zlib.gunzipSync(input, zlibOptions(max, partial));

/** "deflate" is meant to be zlib-wrapped (RFC 9110 8.4.1.2), but some servers send raw deflate. */
const inflate: Inflate = (input, max, partial) =>
  hasZlibHeader(input) ? zlib.inflateSync(input, zlibOptions(max, partial)) : zlib.inflateRawSync(input, zlibOptions(max, partial));

const brotli: Inflate = (input, max, partial) =>
  zlib.brotliDecompressSync(input, {
    maxOutputLength: max,
    finishFlush: partial ? zlib.constants.BROTLI_OPERATION_FLUSH : zlib.constants.BROTLI_OPERATION_FINISH,
  });

const CODINGS: ReadonlyMap<string, Inflate> = new Map([
  ["gzip", gunzip],
  ["x-gzip", gunzip],
  ["deflate", inflate],
  ["br", brotli],
]);

function hasZlibHeader(b: Buffer): boolean {
  return b.length >= 2 && (b[0]! & 0x0f) === 8 && ((b[0]! << 8) | b[1]!) % 31 === 0;
}

function attempt(fn: Inflate, input: Buffer, max: number, partial: boolean): Buffer | null {
  try {
    return fn(input, max, partial);
  } catch {
    return null;
  }
}

/**
 * Undoes one coding. When the whole input does not decode as a complete stream, flushes what a cut one holds;
 * when even that fails (corrupt, or over the limit), keeps the longest input prefix that decodes within the
 * limit: a binary search, since a prefix of a good stream decodes too.
 */
function undo(fn: Inflate, input: Buffer, max: number): { out: Buffer; cut: boolean } {
  const whole = attempt(fn, input, max, false);
  if (whole !== null) return { out: whole, cut: false };
  const flushed = attempt(fn, input, max, true);
  if (flushed !== null) return { out: flushed, cut: true };
  let best: Buffer = Buffer.alloc(0);
  let lo = 0;
  let hi = input.length;
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    const out = attempt(fn, input.subarray(0, mid), max, true);
    if (out === null) hi = mid - 1;
    else {
      best = out;
      lo = mid;
    }
  }
  return { out: best, cut: true };
}

function utf8(bytes: Buffer, cut: boolean): string | null {
  try {
    // A cut body may end inside a character: `stream` leaves that tail out instead of failing.
    return new TextDecoder("utf-8", { fatal: true }).decode(bytes, { stream: cut });
  } catch {
    return null;
  }
}

export function decodeBody(body: Buffer, headers: HeaderView, opts: DecodeOptions = {}): DecodedBody {
  const max = Math.max(1, opts.maxOutputBytes ?? 1024 * 1024);
  let truncated = opts.truncated ?? false;
  let bytes = body;
  // Codings are listed in the order applied: undo them last first; stop at one we do not know.
  for (const coding of getHeaderTokens(headers, "content-encoding").reverse()) {
    if (coding === "identity") continue;
    const fn = CODINGS.get(coding);
    if (fn === undefined || bytes.length === 0) break;
    const { out, cut } = undo(fn, bytes, max);
    truncated ||= cut;
    // Nothing decodes: the label is wrong or only a header was captured; the bytes as they are say more.
    if (cut && out.length === 0) break;
    bytes = out;
  }
  if (bytes.length > max) {
    bytes = bytes.subarray(0, max);
    truncated = true;
  }
  if (bytes.length === 0) return { text: null, binary: false, truncated };
  const text = utf8(bytes, truncated);
  return { text, binary: text === null, truncated };
}
