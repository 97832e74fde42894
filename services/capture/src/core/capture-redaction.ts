// Capture-time redaction (ADI_CAPTURE_REDACT): the payload of every data record of a raw message is masked in
// place, before the message is published, by its connection's wire masker (shared/src/redaction/wire-mask.ts):
// credentials become '*' bytes of the same length, so the batch keeps its size and layout and the classifier still
// frames every message. One masker per connection, in kernel order (a partition holds all of a connection's
// records, in order), dropped at the connection's close record; the map is bounded.
import type { AdiConfig } from "@adi/shared";
import { BUILTIN_SECRET_NAMES, createWireMasker } from "@adi/shared/redaction";
import type { SecretNames, WireMasker, WireSide } from "@adi/shared/redaction";
import { CONN_ROLES, DataFlags, decodeBatchHeader, layoutsFor, RecordKind, recordSpans, TUPLE_LAYOUT } from "@adi/shared/wire";

/** Hosts that are this machine (ADI_CAPTURE_REDACT=auto keeps raw bytes as they are when NATS is one of them). */
const LOOPBACK = [/^127(\.\d{1,3}){3}$/, /^::1$/, /^(0{0,4}:){7}0{0,3}1$/, /^localhost$/i];

/** Host of one NATS_URL entry (`nats://u:p@host:4222`, `tls://[::1]:4222`, bare `host:port`), or null. */
function natsHost(server: string): string | null {
  try {
    const url = new URL(/^[a-z][a-z0-9+.-]*:\/\//i.test(server) ? server : `nats://${server}`);
    return url.hostname.replace(/^\[(.*)\]$/, "$1");
  } catch {
    return null;
  }
}

/**
 * Whether the agent masks raw payloads: ADI_CAPTURE_REDACT `on`/`off` as said; `auto` is on when NATS_URL names any
 * server that is not loopback (127.0.0.0/8, ::1, localhost; an unparsable one counts as remote), off when every
 * server is local or NATS_URL is unset (the embedded server, on this machine). Returns the decision and why.
 */
export function captureRedaction(cfg: Pick<AdiConfig, "captureRedact" | "natsServers">): { on: boolean; why: string } {
  if (cfg.captureRedact !== "auto") return { on: cfg.captureRedact === "on", why: `ADI_CAPTURE_REDACT=${cfg.captureRedact}` };
  const servers = cfg.natsServers ?? [];
  if (servers.length === 0) return { on: false, why: "ADI_CAPTURE_REDACT=auto, embedded NATS server (loopback)" };
  const remote = servers.find((s) => {
    const host = natsHost(s);
    return host === null || !LOOPBACK.some((re) => re.test(host));
  });
  return remote === undefined
    ? { on: false, why: "ADI_CAPTURE_REDACT=auto, NATS_URL on loopback" }
    : { on: true, why: "ADI_CAPTURE_REDACT=auto, NATS_URL is not on loopback" };
}

/** Connections followed at once; past it the oldest is forgotten (its later bytes are seen mid-stream: not masked). */
export const MAX_MASKED_CONNECTIONS = 65_536;

/**
 * Bytes of each side of a connection no wire rule knows that are still searched for secrets by their look (value
 * rules: a JWT, an `sk_live_` key, a URL password), record by record: a protocol of its own can open with a token.
 */
export const UNKNOWN_PROTOCOL_SCAN_BYTES = 65_536;

interface Followed {
  /** null once the masker has nothing left to do (both sides are done, or no rule matched: see `unknownLeft`). */
  masker: WireMasker | null;
  role: (typeof CONN_ROLES)[number];
  /** No rule matched its opening: bytes of each side still searched by the value rules (UNKNOWN_PROTOCOL_SCAN_BYTES). */
  unknownLeft: { client: number; server: number } | null;
}

export interface RawBatchMaskerOptions {
  /** Connections followed at once (MAX_MASKED_CONNECTIONS). */
  maxConnections?: number;
  /** The secret-name test (RedactionPolicy.names: built-in names plus ADI_REDACT_NAMES). */
  names?: SecretNames;
  /**
   * Masks secrets by their look in latin1 text, same length (RedactionPolicy.maskValues): for connections no rule
   * knows. Default: none (only the wire rules).
   */
  maskValues?: (latin1: string) => string;
}

/** The side that wrote a record's bytes: the captured process's socket role and the record's direction. */
function sideOf(role: Followed["role"], egress: boolean): WireSide {
  // A connection of unknown role (older than the agent) is taken as the process's own client connection.
  if (role === "server") return egress ? "server" : "client";
  return egress ? "client" : "server";
}

/** Masks raw messages in place, connection by connection (see the file comment). */
export class RawBatchMasker {
  readonly #connections = new Map<bigint, Followed>();
  readonly #max: number;
  readonly #names: SecretNames;
  readonly #maskValues: ((latin1: string) => string) | undefined;

  constructor(opts: RawBatchMaskerOptions = {}) {
    this.#max = Math.max(1, opts.maxConnections ?? MAX_MASKED_CONNECTIONS);
    this.#names = opts.names ?? BUILTIN_SECRET_NAMES;
    this.#maskValues = opts.maskValues;
  }

  /** Connections currently followed. */
  get size(): number {
    return this.#connections.size;
  }

  /**
   * Masks the data records of one raw message ("ADIB" batch) in place; returns how many records had bytes masked.
   * Throws WireFormatError for a batch that is not whole records (the caller drops it: it cannot be masked).
   */
  maskBatch(batch: Buffer): number {
    const header = decodeBatchHeader(batch);
    const L = layoutsFor(header.version);
    let masked = 0;
    for (const { at, kind } of recordSpans(batch, header.headerSize, L.header)) {
      if (kind === RecordKind.data) {
        if (batch[at + L.data.tuple + TUPLE_LAYOUT.protocol] === 17) continue; // UDP: no handshakes followed
        const followed = this.#follow(batch.readBigUInt64LE(at + L.data.conn_id), "unknown");
        if (followed.masker === null && followed.unknownLeft === null) continue;
        const len = batch.readUInt32LE(at + L.data.len);
        const side = sideOf(followed.role, batch[at + L.data.direction] === 1);
        const payloadAt = at + L.data.payload;
        const payload = batch.subarray(payloadAt, payloadAt + len);
        let changed = false;
        if (followed.masker !== null) {
          changed = followed.masker.mask(side, payload) > 0;
          const lost = lostAfter(batch, at, L.data, len);
          if (lost > 0) followed.masker.lost(side, lost);
          if (followed.masker.protocol === "off") {
            // No rule knows it: the masker's state is freed, and the first bytes are searched by the value rules
            // instead (this record's included: it is what the masker decided on).
            followed.masker = null;
            if (this.#maskValues) followed.unknownLeft = { client: UNKNOWN_PROTOCOL_SCAN_BYTES, server: UNKNOWN_PROTOCOL_SCAN_BYTES };
          }
        }
        if (followed.unknownLeft !== null && followed.unknownLeft[side] > 0) {
          const n = Math.min(payload.length, followed.unknownLeft[side]);
          followed.unknownLeft[side] -= n;
          const text = payload.toString("latin1", 0, n);
          const shown = this.#maskValues!(text);
          if (shown !== text) {
            payload.write(shown, 0, "latin1"); // same length: the value rules mask byte for byte
            changed = true;
          }
          if (followed.unknownLeft.client <= 0 && followed.unknownLeft.server <= 0) followed.unknownLeft = null;
        }
        if (changed) masked++;
      } else if (kind === RecordKind.connOpen) {
        const connId = batch.readBigUInt64LE(at + L.conn.conn_id);
        this.#connections.delete(connId); // a reused id starts afresh
        this.#follow(connId, CONN_ROLES[batch[at + L.conn.role]!] ?? "unknown");
      } else if (kind === RecordKind.connClose) {
        this.#connections.delete(batch.readBigUInt64LE(at + L.conn.conn_id));
      }
    }
    return masked;
  }

  #follow(connId: bigint, role: Followed["role"]): Followed {
    let followed = this.#connections.get(connId);
    if (followed) {
      // State freed once done; the entry stays to the close. An "off" masker is turned into a value search first.
      if (followed.masker?.done && followed.masker.protocol !== "off") followed.masker = null;
      return followed;
    }
    if (this.#connections.size >= this.#max) {
      const oldest = this.#connections.keys().next().value;
      if (oldest !== undefined) this.#connections.delete(oldest);
    }
    followed = { masker: createWireMasker({ names: this.#names }), role, unknownLeft: null };
    this.#connections.set(connId, followed);
    return followed;
  }
}

/**
 * Bytes of the syscall after this record that no record carries (the payload limit, a sendfile, a failed read), as
 * the classifier counts them (services/classifier/src/core/engine.ts gapAfter): the masker skips them.
 */
function lostAfter(batch: Buffer, at: number, D: ReturnType<typeof layoutsFor>["data"], len: number): number {
  const flags = batch[at + D.flags]!;
  const total = batch.readUInt32LE(at + D.total_len);
  const offset = batch.readUInt32LE(at + D.offset);
  const last = (flags & DataFlags.lastChunk) !== 0;
  if (flags & DataFlags.readFailed) return last ? total - offset : Math.min(16_384, total - offset);
  return last && flags & (DataFlags.truncated | DataFlags.gap) ? Math.max(0, total - (offset + len)) : 0;
}
