// Least privilege: `adi capture`, started as a user runs it (root), keeps only RUNTIME_CAPABILITIES once attached,
// in every thread, with no_new_privs, and keeps working with them: an opted-in HTTP exchange is captured, processes
// started afterwards (one of root, one of another user) are read from /proc (environment, exe, listener owner).
// Each kept capability is shown to be needed: a process that drops all but one of them cannot read what the
// agent reads.
import { spawnSync } from "node:child_process";
import { readdirSync, readFileSync, realpathSync } from "node:fs";
import { connect } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ADDON_PATH, RUNTIME_CAPABILITIES } from "@adi/capture";
import type { ListenersFact, ProcessFact } from "@adi/shared/wire";
import { CLI_MAIN, ADI, startAdi } from "../../../cli/test/adi-process.ts";
import type { AdiRun } from "../../../cli/test/adi-process.ts";
import { freePort, NatsServerFixture, waitForPort } from "../../../test/support/nats-server.ts";
import { readAllAndClose, readFacts } from "../../../test/support/stream.ts";
import type { RawContents } from "../../../test/support/stream.ts";
import { processEnv, run, sleep, startBackground, stopBackground } from "../../../test/support/capture.ts";
import { asNobody as nobodyWithCheckout, mountedPath } from "../../../test/support/as-nobody.ts";

/** CAP_DAC_READ_SEARCH (2) | CAP_SYS_PTRACE (19), as /proc/PID/status prints a capability set. */
const KEPT_MASK = "0000000000080004";
const NONE = "0000000000000000";
const STATUS_FIELDS = ["CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb", "NoNewPrivs"] as const;

function credsOf(statusPath: string): Record<(typeof STATUS_FIELDS)[number], string> {
  const text = readFileSync(statusPath, "utf8");
  return Object.fromEntries(STATUS_FIELDS.map((k) => [k, new RegExp(`^${k}:\\s*(\\S+)$`, "m").exec(text)?.[1] ?? "(missing)"])) as Record<
    (typeof STATUS_FIELDS)[number],
    string
  >;
}

const PYTHON = "/usr/bin/python3";
const nobodyUid = Number(spawnSync("id", ["-u", "nobody"], { encoding: "utf8" }).stdout.trim());
const NOGROUP_GID = Number(spawnSync("id", ["-g", "nobody"], { encoding: "utf8" }).stdout.trim());
/**
 * Runs `cmd args` as nobody:nogroup, no supplementary groups (util-linux setpriv execs it: same pid). `cmd` by its
 * full path: PATH may lead to root's own directories (pyenv shims under /root), which nobody cannot enter.
 */
const asNobody = (cmd: string, args: string[]) => ["--reuid=nobody", "--regid=nogroup", "--clear-groups", cmd, ...args];

let nats: NatsServerFixture;
let agent: AdiRun;
let agentPid: number;
let agentArgv: string[];
let droppedLog: Record<string, unknown>;
let readyLog: Record<string, unknown>;
let creds: ReturnType<typeof credsOf>;
let threadCreds: Record<string, ReturnType<typeof credsOf>>;
let raw: RawContents;
let facts: ProcessFact[];
let listeners: ListenersFact[];
let exit: { code: number | null; signal: NodeJS.Signals | null };
const port = await freePort();
const pids = { server: 0, curl: 0, sleeper: 0 };

beforeAll(async () => {
  nats = await NatsServerFixture.start();
  const hooks = process.env.ADI_TEST_CAPTURE_HOOKS;
  agent = startAdi(ADI, ["capture"], {
    NATS_URL: nats.url,
    ADI_HOST: "leastpriv",
    LOG_LEVEL: "info",
    ADI_FLUSH_INTERVAL_MS: "20",
    ...(hooks ? { ADI_CAPTURE_HOOKS: hooks } : {}),
  });
  try {
    droppedLog = await agent.waitForLog("capabilities dropped to those still needed");
    readyLog = await agent.waitForLog("ready");
    agentPid = agent.child.pid!;
    agentArgv = readFileSync(`/proc/${agentPid}/cmdline`, "utf8").split("\0");
    creds = credsOf(`/proc/${agentPid}/status`);
    threadCreds = Object.fromEntries(readdirSync(`/proc/${agentPid}/task`).map((tid) => [tid, credsOf(`/proc/${agentPid}/task/${tid}/status`)]));

    // Started after the drop, all opted in: a server of another user (nobody), a root client (curl, gone before its
    // /proc is read) and a root process that stays (sleep: its /proc is read at its exec).
    const sleeper = startBackground("sleep", ["30"], { env: processEnv({ ADI_PROFILE: "e2e", ADI_PROFILE_NAME: "lp-sleeper", LP_MARK: "sleeper" }) });
    pids.sleeper = sleeper.pid!;
    const server = startBackground("setpriv", asNobody(PYTHON, ["-m", "http.server", String(port), "--bind", "127.0.0.1"]), {
      cwd: "/tmp",
      env: processEnv({ ADI_PROFILE: "e2e", ADI_PROFILE_NAME: "lp-server", LP_MARK: "server" }),
    });
    try {
      await waitForPort(port);
      pids.server = server.pid!;
      await sleep(300); // the listener fact (its owner read from /proc) is published as the listen record comes
      const r = await run("curl", ["-sS", "--fail", "-o", "/dev/null", `http://127.0.0.1:${port}/`], {
        env: processEnv({ ADI_PROFILE: "e2e", ADI_PROFILE_NAME: "lp-client", LP_MARK: "client" }),
      });
      expect(r.code, r.stderr).toBe(0);
      pids.curl = r.pid;
      await sleep(300);
    } finally {
      await stopBackground(server);
      await stopBackground(sleeper);
    }
  } finally {
    agent.child.kill("SIGTERM");
    exit = await agent.exited;
  }
  const nc = await connect({ servers: nats.url });
  listeners = (await readFacts(nc)).filter((f): f is ListenersFact => f.type === "listeners");
  ({ raw, facts } = await readAllAndClose(nc));
});

afterAll(async () => {
  if (agent && agent.child.exitCode === null && agent.child.signalCode === null) agent.child.kill("SIGKILL");
  await nats?.stop();
});

describe("adi capture once attached", () => {
  it("is the CLI's node process itself (bin/adi execs it)", () => {
    expect(agentArgv).toContain(CLI_MAIN);
  });

  it("keeps exactly CAP_DAC_READ_SEARCH and CAP_SYS_PTRACE, nothing inheritable or ambient, with no_new_privs", () => {
    expect(creds).toEqual({ CapInh: NONE, CapPrm: KEPT_MASK, CapEff: KEPT_MASK, CapBnd: KEPT_MASK, CapAmb: NONE, NoNewPrivs: "1" });
  });

  it("has dropped them in every thread, not only the main one", () => {
    expect(Object.keys(threadCreds).length).toBeGreaterThan(5); // V8 and libuv workers, Node's signal thread, the drain thread
    for (const [tid, c] of Object.entries(threadCreds)) {
      expect({ tid, ...c }).toEqual({ tid, CapInh: NONE, CapPrm: KEPT_MASK, CapEff: KEPT_MASK, CapBnd: KEPT_MASK, CapAmb: NONE, NoNewPrivs: "1" });
    }
  });

  it("logs the kept set with why, at start and in its ready line", () => {
    expect(droppedLog.kept).toEqual({
      CAP_DAC_READ_SEARCH: RUNTIME_CAPABILITIES.CAP_DAC_READ_SEARCH,
      CAP_SYS_PTRACE: RUNTIME_CAPABILITIES.CAP_SYS_PTRACE,
    });
    expect(droppedLog.bounding).toBe(true);
    expect(droppedLog.noNewPrivs).toBe(true);
    // The container this runs in may lack some (CAP_SYS_RESOURCE): every other one held was dropped.
    const held = Number.parseInt(readFileSync("/proc/self/status", "utf8").match(/^CapPrm:\s*(\S+)$/m)![1]!, 16);
    expect(droppedLog.dropped).toBe(held.toString(2).split("").filter((b) => b === "1").length - 2);
    expect(readyLog.capabilities).toEqual(["CAP_DAC_READ_SEARCH", "CAP_SYS_PTRACE"]);
    expect(agent.stderr()).toBe("");
  });

  it("stops cleanly on SIGTERM (detaching and draining need no capability)", () => {
    expect(exit).toEqual({ code: 0, signal: null });
  });
});

describe("with the reduced set it still captures", () => {
  it("the opted-in HTTP exchange, from both ends", () => {
    const request = raw.data.filter((d) => d.pid === pids.curl && d.direction === "egress").map((d) => d.payload.toString()).join("");
    expect(request).toMatch(new RegExp(`^GET / HTTP/1\\.1\\r\\nHost: 127\\.0\\.0\\.1:${port}\\r\\n`));
    const received = raw.data.filter((d) => d.pid === pids.server && d.direction === "ingress").map((d) => d.payload.toString()).join("");
    expect(received).toBe(request);
    const response = raw.data.filter((d) => d.pid === pids.curl && d.direction === "ingress").map((d) => d.payload.toString()).join("");
    expect(response).toMatch(/^HTTP\/1\.0 200 OK\r\n/);
  });

  it("the environment and exe of a root process started after the drop (CAP_SYS_PTRACE)", () => {
    const exec = facts.filter((f) => f.pid === pids.sleeper && f.event === "exec");
    expect(exec).toHaveLength(1);
    expect(exec[0]).toMatchObject({ comm: "sleep", exe: realpathSync("/bin/sleep"), error: null, optin: "yes", adi_profile_name: "lp-sleeper" });
    expect(exec[0]!.env).toMatchObject({ ADI_PROFILE: "e2e", ADI_PROFILE_NAME: "lp-sleeper", LP_MARK: "sleeper" });
  });

  it("the environment and exe of another user's process started after the drop (CAP_DAC_READ_SEARCH too)", () => {
    // setpriv execs python3 as nobody: the fact read once it is python3 is nobody's process.
    const exec = facts.filter((f) => f.pid === pids.server && f.event === "exec" && f.comm.startsWith("python3"));
    expect(exec.length).toBeGreaterThan(0);
    for (const f of exec) {
      expect(f).toMatchObject({ error: null, exe: realpathSync(PYTHON), optin: "yes", adi_profile_name: "lp-server" });
      expect(f.env).toMatchObject({ ADI_PROFILE: "e2e", ADI_PROFILE_NAME: "lp-server", LP_MARK: "server" });
    }
  });

  it("the owner of another user's listener (its /proc/PID/fd and environ)", () => {
    const owners = listeners.flatMap((f) => f.listeners).filter((l) => l.port === port && l.ip === "127.0.0.1");
    expect(owners.length).toBeGreaterThan(0);
    for (const l of owners) expect({ pid: l.pid, name: l.adi_profile_name }).toEqual({ pid: pids.server, name: "lp-server" });
  });
});

describe("a process without capabilities", () => {
  it("is left as it is, without an error: nobody, and root with an empty bounding set", () => {
    const script = (addonPath: string) => `
      const addon = require(${JSON.stringify(addonPath)});
      const r = addon.dropCapabilities(${JSON.stringify(Object.keys(RUNTIME_CAPABILITIES))});
      const status = require("node:fs").readFileSync("/proc/self/status", "utf8");
      console.log(JSON.stringify({ ...r, noNewPrivs: /^NoNewPrivs:\\s*(\\d)/m.exec(status)[1] }));`;
    const expected = { kept: [], dropped: [], notHeld: ["CAP_DAC_READ_SEARCH", "CAP_SYS_PTRACE"], bounding: false, changed: false, threads: 0, unchangedThreads: [], noNewPrivs: "0" };
    // As nobody through the checkout's bind mount (CI may clone where nobody cannot reach: test/support/as-nobody.ts).
    const nobody = nobodyWithCheckout([process.execPath, "-e", script(mountedPath(ADDON_PATH))]);
    for (const [cmd, args] of [[nobody.cmd, nobody.args], ["setpriv", ["--inh-caps=-all", "--bounding-set=-all", process.execPath, "-e", script(ADDON_PATH)]]] as const) {
      // cwd outside the checkout: Node looks for a package.json from there up, and nobody may not reach the clone.
      const r = spawnSync(cmd, args, { encoding: "utf8", cwd: "/tmp" });
      expect({ stderr: r.stderr, status: r.status }).toEqual({ stderr: "", status: 0 });
      expect(JSON.parse(r.stdout)).toEqual(expected);
    }
  });
});

describe("the drop's own mechanism", () => {
  it("leaves glibc's set*id broadcast working: its signal, borrowed to reach every thread, has its action back", () => {
    // Keeps CAP_SETUID and CAP_SETGID, then setgid/setuid(nobody): glibc runs them in every thread through that
    // signal (our handler left installed would never answer it, and the call would hang).
    const script = `
      const fs = require("node:fs");
      const addon = require(${JSON.stringify(ADDON_PATH)});
      const r = addon.dropCapabilities(["CAP_SETUID", "CAP_SETGID"]);
      process.setgid(${NOGROUP_GID}); process.setuid(${nobodyUid});
      const tasks = fs.readdirSync("/proc/self/task").map((t) => fs.readFileSync("/proc/self/task/" + t + "/status", "utf8"));
      console.log(JSON.stringify({ kept: r.kept, unchanged: r.unchangedThreads, uids: [...new Set(tasks.map((s) => /^Uid:\\s*(.*)$/m.exec(s)[1]))] }));`;
    const r = spawnSync(process.execPath, ["-e", script], { encoding: "utf8", timeout: 20_000 });
    expect({ stderr: r.stderr, status: r.status }).toEqual({ stderr: "", status: 0 });
    expect(JSON.parse(r.stdout)).toEqual({ kept: ["CAP_SETGID", "CAP_SETUID"], unchanged: [], uids: [`${nobodyUid}\t${nobodyUid}\t${nobodyUid}\t${nobodyUid}`] });
  });
});

describe("each kept capability is needed", () => {
  // A process of nobody's (not opted in, never captured) and a root one: what the agent reads of them.
  const probe = (keep: string[], targets: number[]) => {
    const script = `
      const { readFileSync, readlinkSync, readdirSync } = require("node:fs");
      const addon = require(${JSON.stringify(ADDON_PATH)});
      addon.dropCapabilities(${JSON.stringify(keep)});
      const tryRead = (f) => { try { f(); return "ok"; } catch (e) { return e.code; } };
      console.log(JSON.stringify(${JSON.stringify(targets)}.map((pid) => ({
        environ: tryRead(() => readFileSync("/proc/" + pid + "/environ")),
        exe: tryRead(() => readlinkSync("/proc/" + pid + "/exe")),
        fd: tryRead(() => readdirSync("/proc/" + pid + "/fd").map((fd) => readlinkSync("/proc/" + pid + "/fd/" + fd))),
      }))));`;
    const r = spawnSync(process.execPath, ["-e", script], { encoding: "utf8" });
    expect(r.stderr).toBe("");
    return JSON.parse(r.stdout) as { environ: string; exe: string; fd: string }[];
  };

  it("the kept set reads both; without CAP_SYS_PTRACE or CAP_DAC_READ_SEARCH the other user's process is refused", async () => {
    expect(nobodyUid).toBeGreaterThan(0);
    const nobody = startBackground("setpriv", asNobody("/bin/sleep", ["60"]));
    const root = startBackground("sleep", ["60"]);
    try {
      await sleep(200); // setpriv has exec'd sleep
      const targets = [nobody.pid!, root.pid!];
      const ok = { environ: "ok", exe: "ok", fd: "ok" };
      expect(probe(Object.keys(RUNTIME_CAPABILITIES), targets)).toEqual([ok, ok]);
      // Without CAP_SYS_PTRACE: ptrace read access is refused (root's sleep holds capabilities the probe does not);
      // the fd directory of root's own process is still listed, its links are not followed.
      expect(probe(["CAP_DAC_READ_SEARCH"], targets)).toEqual([
        { environ: "EACCES", exe: "EACCES", fd: "EACCES" },
        { environ: "EACCES", exe: "EACCES", fd: "EACCES" },
      ]);
      // Without CAP_DAC_READ_SEARCH: nobody's environ (0400) and fd directory (0500) are refused; root's are read.
      expect(probe(["CAP_SYS_PTRACE"], targets)).toEqual([{ environ: "EACCES", exe: "ok", fd: "EACCES" }, ok]);
    } finally {
      await stopBackground(nobody);
      await stopBackground(root);
    }
  });
});
