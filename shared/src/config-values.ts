// Parsers for configuration values, each a zod schema from the variable's text to its value, failing
// with "expected …" (config.ts prefixes the variable's name and value). Durations and sizes accept
// human units and throw on anything else rather than guessing: is a bare "3600" seconds or milliseconds?
import { z } from "zod";
import { isSubjectToken } from "./wire/subjects.ts";

/** Builds a zod schema from a plain parser; `expected` becomes the error message on failure. */
export function parsed<T>(parse: (text: string) => T | undefined, expected: string) {
  return z.string().transform((text, ctx) => {
    const value = parse(text);
    if (value === undefined) {
      ctx.addIssue({ code: "custom", message: `expected ${expected}` });
      return z.NEVER;
    }
    return value;
  });
}

function attempt<T>(fn: () => T): T | undefined {
  try {
    return fn();
  } catch {
    return undefined;
  }
}

export const integer = (min: number, max: number) =>
  parsed((text) => {
    const t = text.trim();
    if (!/^-?\d+$/.test(t)) return undefined;
    const n = Number(t);
    return n >= min && n <= max ? n : undefined;
  }, `an integer between ${min} and ${max}`);

/** A byte count, with an optional unit suffix (see parseByteSize). */
export const byteSize = (min: number, max: number, extra = "") =>
  parsed((text) => {
    const n = attempt(() => parseByteSize(text));
    return n !== undefined && n >= min && n <= max ? n : undefined;
  }, `a size between ${min} and ${max} bytes${extra} (suffixes such as KiB, MiB, GiB are accepted)`);

export const powerOfTwoSize = (min: number, max: number) =>
  parsed((text) => {
    const n = attempt(() => parseByteSize(text));
    return n !== undefined && n >= min && n <= max && (n & (n - 1)) === 0 ? n : undefined;
  }, `a power of two between ${min} and ${max} bytes, hence a multiple of the 4096-byte page`);

export const boolean = parsed((text) => {
  const t = text.trim().toLowerCase();
  if (t === "true" || t === "1") return true;
  if (t === "false" || t === "0") return false;
  return undefined;
}, "true, false, 1 or 0");

/** Comma-separated; items trimmed, empty items dropped; no items at all means unset. */
export const list = parsed((text) => {
  const items = text
    .split(",")
    .map((item) => item.trim())
    .filter((item) => item !== "");
  return items.length > 0 ? Object.freeze(items) : undefined;
}, "a comma-separated list with at least one item");

export const path = parsed((text) => (text.trim() === "" ? undefined : text), "a file system path");

/** One of `values`, case-insensitive, surrounding blanks ignored. */
function oneOf<T extends string>(values: readonly T[]) {
  return parsed((text) => {
    const t = text.trim().toLowerCase();
    return (values as readonly string[]).includes(t) ? (t as T) : undefined;
  }, `one of ${values.join(", ")}`);
}

export const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];
export const logLevel = oneOf(LOG_LEVELS);

/** LOG_FORMAT: JSON lines, pino-pretty lines, or pretty on a terminal and JSON elsewhere (logger.ts). */
export const LOG_FORMATS = ["auto", "json", "pretty"] as const;
export type LogFormatSetting = (typeof LOG_FORMATS)[number];
export const logFormat = oneOf(LOG_FORMATS);

/** Where an HTTP endpoint of ours listens (the view, /metrics). Port 0: any free port (the address is logged). */
export interface ListenAddress {
  readonly host: string;
  readonly port: number;
}

/**
 * `off`, or `host:port` (IPv6 in brackets: `[::1]:9464`). A host other than loopback is accepted (a Prometheus on
 * another machine scrapes it) but is the user's choice: the defaults are 127.0.0.1. `examplePort`: the port the
 * error message shows (the setting's own default, so ADI_VIEW_ADDR's does not suggest metrics' 9464).
 */
export const listenAddress = (examplePort: number) => parsed<ListenAddress | "off">((text) => {
  const t = text.trim();
  if (t.toLowerCase() === "off") return "off";
  const m = /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._-]+):(\d{1,5})$/.exec(t);
  if (!m) return undefined;
  const port = Number(m[2]);
  if (port > 65535) return undefined;
  const host = m[1]!.startsWith("[") ? m[1]!.slice(1, -1) : m[1]!;
  return Object.freeze({ host, port });
}, `off, or host:port such as 127.0.0.1:${examplePort} or [::1]:${examplePort} (port 0: any free port)`);

/** Data paths of the kernel side (bpf/capture.bpf.c): socket-layer BTF tracepoints, or syscall tracepoints. */
export const CAPTURE_HOOKS = ["auto", "socket", "syscall"] as const;
export type CaptureHooks = (typeof CAPTURE_HOOKS)[number];
export const captureHooks = oneOf(CAPTURE_HOOKS);

/** What the Node transport (@nats-io/transport-node) dials: plain TCP, or TLS. WebSocket URLs need another one. */
const NATS_SCHEMES = ["nats:", "tls:"];
/** One or more servers, comma-separated: `nats://host:4222` (also tls, ws, wss) or bare `host:port`. */
export const natsServers = parsed((text) => {
  const servers = text.split(",").map((s) => s.trim());
  const valid = servers.every((server) => {
    if (!server.includes("://")) return /^(?:[A-Za-z0-9._-]+|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?$/.test(server);
    const url = attempt(() => new URL(server));
    // An '@' the URL parser did not take as the end of the userinfo ('/', '?' or '#' before it, not
    // percent-encoded) would send the credentials' first part as a host name: refused.
    const userinfoLost = server.includes("@") && url !== undefined && url.username === "" && url.password === "";
    return url !== undefined && NATS_SCHEMES.includes(url.protocol) && url.hostname !== "" && !userinfoLost;
  });
  return valid ? Object.freeze(servers) : undefined;
}, "a NATS URL such as nats://127.0.0.1:4222 (comma-separated for several servers; percent-encode / ? # @ in a user:password@ or token@)");

export const subjectToken = parsed(
  (text) => (isSubjectToken(text) && text.length <= 128 ? text : undefined),
  "a name of at most 128 characters from [A-Za-z0-9_-] (it is used as a NATS subject token)",
);

export const containerdNamespace = parsed(
  (text) => (/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(text) ? text : undefined),
  "a containerd namespace name such as default or k8s.io",
);

export const duration = parsed((text) => {
  const ms = attempt(() => parseDuration(text));
  return ms !== undefined && ms >= 1000 ? ms : undefined;
}, "a duration of at least 1s such as 30m, 24h, 7d or 1h30m");

export const streamMaxBytes = parsed((text) => {
  if (text.trim() === "-1") return -1;
  const n = attempt(() => parseByteSize(text));
  return n !== undefined && n > 0 ? n : undefined;
}, "-1 (unlimited) or a positive size such as 512MiB or 10GiB");

const DURATION_UNITS_MS: Readonly<Record<string, number>> = {
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 604_800_000,
};
const DURATION = /^(?:\d+(?:\.\d+)?(?:ms|s|m|h|d|w))+$/;
const DURATION_PART = /(\d+(?:\.\d+)?)(ms|s|m|h|d|w)/g;

/**
 * Go-style duration to milliseconds: one or more `<number><unit>` parts, units ms, s, m, h, d, w
 * (`30m`, `24h`, `7d`, `1h30m`, `1.5h`). Fractions of a millisecond are rounded.
 */
export function parseDuration(text: string): number {
  const t = text.trim();
  if (!DURATION.test(t)) {
    throw new TypeError(`invalid duration ${JSON.stringify(text)}: expected e.g. 30m, 24h, 7d or 1h30m`);
  }
  let ms = 0;
  for (const [, amount, unit] of t.matchAll(DURATION_PART)) ms += Number(amount) * DURATION_UNITS_MS[unit!]!;
  const rounded = Math.round(ms);
  if (!Number.isSafeInteger(rounded)) throw new RangeError(`duration ${JSON.stringify(text)} is too long`);
  return rounded;
}

/** Milliseconds to nanoseconds, the unit of JetStream's max_age. */
export function msToNanos(ms: number): number {
  return ms * 1_000_000;
}

/**
 * Size suffixes, matched case-insensitively: KiB/MiB/GiB/TiB are binary, KB/MB/GB/TB decimal, and the
 * bare K/M/G/T binary, as in nats-server's configuration.
 */
const SIZE_UNITS: Readonly<Record<string, number>> = {
  "": 1,
  b: 1,
  k: 1024,
  kib: 1024,
  kb: 1000,
  m: 1024 ** 2,
  mib: 1024 ** 2,
  mb: 1000 ** 2,
  g: 1024 ** 3,
  gib: 1024 ** 3,
  gb: 1000 ** 3,
  t: 1024 ** 4,
  tib: 1024 ** 4,
  tb: 1000 ** 4,
};
const SIZE = /^(\d+(?:\.\d+)?)\s*([a-z]*)$/i;

/** `65536`, `512MiB`, `10GiB`, `1.5GB` to a whole number of bytes. */
export function parseByteSize(text: string): number {
  const match = SIZE.exec(text.trim());
  const multiplier = match ? SIZE_UNITS[match[2]!.toLowerCase()] : undefined;
  if (!match || multiplier === undefined) {
    throw new TypeError(`invalid size ${JSON.stringify(text)}: expected e.g. 65536, 512MiB or 10GiB`);
  }
  const bytes = Number(match[1]) * multiplier;
  if (!Number.isSafeInteger(bytes)) {
    throw new RangeError(`size ${JSON.stringify(text)} is not a whole number of bytes within range`);
  }
  return bytes;
}

/** DOCKER_HOST as the Docker CLI writes it; only unix sockets (the API over TCP is not spoken here). */
export const dockerHost = parsed((text) => {
  const m = /^unix:\/\/(\/.+)$/.exec(text.trim());
  return m ? m[1] : undefined;
}, "a unix socket URL, e.g. unix:///var/run/docker.sock");
