// The secret-name test, word by word: every word of SECRET_NAME_RULES hides a name and leaves a look-alike alone.
import { describe, expect, it } from "vitest";
import { isSecretName, normalizeName, NOT_SECRET_NAMES, SECRET_NAME_RULES, SecretNames } from "../src/redaction/index.ts";

/** Per word: a name it hides, and a name it must not hide (a look-alike). */
const WORD_CASES: Record<string, [hit: string, miss: string]> = {
  // exact
  COOKIE: ["Cookie", "Cookie-Policy-Url"],
  SET_COOKIE: ["set-cookie", "Set-Cookie-Domain"],
  SET_COOKIE2: ["Set-Cookie2", "Set-Cookie3"],
  // contains
  AUTHORIZATION: ["Proxy-Authorization", "AUTHORIZE_URL"],
  AUTHENTICATION: ["X-Authentication", "AUTHENTICATIO"],
  AUTHENTICATE: ["MUST_AUTHENTICATE", "AUTHENTIC"],
  PASSCODE: ["APP_PASSCODE", "PASSCOD"],
  PASSWORD: ["MYSQL_ROOT_PASSWORD", "PASSWORLD"],
  PASSWD: ["DB_PASSWD", "PASSWAY"],
  PASSPHRASE: ["GPG_PASSPHRASE", "PASSPHRAS"],
  SECRET: ["client_secret", "SECRETARY_NAME".replace("SECRET", "SECRE")],
  TOKEN: ["X-Auth-Token", "TOKE_N"],
  CREDENTIAL: ["DB_CREDENTIALS", "CREDENTIA"],
  APIKEY: ["xApikey", "API_KEYSPACE"],
  PRIVATEKEY: ["SSH_PRIVATEKEY", "PRIVATEKE"],
  SIGNATURE: ["X-Hub-Signature-256", "SIGNATUR"],
  SESSIONID: ["JSESSIONID", "SESSIONIDX".slice(0, 8)],
  SESSID: ["PHPSESSID", "SESSI"],
  // segment
  KEY: ["API_KEY", "KEYSPACE"],
  KEYS: ["ACCESS_KEYS", "MONKEYS"],
  KEYFILE: ["SSL_KEYFILE", "HOTKEYFILES"],
  AUTH: ["REDIS_AUTH", "AUTHOR"],
  PRIVATE: ["PRIVATE_NETWORK", "PRIVATEER"],
  PASS: ["DB_PASS", "PASSAGE"],
  PW: ["DB_PW", "PWR"],
  PWD: ["MYSQL_PWD", "PWDX"],
  CREDS: ["AWS_CREDS", "CREDSX"],
  SESSION: ["X-Session", "SESSIONS"],
  SIG: ["sig", "SIGNAL"],
  JWT: ["jwt-assertion", "JWTX"],
};

describe("SECRET_NAME_RULES", () => {
  it("has a case for every word", () => {
    expect(Object.keys(WORD_CASES).sort()).toEqual([...SECRET_NAME_RULES.exact, ...SECRET_NAME_RULES.contains, ...SECRET_NAME_RULES.segment].sort());
  });

  it.each(Object.entries(WORD_CASES))("%s hides %j and not its look-alike", (_word, [hit, miss]) => {
    expect(isSecretName(hit), hit).toBe(true);
    expect(isSecretName(miss), miss).toBe(false);
  });

  it.each([
    "MYSQL_ROOT_PASSWORD", "DB_PASSWD", "GPG_PASSPHRASE", "CLIENT_SECRET", "DB_CREDENTIALS", "ACCESS_KEY", "SSL_KEYFILE", "REDIS_AUTH",
    "DB_PASS", "DB_PW",
    "POSTGRES_PASSWORD", "GITHUB_TOKEN", "AWS_SECRET_ACCESS_KEY", "PRIVATE_KEY", "KEY", "apiKey", "privateKey", "stripe.key",
    "jwt-secret", "accessToken", "refresh_token", "sessionId", "X-Session", "X-Signature", "X-Hub-Signature-256", "X-Api-Key",
    "X-Amz-Security-Token", "x-upstream-authorization", "SESSION_SIGNING", "sig",
    // issue 11 (second round)
    "Authentication", "X-Authentication", "X_AUTHENTICATION", "pwd", "PWD", "passcode", "MYSQL_PWD", "APP_PASSCODE",
    "X-AccessToken", "X-Csrftoken", "X-Sessionid", "X-Pass",
  ])("%s is secret", (name) => {
    expect(isSecretName(name)).toBe(true);
  });

  it.each(["PATH", "HOME", "OLDPWD", "KEYSPACE", "CASSANDRA_KEYSPACE", "MONKEY", "HOTKEY", "AUTHOR", "PASSAGE", "HOSTNAME", "MONGO_HOST", "Content-Type", "WWW-Authenticate", "Proxy-Authenticate", "Authentication-Info", "Keep-Alive", "user", "PASSAGE_CODE"])(
    "%s is not secret",
    (name) => {
      expect(isSecretName(name)).toBe(false);
    },
  );

  it("leaves OAuth metadata names alone (NOT_SECRET_NAMES), and hides the names beside them", () => {
    for (const name of NOT_SECRET_NAMES) expect(isSecretName(name.toLowerCase()), name).toBe(false);
    expect(isSecretName("token_type")).toBe(false);
    expect(isSecretName("access_token")).toBe(true);
  });

  it("normalises camelCase, case and separators", () => {
    expect(normalizeName("apiKey")).toBe("API_KEY");
    expect(normalizeName("X-Hub-Signature-256")).toBe("X_HUB_SIGNATURE_256");
    expect(normalizeName("stripe.key")).toBe("STRIPE_KEY");
  });
});

describe("SecretNames with extra names (ADI_REDACT_NAMES)", () => {
  const names = new SecretNames(["tenant-hash", "otp"]);

  it("matches a whole name or whole segments, case-insensitively", () => {
    expect(names.test("X-Tenant-Hash")).toBe(true);
    expect(names.test("TENANT_HASH_V2")).toBe(true);
    expect(names.test("otp")).toBe(true);
    expect(names.test("userOtp")).toBe(true);
    expect(names.test("TENANT_HASHES")).toBe(false);
    expect(names.test("FOOTPRINT")).toBe(false);
  });

  it("keeps the built-in rules", () => {
    expect(names.test("password")).toBe(true);
    expect(names.test("PATH")).toBe(false);
  });

  it("has a hint that a text holding a secret name always matches", () => {
    for (const text of ['{"tenant-hash":1}', "x=1&Password=2", "Cookie: a", "SIG=1"]) expect(names.hint.test(text), text).toBe(true);
    expect(names.hint.test('{"user":"bob","page":2}')).toBe(false);
  });

  it("has a hint that escaped names match (percent-encoded or JSON \\u letters), and common escapes do not", () => {
    for (const text of ["?%70assword=X", "a=1&pass%77ord=2", '{"\\u0070assword":"X"}', '{"p\\u0061ss":"X"}']) expect(names.hint.test(text), text).toBe(true);
    for (const text of ["/a%20b%2Fc?q=%C3%A9", '{"city":"Z\\u00fcrich"}']) expect(names.hint.test(text), text).toBe(false);
  });
});
