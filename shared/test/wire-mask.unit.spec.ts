// The wire masker against bytes recorded from real clients and servers (shared/test/fixtures/handshakes/, see its
// README): every secret gone, every other byte and every length unchanged, however the bytes are split into calls.
import { readdirSync, readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { createWireMasker, MASK_BYTE, maskFirstBytes, WIRE_PROTOCOLS } from "../src/redaction/wire-mask.ts";
import type { WireSide } from "../src/redaction/wire-mask.ts";
import { SecretNames } from "../src/redaction/names.ts";

const DIR = new URL("./fixtures/handshakes/", import.meta.url);

interface Fixture {
  recorded: string;
  secrets: { side: WireSide; hex: string; why: string }[];
  chunks: { side: WireSide; hex: string }[];
}

const PROTOCOL_OF: Record<string, string> = { http: "http", redis: "redis", pg: "postgres", mariadb: "mysql", amqp: "amqp", nats: "nats", smtp: "smtp", pop3: "pop3", imap: "imap" };

const fixtures = readdirSync(DIR)
  .filter((f) => f.endsWith(".json"))
  .sort()
  .map((f) => ({ name: f.replace(/\.json$/, ""), ...(JSON.parse(readFileSync(new URL(f, DIR), "utf8")) as Fixture) }));

type Chunk = { side: WireSide; bytes: Buffer };

function chunksOf(f: Fixture): Chunk[] {
  return f.chunks.map((c) => ({ side: c.side, bytes: Buffer.from(c.hex, "hex") }));
}

function streams(chunks: readonly Chunk[]): Record<WireSide, Buffer> {
  const of = (side: WireSide) => Buffer.concat(chunks.filter((c) => c.side === side).map((c) => c.bytes));
  return { client: of("client"), server: of("server") };
}

/** The side streams with every occurrence of every secret overwritten: what the masker must produce. */
function expected(f: Fixture): Record<WireSide, Buffer> {
  const original = streams(chunksOf(f));
  const out = streams(chunksOf(f));
  for (const s of f.secrets) {
    const secret = Buffer.from(s.hex, "hex");
    const stream = original[s.side];
    let found = 0;
    for (let at = stream.indexOf(secret); at >= 0; at = stream.indexOf(secret, at + 1)) {
      out[s.side].fill(MASK_BYTE, at, at + secret.length);
      found++;
    }
    expect(found, `${s.why} in the recording`).toBeGreaterThan(0);
  }
  return out;
}

/** How many bytes the secrets cover (overlapping occurrences counted once). */
function secretBytes(f: Fixture): number {
  const original = streams(chunksOf(f));
  const covered = { client: new Set<number>(), server: new Set<number>() };
  for (const s of f.secrets) {
    const secret = Buffer.from(s.hex, "hex");
    for (let at = original[s.side].indexOf(secret); at >= 0; at = original[s.side].indexOf(secret, at + 1)) {
      for (let i = at; i < at + secret.length; i++) covered[s.side].add(i);
    }
  }
  return covered.client.size + covered.server.size;
}

/** Masks copies of the chunks, calls as given; returns the side streams and the masker's protocol. */
function run(chunks: readonly Chunk[]): { out: Record<WireSide, Buffer>; protocol: string | null; masked: number } {
  const masker = createWireMasker();
  const copies = chunks.map((c) => ({ side: c.side, bytes: Buffer.from(c.bytes) }));
  let masked = 0;
  for (const c of copies) masked += masker.mask(c.side, c.bytes);
  return { out: streams(copies), protocol: masker.protocol, masked };
}

describe("wire masker on recorded handshakes", () => {
  it("has a recording of every protocol it follows", () => {
    const recorded = new Set(fixtures.map((f) => PROTOCOL_OF[f.name.split("-")[0]!]));
    expect(WIRE_PROTOCOLS.map((p) => p.protocol).filter((p) => !recorded.has(p))).toEqual([]);
  });

  for (const f of fixtures) {
    describe(f.name, () => {
      const want = expected(f);
      const chunks = chunksOf(f);

      it("masks exactly the secrets, in place", () => {
        const { out, protocol, masked } = run(chunks);
        expect(protocol).toBe(PROTOCOL_OF[f.name.split("-")[0]!]);
        expect(out.client.length).toBe(want.client.length);
        expect(out.server.length).toBe(want.server.length);
        expect(out.client.equals(want.client), "client stream").toBe(true);
        expect(out.server.equals(want.server), "server stream").toBe(true);
        for (const s of f.secrets) expect(out[s.side].includes(Buffer.from(s.hex, "hex")), s.why).toBe(false);
        expect(`${out.client.toString("latin1")}${out.server.toString("latin1")}`).not.toMatch(/S3cret|UzNjcmV0|Secret42|BearerTok|ApiKey-|AuthTok|Cookie(Sid|Pref)|YWxpY2U6/);
        expect(masked).toBe(secretBytes(f));
      });

      it("gives the same bytes with any one call split in two at any byte", () => {
        let splits = 0;
        for (let k = 0; k < chunks.length; k++) {
          const c = chunks[k]!;
          for (let at = 1; at < c.bytes.length; at++) {
            const split = [...chunks.slice(0, k), { side: c.side, bytes: c.bytes.subarray(0, at) }, { side: c.side, bytes: c.bytes.subarray(at) }, ...chunks.slice(k + 1)];
            const { out } = run(split);
            if (!out.client.equals(want.client) || !out.server.equals(want.server)) expect.fail(`chunk ${k} split at ${at}`);
            splits++;
          }
        }
        expect(splits).toBe(chunks.reduce((n, c) => n + c.bytes.length - 1, 0));
      });

      it("gives the same bytes fed one byte per call", () => {
        const bytewise = chunks.flatMap((c) => [...c.bytes].map((b) => ({ side: c.side, bytes: Buffer.from([b]) })));
        const { out } = run(bytewise);
        expect(out.client.equals(want.client)).toBe(true);
        expect(out.server.equals(want.server)).toBe(true);
      });
    });
  }
});

const ascii = (s: string) => Buffer.from(s, "latin1");
const maskOne = (side: WireSide, ...parts: string[]) => {
  const m = createWireMasker();
  return parts.map((p) => {
    const b = ascii(p);
    m.mask(side, b);
    return b.toString("latin1");
  });
};

describe("wire masker rules beyond the recordings", () => {
  it("masks folded continuation lines of a credential header, not of others", () => {
    const [out] = maskOne("client", "GET / HTTP/1.1\r\nX-Secret-Token: abc\r\n def\r\nX-Other: one\r\n two\r\n\r\n");
    expect(out).toBe("GET / HTTP/1.1\r\nX-Secret-Token: ***\r\n ***\r\nX-Other: one\r\n two\r\n\r\n");
  });

  it("keeps a known Authorization scheme and masks a bare token whole", () => {
    const [a, b] = maskOne("client", "GET / HTTP/1.1\r\nAuthorization: Basic dXNlcjpwdw==\r\n\r\n", "GET / HTTP/1.1\r\nAuthorization: eyJhbGciOi\r\n\r\n");
    expect(a).toBe("GET / HTTP/1.1\r\nAuthorization: Basic ************\r\n\r\n");
    expect(b).toBe("GET / HTTP/1.1\r\nAuthorization: **********\r\n\r\n");
    // A token that begins like a scheme name shows that beginning only: a byte is decided when it passes.
    expect(maskOne("client", "GET / HTTP/1.1\r\nAuthorization: bearXYZ\r\n\r\n")).toEqual(["GET / HTTP/1.1\r\nAuthorization: bear***\r\n\r\n"]);
  });

  it("skips bodies by Content-Length and chunks, and finds the next request's head", () => {
    const req = "POST /a HTTP/1.1\r\nContent-Length: 25\r\n\r\nAuthorization: not-a-head" + "\r\n" + "PUT /b HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\nX-Trailer-Token: tt\r\n\r\n" + "GET /c HTTP/1.1\r\nCookie: a=1\r\n\r\n";
    const [out] = maskOne("client", req);
    expect(out).toBe(req.replace("X-Trailer-Token: tt", "X-Trailer-Token: **").replace("Cookie: a=1", "Cookie: a=*"));
  });

  it("frames a HEAD response without a body, then masks the next response's Set-Cookie", () => {
    const m = createWireMasker();
    m.mask("client", ascii("HEAD / HTTP/1.1\r\n\r\nGET / HTTP/1.1\r\n\r\n"));
    const server = ascii("HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\nHTTP/1.1 200 OK\r\nSet-Cookie: s=v1; Path=/\r\nContent-Length: 0\r\n\r\n");
    expect(m.mask("server", server)).toBe(2);
    expect(server.toString("latin1")).toContain("Set-Cookie: s=**; Path=/\r\n");
  });

  it("stops at a protocol switch (101) and on a connection whose opening matches no rule", () => {
    const m = createWireMasker();
    m.mask("client", ascii("GET /ws HTTP/1.1\r\nUpgrade: websocket\r\n\r\n"));
    m.mask("server", ascii("HTTP/1.1 101 Switching Protocols\r\n\r\n"));
    const frame = ascii("\x81\x05Authorization: x\r\n");
    expect(m.mask("client", frame)).toBe(0);
    const ssh = createWireMasker();
    expect(ssh.mask("server", ascii("SSH-2.0-OpenSSH_9.2\r\n"))).toBe(0);
    expect(ssh.protocol).toBe("off");
    expect(ssh.mask("client", ascii("AUTH secret\r\n"))).toBe(0);
  });

  it("masks Redis inline AUTH and CONFIG SET requirepass, ACL SETUSER passwords", () => {
    expect(maskOne("client", "AUTH user pw1\r\nCONFIG SET requirepass pw2\r\nACL SETUSER bob on >pw3 ~*\r\n")).toEqual([
      "AUTH **** ***\r\nCONFIG SET requirepass ***\r\nACL SETUSER bob on >*** ~*\r\n",
    ]);
    expect(maskOne("client", "*2\r\n$4\r\nAUTH\r\n$3\r\npw1\r\n*3\r\n$3\r\nSET\r\n$4\r\nAUTH\r\n$3\r\nxyz\r\n")).toEqual([
      "*2\r\n$4\r\nAUTH\r\n$3\r\n***\r\n*3\r\n$3\r\nSET\r\n$4\r\nAUTH\r\n$3\r\nxyz\r\n",
    ]);
  });

  it("counts lost bytes off a length-framed message, and masks the rest of a head line after a loss", () => {
    const m = createWireMasker();
    const start = Buffer.from("0000000804d2162f", "hex"); // SSLRequest
    m.mask("client", start);
    const startup = Buffer.concat([Buffer.from("0000000d00030000", "hex"), ascii("user\0")]);
    m.mask("client", startup);
    m.mask("client", ascii("p\0\0\0\x0dpass"));
    m.lost("client", 3); // "wor"
    const tail = ascii("d\0Q\0\0\0\x0dSELECT 1\0");
    m.mask("client", tail);
    expect(tail.toString("latin1")).toBe("**Q\0\0\0\x0dSELECT 1\0");

    const h = createWireMasker();
    h.mask("client", ascii("GET / HTTP/1.1\r\nX-Plain: a"));
    h.lost("client", 100);
    const rest = ascii("bc\r\nHost: x\r\n\r\n");
    h.mask("client", rest);
    expect(rest.toString("latin1")).toBe("**\r\nHost: x\r\n\r\n");
  });

  it("masks NATS CONNECT values with escapes, keeps user and nkey", () => {
    const m = createWireMasker();
    m.mask("server", ascii('INFO {"server_id":"x"}\r\n'));
    const connect = ascii('CONNECT {"user":"u","nkey":"UABC","pass":"p\\"q","jwt":"e.y","sig":"s"}\r\nPUB a 4\r\npass\r\n');
    m.mask("client", connect);
    expect(connect.toString("latin1")).toBe('CONNECT {"user":"u","nkey":"UABC","pass":"****","jwt":"***","sig":"*"}\r\nPUB a 4\r\npass\r\n');
  });

  it("maskFirstBytes masks the evidence of either side, server-first protocols read from the greeting", () => {
    const redis = ascii("*2\r\n$4\r\nAUTH\r\n$6\r\nsecret\r\n");
    expect(maskFirstBytes(redis, null).client!.toString("latin1")).toBe("*2\r\n$4\r\nAUTH\r\n$6\r\n******\r\n");
    expect(redis.toString("latin1")).toContain("secret"); // the input is untouched
    const nats = maskFirstBytes(ascii('CONNECT {"pass":"pw"}\r\n'), ascii("INFO {}\r\n"));
    expect(nats.client!.toString("latin1")).toBe('CONNECT {"pass":"**"}\r\n');
    expect(maskFirstBytes(null, null)).toEqual({ client: null, server: null });
  });
});

describe("wire masker: secrets in HTTP request targets and bodies", () => {
  const post = (body: string, headers = "") => `POST /p HTTP/1.1\r\nHost: h\r\n${headers}Content-Length: ${body.length}\r\n\r\n${body}`;
  const masked = (side: WireSide, text: string): string => maskOne(side, text)[0]!;

  it("masks everything under a secret-named object or array, keeps keys, booleans and nulls, and handles escapes", () => {
    const body = '{"credentials":{"user":"bob","pins":[12,"x\\"y"],"ok":true,"none":null},"name":"n","password":"a\\"b","pwd":"hide","cwd":"keep"}';
    expect(masked("client", post(body))).toBe(post('{"credentials":{"user":"***","pins":[**,"****"],"ok":true,"none":null},"name":"n","password":"****","pwd":"****","cwd":"keep"}'));
  });

  it("leaves OAuth metadata names (token_type) and non-secret JSON alone, byte for byte", () => {
    const body = '{"token_type":"Bearer","expires_in":3600,"keyspace":"k","items":[{"id":1}]}';
    expect(masked("server", `HTTP/1.1 200 OK\r\nContent-Length: ${body.length}\r\n\r\n${body}`)).toBe(`HTTP/1.1 200 OK\r\nContent-Length: ${body.length}\r\n\r\n${body}`);
  });

  it("masks URL userinfo passwords and percent-encoded secret names in the target and in text", () => {
    expect(masked("client", "GET /x?redirect=postgres://app:pw9@db/a&pass%77ord=p2 HTTP/1.1\r\n\r\n")).toBe("GET /x?redirect=postgres://app:***@db/a&pass%77ord=** HTTP/1.1\r\n\r\n");
    expect(masked("client", post("dsn=mysql://root:R00t@db:3306/x\n", "Content-Type: text/plain\r\n"))).toBe(post("dsn=mysql://root:****@db:3306/x\n", "Content-Type: text/plain\r\n"));
  });

  it("masks a query secret whose request line is split anywhere across calls", () => {
    const line = "GET /cb?code=c1&client_secret=CS-77&state=s HTTP/1.1\r\nHost: h\r\n\r\n";
    const want = line.replace("CS-77", "*****");
    for (let at = 1; at < line.length; at++) expect(maskOne("client", line.slice(0, at), line.slice(at)).join(""), `split at ${at}`).toBe(want);
  });

  it("counts content-encoded bodies as unmaskable and leaves them as sent; skips binary media types", () => {
    const m = createWireMasker();
    const gz = ascii(post('{"password":"zz"}', "Content-Encoding: gzip\r\n"));
    expect(m.mask("client", gz)).toBe(0);
    expect(m.unmaskableBodies).toBe(1);
    const identity = ascii(post('{"password":"zz"}', "Content-Encoding: identity\r\n"));
    expect(m.mask("client", identity)).toBe(2);
    const png = ascii(post("password=zz", "Content-Type: image/png\r\n"));
    expect(m.mask("client", png)).toBe(0);
    expect(m.unmaskableBodies).toBe(1);
    expect(createWireMasker().unmaskableBodies).toBe(0);
  });

  it("takes the secret-name test it is given (ADI_REDACT_NAMES through RedactionPolicy.names)", () => {
    const text = post('{"tenant_hash":"th1","x":"y"}');
    const b = ascii(text);
    createWireMasker({ names: new SecretNames(["tenant-hash"]) }).mask("client", b);
    expect(b.toString("latin1")).toBe(post('{"tenant_hash":"***","x":"y"}'));
    expect(maskOne("client", text)[0]).toBe(text);
  });

  it("masks the headers the text policy hides, by the same secret-name test (issue 11), and keeps the challenges", () => {
    const head = (name: string, value: string) => `GET / HTTP/1.1\r\nHost: h\r\n${name}: ${value}\r\n\r\n`;
    for (const name of ["X-AccessToken", "X-Csrftoken", "X-Sessionid", "X-Pass", "Authentication", "X-Authentication", "X_AUTHENTICATION", "X-Pwd"]) {
      expect(masked("client", head(name, "s3cr3t")), name).toBe(head(name, "******"));
    }
    for (const name of ["WWW-Authenticate", "Authentication-Info", "Keep-Alive", "Accept"]) expect(masked("server", `HTTP/1.1 204 No Content\r\n${name}: v1\r\n\r\n`), name).toBe(`HTTP/1.1 204 No Content\r\n${name}: v1\r\n\r\n`);
  });

  it("masks pwd= and passcode in forms, escaped names, and a secret running over '#'", () => {
    const form = "Content-Type: application/x-www-form-urlencoded\r\n";
    expect(masked("client", post("user=bob&pwd=hunter2&passcode=1234", form))).toBe(post("user=bob&pwd=*******&passcode=****", form));
    expect(masked("client", "GET /l?%70assword=X1&pwd=abc#frag HTTP/1.1\r\n\r\n")).toBe("GET /l?%70assword=**&pwd=******** HTTP/1.1\r\n\r\n");
    expect(masked("client", post('{"\\u0070assword":"X1","user":"bob"}'))).toBe(post('{"\\u0070assword":"**","user":"bob"}'));
  });

  it("masks a PEM private key block between its BEGIN and END lines, keeps certificates", () => {
    const key = "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA7bq+/x==\nAbCd\n-----END RSA PRIVATE KEY-----\n";
    const want = `-----BEGIN RSA PRIVATE KEY-----${"*".repeat("\nMIIEowIBAAKCAQEA7bq+/x==\nAbCd\n".length)}-----END RSA PRIVATE KEY-----\n`;
    expect(masked("client", post(key, "Content-Type: text/plain\r\n"))).toBe(post(want, "Content-Type: text/plain\r\n"));
    const json = '{"pem":"-----BEGIN PRIVATE KEY-----\\nMIIEvQ\\n-----END PRIVATE KEY-----"}';
    expect(masked("client", post(json))).toBe(post('{"pem":"-----BEGIN PRIVATE KEY-----**********-----END PRIVATE KEY-----"}'));
    const cert = "-----BEGIN CERTIFICATE-----\nMIIBszCCAVmg\n-----END CERTIFICATE-----\n";
    expect(masked("client", post(cert, "Content-Type: text/plain\r\n"))).toBe(post(cert, "Content-Type: text/plain\r\n"));
  });

  it("masks a response body delimited by the connection's close", () => {
    const m = createWireMasker();
    m.mask("client", ascii("GET / HTTP/1.0\r\n\r\n"));
    const res = ascii('HTTP/1.0 200 OK\r\n\r\n{"refresh_token":"r1"}');
    expect(m.mask("server", res)).toBe(2);
    expect(res.toString("latin1")).toBe('HTTP/1.0 200 OK\r\n\r\n{"refresh_token":"**"}');
  });
});

describe("wire masker: the body pre-check skips only what the byte scan would leave alone", () => {
  // Long neutral stretches (the pre-check's case: ≥ 64 bytes, no secret-name word, no value hint) around names and
  // strings cut by the call boundaries, escapes, a long name, a key-value name in plain text: fed whole, split at
  // every byte and in two-call pieces, the output must equal the byte-per-call scan's (which never pre-checks).
  const neutral = '"description":"a \\"quoted\\" text with a backslash \\\\ and more words to make it long enough",';
  const bodies = [
    `{${neutral}"items":[${neutral.slice(0, -1).replace(/^/, "{")}}],"client_${"x".repeat(70)}":"v1","user_password":"pw-9",${neutral}"note":"done"}`,
    `text before ${"lorem ipsum ".repeat(8)}then api_key=AK-1234 and ${"more neutral text ".repeat(6)}sess${"ion"}=SID-5 end`,
    `{${neutral}"${"n".repeat(140)}":"long name",${neutral}"refresh_token":"RT-1",${neutral}"nested":{"secret":{"a":[1,2,"three"]}},${neutral}"z":0}`,
  ];
  for (const [n, body] of bodies.entries()) {
    it(`body ${n}`, () => {
      const head = `POST /p HTTP/1.1\r\nContent-Length: ${body.length}\r\n\r\n`;
      const bytewise = maskOne("client", ...[...head + body]).join("");
      expect(bytewise).not.toBe(head + body); // something was masked
      expect(maskOne("client", head + body).join("")).toBe(bytewise);
      const text = head + body;
      for (let at = 1; at < text.length; at++) {
        const out = maskOne("client", text.slice(0, at), text.slice(at)).join("");
        if (out !== bytewise) expect.fail(`split at ${at}: ${out}`);
      }
      for (let size = 64; size < 260; size += 3) {
        const parts: string[] = [];
        for (let at = 0; at < text.length; at += size) parts.push(text.slice(at, at + size));
        expect(maskOne("client", ...parts).join(""), `pieces of ${size}`).toBe(bytewise);
      }
    });
  }
});
