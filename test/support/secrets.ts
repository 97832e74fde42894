// Planted secrets for the "secrets stay hidden" end-to-end test (issue 11): values unique to one run (so a search
// for them is exact and can only hit what the run planted), the encoded forms an output could carry them in (hex as
// in first_bytes_hex, base64 as in Basic credentials or a binary body, base64url as in a JWT), and a search over
// every output that says, secret by secret and output by output, where each one was found.
import { createHash, randomBytes, randomInt } from "node:crypto";
import { jetstreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import { parseAllDocuments } from "yaml";
import { decodeBatch, RAW_STREAM } from "@adi/shared/wire";
import type { DataRecord } from "@adi/shared/wire";

/** One form of a secret to search for: `plain` as planted, or an encoding of it. */
export interface Needle {
  /** plain, hex, base64@N (the secret at byte offset N mod 3 of a base64 run), base64url@N, or a named extra. */
  form: string;
  text: string;
  /** Hex is searched case-insensitively (an output may print it upper-case); everything else exactly. */
  caseInsensitive: boolean;
}

export interface PlantedSecret {
  /** A stable name for the table, e.g. `http.header.authorization-bearer`. */
  id: string;
  /** Where the test planted it, for the reader of a failure. */
  planted: string;
  value: string;
  needles: Needle[];
}

const BASE62 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/** `n` random characters of [A-Za-z0-9]. */
export function base62(n: number): string {
  let out = "";
  for (let i = 0; i < n; i++) out += BASE62[randomInt(BASE62.length)];
  return out;
}

/** A neutral secret, `S3cr3t-` and 24 random hex digits: nothing in its shape says "secret", only where it sits. */
export function neutralSecret(): string {
  return `S3cr3t-${randomBytes(12).toString("hex")}`;
}

/** A GitHub personal access token's shape: `ghp_` and 36 characters of [A-Za-z0-9] (GitHub's documented format). */
export function githubToken(): string {
  return `ghp_${base62(36)}`;
}

/** A Stripe live secret key's shape: `sk_live_` and 32 characters of [A-Za-z0-9]. */
export function stripeKey(): string {
  return `sk_live_${base62(32)}`;
}

function base64url(b: Buffer | string): string {
  return Buffer.from(b).toString("base64url");
}

/** A JSON Web Token (RFC 7519): HS256 header, a random subject, a random 32-byte signature. */
export function jwt(): string {
  const header = base64url(JSON.stringify({ alg: "HS256", typ: "JWT" }));
  const payload = base64url(JSON.stringify({ sub: `svc-${randomBytes(8).toString("hex")}`, iat: 1764540000 }));
  return `${header}.${payload}.${base64url(randomBytes(32))}`;
}

/**
 * The stretches of base64 that encode only bytes of `value` when it starts at byte offset `shift` (0, 1, 2) of a
 * base64-encoded run: the first group (mixing earlier bytes) and the last partial group are cut. Any base64 text
 * holding `value` holds one of the three.
 */
function base64Cores(value: Buffer, alphabet: "base64" | "base64url"): Needle[] {
  const out: Needle[] = [];
  for (let shift = 0; shift < 3; shift++) {
    const encoded = Buffer.concat([Buffer.alloc(shift), value]).toString(alphabet).replace(/=+$/, "");
    const start = shift === 0 ? 0 : 4;
    const whole = Math.floor((shift + value.length) / 3) * 4;
    const core = encoded.slice(start, whole);
    if (core.length >= 12) out.push({ form: `${alphabet}@${shift}`, text: core, caseInsensitive: false });
  }
  return out;
}

/**
 * The fixed beginnings of the planted shapes (S3cr3t-, a token prefix): a mask may keep
 * them (`ghp_[REDACTED]`), so fragments are taken from what follows, the random part.
 */
const FIXED_PREFIX = /^(?:S3cr3t-|ghp_|sk_live_)/;

/**
 * The first and last 12 characters of the random part (48 bits or more: found only where the secret went): a mask
 * that hid only part of a secret (one of two send calls, a cut at a chunk boundary) leaves one of them.
 */
function fragments(value: string): Needle[] {
  // A JWT's header and the start of its payload are the same in every token of a shape: its signature is random.
  const random = /^eyJ[\w-]*\.eyJ[\w-]*\.[\w-]+$/.test(value) ? value.slice(value.lastIndexOf(".") + 1) : value.replace(FIXED_PREFIX, "");
  if (random.length < 24) return [];
  return [
    { form: "head12", text: random.slice(0, 12), caseInsensitive: false },
    { form: "tail12", text: random.slice(-12), caseInsensitive: false },
  ];
}

/**
 * The forms searched for `value`: as planted, the first and last 12 characters of its random part, hex, base64 and
 * base64url at each alignment, JSON-escaped, URL-encoded; plus `extra`. Forms equal to an earlier one are dropped.
 */
export function needlesOf(value: string, extra: { form: string; text: string }[] = []): Needle[] {
  const bytes = Buffer.from(value, "utf8");
  const needles: Needle[] = [
    { form: "plain", text: value, caseInsensitive: false },
    ...fragments(value),
    { form: "hex", text: bytes.toString("hex"), caseInsensitive: true },
    ...base64Cores(bytes, "base64"),
    ...base64Cores(bytes, "base64url"),
    // as a JSON string or a URL component holds it (the same text for the planted shapes, whose random parts the
    // fragments also cover; a value with quotes, backslashes or '&' differs)
    { form: "json-escaped", text: JSON.stringify(value).slice(1, -1), caseInsensitive: false },
    { form: "url-encoded", text: encodeURIComponent(value), caseInsensitive: false },
    ...extra.map((e) => ({ form: e.form, text: e.text, caseInsensitive: false })),
  ];
  // A form equal to another (base64 of a value without '+' or '/' is its base64url) is searched once.
  return needles.filter((n, i) => needles.findIndex((m) => m.text === n.text) === i);
}

/**
 * The forms searched for a binary secret (an authentication proof): its bytes as latin1 (how binary outputs are
 * searched), hex, base64 and base64url at each alignment. `value` (for the report) is its hex.
 */
export function plantedBytes(id: string, where: string, bytes: Buffer): PlantedSecret {
  const needles: Needle[] = [
    { form: "bytes", text: bytes.toString("latin1"), caseInsensitive: false },
    { form: "hex", text: bytes.toString("hex"), caseInsensitive: true },
    ...base64Cores(bytes, "base64"),
    ...base64Cores(bytes, "base64url"),
  ];
  return { id, planted: where, value: bytes.toString("hex"), needles: needles.filter((n, i) => needles.findIndex((m) => m.text === n.text) === i) };
}

/**
 * The 20-byte nonce (auth-plugin-data, parts 1 and 2) of a MySQL/MariaDB server greeting (Protocol::HandshakeV10:
 * length(3) seq(1) 0x0a version NUL thread-id(4) data-1(8) filler(1) caps(2) charset(1) status(2) caps(2)
 * data-length(1) reserved(10) data-2(max(13, length − 8), NUL-terminated)) at the start of `bytes`; undefined when
 * they are not one.
 */
export function mysqlGreetingNonce(bytes: Buffer): Buffer | undefined {
  if (bytes.length < 5 || bytes[3] !== 0 || bytes[4] !== 0x0a) return undefined;
  const versionEnd = bytes.indexOf(0, 5);
  if (versionEnd < 0) return undefined;
  const part1 = versionEnd + 1 + 4;
  const part2 = part1 + 8 + 1 + 2 + 1 + 2 + 2 + 1 + 10;
  if (bytes.length < part2 + 12) return undefined;
  return Buffer.concat([bytes.subarray(part1, part1 + 8), bytes.subarray(part2, part2 + 12)]);
}

/**
 * What a mysql_native_password client sends for `password` against `nonce`: SHA1(password) XOR
 * SHA1(nonce + SHA1(SHA1(password))) (MySQL internals, "Native Authentication"). Not the password, but with the
 * greeting's nonce it checks a guess offline: a proof to hide like the password.
 */
export function mysqlNativeScramble(password: string, nonce: Buffer): Buffer {
  const sha1 = (b: Buffer) => createHash("sha1").update(b).digest();
  const stage1 = sha1(Buffer.from(password, "utf8"));
  const mix = sha1(Buffer.concat([nonce, sha1(stage1)]));
  return Buffer.from(stage1.map((byte, i) => byte ^ mix[i]!));
}

/** A secret of the catalogue: its value, where it was planted, and every form it is searched in. */
export function planted(id: string, where: string, value: string, extra: { form: string; text: string }[] = []): PlantedSecret {
  return { id, planted: where, value, needles: needlesOf(value, extra) };
}

/** A piece of an output: one line of a file, one stream message, one reassembled byte stream. */
export interface Haystack {
  /** The output's column in the table (OUTPUT_PATH, ADI_RAW, adi logs...). */
  output: string;
  /** Where in the output, for the reader: `line 12`, `adi.facts.v1.h.process #31`. */
  where: string;
  text: string;
  /** The parsed JSON of `text`, when it is JSON: hits then name the field (`$.headers.Authorization`). */
  json?: unknown;
}

export interface Hit {
  secret: string;
  output: string;
  where: string;
  /** The JSON path of the field holding it, when the haystack is JSON. */
  field: string | undefined;
  forms: string[];
  /** Some context around the first occurrence, control bytes escaped. */
  sample: string;
}

/** The JSON path of the first string (or key) in `value` that holds `text`; undefined if none does. */
export function jsonPathOf(value: unknown, text: string, lower: boolean, path = "$"): string | undefined {
  const holds = (s: string) => (lower ? s.toLowerCase().includes(text) : s.includes(text));
  if (typeof value === "string") return holds(value) ? path : undefined;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const found = jsonPathOf(value[i], text, lower, `${path}[${i}]`);
      if (found) return found;
    }
    return undefined;
  }
  if (value !== null && typeof value === "object") {
    for (const [key, v] of Object.entries(value)) {
      const at = /^[A-Za-z_$][\w$-]*$/.test(key) ? `${path}.${key}` : `${path}[${JSON.stringify(key)}]`;
      if (holds(key)) return `${at} (key)`;
      const found = jsonPathOf(v, text, lower, at);
      if (found) return found;
    }
  }
  return undefined;
}

function sampleAround(text: string, index: number, length: number): string {
  const from = Math.max(0, index - 40);
  const to = Math.min(text.length, index + length + 40);
  const shown = JSON.stringify(text.slice(from, to)).slice(1, -1);
  return `${from > 0 ? "…" : ""}${shown}${to < text.length ? "…" : ""}`;
}

/**
 * Every (secret, haystack) pair where the haystack holds the secret in one of its forms: one hit per haystack
 * (its forms listed), so a count is "lines / messages / streams holding it".
 */
export function searchSecrets(secrets: readonly PlantedSecret[], haystacks: readonly Haystack[]): Hit[] {
  const hits: Hit[] = [];
  for (const h of haystacks) {
    let lower: string | undefined;
    for (const s of secrets) {
      const forms: string[] = [];
      let first: { index: number; needle: Needle } | undefined;
      for (const needle of s.needles) {
        const index = needle.caseInsensitive ? (lower ??= h.text.toLowerCase()).indexOf(needle.text.toLowerCase()) : h.text.indexOf(needle.text);
        if (index < 0) continue;
        forms.push(needle.form);
        first ??= { index, needle };
      }
      if (!first) continue;
      const field = h.json === undefined ? undefined : jsonPathOf(h.json, first.needle.caseInsensitive ? first.needle.text.toLowerCase() : first.needle.text, first.needle.caseInsensitive);
      hits.push({ secret: s.id, output: h.output, where: h.where, field, forms, sample: sampleAround(h.text, first.index, first.needle.text.length) });
    }
  }
  return hits;
}

/** Hits counted per secret and output: every secret and output present, 0 where nothing was found. */
export function countHits(secrets: readonly PlantedSecret[], outputs: readonly string[], hits: readonly Hit[]): Record<string, Record<string, number>> {
  const counts: Record<string, Record<string, number>> = {};
  for (const s of secrets) counts[s.id] = Object.fromEntries(outputs.map((o) => [o, 0]));
  for (const hit of hits) {
    const row = counts[hit.secret]!;
    row[hit.output] = (row[hit.output] ?? 0) + 1;
  }
  return counts;
}

/**
 * The failure message: a table (a row per secret, a column per output, the number of lines / messages holding it),
 * then up to `samplesPer` located samples per secret and output.
 */
export function leakReport(secrets: readonly PlantedSecret[], outputs: readonly string[], hits: readonly Hit[], samplesPer = 2): string {
  const counts = countHits(secrets, outputs, hits);
  const idWidth = Math.max(6, ...secrets.map((s) => s.id.length));
  const widths = outputs.map((o) => Math.max(o.length, 3));
  const row = (first: string, cells: string[]) => [first.padEnd(idWidth), ...cells.map((c, i) => c.padStart(widths[i]!))].join(" | ");
  const lines = [row("secret", [...outputs]), [("-").repeat(idWidth), ...widths.map((w) => "-".repeat(w))].join("-|-")];
  for (const s of secrets) lines.push(row(s.id, outputs.map((o) => { const n = counts[s.id]![o]!; return n === 0 ? "." : String(n); })));
  const leaked = secrets.filter((s) => outputs.some((o) => counts[s.id]![o]! > 0));
  lines.push(
    "",
    `${leaked.length} of ${secrets.length} planted secrets found in at least one output (a cell: the lines of a file or log, the messages or reassembled connection directions of a stream, that hold the secret in any form; . = none)`,
  );
  for (const s of leaked) {
    lines.push("", `${s.id} — planted: ${s.planted} — value ${s.value}`);
    for (const o of outputs) {
      const mine = hits.filter((h) => h.secret === s.id && h.output === o);
      for (const h of mine.slice(0, samplesPer)) lines.push(`  ${o} ${h.where}${h.field ? ` ${h.field}` : ""} [${h.forms.join(",")}]: ${h.sample}`);
      if (mine.length > samplesPer) lines.push(`  ${o}: … ${mine.length - samplesPer} more`);
    }
  }
  return lines.join("\n");
}

/** A file's lines as haystacks (`line N`), parsed as JSON where they are JSON objects. */
export function lineHaystacks(output: string, text: string): Haystack[] {
  return text.split("\n").flatMap((line, i) => {
    if (line === "") return [];
    let json: unknown;
    if (line.startsWith("{")) {
      try {
        json = JSON.parse(line);
      } catch {
        json = undefined;
      }
    }
    return [{ output, where: `line ${i + 1}`, text: line, ...(json === undefined ? {} : { json }) }];
  });
}

/**
 * A YAML file as haystacks: one per document, parsed (so a long string the writer folded over lines is searched
 * whole), hits named by their field's path; a file that does not parse is searched line by line.
 */
export function yamlHaystacks(output: string, text: string): Haystack[] {
  let docs: unknown[];
  try {
    docs = parseAllDocuments(text).map((d) => {
      if (d.errors.length > 0) throw d.errors[0];
      return d.toJS() as unknown;
    });
  } catch {
    return lineHaystacks(output, text);
  }
  return docs.map((json, i) => ({ output, where: `document ${i + 1}`, text: JSON.stringify(json), json }));
}

/** A stored message's headers as `Name: value` lines (the dead-letter stream's Adi-Error, say). */
function headerText(headers: { keys(): string[]; values(k: string): string[] } | undefined): string {
  if (!headers) return "";
  return headers.keys().flatMap((k) => headers.values(k).map((v) => `${k}: ${v}`)).join("\n");
}

/**
 * Every message of every stream on the broker (the adi streams and any other, key-value buckets included) as
 * haystacks, in the column `columnOf(stream)`: a message's headers and its data as latin1 (every byte one
 * character, so an ASCII secret is found in binary data too), parsed as JSON when it is. ADI_RAW's batches are
 * decoded and each connection's bytes, per direction, reassembled in capture order, so a secret split over two
 * send calls or two batches is found whole; a batch that does not decode is searched as it is.
 */
export async function streamHaystacks(nc: NatsConnection, columnOf: (stream: string) => string): Promise<{ haystacks: Haystack[]; messages: Record<string, number> }> {
  const jsm = await jetstreamManager(nc);
  const haystacks: Haystack[] = [];
  const messages: Record<string, number> = {};
  const names: string[] = [];
  for await (const name of jsm.streams.names()) names.push(name);
  for (const stream of names.sort()) {
    const info = await jsm.streams.info(stream);
    const output = columnOf(stream);
    const connections = new Map<string, { where: string; parts: Buffer[] }>();
    messages[stream] = 0;
    for (let seq = info.state.first_seq; info.state.messages > 0 && seq <= info.state.last_seq; seq++) {
      const m = await jsm.streams.getMessage(stream, { seq }).catch(() => null);
      if (!m) continue;
      messages[stream]!++;
      const where = `${m.subject} #${seq}`;
      const headers = headerText(m.header);
      if (headers !== "") haystacks.push({ output, where: `${where} headers`, text: headers });
      const data = Buffer.from(m.data);
      if (stream === RAW_STREAM) {
        let records: DataRecord[] | undefined;
        try {
          records = decodeBatch(data).records.filter((r): r is DataRecord => r.type === "data");
        } catch {
          records = undefined;
        }
        if (records) {
          for (const r of records) {
            const key = `${r.connId}/${r.direction}`;
            const entry = connections.get(key) ?? { where: `conn ${r.connId} ${r.direction} (pid ${r.pid}, local ${r.tuple.laddr}:${r.tuple.lport}, remote ${r.tuple.raddr}:${r.tuple.rport}), reassembled`, parts: [] };
            entry.parts.push(r.payload);
            connections.set(key, entry);
          }
          continue;
        }
      }
      const text = data.toString("latin1");
      let json: unknown;
      if (text.startsWith("{") || text.startsWith("[")) {
        try {
          json = JSON.parse(data.toString("utf8"));
        } catch {
          json = undefined;
        }
      }
      haystacks.push({ output, where, text, ...(json === undefined ? {} : { json }) });
    }
    for (const c of connections.values()) haystacks.push({ output, where: c.where, text: Buffer.concat(c.parts).toString("latin1") });
  }
  return { haystacks, messages };
}
