// Text from the traffic shown on a terminal. Service names come from ADI_PROFILE_NAME, paths from requests: any
// local user chooses them, so a name holding ESC or BEL would reach root's terminal (retitle it, clear it, and on
// some terminals worse) when `adi demo` prints its summary or `adi diff` its changes. The structured outputs (YAML,
// JSON, Mermaid, DOT, the view) escape by their own rules; this is for plain text lines.

/**
 * C0 controls (U+0000–U+001F), DEL, C1 controls (U+0080–U+009F), and the bidirectional overrides and isolates
 * (U+202A–U+202E, U+2066–U+2069: "Trojan Source", CVE-2021-42574) that reorder what a terminal shows.
 */
// eslint-disable-next-line no-control-regex -- control characters are what is matched
const UNPRINTABLE = /[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/gu;

/** `text` with every UNPRINTABLE character written as `\xNN` or `\uNNNN`, so a line shows what it holds. */
export function printable(text: string): string {
  return text.replace(UNPRINTABLE, (c) => {
    const code = c.charCodeAt(0);
    return code <= 0xff ? `\\x${code.toString(16).padStart(2, "0")}` : `\\u${code.toString(16).padStart(4, "0")}`;
  });
}
