// The value rules (secrets by their look) and the text field rules (secrets by the name before them), rule by rule:
// every row of VALUE_RULES and TEXT_FIELD_RULES has a positive case with its exact output and a negative case.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  BUILTIN_SECRET_NAMES,
  compileExtraPatterns,
  MASK,
  redactFields,
  redactUrlPasswords,
  redactValues,
  TEXT_FIELD_RULES,
  VALUE_HINTS,
  VALUE_RULES,
  type TextFieldRule,
} from "../src/redaction/index.ts";

const GH36 = "abcdefghijklmnopqrstuvwxyz0123456789";
const HEX32 = "0123456789abcdef0123456789abcdef";

/** Per VALUE_RULES row: [input, exact output], and an input the rule must leave alone. */
const VALUE_CASES: Record<string, { hit: [string, string][]; miss: string[] }> = {
  "pem-private-key": {
    hit: [
      ["key: -----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA\n-----END RSA PRIVATE KEY-----\n", "key: -----BEGIN RSA PRIVATE KEY-----[REDACTED]-----END RSA PRIVATE KEY-----\n"],
      ["-----BEGIN PRIVATE KEY-----\nMIIEvQ (cut by the capture)", "-----BEGIN PRIVATE KEY-----[REDACTED]"],
    ],
    miss: ["-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIU\n-----END CERTIFICATE-----"],
  },
  jwt: {
    hit: [
      ["Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl", "Bearer [REDACTED]"],
      ['{"id_token":"eyJhbGciOiJub25lIn0.eyJzdWIiOiIxIn0."}', '{"id_token":"[REDACTED]"}'],
    ],
    miss: ["eyJhbGciOiJIUzI1NiJ9 is a JOSE header alone", "keyJam.eyJx"],
  },
  "github-token": { hit: [[`ghp_${GH36}`, "ghp_[REDACTED]"], [`git clone https://x:ghs_${GH36}@github.com/o/r`, "git clone https://x:[REDACTED]@github.com/o/r"]], miss: ["ghp_short", "xghp_" + GH36] },
  "github-fine-grained-pat": { hit: [["github_pat_11ABCDEFG0123456789_abcdefghijklmnop", "github_pat_[REDACTED]"]], miss: ["github_pat_", "see github_pat_docs"] },
  "gitlab-token": { hit: [["PRIVATE-TOKEN glpat-abcdefghij1234567890", "PRIVATE-TOKEN glpat-[REDACTED]"]], miss: ["glpat-short"] },
  "stripe-key": { hit: [["sk_live_abcdefghijklmnop1234", "sk_live_[REDACTED]"], ["whsec_abcdefghijklmnop1234", "whsec_[REDACTED]"]], miss: ["pk_live_abcdefghijklmnop1234", "sk_live_short"] },
  "slack-token": { hit: [["xoxb-1234567890-abcdefghij", "xoxb-[REDACTED]"]], miss: ["xoxo-hugs-and-kisses"] },
  "aws-access-key-id": { hit: [["AKIAIOSFODNN7EXAMPLE", "AKIA[REDACTED]"], ["id=ASIAY34FZKBOKMUTVV7A&", "id=ASIA[REDACTED]&"]], miss: ["AKIAIOSFODNN7EXAMPLE123", "AKIA-not-a-key"] },
  "google-api-key": { hit: [["key=AIzaSyA1234567890abcdefghijklmnopqrstuv", "key=AIza[REDACTED]"]], miss: ["AIzaShort"] },
  "npm-token": { hit: [[`//registry.npmjs.org/:_authToken=npm_${GH36}`, "//registry.npmjs.org/:_authToken=npm_[REDACTED]"]], miss: ["npm_install", "npm_config_cache=/tmp"] },
  "huggingface-token": { hit: [["hf_abcdefghijklmnopqrstuvwxyzABCDEFGH", "hf_[REDACTED]"]], miss: ["hf_model_name"] },
  "openai-anthropic-key": { hit: [["sk-proj-abcdefghijklmnopqrstuv", "sk-[REDACTED]"], ["sk-ant-api03-abcdefghijklmnopqrstuv", "sk-[REDACTED]"]], miss: ["desk-abcdefghijklmnopqrstuvwx", "sk-short"] },
  "sendgrid-key": { hit: [["SG.abcdefghijklmnopqrstuv.abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG", "SG.[REDACTED]"]], miss: ["SG.short.thing"] },
  "docker-hub-pat": { hit: [["dckr_pat_abcdefghijklmnopqrstuvwx", "dckr_pat_[REDACTED]"]], miss: ["dckr_pat_x"] },
  "shopify-token": { hit: [[`shpat_${HEX32}`, "shpat_[REDACTED]"]], miss: ["shpat_xyz"] },
  "pypi-token": { hit: [["pypi-AgEIcHlwaS5vcmcCJDAwMDAwMDAwLTAwMDAtMDAwMC0w", "pypi-AgEIcHlwaS5vcmc[REDACTED]"]], miss: ["pypi-package-name"] },
  "vault-token": {
    hit: [["X-Vault-Token: hvs.CAESIJlWh0dW5rbm93bl9hY2Nlc3NvcjEyMzQ1Njc4", "X-Vault-Token: hvs.[REDACTED]"], ["vault login hvb.AAAAAQJ1dGVzdF9iYXRjaF90b2tlbl8xMjM0", "vault login hvb.[REDACTED]"]],
    miss: ["hvs.short", "thvs.CAESIJlWh0dW5rbm93bl9hY2Nlc3NvcjEyMzQ1Njc4", "s.abcdefghijklmnopqrstuvwx"],
  },
  "digitalocean-token": { hit: [[`dop_v1_${HEX32}${HEX32}`, "dop_v1_[REDACTED]"]], miss: ["dop_v1_short"] },
  "slack-webhook-url": {
    hit: [
      ["POST https://hooks.slack.com/services/T0123ABCD/B0456EFGH/abcdefghijklmnopqrstuvwx", "POST https://hooks.slack.com/services/T0123ABCD/B0456EFGH/[REDACTED]"],
      ['{"url":"https://hooks.slack.com/services/T1/B2/XyZ123"}', '{"url":"https://hooks.slack.com/services/T1/B2/[REDACTED]"}'],
    ],
    miss: ["https://hooks.slack.com/services/", "https://api.slack.com/services/T1/B2/abc"],
  },
  "discord-webhook-url": {
    hit: [
      ["https://discord.com/api/webhooks/123456789012345678/AbC-dEf_123xyz", "https://discord.com/api/webhooks/123456789012345678/[REDACTED]"],
      ["https://canary.discordapp.com/api/v10/webhooks/42/tok?wait=true", "https://canary.discordapp.com/api/v10/webhooks/42/[REDACTED]?wait=true"],
    ],
    miss: ["https://discord.com/api/webhooks/", "https://discord.com/api/channels/123/messages"],
  },
  "url-userinfo-password": {
    hit: [
      ["postgres://app:s3cret@db:5432/app", "postgres://app:[REDACTED]@db:5432/app"],
      ["redis://:s3cret@cache:6379/0", "redis://:[REDACTED]@cache:6379/0"],
      ["HTTPS://user:p%40ss@host/x?y=1", "HTTPS://user:[REDACTED]@host/x?y=1"],
      ["amqp://guest:p@ss@rabbit:5672/", "amqp://guest:[REDACTED]@rabbit:5672/"],
      ["nats://a:x@h1:4222,nats://b:y@h2:4222", "nats://a:[REDACTED]@h1:4222,nats://b:[REDACTED]@h2:4222"],
      ["url is mongodb+srv://u:pw@cluster0.example.net/db then text", "url is mongodb+srv://u:[REDACTED]@cluster0.example.net/db then text"],
    ],
    miss: ["http://reviews:9080", "https://token@github.com/org/repo", "mongodb://db:27017", "http://host:8080/path?email=a@b.c", "plain text with a:b@c"],
  },
  "url-userinfo-key": {
    hit: [[`https://${HEX32}@o1.ingest.sentry.io/42`, "https://[REDACTED]@o1.ingest.sentry.io/42"]],
    miss: ["https://token@github.com/org/repo", "ssh://git_user_without_digits@host/repo"],
  },
  "connection-string-password": {
    hit: [
      ["Server=db;Database=app;User Id=sa;Password=Secr3t!;", "Server=db;Database=app;User Id=sa;Password=[REDACTED];"],
      ["Driver={ODBC};Server=db;PWD={p;w}}x};", "Driver={ODBC};Server=db;PWD={[REDACTED]};"],
      ['Server=db;Password="a;b";Encrypt=true', 'Server=db;Password="[REDACTED]";Encrypt=true'],
      ["jdbc:sqlserver://db:1433;user=sa;password=Secr3t", "jdbc:sqlserver://db:1433;user=sa;password=[REDACTED]"],
      ["Password=my secret;Server=db", "Password=[REDACTED];Server=db"],
    ],
    miss: ["Server=db;Database=app;User Id=sa;", "PWD=/home/app"],
  },
  "libpq-dsn-password": {
    hit: [
      ["host=db port=5432 password=s3cret dbname=app", "host=db port=5432 password=[REDACTED] dbname=app"],
      ["host=db password='s3 cret' dbname=app", "host=db password='[REDACTED]' dbname=app"],
    ],
    miss: ["host=db port=5432 user=app dbname=app"],
  },
  "sql-password-literal": {
    hit: [
      [`psql -c "ALTER USER app PASSWORD 'secret'"`, `psql -c "ALTER USER app PASSWORD '[REDACTED]'"`],
      ["CREATE ROLE r LOGIN ENCRYPTED PASSWORD 'it''s';", "CREATE ROLE r LOGIN ENCRYPTED PASSWORD '[REDACTED]';"],
      ["ALTER USER snow SET PASSWORD = 'pw1'", "ALTER USER snow SET PASSWORD = '[REDACTED]'"],
    ],
    miss: ["ALTER ROLE app PASSWORD NULL", "password reset link sent", "caching_sha2_password 'x'"],
  },
  "sql-identified-by": {
    hit: [
      ["CREATE USER 'app'@'%' IDENTIFIED BY 's3cret';", "CREATE USER 'app'@'%' IDENTIFIED BY '[REDACTED]';"],
      ["ALTER USER u IDENTIFIED WITH caching_sha2_password BY 'pw'", "ALTER USER u IDENTIFIED WITH caching_sha2_password BY '[REDACTED]'"],
      ["create user scott identified by tiger;", "create user scott identified by [REDACTED];"],
    ],
    miss: ["ALTER USER u IDENTIFIED EXTERNALLY", "IDENTIFIED WITH auth_socket"],
  },
  "authorization-in-text": {
    hit: [
      ["curl -H 'Authorization: Bearer abc123' https://h", "curl -H 'Authorization: Bearer [REDACTED]' https://h"],
      ['{"headers":{"authorization":"Basic dXNlcjpwdw=="}}', '{"headers":{"authorization":"Basic [REDACTED]"}}'],
      ["proxy-authorization=Negotiate YIIabc", "proxy-authorization=Negotiate [REDACTED]"],
    ],
    miss: ["no authorization needed", "authorization_endpoint is public"],
  },
};

describe("VALUE_RULES", () => {
  it("has cases for every rule, and no case for a rule that does not exist", () => {
    expect(Object.keys(VALUE_CASES).sort()).toEqual(VALUE_RULES.map((r) => r.name).sort());
  });

  it("names every rule's source and gives every rule a hint", () => {
    for (const rule of VALUE_RULES) {
      expect(rule.source.length, rule.name).toBeGreaterThan(10);
      expect(rule.hints.length, rule.name).toBeGreaterThan(0);
      expect(rule.pattern.global, rule.name).toBe(true);
    }
  });

  for (const rule of VALUE_RULES) {
    const cases = VALUE_CASES[rule.name]!;
    it.each(cases.hit)(`${rule.name}: %j`, (input, expected) => {
      expect(redactValues(input)).toBe(expected);
      expect(redactValues(expected)).toBe(expected); // idempotent: the mapper redacts what the classifier did
    });
    it.each(cases.miss)(`${rule.name} leaves %j alone`, (input) => {
      expect(redactValues(input)).toBe(input);
    });
  }

  it("has every any-case hint covered by the secret-name hint (the policy's fast path tests only names and exact hints)", () => {
    for (const rule of VALUE_RULES.filter((r) => r.hintCase === "any")) for (const h of rule.hints) expect(BUILTIN_SECRET_NAMES.hint.test(h), h).toBe(true);
    expect(VALUE_HINTS.exact.test("x eyJ y")).toBe(true);
    expect(VALUE_HINTS.exact.test("x EYJ y")).toBe(false);
    expect(VALUE_HINTS.anyCase.test("PassWord")).toBe(true);
  });

  it("runs twice on the same text with the same result (no regex state left behind)", () => {
    const text = `a ghp_${GH36} b postgres://u:p@h/d`;
    expect(redactValues(text)).toBe(redactValues(text));
  });

  it("never lets a URL password through (property)", () => {
    const password = fc.stringMatching(/^[A-Za-z0-9!$&'()*+,;=%@-]{1,20}$/);
    fc.assert(
      fc.property(fc.constantFrom("postgres", "redis", "https"), fc.stringMatching(/^[a-z]{0,8}$/), password, (scheme, user, pw) => {
        const url = `${scheme}://${user}:${pw}@db.internal:5432/app`;
        expect(redactValues(url)).toBe(`${scheme}://${user}:[REDACTED]@db.internal:5432/app`);
        expect(redactUrlPasswords(url)).toBe(`${scheme}://${user}:[REDACTED]@db.internal:5432/app`);
      }),
    );
  });

  it("masks byte for byte with MASK: same length, '*' over the secret part only", () => {
    const text = `token=ghp_${GH36}; url=redis://:pw@cache`;
    const masked = redactValues(text, [], MASK);
    expect(masked).toBe(`token=ghp_${"*".repeat(36)}; url=redis://:**@cache`);
    expect(masked.length).toBe(text.length);
  });
});

describe("redactUrlPasswords", () => {
  it("hides the password and nothing else", () => {
    expect(redactUrlPasswords("nats://u:p@h:4222 and ghp_" + GH36)).toBe("nats://u:[REDACTED]@h:4222 and ghp_" + GH36);
  });
});

describe("extra patterns (ADI_REDACT_PATTERNS)", () => {
  it("hides the whole match, or the first capture group when there is one", () => {
    const extra = compileExtraPatterns(["acme_[A-Za-z0-9]{8}", "tenant=(\\w+)"]);
    expect(redactValues("k=acme_ABCD1234 tenant=blue x", extra)).toBe("k=[REDACTED] tenant=[REDACTED] x");
    expect(redactValues("nothing here", extra)).toBe("nothing here");
  });

  it("refuses a pattern that does not compile, or matches the empty string, naming it", () => {
    expect(() => compileExtraPatterns(["ok", "(a"])).toThrow(/^pattern 2 "\(a" is not a valid regular expression: /);
    expect(() => compileExtraPatterns(["x*"])).toThrow('pattern 1 "x*" matches the empty string');
  });
});

/** Per TEXT_FIELD_RULES row: [input, exact output] and an input left alone. */
const FIELD_CASES: Record<TextFieldRule, { hit: [string, string][]; miss: string[] }> = {
  "json-field": {
    hit: [
      ['{"user":"bob","password":"hun\\"ter2","pin":1234}', '{"user":"bob","password":"[REDACTED]","pin":1234}'],
      ['log: {"access_token": "ya29.a0", "expires_in": 3599', 'log: {"access_token": "[REDACTED]", "expires_in": 3599'],
      ['{"client_secret":12345', '{"client_secret":"[REDACTED]"'],
      ['{"password":"cut by the captu', '{"password":"[REDACTED]"'],
      ['{"\\u0070assword":"X","pwd":"Y","passcode":1}', '{"\\u0070assword":"[REDACTED]","pwd":"[REDACTED]","passcode":"[REDACTED]"}'],
    ],
    miss: ['{"user":"bob","token_type":"Bearer"}', '{"keyboard":"qwerty"}'],
  },
  "key-value": {
    hit: [
      ["user=bob&password=hunter2&x=1", "user=bob&password=[REDACTED]&x=1"],
      ["/cb?code=1&access_token=zz", "/cb?code=1&access_token=[REDACTED]"],
      // a secret runs over '#' (issue 11: `--password=abc#X` leaked X); a URL fragment after one is hidden too
      ["--password=abc#X -Ddb.password=abc#Y", "--password=[REDACTED] -Ddb.password=[REDACTED]"],
      ["?pwd=x&%70assword=y&passcode=1", "?pwd=[REDACTED]&%70assword=[REDACTED]&passcode=[REDACTED]"],
      ["/app;jsessionid=ABC123?x=1", "/app;jsessionid=[REDACTED]?x=1"],
      ["pass%77ord=x&p+w=y", "pass%77ord=[REDACTED]&p+w=y"],
      ["PGPASSWORD=x psql", "PGPASSWORD=[REDACTED] psql"],
      ["--api-key=k1 -Ddb.password=p2", "--api-key=[REDACTED] -Ddb.password=[REDACTED]"],
      ["-Dauth=s3", "-Dauth=[REDACTED]"],
      ["spring.datasource.password=x", "spring.datasource.password=[REDACTED]"],
    ],
    miss: ["user=bob&page=2", "password=&x=1", "keyboard=qwerty&passage=3", "url=/a#pwd=x", "%70age=2"],
  },
  "multipart-field": {
    hit: [
      [
        '--b\r\nContent-Disposition: form-data; name="user"\r\n\r\nbob\r\n--b\r\nContent-Disposition: form-data; name="password"\r\nContent-Type: text/plain\r\n\r\nhunter2\r\n--b--',
        '--b\r\nContent-Disposition: form-data; name="user"\r\n\r\nbob\r\n--b\r\nContent-Disposition: form-data; name="password"\r\nContent-Type: text/plain\r\n\r\n[REDACTED]\r\n--b--',
      ],
    ],
    miss: ['--b\r\nContent-Disposition: form-data; name="avatar"; filename="key.png"\r\n\r\nPNG\r\n--b--'],
  },
};

describe("TEXT_FIELD_RULES", () => {
  it("has cases for every rule", () => {
    expect(Object.keys(FIELD_CASES).sort()).toEqual(Object.keys(TEXT_FIELD_RULES).sort());
  });

  for (const rule of Object.keys(TEXT_FIELD_RULES) as TextFieldRule[]) {
    const cases = FIELD_CASES[rule];
    it.each(cases.hit)(`${rule}: %j`, (input, expected) => {
      expect(redactFields(input, BUILTIN_SECRET_NAMES, [rule])).toBe(expected);
      expect(redactFields(expected, BUILTIN_SECRET_NAMES, [rule])).toBe(expected);
    });
    it.each(cases.miss)(`${rule} leaves %j alone`, (input) => {
      expect(redactFields(input, BUILTIN_SECRET_NAMES, [rule])).toBe(input);
    });
  }
});

describe("idempotence (the mapper and the enricher redact again what the classifier and the agent redacted)", () => {
  const fragments = [
    "password=hunter2", '"token": "abc"', '{"secret":12}', "Authorization: Bearer x1", `ghp_${GH36}`, "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2ln",
    "postgres://u:p@w@db/x", "Server=db;Password=a b;", "host=h password='q r'", " ", "&", "?", ";", "\r\n", "x", "=", '"', "-p", "--token", "curl", "-u", "a:b",
  ];
  const text = fc.array(fc.constantFrom(...fragments), { maxLength: 12 }).map((parts) => parts.join(""));

  it("redactValues, fields, body, raw, cmdline and env: twice is once (property)", async () => {
    const { RedactionPolicy } = await import("../src/redaction/index.ts");
    const p = RedactionPolicy.DEFAULT;
    const once = (f: (s: string) => string) => (s: string) => expect(f(f(s))).toBe(f(s));
    fc.assert(
      fc.property(text, (s) => {
        once(redactValues)(s);
        once((x) => redactFields(x, BUILTIN_SECRET_NAMES, ["json-field", "key-value", "multipart-field"]))(s);
        once((x) => p.body(x)!)(s);
        once((x) => p.raw(x))(`POST /x?${s.replaceAll(/\s/g, "")} HTTP/1.1\r\nX: ${s.replaceAll("\r\n", " ")}\r\n\r\n${s}`);
        once((x) => p.cmdline(x))(s);
        once((x) => p.envValue("V", x))(s);
      }),
      { numRuns: 1000, examples: [[`ghp_${GH36}ghp_${GH36}eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnpassword=hunter2`]] },
    );
  });
});
