// TLS ClientHello recognition and SNI extraction (RFC 8446 4.1.2, RFC 6066 3). Captures may hold only the
// first record, a truncated one, or garbage: every step checks its bounds and gives up quietly.
import { uintBE } from "./bytes.ts";

export interface ClientHelloInfo {
  /** A TLS handshake record whose first message is a ClientHello. */
  isClientHello: boolean;
  /** The host_name asked for, when the server_name extension was captured whole. */
  sni: string | null;
  /** The whole ClientHello message was in the bytes (its handshake length): nothing more can be learned from it. */
  complete: boolean;
}

const RECORD_HANDSHAKE = 0x16;
const HANDSHAKE_CLIENT_HELLO = 0x01;
const EXTENSION_SERVER_NAME = 0x0000;
const NAME_TYPE_HOST_NAME = 0x00;
/** TLSPlaintext.length may not exceed 2^14 (plus some slack older stacks used). */
const MAX_RECORD_LENGTH = 16_384 + 2_048;
const NOT_A_CLIENT_HELLO: ClientHelloInfo = { isClientHello: false, sni: null, complete: false };

/** A read position over bytes that may stop anywhere: reads past the end return null. */
class Cursor {
  readonly #bytes: Uint8Array;
  #at = 0;

  constructor(bytes: Uint8Array) {
    this.#bytes = bytes;
  }

  uint(width: 1 | 2 | 3): number | null {
    const value = uintBE(this.#bytes, this.#at, width);
    if (value !== null) this.#at += width;
    return value;
  }

  take(length: number): Uint8Array | null {
    if (this.#at + length > this.#bytes.length) return null;
    const slice = this.#bytes.subarray(this.#at, this.#at + length);
    this.#at += length;
    return slice;
  }

  /** Up to `length` bytes: all of them, or what is left when the capture stopped short. */
  upTo(length: number): Uint8Array {
    const slice = this.#bytes.subarray(this.#at, this.#at + length);
    this.#at += slice.length;
    return slice;
  }

  /** Bytes left after the read position. */
  get left(): number {
    return this.#bytes.length - this.#at;
  }

  /** Skips a vector whose length prefix is `width` bytes wide. */
  skipVector(width: 1 | 2): boolean {
    const length = this.uint(width);
    return length !== null && this.take(length) !== null;
  }
}

function isRecordHeader(bytes: Uint8Array, at: number): boolean {
  const length = uintBE(bytes, at + 3, 2);
  return (
    bytes[at] === RECORD_HANDSHAKE && bytes[at + 1] === 0x03 && bytes[at + 2]! <= 0x04 &&
    length !== null && length > 0 && length <= MAX_RECORD_LENGTH
  );
}

/** The handshake bytes of the leading handshake records, joined (a ClientHello may span records). */
function handshakeBytes(bytes: Uint8Array): Uint8Array {
  const fragments: Uint8Array[] = [];
  let at = 0;
  while (at + 5 <= bytes.length && isRecordHeader(bytes, at)) {
    const length = uintBE(bytes, at + 3, 2)!;
    fragments.push(bytes.subarray(at + 5, Math.min(bytes.length, at + 5 + length)));
    at += 5 + length;
  }
  return fragments.length === 1 ? fragments[0]! : Buffer.concat(fragments);
}

/** A host name as sent in SNI: printable ASCII without spaces, 1 to 255 characters. */
function hostName(raw: Uint8Array): string | null {
  if (raw.length === 0 || raw.length > 255) return null;
  for (const b of raw) if (b <= 0x20 || b >= 0x7f) return null;
  return Buffer.from(raw).toString("latin1");
}

function serverNameFromExtension(data: Uint8Array): string | null {
  const outer = new Cursor(data);
  const listLength = outer.uint(2);
  if (listLength === null) return null;
  const list = new Cursor(outer.upTo(listLength));
  for (;;) {
    const type = list.uint(1);
    const length = list.uint(2);
    if (type === null || length === null) return null;
    const name = list.take(length);
    if (name === null) return null;
    if (type === NAME_TYPE_HOST_NAME) return hostName(name);
  }
}

function sniFromClientHello(body: Cursor): string | null {
  // legacy_version, random, legacy_session_id, cipher_suites, legacy_compression_methods, then extensions.
  if (body.take(2 + 32) === null || !body.skipVector(1) || !body.skipVector(2) || !body.skipVector(1)) return null;
  const extensionsLength = body.uint(2);
  if (extensionsLength === null) return null;
  // A truncated capture may still hold server_name: clients put it among the first extensions.
  const extensions = new Cursor(body.upTo(extensionsLength));
  for (;;) {
    const type = extensions.uint(2);
    const length = extensions.uint(2);
    if (type === null || length === null) return null;
    const data = extensions.take(length);
    if (data === null) return null;
    if (type === EXTENSION_SERVER_NAME) return serverNameFromExtension(data);
  }
}

/**
 * Reads a ClientHello from the start of a client's bytes: whether it is one, the SNI host name when the
 * server_name extension is within the bytes (anywhere: the hello is read to its handshake length, across records),
 * and whether the whole hello was there. Never throws; truncated or hostile bytes give `sni: null`.
 */
export function parseClientHello(bytes: Uint8Array | null): ClientHelloInfo {
  if (!bytes || bytes.length < 6 || !isRecordHeader(bytes, 0) || bytes[5] !== HANDSHAKE_CLIENT_HELLO) {
    return NOT_A_CLIENT_HELLO;
  }
  const handshake = new Cursor(handshakeBytes(bytes));
  handshake.uint(1); // msg_type, checked above
  const length = handshake.uint(3);
  if (length === null) return { isClientHello: true, sni: null, complete: false };
  const complete = handshake.left >= length;
  return { isClientHello: true, sni: sniFromClientHello(new Cursor(handshake.upTo(length))), complete };
}
