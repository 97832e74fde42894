// Fingerprints of the database protocols, from their specifications: the first message a client sends
// (Postgres, MongoDB, TDS) or the greeting a server sends before the client says anything (MySQL).
import { indexOfByte, int32LE, isPrintableByte, isPrintableRange, uintBE, uintLE } from "../bytes.ts";
import { matched, notMatched } from "./result.ts";
import type { Fingerprint } from "./result.ts";

/** Kept word for word: the Go tool's detection_reason, which users' consumers may match on. */
export const POSTGRES_STARTUP_DETAIL = "valid Postgres startup/SSLRequest header";

const PG_SSL_REQUEST = 80877103;
const PG_GSSENC_REQUEST = 80877104;
const PG_CANCEL_REQUEST = 80877102;
/** The server refuses longer startup packets (MAX_STARTUP_PACKET_LENGTH). */
const PG_MAX_STARTUP_LENGTH = 10_000;

/** Postgres StartupMessage (protocol 3.0, or 3.2 since Postgres 18), SSLRequest, GSSENCRequest, CancelRequest. */
export function postgresStartup(bytes: Buffer): Fingerprint {
  const length = uintBE(bytes, 0, 4);
  const code = uintBE(bytes, 4, 4);
  if (length === null || code === null) return notMatched("fewer than 8 bytes");
  if (code === PG_SSL_REQUEST) return length === 8 ? matched(POSTGRES_STARTUP_DETAIL) : notMatched("SSLRequest length not 8");
  if (code === PG_GSSENC_REQUEST) return length === 8 ? matched("valid Postgres GSSENCRequest header") : notMatched("GSSENCRequest length not 8");
  if (code === PG_CANCEL_REQUEST) return length === 16 ? matched("valid Postgres CancelRequest header") : notMatched("CancelRequest length not 16");
  const major = code >>> 16;
  const minor = code & 0xffff;
  if (major !== 3 || minor > 2) return notMatched("not protocol 3.x");
  if (length < 9 || length > PG_MAX_STARTUP_LENGTH) return notMatched(`startup length ${length} out of range`);
  // Parameters are NUL-terminated "name\0value\0" pairs ending in an empty name: check what was captured.
  const first = bytes[8];
  if (first !== undefined && first !== 0 && !isPrintableByte(first)) return notMatched("parameter name not text");
  if (bytes.length >= length && bytes[length - 1] !== 0) return notMatched("startup packet not NUL-terminated");
  return matched(POSTGRES_STARTUP_DETAIL);
}

const MYSQL_MAX_GREETING = 1024;
const MYSQL_MAX_VERSION_LENGTH = 64;

/** MySQL/MariaDB HandshakeV10: 3-byte length, sequence 0, protocol 10, "x.y.z...\0", thread id, salt, filler 0. */
export function mysqlGreeting(bytes: Buffer): Fingerprint {
  const payloadLength = uintLE(bytes, 0, 3);
  if (payloadLength === null || bytes.length < 6) return notMatched("fewer than 6 bytes");
  if (bytes[3] !== 0) return notMatched("sequence id not 0");
  if (bytes[4] !== 10) return notMatched("protocol version not 10");
  if (payloadLength < 32 || payloadLength > MYSQL_MAX_GREETING) return notMatched(`greeting length ${payloadLength} out of range`);
  const nul = indexOfByte(bytes, 0, 5, 5 + MYSQL_MAX_VERSION_LENGTH);
  if (nul < 6) return notMatched("no NUL-terminated version string");
  const startsWithDigit = bytes[5]! >= 0x30 && bytes[5]! <= 0x39;
  if (!startsWithDigit || !isPrintableRange(bytes, 5, nul)) return notMatched("version string not x.y.z text");
  const filler = nul + 1 + 4 + 8; // after the thread id and the first 8 bytes of auth-plugin-data
  if (filler < bytes.length && bytes[filler] !== 0) return notMatched("filler byte not 0");
  const version = bytes.subarray(5, nul).toString("latin1");
  return matched(`MySQL HandshakeV10 server greeting (version ${version})`);
}

const MONGO_OP_QUERY = 2004;
const MONGO_OP_MSG = 2013;
/** maxMessageSizeBytes of every MongoDB server since 3.6. */
const MONGO_MAX_MESSAGE = 48_000_000;
/** OP_MSG flag bits defined so far: checksumPresent, moreToCome, exhaustAllowed. */
const MONGO_OP_MSG_FLAGS = 0x1 | 0x2 | 0x10000;

/** MongoDB wire header (little-endian): length, requestID, responseTo 0, opCode OP_MSG or OP_QUERY. */
export function mongodbHeader(bytes: Buffer): Fingerprint {
  const length = int32LE(bytes, 0);
  const responseTo = int32LE(bytes, 8);
  const opCode = int32LE(bytes, 12);
  if (length === null || responseTo === null || opCode === null) return notMatched("fewer than 16 bytes");
  if (opCode !== MONGO_OP_MSG && opCode !== MONGO_OP_QUERY) return notMatched(`opCode ${opCode} not OP_MSG/OP_QUERY`);
  if (length <= 16 || length > MONGO_MAX_MESSAGE) return notMatched(`message length ${length} out of range`);
  if (responseTo !== 0) return notMatched("responseTo not 0 in a request");
  if (opCode === MONGO_OP_MSG) {
    const flags = uintLE(bytes, 16, 4);
    if (flags !== null && (flags & ~MONGO_OP_MSG_FLAGS) !== 0) return notMatched("unknown OP_MSG flag bits");
    const kind = bytes[20];
    if (kind !== undefined && kind > 1) return notMatched("OP_MSG section kind not 0/1");
    return matched("MongoDB OP_MSG header");
  }
  // OP_QUERY: flags, then the NUL-terminated "db.collection" (the handshake uses "admin.$cmd").
  const nul = indexOfByte(bytes, 0, 20, 20 + 256);
  if (nul > 20 && (!isPrintableRange(bytes, 20, nul) || indexOfByte(bytes, 0x2e, 20, nul) < 0)) {
    return notMatched("OP_QUERY collection name not db.collection");
  }
  return matched("MongoDB OP_QUERY header");
}

const TDS_PRELOGIN = 0x12;
/** Status bits of a TDS packet header: EOM, ignore, reset connection, reset connection keeping transaction. */
const TDS_STATUS_BITS = 0x01 | 0x02 | 0x08 | 0x10;
/** PRELOGIN option tokens VERSION (0) .. FEDAUTHREQUIRED (6), NONCEOPT (7), and the terminator 0xFF. */
const TDS_LAST_OPTION_TOKEN = 0x08;

/** TDS packet header of a PRELOGIN: type 0x12, status, big-endian length, SPID, packet id, window 0. */
export function mssqlPrelogin(bytes: Buffer): Fingerprint {
  const length = uintBE(bytes, 2, 2);
  if (length === null || bytes.length < 8) return notMatched("fewer than 8 bytes");
  if (bytes[0] !== TDS_PRELOGIN) return notMatched("packet type not PRELOGIN (0x12)");
  if ((bytes[1]! & ~TDS_STATUS_BITS) !== 0) return notMatched("unknown status bits");
  if (length < 9 || length > 32_768) return notMatched(`packet length ${length} out of range`);
  if (bytes[7] !== 0) return notMatched("window not 0");
  const token = bytes[8];
  if (token !== undefined && token > TDS_LAST_OPTION_TOKEN && token !== 0xff) return notMatched("unknown PRELOGIN option token");
  return matched("TDS PRELOGIN packet");
}

/**
 * A Postgres simple Query message from a connection opened before the capture: 'Q', an int32 length that
 * covers exactly the NUL-terminated SQL text that follows (printable), the whole message present.
 */
export function postgresQuery(bytes: Buffer): Fingerprint {
  if (bytes.length < 7 || bytes[0] !== 0x51) return notMatched("not a Query message");
  const len = bytes.readInt32BE(1);
  if (len < 6 || len + 1 > bytes.length || bytes[len] !== 0) return notMatched("Query length does not fit its text");
  const sql = bytes.subarray(5, len);
  for (const b of sql) if (b < 0x09 || (b > 0x0d && b < 0x20)) return notMatched("Query text is not text");
  return matched("valid Postgres Query message");
}
