import { ProcessFactSchema } from "@adi/shared/wire";
import { describe, expect, it } from "vitest";
import type { ProcessSnapshot } from "../src/adapters/procfs.ts";
import { buildProcessFact, type KernelProcessInfo, type ProcessFactInput } from "../src/core/process-facts.ts";
import { RedactionPolicy } from "@adi/shared/redaction";

const CONTAINER = "4a7b1e0c2d3f4a5b6c7d8e9f0a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6e7f8a9b";
const BOOT = "393a8351-01d1-4c4f-84ed-e7c686d9ae26";
const TS = "2024-04-08T18:24:10.123456789Z";

function snapshot(environ: Record<string, string>, over: Partial<ProcessSnapshot> = {}): ProcessSnapshot {
  return {
    pid: 12345,
    startTicks: 5555,
    ppid: 1,
    comm: "python3",
    exe: "/usr/bin/python3.12",
    cmdline: "/usr/bin/python3 /app/server.py --port 9080",
    cgroupText: `0::/system.slice/docker-${CONTAINER}.scope\n`,
    environ,
    ...over,
  };
}

const kernel: KernelProcessInfo = {
  pid: 12345,
  startTicks: 5555,
  ppid: 1,
  comm: "python3",
  cmdline: ["/app/service", "--config", "/etc/config.yaml"],
  profile: "local",
  profileName: "reviews",
  optin: 1,
};

const base = { event: "exec", ts: TS, host: "node-1", bootId: BOOT } as const satisfies Partial<ProcessFactInput>;
const opts = { redaction: RedactionPolicy.DEFAULT };

describe("buildProcessFact from /proc", () => {
  const env = {
    ADI_PROFILE: "local",
    ADI_PROFILE_NAME: "reviews",
    PATH: "/usr/bin",
    POSTGRES_PASSWORD: "hunter2",
    REVIEWS_DB: "postgres://app:hunter2@db/reviews",
  };

  it("builds a complete, valid fact", () => {
    const fact = buildProcessFact({ ...base, snapshot: snapshot(env), kernel }, opts);
    expect(fact).toEqual({
      v: 1,
      type: "process",
      event: "exec",
      ts: TS,
      host: "node-1",
      boot_id: BOOT,
      pid: 12345,
      start_ticks: 5555,
      ppid: 1,
      comm: "python3",
      exe: "/usr/bin/python3.12",
      cmdline: "/usr/bin/python3 /app/server.py --port 9080",
      cgroup: `/system.slice/docker-${CONTAINER}.scope`,
      container_id: CONTAINER,
      adi_profile_match: "local",
      adi_profile_name: "reviews",
      optin: "yes",
      env: {
        ADI_PROFILE: "local",
        ADI_PROFILE_NAME: "reviews",
        PATH: "/usr/bin",
        POSTGRES_PASSWORD: "[REDACTED]",
        REVIEWS_DB: "postgres://app:[REDACTED]@db/reviews",
      },
      env_redacted: true,
      error: null,
      exit_code: null,
    });
    expect(ProcessFactSchema.safeParse(fact).success).toBe(true);
  });

  it("applies the prefix list and the redaction switch", () => {
    const fact = buildProcessFact({ ...base, snapshot: snapshot(env) }, { prefixes: ["REVIEWS_", "POSTGRES_"], redaction: RedactionPolicy.NONE });
    expect(fact.env).toEqual({ POSTGRES_PASSWORD: "hunter2", REVIEWS_DB: "postgres://app:hunter2@db/reviews" });
    expect(fact.env_redacted).toBe(false);
  });

  it("decides opt-in from the /proc environment, over the kernel's verdict", () => {
    const fact = buildProcessFact({ ...base, snapshot: snapshot(env), kernel }, { redaction: RedactionPolicy.DEFAULT, allowed: ["dev"] });
    expect(fact.optin).toBe("not_allowed");
    expect(fact.adi_profile_match).toBe("local");
  });

  it("takes the kernel's verdict when /proc's environment read empty (a process caught exiting), not none", () => {
    const fact = buildProcessFact({ ...base, snapshot: snapshot({}), kernel }, opts);
    expect(fact).toMatchObject({ optin: "yes", adi_profile_match: "local", adi_profile_name: "reviews", env: {} });
    // Without the kernel's report (a /proc scan), an empty environment is what it is: no opt-in.
    expect(buildProcessFact({ ...base, event: "scan", snapshot: snapshot({}) }, opts)).toMatchObject({ optin: "none", adi_profile_match: null });
  });

  it("reports no environment for processes that did not opt in", () => {
    const environs: Record<string, string>[] = [
      { PATH: "/bin", SECRET_THING: "x" },
      { ADI_PROFILE: "local", ADI_PROFILE_DISABLED: "1", A: "1" },
    ];
    for (const environ of environs) {
      const fact = buildProcessFact({ ...base, event: "scan", snapshot: snapshot(environ) }, opts);
      expect(fact.optin).not.toBe("yes");
      expect(fact.env).toEqual({});
    }
  });

  it("fills what a kernel thread lacks", () => {
    const fact = buildProcessFact(
      { ...base, event: "scan", snapshot: snapshot({}, { pid: 2, ppid: 0, comm: "kthreadd", exe: null, cmdline: "", cgroupText: "0::/\n" }) },
      opts,
    );
    expect(fact).toMatchObject({ pid: 2, ppid: 0, exe: null, cmdline: "", cgroup: "/", container_id: null, optin: "none" });
    expect(fact.adi_profile_match).toBeNull();
    expect(fact.adi_profile_name).toBeNull();
  });

  it("takes a timestamp in nanoseconds", () => {
    expect(buildProcessFact({ ...base, ts: 1712600650123456789n, snapshot: snapshot(env) }, opts).ts).toBe(TS);
  });
});

describe("buildProcessFact from the kernel alone (process gone)", () => {
  const error = "open /proc/12345/environ: no such file or directory";

  it("falls back on the kernel's report, as the Go tool's error document", () => {
    const fact = buildProcessFact({ ...base, kernel, error }, opts);
    expect(fact).toMatchObject({
      pid: 12345,
      start_ticks: 5555,
      ppid: 1,
      comm: "python3",
      exe: null,
      cmdline: "/app/service --config /etc/config.yaml",
      cgroup: null,
      container_id: null,
      adi_profile_match: "local",
      adi_profile_name: "reviews",
      optin: "yes",
      env: {},
      error,
    });
  });

  it("accepts verdict names and empty kernel strings", () => {
    const fact = buildProcessFact(
      { ...base, kernel: { ...kernel, optin: "none", profile: "", profileName: "", cmdline: "already joined" } },
      opts,
    );
    expect(fact).toMatchObject({ optin: "none", adi_profile_match: null, adi_profile_name: null, cmdline: "already joined" });
  });

  it("records an exit with its code", () => {
    const fact = buildProcessFact({ ...base, event: "exit", kernel: { ...kernel, optin: 0 }, exitCode: 137 }, opts);
    expect(fact).toMatchObject({ event: "exit", exit_code: 137, error: null, optin: "none" });
  });

  it("rejects an unknown kernel verdict", () => {
    expect(() => buildProcessFact({ ...base, kernel: { ...kernel, optin: 9 } }, opts)).toThrow(RangeError);
  });
});

describe("buildProcessFact consistency", () => {
  it("ignores a snapshot of another process that reused the pid", () => {
    const reused = snapshot({ ADI_PROFILE: "prod", SECRET: "x" }, { startTicks: 9999, cmdline: "/bin/other" });
    const fact = buildProcessFact({ ...base, snapshot: reused, kernel }, opts);
    expect(fact.start_ticks).toBe(5555);
    expect(fact.cmdline).toBe("/app/service --config /etc/config.yaml");
    expect(fact.adi_profile_match).toBe("local");
    expect(fact.env).toEqual({});
    expect(fact.error).toMatch(/^process 12345 was replaced/);
  });

  it("keeps the kernel's arguments when /proc showed none", () => {
    const fact = buildProcessFact({ ...base, snapshot: snapshot({ ADI_PROFILE: "local" }, { cmdline: "" }), kernel }, opts);
    expect(fact.cmdline).toBe("/app/service --config /etc/config.yaml");
  });

  it("needs one source", () => {
    expect(() => buildProcessFact({ ...base }, opts)).toThrow(TypeError);
  });

  it("refuses to build an invalid fact", () => {
    expect(() => buildProcessFact({ ...base, host: "bad.host", kernel }, opts)).toThrow();
    expect(() => buildProcessFact({ ...base, ts: "yesterday", kernel }, opts)).toThrow();
  });
});

describe("buildProcessFact: the cgroup from the kernel's cgroup id", () => {
  const OTHER = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
  const error = "open /proc/12345/cgroup: no such file or directory";

  it("names the container of a process gone before /proc was read (issue 9: short-lived wget)", () => {
    const fact = buildProcessFact({ ...base, kernel: { ...kernel, cgroupPath: `/system.slice/docker-${CONTAINER}.scope` }, error }, opts);
    expect(fact).toMatchObject({ cgroup: `/system.slice/docker-${CONTAINER}.scope`, container_id: CONTAINER, error });
    expect(ProcessFactSchema.safeParse(fact).success).toBe(true);
  });

  it("reads a hybrid host's unified path (cgroupfs driver) the same way", () => {
    const fact = buildProcessFact({ ...base, kernel: { ...kernel, cgroupPath: `/docker/${CONTAINER}` }, error }, opts);
    expect(fact).toMatchObject({ cgroup: `/docker/${CONTAINER}`, container_id: CONTAINER });
  });

  it("takes the kernel's view over /proc's: it is the cgroup the record was made in", () => {
    const fact = buildProcessFact(
      { ...base, snapshot: snapshot({ ADI_PROFILE: "local" }, { cgroupText: `0::/system.slice/docker-${OTHER}.scope\n` }), kernel: { ...kernel, cgroupPath: `/system.slice/docker-${CONTAINER}.scope` } },
      opts,
    );
    expect(fact).toMatchObject({ cgroup: `/system.slice/docker-${CONTAINER}.scope`, container_id: CONTAINER, error: null });
  });

  it("reports the kernel's path when neither names a container", () => {
    const fact = buildProcessFact(
      { ...base, snapshot: snapshot({ ADI_PROFILE: "local" }, { cgroupText: "0::/user.slice/session-1.scope\n" }), kernel: { ...kernel, cgroupPath: "/user.slice/session-2.scope" } },
      opts,
    );
    expect(fact).toMatchObject({ cgroup: "/user.slice/session-2.scope", container_id: null });
  });

  it("keeps /proc's container when only its v1 lines name one (runtime outside the unified hierarchy)", () => {
    const cgroupText = `4:memory:/docker/${CONTAINER}\n1:name=systemd:/docker/${CONTAINER}\n0::/\n`;
    const fact = buildProcessFact({ ...base, snapshot: snapshot({ ADI_PROFILE: "local" }, { cgroupText }), kernel: { ...kernel, cgroupPath: "/" } }, opts);
    expect(fact).toMatchObject({ cgroup: `/docker/${CONTAINER}`, container_id: CONTAINER });
  });

  it("falls back on /proc when the id did not resolve", () => {
    for (const cgroupPath of [null, undefined, ""]) {
      const fact = buildProcessFact({ ...base, snapshot: snapshot({ ADI_PROFILE: "local" }), kernel: { ...kernel, cgroupPath } }, opts);
      expect(fact).toMatchObject({ cgroup: `/system.slice/docker-${CONTAINER}.scope`, container_id: CONTAINER });
    }
  });

  it("uses the kernel's cgroup when the pid was reused before /proc was read", () => {
    const reused = snapshot({ ADI_PROFILE: "prod" }, { startTicks: 9999, cgroupText: `0::/system.slice/docker-${OTHER}.scope\n` });
    const fact = buildProcessFact({ ...base, snapshot: reused, kernel: { ...kernel, cgroupPath: `/system.slice/docker-${CONTAINER}.scope` } }, opts);
    expect(fact).toMatchObject({ start_ticks: 5555, container_id: CONTAINER });
    expect(fact.error).toMatch(/^process 12345 was replaced/);
  });

  it("records the cgroup of an exit", () => {
    const fact = buildProcessFact({ ...base, event: "exit", kernel: { ...kernel, cgroupPath: `/kubepods.slice/cri-containerd-${CONTAINER}.scope` }, exitCode: 0 }, opts);
    expect(fact).toMatchObject({ event: "exit", container_id: CONTAINER, exit_code: 0 });
  });
});

describe("buildProcessFact redacts before publishing (cmdline and env categories)", () => {
  const optedIn = { ADI_PROFILE: "local" };
  const cases: [string, readonly string[], string][] = [
    ["curl -u", ["curl", "-u", "user:pw", "https://api.example"], "curl -u user:[REDACTED] https://api.example"],
    ["curl -H Authorization", ["curl", "-H", "Authorization: Bearer abc.def", "https://api.example"], "curl -H Authorization: [REDACTED] https://api.example"],
    ["mysql -p", ["mysql", "-pSECRET", "-h", "db", "app"], "mysql -p[REDACTED] -h db app"],
    ["mysql --password=", ["mysql", "--password=SECRET", "app"], "mysql --password=[REDACTED] app"],
    ["redis-cli -a", ["redis-cli", "-a", "SECRET", "ping"], "redis-cli -a [REDACTED] ping"],
    ["psql URL", ["psql", "postgresql://u:pw@h/db"], "psql postgresql://u:[REDACTED]@h/db"],
    ["psql -p is a port", ["psql", "-p", "5432", "-h", "db"], "psql -p 5432 -h db"],
  ];

  it.each(cases)("/proc argv: %s", (_label, argv, expected) => {
    const fact = buildProcessFact({ ...base, snapshot: snapshot(optedIn, { cmdline: argv.join(" "), argv }) }, opts);
    expect(fact.cmdline).toBe(expected);
  });

  it.each(cases)("/proc without argv (joined words): %s", (_label, argv, expected) => {
    const fact = buildProcessFact({ ...base, snapshot: snapshot(optedIn, { cmdline: argv.join(" ") }) }, opts);
    expect(fact.cmdline).toBe(expected);
  });

  it.each(cases)("the kernel's argv when /proc is gone: %s", (_label, argv, expected) => {
    const fact = buildProcessFact({ ...base, kernel: { ...kernel, cmdline: argv }, error: "gone" }, opts);
    expect(fact.cmdline).toBe(expected);
  });

  it("keeps an argument's spaces whole in argv form: the header value is one argument", () => {
    const argv = ["sh", "-c", "curl -H 'Authorization: Bearer x y' https://h"];
    const fact = buildProcessFact({ ...base, snapshot: snapshot(optedIn, { cmdline: argv.join(" "), argv }) }, opts);
    expect(fact.cmdline).toBe("sh -c curl -H 'Authorization: [REDACTED]' https://h");
  });

  it("redacts env values by their look, not only by name", () => {
    const environ = {
      ...optedIn,
      AUTH_HEADER_VALUE: "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl",
      GH_HELPER: "ghp_abcdefghijklmnopqrstuvwxyz0123456789",
      BILLING: "sk_live_abcdefghijklmnop1234",
      ConnectionStrings__Default: "Server=db;Database=app;User Id=sa;Password=Secr3t!;",
      PG_DSN: "host=db password=s3cret dbname=app",
      SENTRY_DSN: "https://0123456789abcdef0123456789abcdef@o1.ingest.sentry.io/42",
      SESSION_SIGNING: "5f2b6c",
      HOME: "/root",
    };
    const fact = buildProcessFact({ ...base, snapshot: snapshot(environ) }, opts);
    expect(fact.env).toEqual({
      ADI_PROFILE: "local",
      AUTH_HEADER_VALUE: "[REDACTED]",
      BILLING: "sk_live_[REDACTED]",
      ConnectionStrings__Default: "Server=db;Database=app;User Id=sa;Password=[REDACTED];",
      GH_HELPER: "ghp_[REDACTED]",
      HOME: "/root",
      PG_DSN: "host=db password=[REDACTED] dbname=app",
      SENTRY_DSN: "https://[REDACTED]@o1.ingest.sentry.io/42",
      SESSION_SIGNING: "[REDACTED]",
    });
    expect(fact.env_redacted).toBe(true);
  });

  it("leaves the cmdline in clear when the cmdline category is off, env when ENV_REDACT=false", () => {
    const redaction = RedactionPolicy.fromConfig({ redactOff: ["cmdline"], redactNames: [], redactPatterns: [], envRedact: false });
    const argv = ["mysql", "-pSECRET"];
    const fact = buildProcessFact({ ...base, snapshot: snapshot({ ...optedIn, DB_PASSWORD: "x" }, { cmdline: argv.join(" "), argv }) }, { redaction });
    expect(fact.cmdline).toBe("mysql -pSECRET");
    expect(fact.env).toEqual({ ADI_PROFILE: "local", DB_PASSWORD: "x" });
    expect(fact.env_redacted).toBe(false);
  });
});
