// How adi authenticates to NATS and secures the connection, with the nats CLI's names and meanings (NATS_URL with
// `nats://user:password@`, `nats://token@` or `tls://`, NATS_CREDS, NATS_NKEY, NATS_USER/NATS_PASSWORD, NATS_TOKEN,
// NATS_CA, NATS_CERT, NATS_KEY), turned into the nats.js options that say it. The rules are tables: which
// variables make up each authentication method, which files must be readable. Secrets never reach a log line: URLs
// are shown with their userinfo masked (maskUrlUserinfo), and errors name variables, never their values.
import { readFileSync } from "node:fs";
import { credsAuthenticator, nkeyAuthenticator, tokenAuthenticator, usernamePasswordAuthenticator } from "@nats-io/transport-node";
import type { Authenticator, TlsOptions } from "@nats-io/transport-node";

/** The NATS_* client settings other than NATS_URL, as given (paths and strings); undefined: not set. */
export interface NatsAuthSettings {
  /** NATS_CREDS: a .creds file (user JWT and nkey seed, as `nsc` writes it). */
  readonly creds?: string | undefined;
  /** NATS_NKEY: a file holding a user nkey seed (SU...), as the nats CLI's --nkey. */
  readonly nkey?: string | undefined;
  readonly user?: string | undefined;
  readonly password?: string | undefined;
  readonly token?: string | undefined;
  /** NATS_CA: PEM file of the CA(s) that signed the server's certificate. */
  readonly ca?: string | undefined;
  /** NATS_CERT / NATS_KEY: PEM client certificate and its private key, for servers that verify clients. */
  readonly cert?: string | undefined;
  readonly key?: string | undefined;
}

/** What nats.js's connect() needs from the settings: servers without userinfo, an authenticator, TLS. */
export interface NatsClientOptions {
  servers: string[];
  authenticator?: Authenticator;
  tls?: TlsOptions;
}

export type NatsAuthMethod = "creds" | "nkey" | "user" | "token" | "url-user" | "url-token";

/**
 * Every authentication method, the variables that select it, and how it authenticates. The nats CLI takes one
 * method at a time (a .creds file, an nkey, user and password, or a token); two are refused as a conflict rather
 * than one silently winning.
 */
const AUTH_METHODS: readonly {
  readonly method: NatsAuthMethod;
  readonly variables: string;
  readonly selected: (s: NatsAuthSettings, userinfo: Userinfo | undefined) => boolean;
  readonly authenticator: (s: NatsAuthSettings, userinfo: Userinfo | undefined, read: ReadFile) => Authenticator;
}[] = [
  { method: "creds", variables: "NATS_CREDS", selected: (s) => s.creds !== undefined, authenticator: (s, _u, read) => credsAuthenticator(read(s.creds!)) },
  {
    method: "nkey",
    variables: "NATS_NKEY",
    selected: (s) => s.nkey !== undefined,
    authenticator: (s, _u, read) => nkeyAuthenticator(nkeySeedOf(read(s.nkey!))),
  },
  {
    method: "user",
    variables: "NATS_USER/NATS_PASSWORD",
    selected: (s) => s.user !== undefined || s.password !== undefined,
    authenticator: (s) => usernamePasswordAuthenticator(s.user ?? "", s.password),
  },
  { method: "token", variables: "NATS_TOKEN", selected: (s) => s.token !== undefined, authenticator: (s) => tokenAuthenticator(s.token!) },
  {
    method: "url-user",
    variables: "NATS_URL's user:password@",
    selected: (_s, u) => u?.password !== undefined,
    authenticator: (_s, u) => usernamePasswordAuthenticator(u!.user, u!.password),
  },
  {
    // The Go client's and the nats CLI's reading of a URL with a user and no password: a token.
    method: "url-token",
    variables: "NATS_URL's token@",
    selected: (_s, u) => u !== undefined && u.password === undefined,
    authenticator: (_s, u) => tokenAuthenticator(u!.user),
  },
];

/** The file settings: each must name a readable file (checked at load: a typo fails at start, in one line). */
export const NATS_FILE_SETTINGS = [
  ["NATS_CREDS", "creds"],
  ["NATS_NKEY", "nkey"],
  ["NATS_CA", "ca"],
  ["NATS_CERT", "cert"],
  ["NATS_KEY", "key"],
] as const satisfies readonly (readonly [string, keyof NatsAuthSettings])[];

type ReadFile = (path: string) => Uint8Array;

interface Userinfo {
  user: string;
  password?: string;
}

/** `scheme://userinfo@`: the userinfo runs to the last '@' before the path (an unencoded '@' in a password). */
const URL_USERINFO = /^([a-z][a-z0-9+.-]*:\/\/)([^/?#]*)@/i;
/**
 * The same anywhere in a text (log lines, error messages): the userinfo stops at spaces, quotes, commas (server
 * lists) and the path; greedy, so it runs to the last '@' before those.
 */
const USERINFO_IN_TEXT = /([a-z][a-z0-9+.-]*:\/\/)([^\s/?#,"']*)@/gi;

function decode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

/** The user and password (percent-decoded, RFC 3986 §3.2.1) in a server URL, or undefined when it has none. */
export function userinfoOf(server: string): Userinfo | undefined {
  const m = URL_USERINFO.exec(server);
  if (!m) return undefined;
  const info = m[2]!;
  const colon = info.indexOf(":");
  return colon < 0 ? { user: decode(info) } : { user: decode(info.slice(0, colon)), password: decode(info.slice(colon + 1)) };
}

/** The server URL without its userinfo: what is dialled and what may be shown. */
export function stripUserinfo(server: string): string {
  return server.replace(URL_USERINFO, "$1");
}

/**
 * Every URL in `text` with its userinfo masked as the nats CLI shows none of it: `nats://user:***@host` (the
 * user kept, it names who connects) and `nats://***@host` (a token). Text without URLs is returned as is.
 */
export function maskUrlUserinfo(text: string): string {
  return text.replace(USERINFO_IN_TEXT, (_m, scheme: string, info: string) => {
    const colon = info.indexOf(":");
    return colon < 0 ? `${scheme}***@` : `${scheme}${info.slice(0, colon)}:***@`;
  });
}

/**
 * One server as given (a NATS_URL entry, valid or not) with everything before its last '@' masked: `user:***@`
 * when a ':' follows the user, else `***@`; the scheme and the host kept. Unlike maskUrlUserinfo, which must find
 * URLs inside free text and so stops at spaces and quotes, the whole entry is the URL here: a password with a
 * space, a quote, '/', '?' or '#' in it, or without a scheme, is masked whole.
 */
export function maskServer(server: string): string {
  const parts = serverParts(server);
  if (!parts) return server;
  return `${parts.scheme}${parts.secret === parts.info ? "***" : `${parts.info.slice(0, parts.info.indexOf(":"))}:***`}${parts.rest}`;
}

/**
 * One server as given, cut at its last '@' (valid or not: a password may hold a space, a quote, '/'): the scheme
 * (or ""), the userinfo, its secret (the password after the first ':', else the whole userinfo: a token), and the
 * rest from the '@' on. Undefined without an '@'. maskServer and connectNats's scrubbing both cut servers here.
 */
export function serverParts(server: string): { scheme: string; info: string; secret: string; rest: string } | undefined {
  const at = server.lastIndexOf("@");
  if (at < 0) return undefined;
  const scheme = /^[a-z][a-z0-9+.-]*:\/\//i.exec(server)?.[0] ?? "";
  const info = server.slice(scheme.length, at);
  const colon = info.indexOf(":");
  return { scheme, info, secret: colon < 0 ? info : info.slice(colon + 1), rest: server.slice(at) };
}

/** `servers` each with its userinfo masked (maskServer), joined by commas: for log lines and errors. */
export function describeServers(servers: readonly string[]): string {
  return servers.map(maskServer).join(",");
}

/**
 * The one-line reason the settings cannot be used together, or null when they can: two authentication methods at
 * once (named by variable, never by value), servers of one list with different userinfo, NATS_PASSWORD without
 * NATS_USER, NATS_CERT without NATS_KEY or the reverse (node's TLS needs both, as the nats CLI does).
 */
export function natsSettingsConflict(servers: readonly string[], s: NatsAuthSettings): string | null {
  const infos = new Set(servers.map((server) => URL_USERINFO.exec(server)?.[2]).filter((i) => i !== undefined));
  if (infos.size > 1) return "NATS_URL: the servers carry different user:password@ or token@: give them once, the same for every server";
  if (s.password !== undefined && s.user === undefined) return "NATS_PASSWORD is set without NATS_USER";
  if ((s.cert === undefined) !== (s.key === undefined)) return "NATS_CERT and NATS_KEY go together: set both (a client certificate and its key) or neither";
  const userinfo = firstUserinfo(servers);
  const methods = AUTH_METHODS.filter((m) => m.selected(s, userinfo)).map((m) => m.variables);
  if (methods.length > 1) return `${methods.join(" and ")} are both set: use one authentication method`;
  return null;
}

function firstUserinfo(servers: readonly string[]): Userinfo | undefined {
  for (const server of servers) {
    const u = userinfoOf(server);
    if (u) return u;
  }
  return undefined;
}

/** The authentication method the settings select, or undefined for none (an open server). */
export function natsAuthMethod(servers: readonly string[], s: NatsAuthSettings): NatsAuthMethod | undefined {
  const userinfo = firstUserinfo(servers);
  return AUTH_METHODS.find((m) => m.selected(s, userinfo))?.method;
}

/** The first line of a seed file that is a user nkey seed (SU...), as bytes: nkeyAuthenticator's input. */
function nkeySeedOf(content: Uint8Array): Uint8Array {
  const line = Buffer.from(content)
    .toString("utf8")
    .split(/\r?\n/)
    .map((l) => l.trim())
    .find((l) => l.startsWith("SU"));
  if (line === undefined) throw new Error("NATS_NKEY: the file holds no user nkey seed (a line starting with SU)");
  return new TextEncoder().encode(line);
}

/**
 * nats.js connection options for `servers` (NATS_URL, split) and `s`: the servers with their userinfo removed
 * (nats.js ignores it: it would be refused), the authenticator of the one method selected (see AUTH_METHODS;
 * none: no authenticator), and `tls` when a server is `tls://` (TLS required, as the Go client does) or NATS_CA /
 * NATS_CERT are set (CA and client certificate by file; node otherwise trusts its own CAs and NODE_EXTRA_CA_CERTS).
 * Files are read with `read` (default readFileSync). Throws on a conflict (natsSettingsConflict) or a file that
 * cannot be read or parsed; the message names variables, never secrets.
 */
export function natsClientOptions(servers: readonly string[], s: NatsAuthSettings, read: ReadFile = readFileSync): NatsClientOptions {
  const conflict = natsSettingsConflict(servers, s);
  if (conflict !== null) throw new Error(conflict);
  const userinfo = firstUserinfo(servers);
  const method = AUTH_METHODS.find((m) => m.selected(s, userinfo));
  const opts: NatsClientOptions = { servers: servers.map(stripUserinfo) };
  if (method) opts.authenticator = method.authenticator(s, userinfo, read);
  const wantsTls = servers.some((server) => /^tls:\/\//i.test(server)) || s.ca !== undefined || s.cert !== undefined;
  if (wantsTls) {
    opts.tls = {
      ...(s.ca !== undefined ? { caFile: s.ca } : {}),
      ...(s.cert !== undefined ? { certFile: s.cert, keyFile: s.key } : {}),
    };
  }
  return opts;
}
