import { describe, expect, it } from "vitest";
import { printable } from "../src/printable.ts";

describe("printable (names and paths on a terminal)", () => {
  it("escapes ESC, BEL, newlines, DEL, C1 controls and bidi overrides; leaves other text as is", () => {
    expect(printable("esc\u001b]0;PWNED\u0007\u001b[2Jname")).toBe("esc\\x1b]0;PWNED\\x07\\x1b[2Jname");
    expect(printable("a\nb\rc\td\u007fe\u009bf")).toBe("a\\x0ab\\x0dc\\x09d\\x7fe\\x9bf");
    expect(printable("admin\u202e\u2066x")).toBe("admin\\u202e\\u2066x");
    expect(printable("café/ユーザー {id} \"q\"")).toBe("café/ユーザー {id} \"q\"");
  });
});
