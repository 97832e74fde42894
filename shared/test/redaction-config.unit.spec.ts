// The policy from the configuration: ADI_REDACT_OFF, ADI_REDACT_NAMES, ADI_REDACT_PATTERNS and ENV_REDACT.
import { describe, expect, it } from "vitest";
import { loadConfig } from "../src/config.ts";
import { isAdiError } from "../src/errors.ts";
import { maskBytes, maskLatin1, REDACTION_CATEGORIES, RedactionPolicy } from "../src/redaction/index.ts";

function configError(env: NodeJS.ProcessEnv): string {
  try {
    loadConfig(env);
  } catch (err) {
    if (isAdiError(err)) return `${err.code}: ${err.message}`;
    throw err;
  }
  throw new Error("no error");
}

describe("configuration", () => {
  it("defaults to everything on, no extras: the DEFAULT policy", () => {
    const cfg = loadConfig({});
    expect([cfg.redactOff, cfg.redactNames, cfg.redactPatterns]).toEqual([[], [], []]);
    expect(RedactionPolicy.fromConfig(cfg)).toBe(RedactionPolicy.DEFAULT);
  });

  it("reads ADI_REDACT_OFF (case and spaces forgiven, repeats merged, all)", () => {
    expect(loadConfig({ ADI_REDACT_OFF: " Query, body,query " }).redactOff).toEqual(["query", "body"]);
    expect(loadConfig({ ADI_REDACT_OFF: "all" }).redactOff).toEqual([...REDACTION_CATEGORIES]);
    const none = RedactionPolicy.fromConfig(loadConfig({ ADI_REDACT_OFF: "all" }));
    for (const c of REDACTION_CATEGORIES) expect(none.enabled(c)).toBe(false);
  });

  it("refuses an unknown category, naming the variable", () => {
    expect(configError({ ADI_REDACT_OFF: "headers,cookies" })).toBe(
      'ADI_ERR_CONFIG: ADI_REDACT_OFF="headers,cookies": expected a comma-separated list of headers, query, body, values, cmdline, env, handshake, or all',
    );
  });

  it("reads ADI_REDACT_NAMES and ADI_REDACT_PATTERNS into the policy", () => {
    const cfg = loadConfig({ ADI_REDACT_NAMES: "tenant-hash, otp", ADI_REDACT_PATTERNS: '["acme_[A-Za-z0-9]{8}", "ref=(\\\\w+)"]' });
    expect(cfg.redactNames).toEqual(["tenant-hash", "otp"]);
    expect(cfg.redactPatterns).toEqual(["acme_[A-Za-z0-9]{8}", "ref=(\\w+)"]);
    const policy = RedactionPolicy.fromConfig(cfg);
    expect(policy.headers([["X-Tenant-Hash", "h"], ["X-Ref", "k acme_ABCD1234 ref=r1"]])).toEqual([["X-Tenant-Hash", "[REDACTED]"], ["X-Ref", "k [REDACTED] ref=[REDACTED]"]]);
    expect(policy.target("/x?otp=1")).toBe("/x?otp=[REDACTED]");
  });

  it.each([
    ["(a", 'ADI_ERR_CONFIG: ADI_REDACT_PATTERNS="[\\"(a\\"]": pattern 1 "(a" is not a valid regular expression: '],
    ["x*", 'ADI_ERR_CONFIG: ADI_REDACT_PATTERNS="[\\"x*\\"]": pattern 1 "x*" matches the empty string'],
  ])("refuses the pattern %j, naming the variable", (pattern, message) => {
    expect(configError({ ADI_REDACT_PATTERNS: JSON.stringify([pattern]) }).startsWith(message)).toBe(true);
  });

  it("refuses ADI_REDACT_PATTERNS that is not a JSON array of strings", () => {
    for (const value of ["acme_.*", "[1]", '{"a":"b"}']) {
      expect(configError({ ADI_REDACT_PATTERNS: value })).toBe(
        `ADI_ERR_CONFIG: ADI_REDACT_PATTERNS=${JSON.stringify(value)}: expected a JSON array of regular expressions as strings, e.g. ["tenant-[0-9a-f]{32}"]`,
      );
    }
  });

  it("keeps ENV_REDACT: false turns the env category off, and only it", () => {
    const policy = RedactionPolicy.fromConfig(loadConfig({ ENV_REDACT: "false" }));
    expect(policy.enabled("env")).toBe(false);
    expect(policy.envValue("DB_PASSWORD", "x")).toBe("x");
    for (const c of REDACTION_CATEGORIES.filter((c) => c !== "env")) expect(policy.enabled(c), c).toBe(true);
    expect(policy.headers([["Authorization", "Bearer t"]])).toEqual([["Authorization", "[REDACTED]"]]);
  });
});

describe("policy helpers", () => {
  it("never hides ADI_PROFILE* values, hides empty values as empty", () => {
    expect(RedactionPolicy.DEFAULT.envValue("ADI_PROFILE_TOKEN", "not hidden")).toBe("not hidden");
    expect(RedactionPolicy.DEFAULT.envValue("API_TOKEN", "")).toBe("");
  });

  it("masks byte for byte: maskBytes, maskLatin1 and maskValues keep the length", () => {
    const buf = Buffer.from("AUTH s3cret\r\n");
    maskBytes(buf, 5, 11);
    expect(buf.toString()).toBe("AUTH ******\r\n");
    expect(maskLatin1("p\u00e9w")).toBe("***");
    const text = "x redis://:pw@h eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2ln";
    const masked = RedactionPolicy.DEFAULT.maskValues(text);
    expect(masked).toBe(`x redis://:**@h ${"*".repeat(41)}`);
    expect(Buffer.byteLength(masked, "latin1")).toBe(Buffer.byteLength(text, "latin1"));
    expect(new RedactionPolicy({ off: ["values"] }).maskValues(text)).toBe(text);
  });

  it("exposes the handshake switch for the wire masker", () => {
    expect(RedactionPolicy.DEFAULT.enabled("handshake")).toBe(true);
    expect(new RedactionPolicy({ off: ["handshake"] }).enabled("handshake")).toBe(false);
  });
});

describe("RedactionPolicy.id", () => {
  it("is the same for the same settings and differs when any setting differs", () => {
    const base = new RedactionPolicy({ names: ["x-internal"], patterns: ["acct-(\\d+)"] });
    expect(new RedactionPolicy({ names: ["x-internal"], patterns: ["acct-(\\d+)"] }).id).toBe(base.id);
    expect(RedactionPolicy.fromConfig({ redactOff: [], redactNames: [], redactPatterns: [], envRedact: true }).id).toBe(RedactionPolicy.DEFAULT.id);
    const others = [
      RedactionPolicy.DEFAULT,
      RedactionPolicy.NONE,
      new RedactionPolicy({ names: ["x-internal2"], patterns: ["acct-(\\d+)"] }),
      new RedactionPolicy({ names: ["x-internal"], patterns: ["acct-(\\d+)", "k"] }),
      new RedactionPolicy({ off: ["body"], names: ["x-internal"], patterns: ["acct-(\\d+)"] }),
    ];
    expect(new Set([base.id, ...others.map((p) => p.id)]).size).toBe(others.length + 1);
    expect(base.id).toMatch(/^[0-9a-f]{16}$/);
  });
});
