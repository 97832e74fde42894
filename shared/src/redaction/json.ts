// JSON bodies redacted in place: the text is scanned token by token and only secret values are rewritten, so
// the rest keeps its bytes (spacing, key order, number spelling) and the body in `raw` can be redacted the same
// way. A body cut by the capture limit is handled as far as it goes.
import type { SecretNames } from "./names.ts";
import type { Marker } from "./values.ts";

interface Frame {
  readonly kind: "object" | "array";
  /** Everything under a secret name is secret: `"credentials": {"user": …}` hides the user too. */
  readonly secret: boolean;
  /** Object: the next string is a key. */
  expectKey: boolean;
  /** Object: the key of the value being read is a secret name. */
  keySecret: boolean;
}

const WS = new Set([" ", "\t", "\n", "\r"]);

/**
 * Redacts JSON text: every string or number under a secret name (at any depth, and everything inside an object or
 * array under one) becomes `"<mark>"`; structure, other values, true/false/null and formatting stay. Returns null
 * when the text is not JSON (so the caller falls back to the text rules): it must start with `{` or `[` and stay
 * well formed as far as it goes (a cut document, or several documents one after another as in JSON lines, pass).
 */
export function redactJson(text: string, names: SecretNames, mark: Marker): string | null {
  let i = 0;
  while (i < text.length && WS.has(text[i]!)) i++;
  if (text[i] !== "{" && text[i] !== "[") return null;
  const stack: Frame[] = [];
  let out = "";
  let copied = 0;
  const n = text.length;
  /** Is a value starting here secret? */
  const valueSecret = (): boolean => {
    const top = stack.at(-1);
    if (top === undefined) return false;
    return top.secret || (top.kind === "object" && top.keySecret);
  };
  const replace = (start: number, end: number, content: string) => {
    out += text.slice(copied, start) + `"${mark(content)}"`;
    copied = end;
  };
  while (i < n) {
    const c = text[i]!;
    if (WS.has(c) || c === ",") {
      if (c === "," && stack.at(-1)?.kind === "object") stack.at(-1)!.expectKey = true;
      i++;
      continue;
    }
    if (c === ":") {
      i++;
      continue;
    }
    if (c === "{" || c === "[") {
      const secret = valueSecret();
      stack.push({ kind: c === "{" ? "object" : "array", secret, expectKey: c === "{", keySecret: false });
      i++;
      continue;
    }
    if (c === "}" || c === "]") {
      if (stack.length === 0 || stack.at(-1)!.kind !== (c === "}" ? "object" : "array")) return null;
      stack.pop();
      i++;
      continue;
    }
    const top = stack.at(-1);
    if (top === undefined) return null; // a scalar at the top level: not a document this scanner keeps
    if (c === '"') {
      let j = i + 1;
      while (j < n && text[j] !== '"') j += text[j] === "\\" ? 2 : 1;
      const end = Math.min(j + 1, n);
      if (top.kind === "object" && top.expectKey) {
        const raw = text.slice(i + 1, Math.min(j, n));
        let key = raw;
        try {
          key = JSON.parse(`"${raw}"`) as string;
        } catch {
          // a cut or odd key: tested as written
        }
        top.keySecret = names.test(key);
        top.expectKey = false;
      } else if (valueSecret()) {
        replace(i, end, text.slice(i + 1, Math.min(j, n)));
      }
      i = end;
      continue;
    }
    const scalar = /^(?:-?\d[\d.eE+-]*|true|false|null)/.exec(text.slice(i, i + 400));
    if (scalar === null) return null;
    const end = i + scalar[0].length;
    if (/^-?\d/.test(scalar[0]) && valueSecret()) replace(i, end, scalar[0]);
    i = end;
  }
  return out + text.slice(copied);
}
