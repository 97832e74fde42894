// Fingerprints of the database protocols, from their specifications: the first message a client sends
// (Postgres, MongoDB, TDS) or the greeting a server sends before the client says anything (MySQL).
import { indexOfByte, int32LE, isPrintableByte, isPrintableRange, uintBE, uintLE } from "../bytes.ts";
import { matched, needMore, notMatched } from "./result.ts";
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
  if (length === null || code === null) return bytes.length < 8 && (bytes.length === 0 || bytes[0] === 0) ? needMore("fewer than 8 bytes") : notMatched("no startup length");
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
  if (payloadLength !== null && (payloadLength < 32 || payloadLength > MYSQL_MAX_GREETING)) return notMatched(`greeting length ${payloadLength} out of range`);
  if (payloadLength === null || bytes.length < 6) return bytes.length < 4 || bytes[3] === 0 ? needMore("fewer than 6 bytes") : notMatched("sequence id not 0");
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

const MONGO_OP_REPLY = 1;
const MONGO_OP_QUERY = 2004;
const MONGO_OP_MSG = 2013;
/** maxMessageSizeBytes of every MongoDB server since 3.6. */
const MONGO_MAX_MESSAGE = 48_000_000;
/** OP_MSG flag bits defined so far: checksumPresent, moreToCome, exhaustAllowed. */
const MONGO_OP_MSG_FLAGS = 0x1 | 0x2 | 0x10000;
/** BSON element types (bsonspec.org): 0x01-0x13, min key 0xFF, max key 0x7F. */
const isBsonType = (t: number): boolean => (t >= 0x01 && t <= 0x13) || t === 0x7f || t === 0xff;

/**
 * The OP_MSG body after the 16-byte header (MongoDB wire protocol): known flag bits, a section of kind 0 (one
 * BSON document) or 1 (a document sequence), and for kind 0 a document whose length fits the message and whose
 * first element has a BSON type, ending in its NUL when captured. Null when it holds; else why not.
 */
function opMsgBodyProblem(bytes: Buffer, length: number): string | null {
  const flags = uintLE(bytes, 16, 4);
  if (flags !== null && (flags & ~MONGO_OP_MSG_FLAGS) !== 0) return "unknown OP_MSG flag bits";
  const kind = bytes[20];
  if (kind !== undefined && kind > 1) return "OP_MSG section kind not 0/1";
  if (kind !== 0) return null;
  const docLength = int32LE(bytes, 21);
  if (docLength === null) return null;
  if (docLength < 5 || docLength > length - 21) return `BSON document length ${docLength} does not fit`;
  const type = bytes[25];
  if (type !== undefined && docLength > 5 && !isBsonType(type)) return "first BSON element type unknown";
  const last = bytes[21 + docLength - 1];
  if (last !== undefined && last !== 0) return "BSON document not NUL-terminated";
  return null;
}

/**
 * MongoDB wire header (little-endian): length, requestID, responseTo, opCode OP_MSG or OP_QUERY. A request has
 * responseTo 0, or -1 as some drivers send; any request of the connection counts (an OP_MSG mid-connection too).
 */
export function mongodbHeader(bytes: Buffer): Fingerprint {
  const length = int32LE(bytes, 0);
  const responseTo = int32LE(bytes, 8);
  const opCode = int32LE(bytes, 12);
  if (length !== null && (length <= 16 || length > MONGO_MAX_MESSAGE)) return notMatched(`message length ${length} out of range`);
  if (responseTo !== null && responseTo !== 0 && responseTo !== -1) return notMatched("responseTo not 0 or -1 in a request");
  if (length === null || responseTo === null || opCode === null) return needMore("fewer than 16 bytes");
  if (opCode !== MONGO_OP_MSG && opCode !== MONGO_OP_QUERY) return notMatched(`opCode ${opCode} not OP_MSG/OP_QUERY`);
  if (opCode === MONGO_OP_MSG) {
    const problem = opMsgBodyProblem(bytes, length);
    return problem === null ? matched("MongoDB OP_MSG header") : notMatched(problem);
  }
  // OP_QUERY: flags, then the NUL-terminated "db.collection" (the handshake uses "admin.$cmd").
  const nul = indexOfByte(bytes, 0, 20, 20 + 256);
  if (nul > 20 && (!isPrintableRange(bytes, 20, nul) || indexOfByte(bytes, 0x2e, 20, nul) < 0)) {
    return notMatched("OP_QUERY collection name not db.collection");
  }
  return matched("MongoDB OP_QUERY header");
}

/**
 * A MongoDB server's reply seen mid-connection: an OP_MSG (or legacy OP_REPLY) whose responseTo names a request
 * (positive), with the same body checks as a request's.
 */
export function mongodbReply(bytes: Buffer): Fingerprint {
  const length = int32LE(bytes, 0);
  const responseTo = int32LE(bytes, 8);
  const opCode = int32LE(bytes, 12);
  if (length !== null && (length <= 16 || length > MONGO_MAX_MESSAGE)) return notMatched(`message length ${length} out of range`);
  if (responseTo !== null && responseTo <= 0) return notMatched("responseTo not a request id");
  if (length === null || responseTo === null || opCode === null) return needMore("fewer than 16 bytes");
  if (opCode !== MONGO_OP_MSG && opCode !== MONGO_OP_REPLY) return notMatched(`opCode ${opCode} not OP_MSG/OP_REPLY`);
  if (opCode === MONGO_OP_REPLY) {
    // responseFlags, cursorID, startingFrom, numberReturned, then the documents: at least 36 bytes, sane count.
    const returned = int32LE(bytes, 32);
    if (length < 36 || (returned !== null && (returned < 0 || returned > length))) return notMatched("OP_REPLY counts not sane");
    const docLength = int32LE(bytes, 36);
    if (docLength !== null && (docLength < 5 || docLength > length - 36)) return notMatched("OP_REPLY document length does not fit");
    return matched("MongoDB OP_REPLY");
  }
  const problem = opMsgBodyProblem(bytes, length);
  return problem === null ? matched("MongoDB OP_MSG reply") : notMatched(problem);
}

const TDS_PRELOGIN = 0x12;
/** Status bits of a TDS packet header: EOM, ignore, reset connection, reset connection keeping transaction. */
const TDS_STATUS_BITS = 0x01 | 0x02 | 0x08 | 0x10;
/** PRELOGIN option tokens VERSION (0) .. FEDAUTHREQUIRED (6), NONCEOPT (7), and the terminator 0xFF. */
const TDS_LAST_OPTION_TOKEN = 0x08;

/** TDS packet header of a PRELOGIN: type 0x12, status, big-endian length, SPID, packet id, window 0. */
export function mssqlPrelogin(bytes: Buffer): Fingerprint {
  const length = uintBE(bytes, 2, 2);
  if (bytes.length > 0 && bytes[0] !== TDS_PRELOGIN) return notMatched("packet type not PRELOGIN (0x12)");
  if (length === null || bytes.length < 8) return needMore("fewer than 8 bytes");
  if ((bytes[1]! & ~TDS_STATUS_BITS) !== 0) return notMatched("unknown status bits");
  if (length < 9 || length > 32_768) return notMatched(`packet length ${length} out of range`);
  if (bytes[7] !== 0) return notMatched("window not 0");
  const token = bytes[8];
  if (token !== undefined && token > TDS_LAST_OPTION_TOKEN && token !== 0xff) return notMatched("unknown PRELOGIN option token");
  return matched("TDS PRELOGIN packet");
}

/** Client packet types seen mid-connection (MS-TDS 2.2.3.1.1): SQL batch, RPC, transaction manager request. */
const TDS_CLIENT_MESSAGES: Readonly<Record<number, string>> = { 0x01: "SQL batch", 0x03: "RPC", 0x0e: "transaction manager request" };
/** ALL_HEADERS header types (MS-TDS 2.2.5.3): query notifications, transaction descriptor, trace activity. */
const TDS_HEADER_TYPES: ReadonlySet<number> = new Set([1, 2, 3]);
/** Largest negotiated packet size (MS-TDS: 32,767 bytes). */
const TDS_MAX_PACKET = 32_768;

/**
 * The 8-byte TDS packet header: type, known status bits, big-endian length, SPID, packet id, window 0. Checks what
 * was captured of it, so a short write that already breaks it is not waited on.
 */
function tdsHeaderProblem(bytes: Buffer, minLength: number): string | null {
  if (bytes.length > 1 && (bytes[1]! & ~TDS_STATUS_BITS) !== 0) return "unknown status bits";
  const length = uintBE(bytes, 2, 2);
  if (length !== null && (length < minLength || length > TDS_MAX_PACKET)) return `packet length ${length} out of range`;
  if (bytes.length > 7 && bytes[7] !== 0) return "window not 0";
  return null;
}

/**
 * A TDS (SQL Server) request mid-connection: a SQL batch, RPC or transaction manager packet (MS-TDS 2.2.3.1.1)
 * starting with its ALL_HEADERS (MS-TDS 2.2.5.3, TDS 7.2+): a little-endian total length that fits the packet, then
 * headers of a known type whose lengths fit the total.
 */
export function mssqlRequest(bytes: Buffer): Fingerprint {
  const name = bytes.length > 0 ? TDS_CLIENT_MESSAGES[bytes[0]!] : "";
  if (name === undefined) return notMatched("packet type not SQL batch/RPC/transaction manager");
  const problem = tdsHeaderProblem(bytes, 8 + 10);
  if (problem !== null) return notMatched(problem);
  if (bytes.length < 8 + 10) return needMore("fewer than 18 bytes");
  const packetLength = uintBE(bytes, 2, 2)!;
  const total = uintLE(bytes, 8, 4)!;
  if (total < 10 || total > packetLength - 8) return notMatched(`ALL_HEADERS length ${total} does not fit the packet`);
  let at = 12;
  while (at < 8 + total) {
    const headerLength = uintLE(bytes, at, 4);
    const type = uintLE(bytes, at + 4, 2);
    if (headerLength === null || type === null) return needMore("ALL_HEADERS not whole yet");
    if (headerLength < 6 || at + headerLength > 8 + total || !TDS_HEADER_TYPES.has(type)) return notMatched("ALL_HEADERS header not sane");
    at += headerLength;
  }
  return matched(`TDS ${name} packet`);
}

/** Tokens a server's tabular result starts with (MS-TDS 2.2.7): COLMETADATA, ERROR, INFO, LOGINACK, ENVCHANGE,
 * RETURNSTATUS, RETURNVALUE, ORDER, ROW, NBCROW, DONE, DONEPROC, DONEINPROC, FEATUREEXTACK, SSPI, FEDAUTHINFO. */
const TDS_RESULT_TOKENS: ReadonlySet<number> = new Set([0x81, 0xaa, 0xab, 0xad, 0xe3, 0x79, 0xac, 0xa9, 0xd1, 0xd2, 0xfd, 0xfe, 0xff, 0xae, 0xed, 0xee]);

/** A TDS server's tabular result mid-connection: packet type 0x04, sane header, a known first token. */
export function mssqlResponse(bytes: Buffer): Fingerprint {
  if (bytes.length > 0 && bytes[0] !== 0x04) return notMatched("packet type not tabular result (0x04)");
  const problem = tdsHeaderProblem(bytes, 9);
  if (problem !== null) return notMatched(problem);
  if (bytes.length < 9) return needMore("fewer than 9 bytes");
  if (!TDS_RESULT_TOKENS.has(bytes[8]!)) return notMatched("first token not a result token");
  return matched("TDS tabular result packet");
}

/**
 * A Postgres simple Query message from a connection opened before the capture: 'Q', an int32 length that
 * covers exactly the NUL-terminated SQL text that follows (printable), the whole message present.
 */
export function postgresQuery(bytes: Buffer): Fingerprint {
  if (bytes.length > 0 && bytes[0] !== 0x51) return notMatched("not a Query message");
  if (bytes.length < 7) return needMore("fewer than 7 bytes");
  const len = bytes.readInt32BE(1);
  if (len < 6) return notMatched("Query length out of range");
  const end = Math.min(len, bytes.length);
  for (let i = 5; i < end; i++) {
    const b = bytes[i]!;
    if (b < 0x09 || (b > 0x0d && b < 0x20)) return notMatched("Query text is not text");
  }
  // A long statement arrives in several writes: wait for its end while it stays text (up to the detection budget).
  if (len + 1 > bytes.length) return len < 64 * 1024 ? needMore("Query not whole yet") : notMatched("Query length does not fit its text");
  if (bytes[len] !== 0) return notMatched("Query length does not fit its text");
  return matched("valid Postgres Query message");
}
