import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { decideOptIn, OPTIN_VERDICT_BY_KERNEL_CODE, OPTIN_VERDICTS, optinVerdictFromKernel } from "../src/optin.ts";

describe("decideOptIn: the Go tool's scenario table", () => {
  it.each([
    [{ ADI_PROFILE: "local" }, undefined, "yes"],
    [{ ADI_PROFILE: "local" }, ["local", "dev"], "yes"],
    [{ ADI_PROFILE: "prod" }, ["local", "dev"], "not_allowed"],
    [{ ADI_PROFILE: "local", ADI_PROFILE_DISABLED: "1" }, ["local"], "disabled"],
    [{}, ["local"], "none"],
  ] as const)("%o with allowed %o -> %s", (env, allowed, verdict) => {
    expect(decideOptIn(env, allowed).verdict).toBe(verdict);
  });
});

describe("decideOptIn", () => {
  it("treats an empty ADI_PROFILE as missing", () => {
    expect(decideOptIn({ ADI_PROFILE: "" }, undefined)).toEqual({ verdict: "none" });
  });

  it("ignores ADI_PROFILE_DISABLED when ADI_PROFILE is missing", () => {
    expect(decideOptIn({ ADI_PROFILE_DISABLED: "1" }, undefined)).toEqual({ verdict: "none" });
  });

  it("disables only on exactly '1'", () => {
    for (const value of ["0", "true", "yes", " 1", ""]) {
      expect(decideOptIn({ ADI_PROFILE: "dev", ADI_PROFILE_DISABLED: value }, undefined).verdict).toBe("yes");
    }
  });

  it("lets the override win over the allowed list", () => {
    expect(decideOptIn({ ADI_PROFILE: "prod", ADI_PROFILE_DISABLED: "1" }, ["dev"]).verdict).toBe("disabled");
  });

  it("treats an empty allowed list as unset", () => {
    expect(decideOptIn({ ADI_PROFILE: "anything" }, []).verdict).toBe("yes");
  });

  it("compares allowed values exactly (case-sensitive)", () => {
    expect(decideOptIn({ ADI_PROFILE: "Local" }, ["local"]).verdict).toBe("not_allowed");
  });

  it("reports the profile and the name when set, whatever the verdict", () => {
    expect(decideOptIn({ ADI_PROFILE: "dev", ADI_PROFILE_NAME: "reviews" }, undefined)).toEqual({
      verdict: "yes",
      profile: "dev",
      name: "reviews",
    });
    expect(decideOptIn({ ADI_PROFILE: "prod", ADI_PROFILE_NAME: "reviews" }, ["dev"])).toEqual({
      verdict: "not_allowed",
      profile: "prod",
      name: "reviews",
    });
    expect(decideOptIn({ ADI_PROFILE: "dev", ADI_PROFILE_NAME: "" }, undefined)).toEqual({ verdict: "yes", profile: "dev" });
  });

  it("is yes exactly when the three rules hold (property)", () => {
    const value = fc.string({ maxLength: 4 });
    fc.assert(
      fc.property(
        fc.option(value, { nil: undefined }),
        fc.option(fc.constantFrom("1", "0", ""), { nil: undefined }),
        fc.option(fc.array(value, { maxLength: 3 }), { nil: undefined }),
        (profile, disabled, allowed) => {
          const { verdict } = decideOptIn({ ADI_PROFILE: profile, ADI_PROFILE_DISABLED: disabled }, allowed);
          const expected =
            !!profile && disabled !== "1" && (!allowed || allowed.length === 0 || allowed.includes(profile));
          expect(verdict === "yes").toBe(expected);
        },
      ),
    );
  });
});

describe("kernel verdicts", () => {
  it("maps enum adi_optin_verdict", () => {
    expect(OPTIN_VERDICT_BY_KERNEL_CODE).toEqual({ 0: "none", 1: "yes", 2: "disabled", 3: "not_allowed", 4: "undecided" });
    expect([0, 1, 2, 3, 4].map(optinVerdictFromKernel)).toEqual(["none", "yes", "disabled", "not_allowed", "undecided"]);
    expect(new Set(Object.values(OPTIN_VERDICT_BY_KERNEL_CODE))).toEqual(new Set(OPTIN_VERDICTS));
  });

  it("rejects unknown codes", () => {
    expect(() => optinVerdictFromKernel(5)).toThrow(RangeError);
  });
});
