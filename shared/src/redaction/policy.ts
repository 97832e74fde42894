// The redaction policy: which categories of rule apply (all by default; ADI_REDACT_OFF and ENV_REDACT=false turn
// some off), extra secret names (ADI_REDACT_NAMES) and extra value patterns (ADI_REDACT_PATTERNS). Built once
// from the configuration and handed to every place that publishes or writes: the classifier (HTTP exchanges),
// the capture agent (process facts), the mapper and the enricher (again, for streams written by older versions),
// and replay. Everything here is pure and deterministic: live and replay redact alike.
import { createHash } from "node:crypto";
import type { HttpExchange, HttpRequest, HttpResponse } from "../wire/derived.ts";
import { redactArgv, redactCmdlineText, type CmdlineContext } from "./cmdline.ts";
import { redactBody, redactHeaderPairs, redactHeaderValue, redactRaw, redactTarget, type HttpRules } from "./http.ts";
import { redactJson } from "./json.ts";
import { NEVER_SECRET_ENV_NAMES, NEVER_SECRET_PREFIXES, REDACTED, SecretNames } from "./names.ts";
import { compileExtraPatterns, MARK, MASK, redactFields, redactValues, VALUE_HINTS } from "./values.ts";
// A digest of the rules' own code (this directory's modules that redact text): two processes with the same digest
// and the same settings redact alike. Generated at build time (scripts/gen-rules-digest.ts), so loading the policy
// reads no file; a unit test fails while it is stale.
import { RULES_DIGEST } from "./rules-digest.gen.ts";

/**
 * What can be turned off, one switch each (ADI_REDACT_OFF):
 * - `headers`: HTTP header values under a secret name (Authorization, Cookie, X-Api-Key, X-Session…), in
 *   `headers` and in `raw`;
 * - `query`: secret-named parameters in request targets and header values (`?token=`, `;jsessionid=`);
 * - `body`: secret-named fields in HTTP bodies (JSON at any depth, forms, multipart, text);
 * - `values`: secrets by their look in HTTP text (JWTs, token prefixes, URL passwords, connection strings,
 *   Authorization in text, ADI_REDACT_PATTERNS);
 * - `cmdline`: process command lines (flag table, then the field and value rules on every argument);
 * - `env`: process environments (by name, then by value); ENV_REDACT=false turns it off too;
 * - `handshake`: credentials in non-HTTP protocol handshakes (masked byte for byte by the wire masker).
 */
export const REDACTION_CATEGORIES = ["headers", "query", "body", "values", "cmdline", "env", "handshake"] as const;
export type RedactionCategory = (typeof REDACTION_CATEGORIES)[number];

export interface RedactionSettings {
  /** Categories not to redact. */
  readonly off?: Iterable<RedactionCategory>;
  /** Extra secret names (SecretNames). */
  readonly names?: readonly string[];
  /** Extra value patterns (regex sources; first capture group, else the match, is the secret). */
  readonly patterns?: readonly string[];
}

/** The configuration fields a policy is built from (shared/src/config.ts). */
export interface RedactionConfig {
  readonly redactOff: readonly RedactionCategory[];
  readonly redactNames: readonly string[];
  readonly redactPatterns: readonly string[];
  /** ENV_REDACT (the Go tool's switch): false turns the env category off. */
  readonly envRedact: boolean;
}

/** '*' bytes over `buf[start, end)`, in place: the length (and any framing that counts it) stays. */
export function maskBytes(buf: Uint8Array, start = 0, end = buf.length): void {
  buf.fill(0x2a, start, end);
}

/** A latin1 text (one character per byte) with every character '*': same byte length once encoded as latin1. */
export function maskLatin1(text: string): string {
  return "*".repeat(text.length);
}

const IDENTITY = (text: string): string => text;

const BODY_FIELD_RULES = ["json-field", "key-value", "multipart-field"] as const;
const FREE_TEXT_FIELD_RULES = ["json-field", "key-value"] as const;

export class RedactionPolicy {
  /** Everything on, no extras: the default configuration. */
  static readonly DEFAULT = new RedactionPolicy();
  /** Nothing redacted (ADI_REDACT_OFF=all). */
  static readonly NONE = new RedactionPolicy({ off: REDACTION_CATEGORIES });

  readonly names: SecretNames;
  /**
   * What this policy is: the rules' digest and the settings, hashed (16 hex digits). Redaction is idempotent, so
   * what a policy with this id redacted needs nothing more from it: the classifier publishes the id with each
   * derived batch, and a mapper holding the same id does not redact those observations again (issue 12: it was
   * a tenth of the mapper's CPU). A different id (other settings, another version's rules) redacts again.
   */
  readonly id: string;
  readonly #off: ReadonlySet<RedactionCategory>;
  readonly #extra: readonly RegExp[];
  readonly #http: HttpRules;
  readonly #httpOn: boolean;
  readonly #cmdline: CmdlineContext;

  /** Throws SyntaxError when a pattern does not compile (the configuration validates them first). */
  constructor(settings: RedactionSettings = {}) {
    this.#off = new Set(settings.off ?? []);
    const described = JSON.stringify([[...this.#off].sort(), settings.names ?? [], settings.patterns ?? []]);
    this.id = createHash("sha256").update(RULES_DIGEST).update(described).digest("hex").slice(0, 16);
    this.names = new SecretNames(settings.names ?? []);
    this.#extra = compileExtraPatterns(settings.patterns ?? []);
    const on = (c: RedactionCategory) => !this.#off.has(c);
    this.#http = {
      credentialHeader: on("headers") ? (name) => this.names.test(name) : () => false,
      query: on("query") ? (text) => redactFields(text, this.names, ["key-value"]) : IDENTITY,
      body: on("body") ? (text) => this.#freeText(text, BODY_FIELD_RULES) : IDENTITY,
      values: on("values") ? (text) => redactValues(text, this.#extra) : IDENTITY,
      marker: REDACTED,
    };
    this.#httpOn = (["headers", "query", "body", "values"] as const).some(on);
    this.#cmdline = { names: this.names, text: (arg) => this.#freeText(redactValues(arg, this.#extra), FREE_TEXT_FIELD_RULES) };
  }

  /** From the configuration (RedactionConfig); ENV_REDACT=false adds `env` to the categories off. */
  static fromConfig(cfg: RedactionConfig): RedactionPolicy {
    const off = new Set<RedactionCategory>(cfg.redactOff);
    if (!cfg.envRedact) off.add("env");
    if (off.size === 0 && cfg.redactNames.length === 0 && cfg.redactPatterns.length === 0) return RedactionPolicy.DEFAULT;
    return new RedactionPolicy({ off, names: cfg.redactNames, patterns: cfg.redactPatterns });
  }

  enabled(category: RedactionCategory): boolean {
    return !this.#off.has(category);
  }

  /** The secret-name test (built-in rules plus ADI_REDACT_NAMES), whatever the categories. */
  isSecretName(name: string): boolean {
    return this.names.test(name);
  }

  /** `values` category: secrets by their look (VALUE_RULES, ADI_REDACT_PATTERNS) replaced by the marker. */
  values(text: string): string {
    return this.#http.values(text);
  }

  /**
   * The value rules with '*' for each character of a secret instead of the marker: the length stays, for
   * latin1 text whose framing counts bytes. Identity when `values` is off.
   */
  maskValues(latin1: string): string {
    return this.enabled("values") ? redactValues(latin1, this.#extra, MASK) : latin1;
  }

  headerValue(name: string, value: string): string {
    return redactHeaderValue(name, value, this.#http);
  }

  /** Header pairs in wire order (a folded value is one pair: the parser joined its lines). */
  headers(headers: readonly (readonly [string, string])[]): [string, string][] {
    return redactHeaderPairs(headers, this.#http);
  }

  target(target: string): string {
    return redactTarget(target, this.#http);
  }

  /** A decoded body (UTF-8 text); null stays null. */
  body(body: string | null): string | null {
    return redactBody(body, this.#http);
  }

  /** `raw`: head and first body bytes, latin1. */
  raw(raw: string): string {
    return redactRaw(raw, this.#http);
  }

  /**
   * Could any rule change this text? False when it holds no word a secret name needs and nothing a value rule
   * looks for (and there are no extra patterns): the fast path taken by almost every exchange.
   */
  #mayHold(text: string): boolean {
    // VALUE_HINTS.anyCase's words are secret-name words: names.hint covers them.
    return this.#extra.length > 0 || this.names.hint.test(text) || VALUE_HINTS.exact.test(text);
  }

  /**
   * No part of the message can hold anything to redact: it is returned as it is. Each text is tested once: the
   * start line and headers are in `raw` when it holds the whole head (hint words are ASCII, which the head's UTF-8
   * decoding leaves as they are), and so is the body when `raw` ends with it (not chunked, not compressed).
   */
  #clean(m: HttpRequest | HttpResponse, target: string): boolean {
    if (this.#extra.length > 0 || this.#mayHold(m.raw)) return false;
    if (!/\r?\n\r?\n/.test(m.raw)) {
      if (this.#mayHold(target)) return false;
      for (const [name, value] of m.headers) if (this.#mayHold(name) || this.#mayHold(value)) return false;
    }
    return m.body === null || m.raw.endsWith(m.body) || !this.#mayHold(m.body);
  }

  request(m: HttpRequest): HttpRequest {
    if (!this.#httpOn || this.#clean(m, m.target)) return m;
    return { ...withBody(m, this.body(m.body)), headers: this.headers(m.headers), target: this.target(m.target), raw: this.raw(m.raw) };
  }

  response(m: HttpResponse): HttpResponse {
    if (!this.#httpOn || this.#clean(m, m.reason)) return m;
    return { ...withBody(m, this.body(m.body)), headers: this.headers(m.headers), reason: this.values(m.reason), raw: this.raw(m.raw) };
  }

  /** An exchange as it may be published or written: request and response redacted, the rest as it was. */
  exchange(ex: HttpExchange): HttpExchange {
    if (!this.#httpOn) return ex;
    const request = this.request(ex.request);
    const response = ex.response === null ? null : this.response(ex.response);
    return request === ex.request && response === ex.response ? ex : { ...ex, request, response };
  }

  /** `cmdline` category: an argument vector (see redactArgv). */
  argv(argv: readonly string[]): string[] {
    return this.enabled("cmdline") ? redactArgv(argv, this.#cmdline) : [...argv];
  }

  /** `cmdline` category: a command line joined by spaces (see redactCmdlineText). */
  cmdline(cmdline: string): string {
    return this.enabled("cmdline") ? redactCmdlineText(cmdline, this.#cmdline) : cmdline;
  }

  /**
   * `env` category: one variable's value. ADI_PROFILE* is never hidden, nor is the shell's PWD/OLDPWD by its name
   * (NEVER_SECRET_ENV_NAMES: its value still goes through the value rules); a secret name hides the whole value;
   * otherwise the field rules (JSON or `key=value` inside) and the value rules hide the secret parts.
   */
  envValue(name: string, value: string): string {
    if (!this.enabled("env") || NEVER_SECRET_PREFIXES.some((p) => name.startsWith(p))) return value;
    if (!NEVER_SECRET_ENV_NAMES.has(name) && this.names.test(name)) return value === "" ? value : REDACTED;
    return this.#freeText(redactValues(value, this.#extra), FREE_TEXT_FIELD_RULES);
  }

  /** `env` category: a whole environment, a new object with the same keys in the same order. */
  env(env: Readonly<Record<string, string>>): Record<string, string> {
    return Object.fromEntries(Object.entries(env).map(([name, value]) => [name, this.envValue(name, value)]));
  }

  /** JSON redacted in place when the text is JSON, else the text field rules; `key=value` in both. */
  #freeText(text: string, rules: readonly ("json-field" | "key-value" | "multipart-field")[]): string {
    if (text === "" || !this.names.hint.test(text)) return text;
    const json = redactJson(text, this.names, MARK);
    if (json !== null) return redactFields(json, this.names, ["key-value"]);
    return redactFields(text, this.names, rules);
  }
}

/**
 * `m` with `body`: a body the policy changed drops the schema the classifier shipped for the old one (derived v3
 * body_schema), so a consumer infers it from what it will print.
 */
function withBody<T extends { body: string | null; body_schema?: string }>(m: T, body: string | null): T {
  if (body === m.body) return m;
  const { body_schema: _stale, ...rest } = m;
  return { ...rest, body } as T;
}
