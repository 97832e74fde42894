import fc from "fast-check";
import { parseAllDocuments } from "yaml";
import { describe, expect, it } from "vitest";
import type { ProcessFact } from "@adi/shared/wire";
import { EnvInventory } from "../src/core/env-inventory.ts";
import { RedactionPolicy } from "@adi/shared/redaction";

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
const at = (s: number) => `2026-11-27T09:00:${String(s).padStart(2, "0")}.000000000Z`;
const gone = (pid: number) => `open /proc/${pid}/environ: no such file or directory`;

describe("EnvInventory with ENV_OUTPUT_ALL=true (every opted-in process)", () => {
  it("writes one Go-style document per opted-in process, in the order they were first seen", () => {
    const inv = new EnvInventory({ all: true });
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
    const inv = new EnvInventory({ all: true });
    inv.add(fact({ error: gone(99999), pid: 99999, cmdline: "/app/service --config /etc/config.yaml" }));
    expect(docs(inv.render())).toEqual([
      { adi_profile_pid: 99999, adi_profile_match: "local", adi_profile_cmdline: "/app/service --config /etc/config.yaml", adi_profile_env: {}, error: gone(99999) },
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
    // Escaping, not redaction, is tested here: COLON:KEY and KEY WITH SPACE are secret names by the env rules.
    const inv = new EnvInventory({ all: true, redaction: RedactionPolicy.NONE });
    inv.add(fact({ env, cmdline: "--- weird: cmd\n" }));
    const out = inv.render();
    const [doc] = docs(out);
    expect(doc.adi_profile_env).toEqual(env);
    expect(doc.adi_profile_cmdline).toBe("--- weird: cmd\n");
    expect(parseAllDocuments(out)).toHaveLength(1);
  });

  it("replaces a process's environment with its later exec, and ignores its exit", () => {
    const inv = new EnvInventory({ all: true });
    inv.add(fact({ event: "fork", env: { STAGE: "forked" } }));
    inv.add(fact({ event: "exec", ts: at(3), env: { STAGE: "exec" } }));
    inv.add(fact({ event: "exit", ts: at(4), env: {} }));
    expect(docs(inv.render())[0].adi_profile_env).toEqual({ STAGE: "exec" });
  });

  it("renders the same bytes whatever the order of the facts", () => {
    const facts = [fact({ pid: 1, ts: at(1) }), fact({ pid: 2, ts: at(2) }), fact({ pid: 1, error: "gone", ts: "2026-11-27T09:00:00.500000000Z" })];
    const a = new EnvInventory({ all: true }), b = new EnvInventory({ all: true });
    for (const f of facts) a.add(f);
    for (const f of [...facts].reverse()) b.add(f);
    expect(a.render()).toBe(b.render());
  });
});

describe("EnvInventory by default: the processes that made a network call (the Go tool's meaning)", () => {
  // `sh start.sh` forks a subshell, sleep and sed, and curl, which alone opens a connection: the capture
  // agent publishes fork/exec facts for all of them and one `net` fact, for curl (issue 10: 48 documents
  // for 5 programs, 25 of them errors, before this).
  const script = [
    fact({ pid: 10, event: "exec", ts: at(0), comm: "sh", cmdline: "sh start.sh", adi_profile_match: "dev", env: { APP_MODE: "script" } }),
    fact({ pid: 11, event: "fork", ts: at(1), comm: "sh", cmdline: "sh start.sh", adi_profile_match: "dev" }),
    fact({ pid: 12, event: "exec", ts: at(1), comm: "sleep", cmdline: "sleep 0.1", adi_profile_match: "dev", error: gone(12), env: {} }),
    fact({ pid: 13, event: "exec", ts: at(2), comm: "sed", cmdline: "sed -e s/a/b/", adi_profile_match: "dev", error: gone(13), env: {} }),
    fact({ pid: 14, event: "fork", ts: at(2), comm: "sh", cmdline: "sh start.sh", adi_profile_match: "dev", env: { APP_MODE: "script" } }),
    fact({ pid: 14, event: "exec", ts: at(3), comm: "curl", cmdline: "curl -s http://127.0.0.1:8080/", adi_profile_match: "dev", adi_profile_name: "fetcher", env: { APP_MODE: "curl" } }),
    fact({ pid: 14, event: "net", ts: at(4), comm: "curl", cmdline: "curl -s http://127.0.0.1:8080/", adi_profile_match: "dev", adi_profile_name: "fetcher", env: { APP_MODE: "curl" } }),
    fact({ pid: 12, event: "exit", ts: at(5), comm: "sleep" }),
    fact({ pid: 14, event: "exit", ts: at(6), comm: "curl" }),
  ];
  const curlDoc = {
    adi_profile_pid: 14, adi_profile_match: "dev", adi_profile_name: "fetcher",
    adi_profile_cmdline: "curl -s http://127.0.0.1:8080/", adi_profile_env: { APP_MODE: "curl" },
  };

  it("lists only the networked program of a start script that forks helpers, with its match", () => {
    const inv = new EnvInventory();
    for (const f of script) inv.add(f);
    expect(docs(inv.render())).toEqual([curlDoc]);
    const all = new EnvInventory({ all: true });
    for (const f of script) all.add(f);
    expect(docs(all.render()).map((d) => d.adi_profile_pid)).toEqual([10, 11, 12, 13, 14]);
  });

  it("renders the same bytes for every arrival order of the facts, redeliveries included (property)", () => {
    const reference = new EnvInventory();
    for (const f of script) reference.add(f);
    const expected = reference.render();
    fc.assert(
      fc.property(fc.shuffledSubarray(script, { minLength: script.length, maxLength: script.length }), fc.array(fc.nat(script.length - 1), { maxLength: 4 }), (order, again) => {
        const inv = new EnvInventory();
        for (const f of order) inv.add(f);
        for (const i of again) inv.add(script[i]!); // redelivered after a consumer re-creation
        return inv.render() === expected;
      }),
      { seed: 20261130, numRuns: 300 },
    );
  });

  it("takes the environment from the exec fact when the net fact came after the process was gone", () => {
    const exec = fact({ pid: 20, event: "exec", ts: at(1), env: { DB_URL: "postgres://db" } });
    const net = fact({ pid: 20, event: "net", ts: at(2), env: {}, error: gone(20) });
    for (const order of [[exec, net], [net, exec]]) {
      const inv = new EnvInventory();
      for (const f of order) inv.add(f);
      expect(docs(inv.render())).toEqual([
        { adi_profile_pid: 20, adi_profile_match: "local", adi_profile_cmdline: "/usr/bin/svc --port 80", adi_profile_env: { DB_URL: "postgres://db" } },
      ]);
    }
  });

  it("renders a networked process seen only by its net fact", () => {
    const inv = new EnvInventory();
    inv.add(fact({ pid: 21, event: "net", ts: at(1), comm: "wget", cmdline: "wget -q -O- http://x/", env: { A: "1" } }));
    expect(docs(inv.render())).toEqual([{ adi_profile_pid: 21, adi_profile_match: "local", adi_profile_cmdline: "wget -q -O- http://x/", adi_profile_env: { A: "1" } }]);
  });

  it("keeps the kernel's exec-time match and an informative error for a process gone before /proc was read", () => {
    // Every fact of the process failed /proc: the agent filled in what the kernel read at exec.
    const inv = new EnvInventory();
    inv.add(fact({ pid: 30, event: "exec", ts: at(1), adi_profile_match: "staging", adi_profile_name: "one-shot", cmdline: "python3 -c fetch()", error: gone(30) }));
    inv.add(fact({ pid: 30, event: "net", ts: at(2), adi_profile_match: "staging", adi_profile_name: "one-shot", cmdline: "python3 -c fetch()", error: gone(30) }));
    expect(docs(inv.render())).toEqual([
      { adi_profile_pid: 30, adi_profile_match: "staging", adi_profile_name: "one-shot", adi_profile_cmdline: "python3 -c fetch()", adi_profile_env: {}, error: gone(30) },
    ]);
  });

  it("fills a missing match or name from another fact of the same process, whatever the order", () => {
    // An older agent's net fact without the profile, the fork fact (kernel's optin_names) with it.
    const fork = fact({ pid: 31, event: "fork", ts: at(1), adi_profile_match: "prod", adi_profile_name: "api", error: gone(31) });
    const net = fact({ pid: 31, event: "net", ts: at(2), adi_profile_match: null, adi_profile_name: null, error: gone(31) });
    for (const order of [[fork, net], [net, fork]]) {
      const inv = new EnvInventory();
      for (const f of order) inv.add(f);
      const [doc] = docs(inv.render());
      expect(doc).toMatchObject({ adi_profile_match: "prod", adi_profile_name: "api", error: gone(31) });
    }
  });

  it("describes the process as it was when it made its call, not after a later exec", () => {
    const inv = new EnvInventory();
    inv.add(fact({ pid: 40, event: "exec", ts: at(1), cmdline: "client --call", env: { STAGE: "client" } }));
    inv.add(fact({ pid: 40, event: "net", ts: at(2), cmdline: "client --call", env: { STAGE: "client" } }));
    inv.add(fact({ pid: 40, event: "exec", ts: at(3), cmdline: "reporter", env: { STAGE: "reporter" } }));
    expect(docs(inv.render())).toEqual([{ adi_profile_pid: 40, adi_profile_match: "local", adi_profile_cmdline: "client --call", adi_profile_env: { STAGE: "client" } }]);
  });

  it("tells processes apart by identity: a reused pid or another boot is another process", () => {
    const inv = new EnvInventory();
    inv.add(fact({ pid: 50, start_ticks: 1, event: "net", ts: at(1), cmdline: "first" }));
    inv.add(fact({ pid: 50, start_ticks: 2, event: "exec", ts: at(2), cmdline: "second, never networked" }));
    inv.add(fact({ pid: 50, start_ticks: 1, boot_id: "00000000-0000-4000-8000-000000000000", event: "exec", ts: at(3), cmdline: "other boot" }));
    expect(docs(inv.render()).map((d) => d.adi_profile_cmdline)).toEqual(["first"]);
  });

  it("ignores a process that did not opt in, even with a net fact, and moves its version only on change", () => {
    const inv = new EnvInventory();
    inv.add(fact({ pid: 60, event: "net", optin: "disabled" }));
    expect(inv.version).toBe(0);
    const net = fact({ pid: 61, event: "net", ts: at(1) });
    inv.add(net);
    const v = inv.version;
    inv.add(net); // a redelivery
    inv.add(fact({ pid: 61, event: "exec", ts: at(0), error: gone(61) })); // worse, but earlier: the order moves
    expect(inv.version).toBe(v + 1);
    inv.add(fact({ pid: 61, event: "exec", ts: at(0), error: gone(61) }));
    expect(inv.version).toBe(v + 1);
    expect(docs(inv.render()).map((d) => d.adi_profile_pid)).toEqual([61]);
  });
});

describe("EnvInventory redaction (facts of older agents, redacted by name only or not at all)", () => {
  const env = {
    API_JWT_HEADER: "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl",
    GIT_REMOTE_HELPER: "ghp_abcdefghijklmnopqrstuvwxyz0123456789",
    ConnectionStrings__Default: "Server=db;Database=app;User Id=sa;Password=Secr3t!;",
    POSTGRES_PASSWORD: "hunter2",
    ADI_PROFILE_NAME: "reviews",
    PATH: "/usr/bin",
  };

  it("applies the env rules (name and value) and the cmdline rules before writing", () => {
    const inv = new EnvInventory({ all: true });
    inv.add(fact({ env, cmdline: "mysql -pSECRET -h db app" }));
    const [doc] = docs(inv.render());
    expect(doc.adi_profile_env).toEqual({
      ADI_PROFILE_NAME: "reviews",
      API_JWT_HEADER: "[REDACTED]",
      ConnectionStrings__Default: "Server=db;Database=app;User Id=sa;Password=[REDACTED];",
      GIT_REMOTE_HELPER: "ghp_[REDACTED]",
      PATH: "/usr/bin",
      POSTGRES_PASSWORD: "[REDACTED]",
    });
    expect(doc.adi_profile_cmdline).toBe("mysql -p[REDACTED] -h db app");
  });

  it("writes the facts as they are when env and cmdline are off (ENV_REDACT=false, ADI_REDACT_OFF=cmdline)", () => {
    const inv = new EnvInventory({ all: true, redaction: RedactionPolicy.fromConfig({ redactOff: ["cmdline"], redactNames: [], redactPatterns: [], envRedact: false }) });
    inv.add(fact({ env, cmdline: "mysql -pSECRET -h db app" }));
    const [doc] = docs(inv.render());
    expect(doc.adi_profile_env).toEqual(env);
    expect(doc.adi_profile_cmdline).toBe("mysql -pSECRET -h db app");
  });
});
