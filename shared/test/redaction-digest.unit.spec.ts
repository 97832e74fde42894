// The rules' digest in every RedactionPolicy id is generated (scripts/gen-rules-digest.ts ->
// shared/src/redaction/rules-digest.gen.ts, checked in) rather than read from the rule modules at load. This fails
// when the checked-in file is not what the generator makes from the modules now (a rule module changed and the
// file was not regenerated, or it was edited by hand): a stale digest would let a mapper skip redacting exchanges
// that older rules redacted.
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { computeRulesDigest, DEFAULT_OUT, generateRulesDigest, REGENERATE } from "../../scripts/gen-rules-digest.ts";
import { RedactionPolicy } from "../src/redaction/policy.ts";
import { RULES_DIGEST } from "../src/redaction/rules-digest.gen.ts";

describe("generated rules digest vs the rule modules", () => {
  it("rules-digest.gen.ts is what scripts/gen-rules-digest.ts makes from the modules now", () => {
    const checkedIn = readFileSync(DEFAULT_OUT, "utf8");
    expect(checkedIn, `shared/src/redaction/rules-digest.gen.ts is stale: run \`${REGENERATE}\` and commit it`).toBe(generateRulesDigest());
    expect(RULES_DIGEST).toBe(computeRulesDigest());
  });

  it("a policy's id is the digest and its settings, hashed", () => {
    const described = JSON.stringify([[], [], []]);
    expect(RedactionPolicy.DEFAULT.id).toBe(createHash("sha256").update(RULES_DIGEST).update(described).digest("hex").slice(0, 16));
  });
});
