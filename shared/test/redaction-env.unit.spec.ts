// Environments: /proc/PID/environ parsed, filtered by prefix and redacted by the policy's env category (by name,
// then by the look of the value). Moved from redact.unit.spec.ts with shared/src/redact.ts.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { filterAndRedactEnv, parseEnviron, RedactionPolicy } from "../src/redaction/index.ts";

const redaction = RedactionPolicy.DEFAULT;

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
    const out = filterAndRedactEnv(env, { redaction });
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

  it("keeps the shell's PWD and OLDPWD (exact names only), hides MYSQL_PWD and APP_PASSCODE", () => {
    const out = filterAndRedactEnv({ PWD: "/srv/app", OLDPWD: "/root", MYSQL_PWD: "s3", APP_PASSCODE: "1234", pwd: "x", PWD_FILE: "/run/pw" }, { redaction });
    expect(out).toEqual({ APP_PASSCODE: "[REDACTED]", MYSQL_PWD: "[REDACTED]", OLDPWD: "/root", PWD: "/srv/app", PWD_FILE: "[REDACTED]", pwd: "[REDACTED]" });
    expect(redaction.envValue("PWD", "postgres://u:pw@db/app")).toBe("postgres://u:[REDACTED]@db/app"); // its value still goes through the value rules
  });

  it("hides name/value pairs inside a JSON value (Kubernetes-style env lists)", () => {
    expect(redaction.envValue("POD_ENV", '[{"name":"DB_PASSWORD","value":"s3"},{"name":"DB_HOST","value":"db"}]')).toBe(
      '[{"name":"DB_PASSWORD","value":"[REDACTED]"},{"name":"DB_HOST","value":"db"}]',
    );
    expect(redaction.envValue("TAGS", '[{"Name":"team","Value":"core"}]')).toBe('[{"Name":"team","Value":"core"}]');
    expect(redaction.envValue("TAGS", '[{"Value":"s3","Name":"APP_PASSCODE"}]')).toBe('[{"Value":"[REDACTED]","Name":"APP_PASSCODE"}]');
  });

  it("hides the secret part of Slack and Discord webhook URLs", () => {
    expect(redaction.envValue("ALERT_URL", "https://hooks.slack.com/services/T0/B0/abc123")).toBe("https://hooks.slack.com/services/T0/B0/[REDACTED]");
    expect(redaction.envValue("DISCORD", "https://discord.com/api/webhooks/42/tok_en")).toBe("https://discord.com/api/webhooks/42/[REDACTED]");
  });

  it("redacts by the look of the value: the issue's leaks", () => {
    const leaks = {
      GRAFANA_HEADER: "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl",
      GH: "ghp_abcdefghijklmnopqrstuvwxyz0123456789",
      BILLING: "sk_live_abcdefghijklmnop1234",
      ConnectionStrings__Default: "Server=db;Database=app;User Id=sa;Password=Secr3t!;",
      PG_DSN: "host=db password=s3cret dbname=app",
      SENTRY_DSN: "https://0123456789abcdef0123456789abcdef@o1.ingest.sentry.io/42",
      SESSION_SIGNING: "5f2b6c",
      SPRING_APPLICATION_JSON: '{"db":{"url":"jdbc:x","password":"p"}}',
    };
    expect(filterAndRedactEnv(leaks, { redaction })).toEqual({
      BILLING: "sk_live_[REDACTED]",
      ConnectionStrings__Default: "Server=db;Database=app;User Id=sa;Password=[REDACTED];",
      GH: "ghp_[REDACTED]",
      GRAFANA_HEADER: "[REDACTED]",
      PG_DSN: "host=db password=[REDACTED] dbname=app",
      SENTRY_DSN: "https://[REDACTED]@o1.ingest.sentry.io/42",
      SESSION_SIGNING: "[REDACTED]",
      SPRING_APPLICATION_JSON: '{"db":{"url":"jdbc:x","password":"[REDACTED]"}}',
    });
  });

  it("applies ADI_REDACT_NAMES and ADI_REDACT_PATTERNS to env too", () => {
    const policy = new RedactionPolicy({ names: ["tenant"], patterns: ["acme_[a-z0-9]{6}"] });
    expect(filterAndRedactEnv({ TENANT: "blue", HOOK: "x acme_abc123 y" }, { redaction: policy })).toEqual({ HOOK: "x [REDACTED] y", TENANT: "[REDACTED]" });
  });

  it("keeps everything in clear when redaction is off", () => {
    const out = filterAndRedactEnv(env, { redaction: RedactionPolicy.NONE });
    expect(out.POSTGRES_PASSWORD).toBe("hunter2");
    expect(out.DATABASE_URL).toBe("postgres://app:hunter2@db/app");
  });

  it("keeps only the listed prefixes, case-sensitively", () => {
    expect(filterAndRedactEnv({ ...env, reviews_x: "lower" }, { prefixes: ["REVIEWS_", "POSTGRES_"], redaction })).toEqual({
      POSTGRES_PASSWORD: "[REDACTED]",
      REVIEWS_SERVICE_URL: "http://reviews:9080",
    });
  });

  it("treats an empty prefix list as no filter", () => {
    expect(Object.keys(filterAndRedactEnv(env, { prefixes: [] }))).toHaveLength(Object.keys(env).length);
  });

  it("can leave nothing", () => {
    expect(filterAndRedactEnv(env, { prefixes: ["NOPE_"], redaction })).toEqual({});
  });

  it("does not modify its input", () => {
    const copy = { ...env };
    filterAndRedactEnv(env, { redaction });
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
