// Secrets found by their LOOK, wherever they are (a header value, a body, a URL, a command-line argument, an
// environment value), and secrets found in free text by the NAME before them (`"password": "…"`, `token=…`).
// Every rule is a row of a table; the code below only applies the tables. Only the secret part is replaced:
// `postgres://app:[REDACTED]@db/app` keeps the scheme, the user and the host.
import { escapeRegExp, REDACTED, trieRegex, type SecretNames } from "./names.ts";

/**
 * A value rule: `pattern` is global, and its match is `pre` + `secret` + `post` (named groups; `pre` and `post`
 * optional and kept): only `secret` is replaced. `hints` are literals, one of which every match contains, in
 * their case (`hintCase: "exact"`, for case-sensitive patterns) or lower-cased (`"any"`): a text holding none of
 * them is not scanned (one combined test for all rules, built once; case-sensitive tests are the cheap ones).
 */
export interface ValueRule {
  readonly name: string;
  /** Where the shape comes from: the issuer's documentation, an RFC, a peer tool. */
  readonly source: string;
  readonly pattern: RegExp;
  readonly hints: readonly string[];
  readonly hintCase: "exact" | "any";
  /** The secret may be a quoted literal: its quotes stay (`'[REDACTED]'`). */
  readonly quoted?: boolean;
}

/**
 * Well-known token prefixes: a prefix is kept (`ghp_[REDACTED]` still says "a GitHub token"), what follows is the
 * secret. `body` is the token's alphabet and length after the prefix, as the issuer documents it (lower bounds
 * a little looser than the issuer's, so a token of an older or newer format is still caught).
 */
export const TOKEN_PREFIX_RULES: readonly { name: string; prefixes: readonly string[]; body: string; source: string }[] = [
  { name: "github-token", prefixes: ["ghp_", "gho_", "ghu_", "ghs_", "ghr_"], body: "[A-Za-z0-9]{20,}", source: "GitHub: about authentication, token formats (prefix + 36 base62)" },
  { name: "github-fine-grained-pat", prefixes: ["github_pat_"], body: "[A-Za-z0-9_]{20,}", source: "GitHub: fine-grained personal access tokens" },
  { name: "gitlab-token", prefixes: ["glpat-", "gldt-", "glrt-", "glptt-", "glsoat-", "glcbt-"], body: "[A-Za-z0-9_-]{20,}", source: "GitLab: token overview, token prefixes" },
  { name: "stripe-key", prefixes: ["sk_live_", "sk_test_", "rk_live_", "rk_test_", "whsec_"], body: "[A-Za-z0-9]{16,}", source: "Stripe: API keys (secret, restricted) and webhook signing secrets" },
  { name: "slack-token", prefixes: ["xoxb-", "xoxp-", "xoxa-", "xoxr-", "xoxs-", "xoxe-"], body: "[A-Za-z0-9-]{10,}", source: "Slack: token types" },
  { name: "aws-access-key-id", prefixes: ["AKIA", "ASIA"], body: "[A-Z0-9]{16}(?![A-Za-z0-9])", source: "AWS IAM: unique ID prefixes (access key AKIA, temporary ASIA)" },
  { name: "google-api-key", prefixes: ["AIza"], body: "[0-9A-Za-z_-]{35}", source: "Google Cloud: API keys (gitleaks gcp-api-key)" },
  { name: "npm-token", prefixes: ["npm_"], body: "[A-Za-z0-9]{36}", source: "npm: access tokens (gitleaks npm-access-token)" },
  { name: "huggingface-token", prefixes: ["hf_"], body: "[A-Za-z0-9]{30,}", source: "Hugging Face: user access tokens" },
  { name: "openai-anthropic-key", prefixes: ["sk-"], body: "[A-Za-z0-9_-]{20,}", source: "OpenAI (sk-, sk-proj-), Anthropic (sk-ant-) API keys" },
  { name: "sendgrid-key", prefixes: ["SG."], body: "[A-Za-z0-9_-]{16,}\\.[A-Za-z0-9_-]{16,}", source: "Twilio SendGrid: API keys (gitleaks sendgrid-api-token)" },
  { name: "docker-hub-pat", prefixes: ["dckr_pat_"], body: "[A-Za-z0-9_-]{20,}", source: "Docker Hub: personal access tokens" },
  { name: "shopify-token", prefixes: ["shpat_", "shpca_", "shppa_", "shpss_"], body: "[a-fA-F0-9]{32}", source: "Shopify: access tokens (gitleaks shopify-*)" },
  { name: "pypi-token", prefixes: ["pypi-AgEIcHlwaS5vcmc"], body: "[A-Za-z0-9_-]{20,}", source: "PyPI: API tokens (macaroon for pypi.org)" },
  { name: "vault-token", prefixes: ["hvs.", "hvb.", "hvr."], body: "[A-Za-z0-9_-]{24,}", source: "HashiCorp Vault: tokens (1.10+: hvs. service, hvb. batch, hvr. recovery; 90+ characters). The legacy `s.`/`b.` prefixes are not a rule: two characters match ordinary text" },
  { name: "digitalocean-token", prefixes: ["dop_v1_", "doo_v1_"], body: "[a-f0-9]{64}", source: "DigitalOcean: personal access tokens" },
];

/** Authorization schemes kept in clear before the credential (IANA HTTP Authentication Scheme Registry, AWS SigV4). */
export const AUTH_SCHEMES = [
  "Basic", "Bearer", "Digest", "Negotiate", "NTLM", "HOBA", "Mutual", "VAPID", "SCRAM-SHA-1", "SCRAM-SHA-256",
  "PrivateToken", "DPoP", "GNAP", "Token", "ApiKey", "Bot", "OAuth", "AWS4-HMAC-SHA256",
] as const;

const SCHEMES = AUTH_SCHEMES.map(escapeRegExp).join("|");

/** Value rules, applied in this order (token prefixes first: a `ghp_` user in a URL keeps its prefix). */
export const VALUE_RULES: readonly ValueRule[] = [
  {
    name: "pem-private-key",
    source: "RFC 7468 (PEM): -----BEGIN … PRIVATE KEY----- blocks (PKCS#1, PKCS#8, OpenSSH, EC)",
    pattern: /(?<pre>-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----)(?<secret>[\s\S]*?)(?<post>-----END [A-Z0-9 ]*PRIVATE KEY-----|$)/g,
    hints: ["PRIVATE KEY-----"],
    hintCase: "exact",
  },
  {
    name: "jwt",
    source: "RFC 7519 / RFC 7515 compact serialisation: base64url('{\"…') . base64url('{\"…') . signature; JWE has five parts",
    pattern: /(?<![A-Za-z0-9_-])(?<secret>eyJ[A-Za-z0-9_-]{2,}\.eyJ[A-Za-z0-9_-]{2,}(?:\.[A-Za-z0-9_-]*){1,3})/g,
    hints: ["eyJ"],
    hintCase: "exact",
  },
  ...TOKEN_PREFIX_RULES.map((r) => ({
    name: r.name,
    source: r.source,
    pattern: new RegExp(`(?<![A-Za-z0-9_])(?<pre>${r.prefixes.map(escapeRegExp).join("|")})(?<secret>${r.body})`, "g"),
    hints: r.prefixes,
    hintCase: "exact" as const,
  })),
  {
    name: "slack-webhook-url",
    source: "Slack: incoming webhooks, https://hooks.slack.com/services/T<team>/B<bot>/<secret> (workflows: /workflows/…, /triggers/…): the last part is the secret",
    pattern: /(?<pre>hooks\.slack\.com\/(?:services|workflows|triggers)\/[A-Za-z0-9]+\/[A-Za-z0-9]+\/)(?<secret>[A-Za-z0-9_-]+)/g,
    hints: ["hooks.slack.com/"],
    hintCase: "exact",
  },
  {
    name: "discord-webhook-url",
    source: "Discord: webhook resource, https://discord.com/api/webhooks/<webhook.id>/<webhook.token> (also discordapp.com, ptb./canary. hosts, /api/v10/webhooks/)",
    pattern: /(?<pre>discord(?:app)?\.com\/api\/(?:v\d+\/)?webhooks\/\d+\/)(?<secret>[A-Za-z0-9_-]+)/g,
    hints: ["discord.com/api/", "discordapp.com/api/"],
    hintCase: "exact",
  },
  {
    name: "url-userinfo-password",
    source: "RFC 3986 §3.2.1 userinfo `user:password@` (deprecated, still common in DSNs); the password runs to the last '@' before the path, as parsers accept an unencoded '@'",
    pattern: /(?<pre>[a-z][a-z0-9+.-]*:\/\/[^\s:/?#@]*:)(?<secret>[^\s/?#]*)(?<post>@)/gi,
    hints: ["://"],
    hintCase: "exact",
  },
  {
    name: "url-userinfo-key",
    source: "DSNs whose user part is the key (Sentry `https://<public key>@o1.ingest.sentry.io/1`): a user of 20+ token characters with a digit",
    pattern: /(?<pre>[a-z][a-z0-9+.-]*:\/\/)(?<secret>(?=[A-Za-z_-]*[0-9])[A-Za-z0-9_-]{20,})(?<post>@)/gi,
    hints: ["://"],
    hintCase: "exact",
  },
  {
    name: "connection-string-password",
    source: "ADO.NET / ODBC / JDBC (SQL Server) connection strings: `;Password=…;`, `Pwd=…` (in a text with a ';': a lone `PWD=/home/app` is the shell's), values quoted \"…\", '…' or {…}",
    pattern: /(?<pre>(?:^(?=[^\r\n]*;)|(?<=;))\s*(?:password|pwd)\s*=\s*)(?<secret>"(?:[^"]|"")*"|'(?:[^']|'')*'|\{(?:[^}]|\}\})*\}|[^;\r\n"'\\]*(?=;)|[^;\s"'\\<>&,]*)/gi,
    hints: ["password", "pwd"],
    hintCase: "any",
    quoted: true,
  },
  {
    name: "libpq-dsn-password",
    source: "PostgreSQL libpq keyword/value connection strings (§34.1.1): `host=h password=secret dbname=d`, values may be '…' quoted (an unquoted value ends at ';' or '&' too: the same words in a form body)",
    pattern: /(?<pre>(?:^|(?<=\s))password\s*=\s*)(?<secret>'(?:[^'\\]|\\.)*'|[^\s'"\\;&]+)/gi,
    hints: ["password"],
    hintCase: "any",
    quoted: true,
  },
  {
    name: "sql-password-literal",
    source: "SQL: PostgreSQL CREATE/ALTER ROLE … [ENCRYPTED] PASSWORD 'secret', MySQL/MariaDB SET PASSWORD … = 'secret' and IDENTIFIED BY PASSWORD '…', Oracle/Snowflake PASSWORD = '…': a quoted literal after the word",
    pattern: /(?<pre>\bpassword\s*(?:=\s*)?)(?<secret>'(?:[^'\\]|''|\\.)*'?)/gi,
    hints: ["password"],
    hintCase: "any",
    quoted: true,
  },
  {
    name: "sql-identified-by",
    source: "SQL: MySQL/MariaDB CREATE/ALTER USER … IDENTIFIED [WITH plugin] BY 'secret', Oracle IDENTIFIED BY secret: the literal or word after BY",
    pattern: /(?<pre>\bidentified\s+(?:with\s+[A-Za-z0-9_'"]+\s+)?by\s+(?:password\s+)?)(?<secret>'(?:[^'\\]|''|\\.)*'?|"(?:[^"\\]|""|\\.)*"?|[^\s;'"]+)/gi,
    hints: ["IDENTIFIED", "identified", "Identified"],
    hintCase: "exact",
    quoted: true,
  },
  {
    name: "authorization-in-text",
    source: "An Authorization header written into text (a log line, a command, a JSON string): RFC 9110 §11.6.2 credentials after the scheme",
    pattern: new RegExp(
      `(?<pre>\\b(?:proxy-)?authorization"?\\s*[:=]\\s*["']?\\s*(?:(?:${SCHEMES})\\s+)?)(?<secret>[^\\s"'\\\\,;]+)`,
      "gi",
    ),
    hints: ["authorization"],
    hintCase: "any",
  },
];

/**
 * Name-driven rules for free text: a secret NAME (SecretNames) followed by its value. For bodies that are not
 * (whole) JSON, command-line arguments, environment values, URLs in any text.
 * - `json-field`: `"password": "…"` / `"pin": 1234` in JSON-ish text (cut or invalid JSON, a JSON string inside
 *   a log line): the string or number value.
 * - `key-value`: `name=value` after a start, whitespace or one of `?&;,`: query strings (RFC 3986 §3.4), form
 *   bodies (application/x-www-form-urlencoded), matrix parameters (`;jsessionid=`), libpq DSNs, shell
 *   assignments (`PGPASSWORD=…`), `--password=…` and Java's `-Ddb.password=…`. Names are percent/plus-decoded.
 *   The value runs over '#' (`--password=abc#X` is one password; a URL fragment after a secret is hidden too).
 * - `multipart-field`: the first line of a multipart/form-data part named by its Content-Disposition (RFC 7578).
 */
export const TEXT_FIELD_RULES = {
  "json-field": /(?<pre>"(?<name>(?:[^"\\\r\n]|\\.){1,128})"\s*:\s*)(?<secret>"(?:[^"\\]|\\.)*"?|-?\d[\d.eE+-]*)/g,
  "key-value": /(?<pre>(?:^|(?<=[\s?&;,]))(?<name>[^\s=?&;,"'<>]{1,128})=)(?<secret>"[^"]*"|'[^']*'|[^\s&;,?"'<>\\]*)/g,
  "multipart-field": /(?<pre>Content-Disposition:[^\r\n]*\bname="(?<name>[^"\r\n]*)"[^\r\n]*\r?\n(?:[^\r\n]+\r?\n)*\r?\n)(?<secret>[^\r\n]*)/gi,
} as const;
export type TextFieldRule = keyof typeof TEXT_FIELD_RULES;

/** How a secret part is replaced: the marker (text outputs) or '*' per character (length kept). */
export type Marker = (secret: string) => string;

export const MARK: Marker = (secret) => (secret === "" ? secret : REDACTED);

/** Same length, '*' for every character: for latin1 text (one character per byte) the byte length is kept too. */
export const MASK: Marker = (secret) => "*".repeat(secret.length);

type Groups = Record<string, string | undefined>;

function rebuild(groups: Groups, mark: Marker, secret: string = groups.secret ?? ""): string {
  return (groups.pre ?? "") + mark(secret) + (groups.post ?? "");
}

/** A quoted secret keeps its quotes: `"[REDACTED]"`, `'[REDACTED]'`, `{[REDACTED]}`; idempotent on the marker. */
function markQuoted(mark: Marker): Marker {
  return (secret) => {
    const open = secret[0];
    const close = open === '"' ? '"' : open === "'" ? "'" : open === "{" ? "}" : undefined;
    if (close !== undefined && secret.length >= 2 && secret.endsWith(close)) return open + mark(secret.slice(1, -1)) + close;
    if (close !== undefined && open !== "{") return open + mark(secret.slice(1)); // cut before its closing quote
    return mark(secret);
  };
}

/**
 * The rules' hints as two regexes: `exact` (case-sensitive, the cheap one) and `anyCase`. Every `anyCase` hint
 * (password, pwd, authorization) is also a secret-name word, so a caller that tests SecretNames.hint anyway needs
 * only `exact` (the policy's fast path; a test pins the inclusion).
 */
export const VALUE_HINTS = {
  exact: trieRegex(VALUE_RULES.filter((r) => r.hintCase === "exact").flatMap((r) => r.hints), ""),
  anyCase: trieRegex(VALUE_RULES.filter((r) => r.hintCase === "any").flatMap((r) => r.hints), "i"),
} as const;
const EXACT_HINT = VALUE_HINTS.exact;
const ANY_CASE_HINT = VALUE_HINTS.anyCase;

/** One test for every rule's hints: false means no value rule can match `text`, which is then not scanned. */
export function mayHoldValue(text: string): boolean {
  return EXACT_HINT.test(text) || ANY_CASE_HINT.test(text);
}

/**
 * Extra value patterns (ADI_REDACT_PATTERNS), compiled once: each regex's first capture group is the secret when
 * it has one, else the whole match. Throws SyntaxError naming the pattern when one does not compile or matches
 * the empty string (it would mark every position).
 */
export function compileExtraPatterns(sources: readonly string[]): readonly RegExp[] {
  return sources.map((source, i) => {
    let re: RegExp;
    try {
      re = new RegExp(source, "gd");
    } catch (err) {
      throw new SyntaxError(`pattern ${i + 1} ${JSON.stringify(source)} is not a valid regular expression: ${(err as Error).message}`);
    }
    if (new RegExp(source).test("")) throw new SyntaxError(`pattern ${i + 1} ${JSON.stringify(source)} matches the empty string`);
    return re;
  });
}

function applyExtra(text: string, re: RegExp, mark: Marker): string {
  re.lastIndex = 0;
  let out = "";
  let at = 0;
  for (let m = re.exec(text); m !== null; m = re.exec(text)) {
    if (m[0] === "") {
      re.lastIndex++;
      continue;
    }
    const span = m.indices?.[1] ?? m.indices?.[0];
    if (!span) continue;
    out += text.slice(at, span[0]) + mark(text.slice(span[0], span[1]));
    at = span[1];
  }
  return at === 0 ? text : out + text.slice(at);
}

/**
 * Applies VALUE_RULES (and `extra` patterns) to `text`: only secret parts change. One combined hint test first:
 * a text none of the rules can match is returned as is, unscanned.
 */
export function redactValues(text: string, extra: readonly RegExp[] = [], mark: Marker = MARK): string {
  let out = text;
  if (mayHoldValue(text)) {
    let lower: string | undefined;
    for (const rule of VALUE_RULES) {
      const haystack = rule.hintCase === "exact" ? text : (lower ??= text.toLowerCase());
      if (!rule.hints.some((h) => haystack.includes(h))) continue;
      const quoted = rule.quoted === true ? markQuoted(mark) : mark;
      out = out.replace(rule.pattern, (...args: unknown[]) => rebuild(args.at(-1) as Groups, quoted));
    }
  }
  for (const re of extra) out = applyExtra(out, re, mark);
  return out;
}

const URL_PASSWORD = VALUE_RULES.find((r) => r.name === "url-userinfo-password")!;

/**
 * `scheme://user:[REDACTED]@host`: the URL-password rule alone (configuration values in error messages). Several
 * URLs in one value (comma-separated server lists) are each handled.
 */
export function redactUrlPasswords(value: string): string {
  return value.includes("://") ? value.replace(URL_PASSWORD.pattern, (...args: unknown[]) => rebuild(args.at(-1) as Groups, MARK)) : value;
}

/** `pass%77ord` and `pass+word` as their decoded names; undecodable names as they are. */
function decodeName(name: string): string {
  if (!name.includes("%") && !name.includes("+")) return name;
  try {
    return decodeURIComponent(name.replaceAll("+", " "));
  } catch {
    return name;
  }
}

/** `--password`, `-Ddb.password`: the name a `key-value` match stands for, without its flag dashes. */
function flagNames(name: string): string[] {
  const bare = name.replace(/^-+/, "");
  return name.startsWith("-D") && bare.length > 1 ? [bare, bare.slice(1)] : [bare];
}

function jsonKey(raw: string): string {
  try {
    return JSON.parse(`"${raw}"`) as string;
  } catch {
    return raw;
  }
}

/**
 * Applies the named TEXT_FIELD_RULES to `text`: values whose name `names` says is secret are replaced. Skipped
 * unscanned when the text holds no word a secret name needs (names.hint).
 */
export function redactFields(text: string, names: SecretNames, rules: readonly TextFieldRule[], mark: Marker = MARK): string {
  if (!names.hint.test(text)) return text;
  let out = text;
  for (const rule of rules) {
    if (rule === "json-field" && !out.includes('"')) continue;
    if (rule === "key-value" && !out.includes("=")) continue;
    if (rule === "multipart-field" && !/content-disposition/i.test(out)) continue;
    out = out.replace(TEXT_FIELD_RULES[rule], (match: string, ...args: unknown[]) => {
      const g = args.at(-1) as Groups;
      const name = g.name ?? "";
      const secret = rule === "json-field" ? jsonKey(name) : rule === "key-value" ? decodeName(name) : name;
      const hit = rule === "key-value" ? flagNames(secret).some((n) => names.test(n)) : names.test(secret);
      if (!hit || (g.secret ?? "") === "") return match;
      if (rule === "json-field") return (g.pre ?? "") + `"${mark(unquote(g.secret ?? ""))}"`;
      return rebuild(g, markQuoted(mark));
    });
  }
  return out;
}

/** A JSON string token's content (cut strings have no closing quote), a number as it is. */
function unquote(token: string): string {
  if (!token.startsWith('"')) return token;
  return token.length >= 2 && token.endsWith('"') ? token.slice(1, -1) : token.slice(1);
}
