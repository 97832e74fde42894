import { parseAllDocuments } from "yaml";
import { describe, expect, it } from "vitest";
import type { ProcessFact } from "@adi/shared/wire/facts";
import { EnvInventory } from "../src/core/env-inventory.ts";

const BOOT = "393a8351-01d1-4c4f-84ed-e7c686d9ae26";
function fact(over: Partial<ProcessFact>): ProcessFact {
  return {
    v: 1, type: "process", event: "exec", ts: "2026-11-27T09:00:00.000000001Z", host: "h", boot_id: BOOT, pid: 100, start_ticks: 5,
    ppid: 1, comm: "svc", exe: "/usr/bin/svc", cmdline: "/usr/bin/svc --port 80", cgroup: null, container_id: null,
    adi_profile_match: "local", adi_profile_name: null, optin: "yes", env: {}, env_redacted: true, error: null, exit_code: null,
    ...over,
  };
}
const docs = (yaml: string) => parseAllDocuments(yaml).map((d) => d.toJS());

describe("EnvInventory", () => {
  it("writes one Go-style document per opted-in process, in the order they were first seen", () => {
    const inv = new EnvInventory();
    inv.add(fact({ pid: 200, ts: "2026-11-27T09:00:02.000000000Z", adi_profile_name: "reviews", env: { B: "2", A: "1" } }));
    inv.add(fact({ pid: 100, ts: "2026-11-27T09:00:01.000000000Z", adi_profile_match: "staging", env: { MONGO_HOST: "mongodb://db:27017" } }));
    inv.add(fact({ pid: 300, optin: "not_allowed" }));
    const out = inv.render();
    expect(out.startsWith("---\n")).toBe(true);
    expect(docs(out)).toEqual([
      { adi_profile_pid: 100, adi_profile_match: "staging", adi_profile_cmdline: "/usr/bin/svc --port 80", adi_profile_env: { MONGO_HOST: "mongodb://db:27017" } },
      { adi_profile_pid: 200, adi_profile_match: "local", adi_profile_name: "reviews", adi_profile_cmdline: "/usr/bin/svc --port 80", adi_profile_env: { A: "1", B: "2" } },
    ]);
    expect(out).toMatch(/adi_profile_match: "staging"/);
  });

  it("keeps the error of a process that exited before it could be read, and an empty env", () => {
    const inv = new EnvInventory();
    inv.add(fact({ error: "open /proc/99999/environ: no such file or directory", pid: 99999, cmdline: "/app/service --config /etc/config.yaml" }));
    expect(docs(inv.render())).toEqual([
      { adi_profile_pid: 99999, adi_profile_match: "local", adi_profile_cmdline: "/app/service --config /etc/config.yaml", adi_profile_env: {}, error: "open /proc/99999/environ: no such file or directory" },
    ]);
  });

  it("escapes keys and values whatever they contain: quotes, newlines, colons, unicode, ---", () => {
    const env = {
      QUOTES: `say "hi" and 'bye'`,
      NEWLINES: "line1\nline2\n",
      "COLON:KEY": "a: b # not a comment",
      UNICODE: "żółw 🐢 \u0000nul",
      DASHES: "---",
      DOC_END: "...",
      "KEY WITH SPACE": " leading and trailing ",
      EMPTY: "",
      YES: "yes",
      NUMBER: "0123",
    };
    const inv = new EnvInventory();
    inv.add(fact({ env, cmdline: "--- weird: cmd\n" }));
    const out = inv.render();
    const [doc] = docs(out);
    expect(doc.adi_profile_env).toEqual(env);
    expect(doc.adi_profile_cmdline).toBe("--- weird: cmd\n");
    expect(parseAllDocuments(out)).toHaveLength(1);
  });

  it("replaces a process's environment with its later exec, and ignores its exit", () => {
    const inv = new EnvInventory();
    inv.add(fact({ event: "fork", env: { STAGE: "forked" } }));
    inv.add(fact({ event: "exec", ts: "2026-11-27T09:00:03.000000000Z", env: { STAGE: "exec" } }));
    inv.add(fact({ event: "exit", ts: "2026-11-27T09:00:04.000000000Z", env: {} }));
    expect(docs(inv.render())[0].adi_profile_env).toEqual({ STAGE: "exec" });
  });

  it("renders the same bytes whatever the order of the facts", () => {
    const facts = [fact({ pid: 1, ts: "2026-11-27T09:00:01.000000000Z" }), fact({ pid: 2, ts: "2026-11-27T09:00:02.000000000Z" }), fact({ pid: 1, error: "gone", ts: "2026-11-27T09:00:00.500000000Z" })];
    const a = new EnvInventory(), b = new EnvInventory();
    for (const f of facts) a.add(f);
    for (const f of [...facts].reverse()) b.add(f);
    expect(a.render()).toBe(b.render());
  });
});
