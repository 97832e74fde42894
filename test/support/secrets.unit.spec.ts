// The search behind the "secrets stay hidden" e2e test: a secret is found in every form an output could hold it
// in (a miss here would let a leak pass the e2e test), hits name their place, and the report is the table.
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { describe, expect, it } from "vitest";
import { stringify } from "yaml";
import {
  countHits,
  githubToken,
  jsonPathOf,
  jwt,
  leakReport,
  lineHaystacks,
  mysqlGreetingNonce,
  mysqlNativeScramble,
  needlesOf,
  neutralSecret,
  planted,
  plantedBytes,
  searchSecrets,
  stripeKey,
  yamlHaystacks,
} from "./secrets.ts";

describe("planted values", () => {
  it("have the shapes their issuers document, and differ from one call to the next", () => {
    expect(neutralSecret()).toMatch(/^S3cr3t-[0-9a-f]{24}$/);
    expect(githubToken()).toMatch(/^ghp_[A-Za-z0-9]{36}$/);
    expect(stripeKey()).toMatch(/^sk_live_[A-Za-z0-9]{32}$/);
    const token = jwt();
    expect(token).toMatch(/^eyJ[A-Za-z0-9_-]+\.eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{43}$/);
    expect(JSON.parse(Buffer.from(token.split(".")[0]!, "base64url").toString())).toEqual({ alg: "HS256", typ: "JWT" });
    expect(neutralSecret()).not.toBe(neutralSecret());
  });
});

describe("searchSecrets", () => {
  const secret = planted("s", "test", "S3cr3t-0123456789abcdef01234567");

  it("finds the secret base64-encoded at any byte offset, in base64 and base64url (Basic credentials, binary bodies)", () => {
    for (let prefix = 0; prefix < 6; prefix++) {
      for (const alphabet of ["base64", "base64url"] as const) {
        const text = Buffer.from(`${"u:xyz".slice(0, prefix)}${secret.value}!?~`).toString(alphabet);
        const hits = searchSecrets([secret], [{ output: "o", where: "w", text }]);
        // base64url of a value without '+' or '/' is its base64: that form is listed once, as base64
        expect(hits.map((h) => h.forms.some((f) => f.startsWith("base64"))), `${alphabet} after ${prefix} bytes`).toEqual([true]);
      }
    }
  });

  it("finds it in hex of either case (first_bytes_hex), and names the JSON field", () => {
    const hex = Buffer.from(`AUTH ${secret.value}\r\n`).toString("hex").toUpperCase();
    const json = { a: { b: [{ evidence: { first_bytes_hex: hex } }] } };
    const hits = searchSecrets([secret], [{ output: "ADI_DERIVED", where: "#3", text: JSON.stringify(json), json }]);
    expect(hits).toEqual([{ secret: "s", output: "ADI_DERIVED", where: "#3", field: "$.a.b[0].evidence.first_bytes_hex", forms: ["hex"], sample: expect.stringContaining(hex.slice(10, 40)) }]);
  });

  it("finds nothing in a masked copy, and an extra form (a JWT's signature alone) by its name", () => {
    const token = jwt();
    const s = planted("jwt", "test", token, [{ form: "jwt signature", text: token.split(".")[2]! }]);
    expect(searchSecrets([s], [{ output: "o", where: "w", text: `Bearer ${"*".repeat(token.length)}` }])).toEqual([]);
    expect(searchSecrets([s], [{ output: "o", where: "w", text: `sig=${token.split(".")[2]}` }]).map((h) => h.forms)).toEqual([["head12", "tail12", "jwt signature"]]);
    // another token of the same shape (same header, same payload start) is not this one
    expect(searchSecrets([s], [{ output: "o", where: "w", text: jwt() }])).toEqual([]);
  });

  it("finds a secret masked only in part (one of the two send calls it was cut across) by its fragments", () => {
    const half = `Bearer ${"*".repeat(12)}${secret.value.slice(12)}`;
    expect(searchSecrets([secret], [{ output: "o", where: "w", text: half }]).map((h) => h.forms)).toEqual([["tail12"]]);
    const prefixKept = planted("g", "test", githubToken());
    expect(searchSecrets([prefixKept], [{ output: "o", where: "w", text: `token ghp_${"*".repeat(36)}` }])).toEqual([]);
  });

  it("searches a YAML document parsed and whole (a string the writer folded over lines), naming the field", () => {
    const text = stringify({ env: { CONN: `Server=x; User Id=u; Password=${secret.value}; ${"y ".repeat(40)}` } }, { lineWidth: 40, defaultStringType: "QUOTE_DOUBLE" });
    expect(text.split("\n").length).toBeGreaterThan(4); // folded
    expect(searchSecrets([secret], yamlHaystacks("ENV_OUTPUT_PATH", text)).map((h) => [h.where, h.field])).toEqual([["document 1", "$.env.CONN"]]);
  });

  it("counts one hit per line holding it, in the secret's row and the output's column", () => {
    const other = planted("t", "test", "S3cr3t-ffffffffffffffffffffffff");
    const lines = [JSON.stringify({ k: secret.value }), "nothing", `again ${secret.value} ${secret.value}`].join("\n");
    const hits = searchSecrets([secret, other], lineHaystacks("OUTPUT_PATH", lines));
    expect(countHits([secret, other], ["OUTPUT_PATH", "adi logs"], hits)).toEqual({ s: { OUTPUT_PATH: 2, "adi logs": 0 }, t: { OUTPUT_PATH: 0, "adi logs": 0 } });
    expect(hits.map((h) => [h.where, h.field])).toEqual([
      ["line 1", "$.k"],
      ["line 3", undefined],
    ]);
  });
});

describe("leakReport", () => {
  it("is a table of counts (. for none), then where each found secret sits", () => {
    const s = planted("http.cookie", "request header Cookie", "S3cr3t-0123456789abcdef01234567");
    const t = planted("env.X", "environment X", "S3cr3t-ffffffffffffffffffffffff");
    const hits = searchSecrets([s, t], [{ output: "ADI_RAW", where: "conn 1 egress", text: `Cookie: sid=${s.value}\r\n` }]);
    const report = leakReport([s, t], ["OUTPUT_PATH", "ADI_RAW"], hits);
    expect(report.split("\n").slice(0, 4)).toEqual([
      "secret      | OUTPUT_PATH | ADI_RAW",
      "------------|-------------|--------",
      "http.cookie |           . |       1",
      "env.X       |           . |       .",
    ]);
    expect(report).toContain("1 of 2 planted secrets found in at least one output");
    expect(report).toContain(`  ADI_RAW conn 1 egress [plain,head12,tail12]: Cookie: sid=${s.value}\\r\\n`);
  });
});

describe("jsonPathOf", () => {
  it("names keys that are not identifiers in brackets, and a key holding the text as such", () => {
    expect(jsonPathOf({ headers: { "x-api-key": "abc" } }, "abc", false)).toBe("$.headers.x-api-key");
    expect(jsonPathOf({ "a b": ["zz abc"] }, "abc", false)).toBe('$["a b"][0]');
    expect(jsonPathOf({ abc: 1 }, "abc", false)).toBe("$.abc (key)");
    expect(jsonPathOf({ a: "ABC" }, "abc", true)).toBe("$.a");
  });
});

describe("needlesOf", () => {
  it("lists each distinct form once", () => {
    const texts = needlesOf("S3cr3t-0123456789abcdef01234567").map((n) => n.text);
    expect(new Set(texts).size).toBe(texts.length);
  });

  it("has the JSON-escaped and URL-encoded forms of a value with quotes, a backslash or '&'", () => {
    const forms = Object.fromEntries(needlesOf('p"w\\x&y').map((n) => [n.form, n.text]));
    expect(forms["json-escaped"]).toBe('p\\"w\\\\x&y');
    expect(forms["url-encoded"]).toBe("p%22w%5Cx%26y");
  });
});

// Not among mysql2's exports: reached by its file path (absolute paths bypass the package's export map).
const requireHere = createRequire(import.meta.url);
const auth41 = requireHere(join(dirname(requireHere.resolve("mysql2")), "lib", "auth_41.js")) as {
  calculateToken(password: string, scramble1: Buffer, scramble2: Buffer): Buffer;
  verifyToken(seed1: Buffer, seed2: Buffer, token: Buffer, doubleSha: Buffer): boolean;
  doubleSha1(password: string): Buffer;
};

describe("MySQL native password proof", () => {
  // A MariaDB 10.11 greeting as the server sends it (length 0x5b, seq 0, protocol 10), nonce "01234567" + "89abcdefghij".
  const greeting = Buffer.concat([
    Buffer.from([0x5b, 0, 0, 0, 0x0a]),
    Buffer.from("5.5.5-10.11.6-MariaDB-0+deb12u1\0", "latin1"),
    Buffer.from([7, 0, 0, 0]),
    Buffer.from("01234567", "latin1"),
    Buffer.from([0, 0xfe, 0xf7, 0x2d, 0x02, 0, 0xff, 0x81, 0x15]),
    Buffer.alloc(6),
    Buffer.from([0x1d, 0, 0, 0]),
    Buffer.from("89abcdefghij\0mysql_native_password\0", "latin1"),
  ]);

  it("reads the 20-byte nonce from a server greeting, and nothing from other bytes", () => {
    expect(mysqlGreetingNonce(greeting)?.toString("latin1")).toBe("0123456789abcdefghij");
    expect(mysqlGreetingNonce(Buffer.from("GET / HTTP/1.1\r\n"))).toBeUndefined();
  });

  it("computes the client's proof (SHA1(pw) XOR SHA1(nonce + SHA1(SHA1(pw)))), searched as bytes and hex", () => {
    const nonce = Buffer.from("0123456789abcdefghij", "latin1");
    const proof = mysqlNativeScramble("secret", nonce);
    // mysql2's own implementation (a peer: lib/auth_41.js) computes and accepts the same proof
    expect(auth41.calculateToken("secret", nonce.subarray(0, 8), nonce.subarray(8))).toEqual(proof);
    expect(auth41.verifyToken(nonce.subarray(0, 8), nonce.subarray(8), proof, auth41.doubleSha1("secret"))).toBe(true);
    const s = plantedBytes("mysql", "test", proof);
    const raw = Buffer.concat([Buffer.from([0x14]), proof]).toString("latin1");
    expect(searchSecrets([s], [{ output: "ADI_RAW", where: "w", text: raw }, { output: "o", where: "x", text: `"${proof.toString("hex")}"` }]).map((h) => h.forms)).toEqual([["bytes"], ["hex"]]);
  });
});
