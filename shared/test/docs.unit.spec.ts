// The README is the users' reference: its configuration table and error codes must say what the code does.
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { CONFIG_VARIABLES } from "../src/config.ts";
import { ErrorCodes } from "../src/errors.ts";

const readme = readFileSync(new URL("../../README.md", import.meta.url), "utf8");

describe("README", () => {
  it("documents every configuration variable with its default, and no other", () => {
    const section = readme.slice(readme.indexOf("## Configuration"), readme.indexOf("## Outputs"));
    const rows = [...section.matchAll(/^\| `([A-Z_]+)` \| (`[^`]*`|unset) \| (.+) \|$/gm)].map((m) => ({
      name: m[1],
      default: m[2] === "unset" ? null : m[2]!.slice(1, -1),
    }));
    expect(rows).toEqual(CONFIG_VARIABLES.map((v) => ({ name: v.name, default: v.default })));
  });

  it("documents every error code with its exit code", () => {
    for (const [code, info] of Object.entries(ErrorCodes)) {
      const row = readme.split("\n").find((l) => l.includes(`\`${code}\``));
      expect(row, code).toBeDefined();
      expect(row!.startsWith(`| ${info.exitCode} |`), `${code} exit ${info.exitCode}`).toBe(true);
    }
  });
});
