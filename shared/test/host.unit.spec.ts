import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { readBootId } from "../src/host.ts";

let root: string | undefined;
afterEach(() => root && rmSync(root, { recursive: true, force: true }));

function procWithBootId(content: string): string {
  root = mkdtempSync(join(tmpdir(), "adi-host-"));
  mkdirSync(join(root, "sys/kernel/random"), { recursive: true });
  writeFileSync(join(root, "sys/kernel/random/boot_id"), content);
  return root;
}

describe("readBootId", () => {
  it("reads the boot id", () => {
    expect(readBootId(procWithBootId("393a8351-01d1-4c4f-84ed-e7c686d9ae26\n"))).toBe("393a8351-01d1-4c4f-84ed-e7c686d9ae26");
  });

  it("rejects a malformed boot id", () => {
    expect(() => readBootId(procWithBootId("not-a-uuid\n"))).toThrow(/unexpected content/);
  });

  it("fails clearly without /proc", () => {
    expect(() => readBootId("/nonexistent-proc")).toThrow(/ENOENT/);
  });

  it("reads this machine's", () => {
    expect(readBootId()).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
  });
});
