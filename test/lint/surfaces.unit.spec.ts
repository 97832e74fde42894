// The lint rule that keeps packages meeting only through their surfaces (eslint.config.js SURFACE_IMPORTS): a deep
// import across packages fails `npm run lint`; the surfaces and a package's own relative imports pass.
import { describe, expect, it } from "vitest";
import { ESLint } from "eslint";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("../..", import.meta.url));
const eslint = new ESLint({ cwd: root });

/** The no-restricted-imports messages for `source` linted as if it were the file at `path` (relative to the root). */
async function refusals(path: string, source: string): Promise<string[]> {
  const [result] = await eslint.lintText(source, { filePath: `${root}/${path}` });
  return result!.messages.filter((m) => m.ruleId === "no-restricted-imports" || m.ruleId === "no-restricted-syntax").map((m) => m.message);
}

describe("lint: one surface per package", () => {
  it.each([
    ["cli/commands/x.ts", 'import { ClassifierEngine } from "@adi/classifier/core/engine";\nexport const e = ClassifierEngine;\n'],
    ["cli/commands/x.ts", 'import { decodeFact } from "@adi/shared/wire/facts";\nexport const d = decodeFact;\n'],
    ["cli/commands/x.ts", 'import { MapperOutputs } from "@adi/mapper/src/core/outputs.ts";\nexport const m = MapperOutputs;\n'],
    ["services/mapper/src/x.ts", 'import { decodeFact } from "../../../shared/src/wire/facts.ts";\nexport const d = decodeFact;\n'],
    ["test/e2e/x.ts", 'import { startMapper } from "../../services/mapper/src/main.ts";\nexport const s = startMapper;\n'],
    // A sibling service, a leading ./, an absolute path, and import() with a literal path (found by a break test).
    ["services/mapper/src/x.ts", 'import { ClassifierEngine } from "../../classifier/src/core/engine.ts";\nexport const e = ClassifierEngine;\n'],
    ["services/mapper/src/core/x.ts", 'import { decodeFact } from "./../../../../shared/src/wire/facts.ts";\nexport const d = decodeFact;\n'],
    ["services/mapper/src/x.ts", 'import { decodeFact } from "/work/adi/shared/src/wire/facts.ts";\nexport const d = decodeFact;\n'],
    ["services/mapper/src/x.ts", 'export const e = () => import("@adi/classifier/src/core/engine.ts");\n'],
    ["services/mapper/src/x.ts", 'export const e = () => import("../../classifier/src/core/engine.ts");\n'],
  ])("%s: refuses %j", async (path, source) => {
    const messages = await refusals(path, source);
    expect(messages).toHaveLength(1);
    expect(messages[0]).toMatch(/deep import|relative import into another package|absolute import path/);
  });

  it.each([
    ["cli/commands/x.ts", 'import { ClassifierEngine } from "@adi/classifier";\nexport const e = ClassifierEngine;\n'],
    ["cli/commands/x.ts", 'import { decodeFact } from "@adi/shared/wire";\nexport const d = decodeFact;\n'],
    ["cli/commands/x.ts", 'import { loadConfig } from "@adi/shared";\nexport const l = loadConfig;\n'],
    ["cli/commands/x.ts", 'import { RedactionPolicy } from "@adi/shared/redaction";\nexport const r = RedactionPolicy;\n'],
    ["services/mapper/src/x.ts", 'import { MapperOutputs } from "./core/outputs.ts";\nexport const m = MapperOutputs;\n'],
    ["services/mapper/test/x.spec.ts", 'import { MapperOutputs } from "../src/core/outputs.ts";\nexport const m = MapperOutputs;\n'],
    ["services/mapper/src/core/x.ts", 'export const p = () => import("../core/outputs.ts");\n'],
  ])("%s: accepts %j", async (path, source) => {
    expect(await refusals(path, source)).toEqual([]);
  });
});
