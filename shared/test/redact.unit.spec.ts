import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { filterAndRedactEnv, isSecretName, parseEnviron, REDACTED, redactUrlPasswords } from "../src/redact.ts";

describe("isSecretName", () => {
  it.each([
    "POSTGRES_PASSWORD",
    "MYSQL_ROOT_PASSWORD",
    "DB_PASSWD",
    "GPG_PASSPHRASE",
    "CLIENT_SECRET",
    "GITHUB_TOKEN",
    "DB_CREDENTIALS",
    "API_KEY",
    "ACCESS_KEY",
    "AWS_SECRET_ACCESS_KEY",
    "PRIVATE_KEY",
    "SSL_KEYFILE",
    "KEY",
    "REDIS_AUTH",
    "DB_PASS",
    "DB_PW",
    "apiKey",
    "privateKey",
    "stripe.key",
    "jwt-secret",
  ])("%s is secret", (name) => {
    expect(isSecretName(name)).toBe(true);
  });

  it.each(["PATH", "HOME", "PWD", "KEYSPACE", "CASSANDRA_KEYSPACE", "MONKEY", "HOTKEY", "AUTHOR", "PASSAGE", "HOSTNAME", "MONGO_HOST"])(
    "%s is not secret",
    (name) => {
      expect(isSecretName(name)).toBe(false);
    },
  );
});

describe("redactUrlPasswords", () => {
  it.each([
    ["postgres://app:s3cret@db:5432/app", "postgres://app:[REDACTED]@db:5432/app"],
    ["redis://:s3cret@cache:6379/0", "redis://:[REDACTED]@cache:6379/0"],
    ["HTTPS://user:p%40ss@host/x?y=1", "HTTPS://user:[REDACTED]@host/x?y=1"],
    ["amqp://guest:p@ss@rabbit:5672/", "amqp://guest:[REDACTED]@rabbit:5672/"],
    ["nats://a:x@h1:4222,nats://b:y@h2:4222", "nats://a:[REDACTED]@h1:4222,nats://b:[REDACTED]@h2:4222"],
    ["url is mongodb+srv://u:pw@cluster0.example.net/db then text", "url is mongodb+srv://u:[REDACTED]@cluster0.example.net/db then text"],
  ])("%s", (value, expected) => {
    expect(redactUrlPasswords(value)).toBe(expected);
  });

  it.each([
    "http://reviews:9080",
    "https://token@github.com/org/repo",
    "mongodb://db:27017",
    "http://host:8080/path?email=a@b.c",
    "plain text with a:b@c",
  ])("leaves %s alone", (value) => {
    expect(redactUrlPasswords(value)).toBe(value);
  });

  it("never lets the password through (property)", () => {
    const password = fc.stringMatching(/^[A-Za-z0-9!$&'()*+,;=%@-]{1,20}$/);
    fc.assert(
      fc.property(fc.constantFrom("postgres", "redis", "https"), fc.stringMatching(/^[a-z]{0,8}$/), password, (scheme, user, pw) => {
        const url = `${scheme}://${user}:${pw}@db.internal:5432/app`;
        expect(redactUrlPasswords(url)).toBe(`${scheme}://${user}:${REDACTED}@db.internal:5432/app`);
      }),
    );
  });
});

describe("filterAndRedactEnv", () => {
  const env = {
    ZED: "last",
    PATH: "/usr/bin",
    POSTGRES_PASSWORD: "hunter2",
    DATABASE_URL: "postgres://app:hunter2@db/app",
    REVIEWS_SERVICE_URL: "http://reviews:9080",
    ADI_PROFILE: "local",
    ADI_PROFILE_NAME: "reviews",
    ADI_PROFILE_TOKEN: "not hidden: ADI_PROFILE* is never redacted",
  };

  it("redacts secret names and URL passwords, never ADI_PROFILE*, and sorts keys", () => {
    const out = filterAndRedactEnv(env, { redact: true });
    expect(out).toEqual({
      ADI_PROFILE: "local",
      ADI_PROFILE_NAME: "reviews",
      ADI_PROFILE_TOKEN: "not hidden: ADI_PROFILE* is never redacted",
      DATABASE_URL: "postgres://app:[REDACTED]@db/app",
      PATH: "/usr/bin",
      POSTGRES_PASSWORD: "[REDACTED]",
      REVIEWS_SERVICE_URL: "http://reviews:9080",
      ZED: "last",
    });
    expect(Object.keys(out)).toEqual(Object.keys(out).sort());
  });

  it("keeps everything in clear when redaction is off", () => {
    const out = filterAndRedactEnv(env, { redact: false });
    expect(out.POSTGRES_PASSWORD).toBe("hunter2");
    expect(out.DATABASE_URL).toBe("postgres://app:hunter2@db/app");
  });

  it("keeps only the listed prefixes, case-sensitively", () => {
    expect(filterAndRedactEnv({ ...env, reviews_x: "lower" }, { prefixes: ["REVIEWS_", "POSTGRES_"], redact: true })).toEqual({
      POSTGRES_PASSWORD: "[REDACTED]",
      REVIEWS_SERVICE_URL: "http://reviews:9080",
    });
  });

  it("treats an empty prefix list as no filter", () => {
    expect(Object.keys(filterAndRedactEnv(env, { prefixes: [], redact: false }))).toHaveLength(Object.keys(env).length);
  });

  it("can leave nothing", () => {
    expect(filterAndRedactEnv(env, { prefixes: ["NOPE_"], redact: true })).toEqual({});
  });

  it("does not modify its input", () => {
    const copy = { ...env };
    filterAndRedactEnv(env, { redact: true });
    expect(env).toEqual(copy);
  });
});

describe("parseEnviron", () => {
  it("splits entries on NUL and names on the first '='", () => {
    const buf = Buffer.from("PATH=/bin:/usr/bin\0EQ=a=b=c\0EMPTY=\0HOME=/root\0", "utf8");
    expect(parseEnviron(buf)).toEqual({ EMPTY: "", EQ: "a=b=c", HOME: "/root", PATH: "/bin:/usr/bin" });
  });

  it("skips entries without '=' or with an empty name", () => {
    expect(parseEnviron(Buffer.from("garbage\0=nameless\0A=1\0\0"))).toEqual({ A: "1" });
  });

  it("keeps the first of duplicate names, as getenv does", () => {
    expect(parseEnviron(Buffer.from("A=first\0B=b\0A=second\0"))).toEqual({ A: "first", B: "b" });
  });

  it("handles a missing trailing NUL and an empty buffer", () => {
    expect(parseEnviron(Buffer.from("A=1\0B=2"))).toEqual({ A: "1", B: "2" });
    expect(parseEnviron(Buffer.alloc(0))).toEqual({});
  });

  it("decodes UTF-8 and replaces invalid bytes", () => {
    const buf = Buffer.concat([Buffer.from("GREETING=héllo\0BAD="), Buffer.from([0xff, 0xfe]), Buffer.from("\0")]);
    expect(parseEnviron(buf)).toEqual({ BAD: "\uFFFD\uFFFD", GREETING: "héllo" });
  });

  it("respects the view of a Uint8Array into a larger buffer", () => {
    const big = Buffer.from("XXXXA=1\0YYYY");
    expect(parseEnviron(big.subarray(4, 8))).toEqual({ A: "1" });
  });

  it("keeps __proto__ as an ordinary key", () => {
    const env = parseEnviron(Buffer.from("__proto__=x\0A=1\0"));
    expect(Object.getPrototypeOf(env)).toBe(Object.prototype);
    expect(Object.keys(env)).toEqual(["A", "__proto__"]);
  });

  it("round-trips any environment with sorted keys (property)", () => {
    const name = fc.stringMatching(/^[A-Za-z_][A-Za-z0-9_]{0,10}$/);
    const value = fc.string({ maxLength: 20 }).filter((v) => !v.includes("\0"));
    fc.assert(
      fc.property(fc.dictionary(name, value), (env) => {
        const buf = Buffer.from(Object.entries(env).map(([k, v]) => `${k}=${v}\0`).join(""));
        const parsed = parseEnviron(buf);
        expect(parsed).toEqual(env);
        expect(Object.keys(parsed)).toEqual(Object.keys(env).sort());
      }),
    );
  });
});
