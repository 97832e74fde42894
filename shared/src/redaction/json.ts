// JSON bodies redacted in place: the text is scanned token by token and only secret values are rewritten, so
// the rest keeps its bytes (spacing, key order, number spelling) and the body in `raw` can be redacted the same
// way. A body cut by the capture limit is handled as far as it goes.
import type { SecretNames } from "./names.ts";
import type { Marker } from "./values.ts";

/**
 * Name/value pairs: an object whose `nameKeys` field holds a secret NAME hides its `valueKeys` field, wherever the
 * two stand in the object (keys compared case-insensitively). A row per convention.
 */
export const JSON_PAIR_RULES: readonly { readonly nameKeys: readonly string[]; readonly valueKeys: readonly string[]; readonly source: string }[] = [
  {
    nameKeys: ["name"],
    valueKeys: ["value"],
    source: "Kubernetes core/v1 EnvVar {name, value} (pod specs, kubectl get -o json); Amazon ECS container definitions environment [{name, value}]",
  },
  {
    nameKeys: ["key"],
    valueKeys: ["value"],
    source: "{Key, Value} pairs: AWS resource tags and CloudFormation parameters, Consul KV exports, Terraform/Helm key-value lists",
  },
];

/** Per lower-cased key: the pair rules where it names the field (`name`) or holds the value (`value`). */
const PAIR_ROLE = new Map<string, { names: number[]; values: number[] }>();
JSON_PAIR_RULES.forEach((rule, r) => {
  const at = (key: string) => PAIR_ROLE.get(key) ?? (PAIR_ROLE.set(key, { names: [], values: [] }).get(key)!);
  for (const k of rule.nameKeys) at(k).names.push(r);
  for (const k of rule.valueKeys) at(k).values.push(r);
});

interface Frame {
  readonly kind: "object" | "array";
  /** Everything under a secret name is secret: `"credentials": {"user": …}` hides the user too. */
  readonly secret: boolean;
  /** Object: the next string is a key. */
  expectKey: boolean;
  /** Object: the key of the value being read is a secret name. */
  keySecret: boolean;
  /** Object: the key of the value being read, lower-cased, when it has a role in JSON_PAIR_RULES. */
  pairKey: string | null;
  /** Object: the pair rules whose name field holds a secret name (bit per rule). */
  pairSecret: number;
  /** Object: value fields read so far (rule bits, token range, content), hidden when their rule's name is secret. */
  pairValues: { rules: number; start: number; end: number; content: string }[];
}

const WS = new Set([" ", "\t", "\n", "\r"]);

/**
 * Redacts JSON text: every string or number under a secret name (at any depth, and everything inside an object or
 * array under one) becomes `"<mark>"`, and so does the value of a name/value pair whose name is secret
 * (JSON_PAIR_RULES); structure, other values, true/false/null and formatting stay. Returns null
 * when the text is not JSON (so the caller falls back to the text rules): it must start with `{` or `[` and stay
 * well formed as far as it goes (a cut document, or several documents one after another as in JSON lines, pass).
 */
export function redactJson(text: string, names: SecretNames, mark: Marker): string | null {
  let i = 0;
  while (i < text.length && WS.has(text[i]!)) i++;
  if (text[i] !== "{" && text[i] !== "[") return null;
  const stack: Frame[] = [];
  /** Replacements [start, end) by content, applied at the end (a pair's value may come before its name). */
  const edits: { start: number; end: number; content: string }[] = [];
  const n = text.length;
  const closePairs = (frame: Frame) => {
    for (const v of frame.pairValues) if ((v.rules & frame.pairSecret) !== 0) edits.push(v);
  };
  /** Is a value starting here secret? */
  const valueSecret = (): boolean => {
    const top = stack.at(-1);
    if (top === undefined) return false;
    return top.secret || (top.kind === "object" && top.keySecret);
  };
  const replace = (start: number, end: number, content: string) => {
    edits.push({ start, end, content });
  };
  /** A scalar value of an object: its part in a name/value pair, if its key has one. */
  const pairScalar = (top: Frame, start: number, end: number, content: string, decoded: () => string) => {
    const role = top.pairKey === null ? undefined : PAIR_ROLE.get(top.pairKey);
    if (role === undefined) return;
    let values = 0;
    for (const r of role.values) values |= 1 << r;
    if (values !== 0) top.pairValues.push({ rules: values, start, end, content });
    if (role.names.length > 0 && names.test(decoded())) for (const r of role.names) top.pairSecret |= 1 << r;
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
      const parent = stack.at(-1);
      if (parent?.kind === "object") parent.pairKey = null; // an object or array value is not a pair's scalar
      stack.push({ kind: c === "{" ? "object" : "array", secret, expectKey: c === "{", keySecret: false, pairKey: null, pairSecret: 0, pairValues: [] });
      i++;
      continue;
    }
    if (c === "}" || c === "]") {
      if (stack.length === 0 || stack.at(-1)!.kind !== (c === "}" ? "object" : "array")) return null;
      closePairs(stack.pop()!);
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
        top.pairKey = PAIR_ROLE.has(key.toLowerCase()) ? key.toLowerCase() : null;
        top.expectKey = false;
      } else {
        const raw = text.slice(i + 1, Math.min(j, n));
        if (valueSecret()) replace(i, end, raw);
        // A pair's name is read even when hidden itself (`"key"` is a secret name: {"Key": "api_token", "Value": …}).
        if (top.kind === "object")
          pairScalar(top, i, end, raw, () => {
            try {
              return JSON.parse(`"${raw}"`) as string;
            } catch {
              return raw;
            }
          });
      }
      i = end;
      continue;
    }
    const scalar = /^(?:-?\d[\d.eE+-]*|true|false|null)/.exec(text.slice(i, i + 400));
    if (scalar === null) return null;
    const end = i + scalar[0].length;
    if (/^-?\d/.test(scalar[0])) {
      if (valueSecret()) replace(i, end, scalar[0]);
      if (top.kind === "object") pairScalar(top, i, end, scalar[0], () => scalar[0]);
    }
    i = end;
  }
  for (const frame of stack) closePairs(frame); // a cut document: its open objects as far as they go
  if (edits.length === 0) return text;
  edits.sort((a, b) => a.start - b.start);
  let out = "";
  let copied = 0;
  for (const e of edits) {
    if (e.start < copied) continue;
    out += text.slice(copied, e.start) + `"${mark(e.content)}"`;
    copied = e.end;
  }
  return out + text.slice(copied);
}
