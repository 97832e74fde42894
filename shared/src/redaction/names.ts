// Which NAMES mark a secret, as data: one test for HTTP header names, JSON and form fields, query parameters,
// environment variable names and command-line `--flag=` names. The value under such a name is hidden whatever it
// looks like; values.ts finds secrets by their look instead.

/** What replaces a secret in text outputs. */
export const REDACTED = "[REDACTED]";

/**
 * Secret names, as words of a normalised name. A name is normalised by splitting camelCase (`apiKey` -> API_KEY),
 * upper-casing, and turning every run of other characters (`-`, `.`, `_`, space) into one `_`: X-Hub-Signature-256
 * is X_HUB_SIGNATURE_256.
 * - `exact`: the whole name. Header names that are credentials though no word says so (RFC 6265 Cookie,
 *   Set-Cookie; RFC 2965 Set-Cookie2). Authorization (RFC 9110 §11.6.2) and Proxy-Authorization (§11.7.2) are
 *   `contains`, with X-Upstream-Authorization and the like.
 * - `contains`: the word anywhere. Long words only, where a substring almost never misleads: MYSQL_ROOT_PASSWORD,
 *   GITHUB_TOKEN, CLIENT_SECRET, DB_CREDENTIALS, apiKey (APIKEY), X-Hub-Signature-256, JSESSIONID, PHPSESSID,
 *   X-Upstream-Authorization. (The Go tool's env rules, widened by issue 11's leaks.)
 * - `segment`: the word as a whole part of the name. Short words such as KEY would otherwise hit KEYSPACE,
 *   MONKEY or HOTKEY; as a segment they catch API_KEY, ACCESS_KEY, SSL_KEYFILE, REDIS_AUTH, DB_PASS, X-Session,
 *   X-Amz-Signature's SIG cousins (Azure SAS `sig`). Known over-matches, accepted because a hidden value costs
 *   less than a leaked one: KEY_PREFIX, PARTITION_KEY, PRIVATE_NETWORK, SESSION_TIMEOUT, Kubernetes'
 *   AUTH_SERVICE_HOST for a service named "auth", and a JSON `session` object (its leaves are hidden).
 * - AUTHENTICATION/AUTHENTICATE (issue 11: `Authentication`, `X-Authentication` carry credentials in some APIs),
 *   PASSCODE (`APP_PASSCODE`, `passcode=`), and PWD as a segment (`pwd=`, `"pwd":`, MySQL's MYSQL_PWD, the
 *   documented password variable of mysql(1)). The shell's own PWD and OLDPWD variables (the working directory,
 *   POSIX sh) are exempt in environments only: NEVER_SECRET_ENV_NAMES; a query `?pwd=` is hidden.
 */
export const SECRET_NAME_RULES = {
  exact: ["COOKIE", "SET_COOKIE", "SET_COOKIE2"],
  contains: [
    "PASSWORD",
    "PASSWD",
    "PASSPHRASE",
    "SECRET",
    "TOKEN",
    "CREDENTIAL",
    "APIKEY",
    "PRIVATEKEY",
    "SIGNATURE",
    "SESSIONID",
    "SESSID",
    "AUTHORIZATION",
    "AUTHENTICATION",
    "AUTHENTICATE",
    "PASSCODE",
  ],
  segment: ["KEY", "KEYS", "KEYFILE", "AUTH", "PRIVATE", "PASS", "PW", "PWD", "CREDS", "SESSION", "SIG", "JWT"],
} as const;

/**
 * Names that hold no secret though a word says otherwise: OAuth 2.0 response and metadata fields (RFC 6749 §5.1
 * token_type; RFC 8414 §2 *_endpoint, token_endpoint_auth_method); HTTP authentication challenges and their
 * server-side info (RFC 9110 §11.6.1 WWW-Authenticate, §11.7.1 Proxy-Authenticate, §11.6.3/§11.7.3
 * Authentication-Info): a challenge is what the server asks for, not a credential. Compared normalised, whole.
 */
export const NOT_SECRET_NAMES: ReadonlySet<string> = new Set([
  "WWW_AUTHENTICATE",
  "PROXY_AUTHENTICATE",
  "AUTHENTICATION_INFO",
  "PROXY_AUTHENTICATION_INFO",
  "TOKEN_TYPE",
  "TOKEN_ENDPOINT",
  "AUTHORIZATION_ENDPOINT",
  "REVOCATION_ENDPOINT",
  "INTROSPECTION_ENDPOINT",
  "TOKEN_ENDPOINT_AUTH_METHOD",
  "TOKEN_ENDPOINT_AUTH_METHODS_SUPPORTED",
]);

/** Names never hidden whatever their words: the opt-in variables are the inventory's own keys. */
export const NEVER_SECRET_PREFIXES = ["ADI_PROFILE"] as const;

/**
 * Environment variables never hidden by their name, compared exactly (case-sensitive, as the shell sets them):
 * PWD and OLDPWD are the working directory and the previous one (POSIX sh, cd), not MySQL's MYSQL_PWD password.
 * Only in environments: `pwd` elsewhere (a query, a form, a JSON field) is a password.
 */
export const NEVER_SECRET_ENV_NAMES: ReadonlySet<string> = new Set(["PWD", "OLDPWD"]);

/**
 * Escapes that can spell a secret-name word in a name position without showing it: a percent-encoded ASCII letter
 * (RFC 3986 §2.1, `%70assword`) or a JSON \u escape of one (RFC 8259 §7, `"\u0070assword"`). Letters only
 * (0x40-0x7F): `%20`, `%2F` and `\u00e9` are common in ordinary text and cannot form a word, so the fast paths stay
 * fast. Part of SecretNames.hint: a text holding one is scanned, and the rules decode names before testing them.
 */
export const NAME_ESCAPE_HINT = String.raw`%[4-7][0-9a-f]|\\u00[4-7][0-9a-f]`;

/** `apiKey` -> API_KEY, `X-Hub-Signature-256` -> X_HUB_SIGNATURE_256 (see SECRET_NAME_RULES). */
export function normalizeName(name: string): string {
  return name
    .replace(/([a-z0-9])([A-Z])/g, "$1_$2")
    .toUpperCase()
    .replace(/[^A-Z0-9]+/g, "_");
}

/** Cached answers kept per tester; beyond this many names the cache starts over (names repeat: headers, env). */
const CACHE_LIMIT = 4096;

/**
 * The secret-name test: SECRET_NAME_RULES plus `extra` names (ADI_REDACT_NAMES), each matched as a whole name or
 * a whole run of segments (`tenant-hash` hides X-Tenant-Hash and TENANT_HASH_V2, not TENANT_HASHES).
 */
export class SecretNames {
  readonly #extra: readonly string[];
  readonly #cache = new Map<string, boolean>();
  /**
   * Case-insensitive: does a text contain any word a secret name must contain? False means no name in it can be
   * secret: the name-driven rules skip the text without scanning it.
   */
  readonly hint: RegExp;

  constructor(extra: readonly string[] = []) {
    this.#extra = extra.map((n) => normalizeName(n).replace(/^_|_$/g, "")).filter((n) => n !== "");
    const words = [
      ...SECRET_NAME_RULES.exact.map((w) => w.split("_").at(-1)!),
      ...SECRET_NAME_RULES.contains,
      ...SECRET_NAME_RULES.segment,
      ...this.#extra.map((w) => w.split("_")[0]!),
    ];
    const trie = trieRegex(words);
    this.hint = new RegExp(`${trie.source}|${NAME_ESCAPE_HINT}`, "i");
  }

  /** True when a value under `name` is a secret. */
  test(name: string): boolean {
    const known = this.#cache.get(name);
    if (known !== undefined) return known;
    const answer = this.#compute(name);
    if (this.#cache.size >= CACHE_LIMIT) this.#cache.clear();
    this.#cache.set(name, answer);
    return answer;
  }

  #compute(name: string): boolean {
    const norm = normalizeName(name);
    const bare = norm.replace(/^_|_$/g, "");
    if (NOT_SECRET_NAMES.has(bare)) return false;
    if ((SECRET_NAME_RULES.exact as readonly string[]).includes(bare)) return true;
    if (SECRET_NAME_RULES.contains.some((word) => norm.includes(word))) return true;
    const segments = bare.split("_");
    if (segments.some((segment) => (SECRET_NAME_RULES.segment as readonly string[]).includes(segment))) return true;
    const wrapped = `_${bare}_`;
    return this.#extra.some((word) => wrapped.includes(`_${word}_`));
  }
}

/** The built-in test alone (no extra names). */
export const BUILTIN_SECRET_NAMES = new SecretNames();

/** True when `name` holds a secret by the built-in rules (SECRET_NAME_RULES). */
export function isSecretName(name: string): boolean {
  return BUILTIN_SECRET_NAMES.test(name);
}

export function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/**
 * A regex matching any of `words`, shaped as a trie (`a(?:uth|pi)|k(?:ey)`) rather than a flat alternation: the
 * regex engine then looks at one branch per position instead of trying every word, which is what makes the
 * pre-checks cheap on every exchange. `flags` "i" (the default): case-insensitive, words lower-cased first; ""
 * matches the words in their case (much cheaper to run: use it where the case is known).
 */
export function trieRegex(words: readonly string[], flags: "" | "i" = "i"): RegExp {
  interface Node {
    end: boolean;
    next: Map<string, Node>;
  }
  const root: Node = { end: false, next: new Map() };
  for (const word of new Set(words.map((w) => (flags === "i" ? w.toLowerCase() : w)).filter((w) => w !== ""))) {
    let node = root;
    for (const ch of word) {
      let child = node.next.get(ch);
      if (!child) node.next.set(ch, (child = { end: false, next: new Map() }));
      node = child;
    }
    node.end = true;
  }
  // A word that is a prefix of another ends the match there: a hint needs only to be found, not matched longest.
  const render = (node: Node): string => {
    if (node.end) return "";
    const branches = [...node.next].map(([ch, child]) => escapeRegExp(ch) + render(child));
    return branches.length === 1 ? branches[0]! : `(?:${branches.join("|")})`;
  };
  return new RegExp(root.next.size === 0 ? "(?!)" : render(root), flags);
}
