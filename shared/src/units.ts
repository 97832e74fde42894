// Human-friendly durations and sizes for configuration values. Both throw on anything they do not
// understand rather than guessing (a bare number has no unit: is "3600" seconds or milliseconds?).

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
  if (!Number.isSafeInteger(Math.round(ms))) throw new RangeError(`duration ${JSON.stringify(text)} is too long`);
  return Math.round(ms);
}

/** Milliseconds to nanoseconds, the unit JetStream's max_age is expressed in. */
export function msToNanos(ms: number): number {
  return ms * 1_000_000;
}

/**
 * Suffix multipliers, matched case-insensitively. KiB/MiB/GiB/TiB are binary, KB/MB/GB/TB decimal; the
 * bare K/M/G/T are binary, as in nats-server's configuration.
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
  if (!Number.isInteger(bytes) || !Number.isSafeInteger(bytes)) {
    throw new RangeError(`size ${JSON.stringify(text)} is not a whole number of bytes within range`);
  }
  return bytes;
}
