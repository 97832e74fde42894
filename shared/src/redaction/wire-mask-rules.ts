// What the wire masker (wire-mask.ts) treats as a secret, per protocol, as data: names, fields, commands, each with
// the document that defines it. The framing code in wire-mask.ts reads these tables; a new credential header, Redis
// command or NATS field is a row here, not a branch there.

/** The byte a secret's bytes are overwritten with ('*'): lengths and framing stay as they were. */
export const MASK_BYTE = 0x2a;

/**
 * HTTP/1.x request methods a client's first bytes may start with (then one space): RFC 9110 §9 (GET, HEAD, POST,
 * PUT, DELETE, CONNECT, OPTIONS, TRACE), RFC 5789 (PATCH), RFC 4918 and RFC 3253/4791 (WebDAV, CalDAV).
 * "PRI" (HTTP/2 prior knowledge, RFC 9113 §3.4) is absent on purpose: HPACK is binary and not masked.
 */
export const HTTP_METHODS = [
  "GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH",
  "PROPFIND", "PROPPATCH", "MKCOL", "COPY", "MOVE", "LOCK", "UNLOCK", "REPORT", "SEARCH", "MKCALENDAR",
] as const;

/**
 * How a credential header's value is masked (field names compared lower-case, RFC 9110 §5.1):
 * - `scheme`: the first word stays visible when it is a known scheme (HTTP_AUTH_SCHEMES) followed by a space, the
 *   rest of the value (token, credentials, Digest parameters) is masked: the log still says "Bearer"/"Basic";
 * - `cookie`: each `name=value` pair keeps its name, its value is masked (RFC 6265 §4.2);
 * - `set-cookie`: the first pair's value is masked, the attributes after the first ';' stay (RFC 6265 §4.1);
 * - `all`: the whole value.
 * Continuation lines of a folded value (RFC 9112 §5.2, obs-fold) are masked whole.
 */
export type HttpValueMask = "scheme" | "cookie" | "set-cookie" | "all";

/** Headers masked by exact name (RFC 9110 §11.6.2, §11.7.2; RFC 6265; de-facto API-key headers). */
export const HTTP_CREDENTIAL_HEADERS: Readonly<Record<string, HttpValueMask>> = {
  authorization: "scheme",
  "proxy-authorization": "scheme",
  cookie: "cookie",
  "set-cookie": "set-cookie",
  "x-api-key": "all",
};

/*
 * Any other header whose name the redaction policy's secret-name test (names.ts SecretNames: SECRET_NAME_RULES,
 * NOT_SECRET_NAMES, ADI_REDACT_NAMES) calls secret is masked whole: X-Auth-Token, X-Csrftoken, X-Sessionid, X-Pass,
 * Authentication, X-Hub-Signature-256. The wire and the text outputs share that one test; WWW-Authenticate,
 * Authentication-Info and Keep-Alive are left alone by it. Known over-match, accepted (a hidden value costs less than
 * a leaked one): Sec-WebSocket-Key, a per-connection nonce.
 */

/** Authorization schemes shown in clear (IANA HTTP Authentication Scheme Registry, plus AWS SigV4). */
export const HTTP_AUTH_SCHEMES = [
  "basic", "bearer", "digest", "negotiate", "ntlm", "hoba", "mutual", "vapid", "scram-sha-1", "scram-sha-256",
  "privatetoken", "dpop", "gnap", "concealed", "token", "apikey", "aws4-hmac-sha256",
] as const;

/**
 * Redis commands that carry secrets (https://redis.io/docs/latest/commands/), by how their arguments are picked:
 * - `byArgc`: argument positions masked for a given argument count (array form, where the count is known first);
 *   `inlineFrom`: in the inline form (the count is unknown until the line ends) every argument from this position;
 * - `after`: a keyword argument (upper-cased) followed by arguments, `true` masked (HELLO ... AUTH user password);
 * - `prefixes`: an argument starting with one of these has the rest masked (ACL SETUSER >password, #sha256).
 */
export interface RedisCommandRule {
  readonly source: string;
  readonly byArgc?: Readonly<Record<number, readonly number[]>>;
  readonly inlineFrom?: number;
  readonly after?: Readonly<Record<string, readonly boolean[]>>;
  readonly prefixes?: readonly string[];
}

export const REDIS_COMMAND_RULES: Readonly<Record<string, RedisCommandRule>> = {
  AUTH: { source: "redis.io/commands/auth: AUTH [username] password", byArgc: { 2: [1], 3: [2] }, inlineFrom: 1 },
  HELLO: { source: "redis.io/commands/hello: HELLO [protover [AUTH username password] [SETNAME name]]", after: { AUTH: [false, true] } },
  MIGRATE: {
    source: "redis.io/commands/migrate: ... [AUTH password | AUTH2 username password] [KEYS ...]",
    after: { AUTH: [true], AUTH2: [false, true] },
  },
  CONFIG: { source: "redis.io/commands/config-set: CONFIG SET requirepass|masterauth value", after: { REQUIREPASS: [true], MASTERAUTH: [true] } },
  ACL: { source: "redis.io/commands/acl-setuser: >password <password #hash !hash rules", prefixes: [">", "<", "#", "!"] },
};

/**
 * NATS CONNECT fields whose JSON values are masked (https://docs.nats.io/reference/reference-protocols/nats-protocol
 * #connect): the password, the token, the nonce signature and the user JWT. `user` and `nkey` (a public key) stay.
 */
export const NATS_SECRET_FIELDS = ["pass", "auth_token", "sig", "jwt"] as const;

/**
 * AMQP 0-9-1 methods whose fields carry credentials (amqp0-9-1.xml, class connection = 10):
 * Start-Ok (11) `response` (after client-properties and mechanism), Secure-Ok (21) `response`, Update-Secret (70)
 * `new-secret` (RabbitMQ extension). In a PLAIN response (RFC 4616: authzid NUL authcid NUL passwd) only the password
 * is masked; in AMQPLAIN (a field table) only the PASSWORD value; any other mechanism's response whole.
 */
export const AMQP_CONNECTION_CLASS = 10;
export const AMQP_SECRET_METHODS = { startOk: 11, secureOk: 21, updateSecret: 70 } as const;
export const AMQP_PASSWORD_FIELDS = ["PASSWORD"] as const;

/**
 * MySQL client capability flags the handshake response is parsed by
 * (https://dev.mysql.com/doc/dev/mysql-server/latest/group__group__cs__capabilities__flags.html).
 */
export const MYSQL_CAPS = {
  compress: 0x20,
  protocol41: 0x200,
  ssl: 0x800,
  secureConnection: 0x8000,
  pluginAuthLenencData: 0x20_0000,
} as const;

/** MySQL COM_CHANGE_USER: its payload holds a new auth response (a new authentication exchange follows). */
export const MYSQL_COM_CHANGE_USER = 0x11;

/**
 * PostgreSQL frontend message type whose whole payload is masked (protocol-message-formats: PasswordMessage,
 * SASLInitialResponse, SASLResponse and GSSResponse all use 'p').
 */
export const PG_SECRET_TAGS = [0x70] as const;
/** Untagged first messages (protocol-message-formats): StartupMessage 3.x, SSLRequest, GSSENCRequest, CancelRequest. */
export const PG_UNTAGGED_CODES = { startupMajor3: 3, sslRequest: 80877103, gssencRequest: 80877104, cancelRequest: 80877102 } as const;

/**
 * Mail protocols' credential commands (server-first; the client's lines are read a word at a time):
 * `visible` words after the command stay (a SASL mechanism, an APOP user name), the rest of the line is masked;
 * `sasl`: the client's next lines are SASL responses, masked whole while the server answers with `continuation`.
 * SMTP AUTH: RFC 4954; POP3 USER/PASS, APOP: RFC 1939, AUTH: RFC 5034; IMAP LOGIN, AUTHENTICATE: RFC 9051 §6.2
 * (LOGIN's user name is masked with the password: it may be a quoted string or a literal).
 */
export interface MailCommandRule {
  readonly visible: number;
  readonly sasl?: boolean;
}

export interface MailProtocolRule {
  /** The server's greeting starts with one of these. */
  readonly greetings: readonly string[];
  /** Commands are preceded by a tag (IMAP). */
  readonly tagged: boolean;
  readonly commands: Readonly<Record<string, MailCommandRule>>;
  /** A server line starting with this continues a SASL exchange. */
  readonly continuation: string;
}

export const MAIL_RULES: Readonly<Record<"smtp" | "pop3" | "imap", MailProtocolRule>> = {
  smtp: { greetings: ["220 ", "220-"], tagged: false, commands: { AUTH: { visible: 1, sasl: true } }, continuation: "334" },
  pop3: { greetings: ["+OK"], tagged: false, commands: { PASS: { visible: 0 }, APOP: { visible: 1 }, AUTH: { visible: 1, sasl: true } }, continuation: "+ " },
  imap: { greetings: ["* OK", "* PREAUTH"], tagged: true, commands: { LOGIN: { visible: 0 }, AUTHENTICATE: { visible: 1, sasl: true } }, continuation: "+" },
};

/**
 * HTTP bodies the masker does not scan for secrets, by Content-Type (media type, lower-case, RFC 9110 §8.3):
 * binary formats where neither a JSON key nor a `name=value` pair nor a token is written as text. A prefix of the
 * media type; any other type (none included) is scanned.
 */
export const HTTP_UNSCANNED_MEDIA_PREFIXES = [
  "image/", "audio/", "video/", "font/", "application/octet-stream", "application/zip", "application/gzip",
  "application/pdf", "application/grpc", "application/x-protobuf", "application/protobuf", "application/vnd.google.protobuf",
  "application/msgpack", "application/x-msgpack", "application/cbor", "application/wasm",
] as const;

/**
 * Content-Encoding values (RFC 9110 §8.4.1) under which a body is still text as sent: only `identity`. Any other
 * coding (gzip, br, deflate, zstd) hides the text from a byte masker: such bodies are counted (unmaskableBodies),
 * not masked.
 */
export const HTTP_TEXT_CODINGS = ["", "identity"] as const;
