// `adi` as a user runs it, at start: output paths that are not ours are refused in one line (exit 2) before any
// broker starts, touching nothing; a broker that never comes, or never lets a service follow its streams, ends the
// command in one line (exit 5) after ADI_START_TIMEOUT instead of a service running empty; a stop during a slow
// start, and after it, is clean. No BPF is loaded here: every refusal comes before the capture agent starts.
import { execFileSync } from "node:child_process";
import { chmodSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort, NatsServerFixture } from "../../test/support/nats-server.ts";
import { brokerWithoutJetStream } from "../../test/support/start-up.ts";
import type { LogLine } from "../../test/support/start-up.ts";
import { ADI, processesOf, startAdi } from "./adi-process.ts";

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "adi-cli-start-"));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Runs `adi <args>` to its exit: code, the stderr lines, the JSON log lines, how long it took. */
async function run(args: string[], env: Record<string, string>, opts: { signalAfterMs?: number; signalOnLine?: string } = {}) {
  const started = performance.now();
  const r = startAdi(ADI, args, { ADI_DATA_DIR: mkdtempSync(join(dir, "data-")), LOG_LEVEL: "info", ...env });
  let signalledAt: number | undefined;
  if (opts.signalAfterMs !== undefined) setTimeout(() => ((signalledAt = performance.now()), r.child.kill("SIGTERM")), opts.signalAfterMs);
  if (opts.signalOnLine) void r.waitForLog(opts.signalOnLine, 60_000).then(() => ((signalledAt = performance.now()), r.child.kill("SIGTERM")), () => undefined);
  const { code } = await r.exited;
  const ended = performance.now();
  const logs = r
    .stdout()
    .split("\n")
    .filter((l) => l.startsWith("{"))
    .map((l) => JSON.parse(l) as LogLine);
  return {
    code,
    stderr: r.stderr().trim().split("\n").filter(Boolean),
    logs,
    tookMs: ended - started,
    stopMs: signalledAt === undefined ? undefined : ended - signalledAt,
    left: processesOf(r.marker),
  };
}

/** A NATS_URL with nothing behind it. */
async function deadUrl(): Promise<string> {
  return `nats://127.0.0.1:${await freePort()}`;
}

describe("output paths are checked at start", () => {
  it("OUTPUT_PATH=/tmp/somedir adi up: exit 2, one line, the directory's mode unchanged", async () => {
    const somedir = mkdtempSync("/tmp/adi-somedir-");
    chmodSync(somedir, 0o1777); // as /tmp itself: the directory once chmod'ed 0600
    const before = statSync(somedir);
    try {
      const r = await run(["up"], { NATS_URL: await deadUrl(), OUTPUT_PATH: somedir });
      expect(r.code).toBe(2);
      expect(r.stderr).toEqual([
        `adi: ADI_ERR_OUTPUT_PATH: OUTPUT_PATH="${somedir}": is a directory (name a regular file, or a new one, in an existing directory (adi replay --out: an existing directory adi may write in))`,
      ]);
      const after = statSync(somedir);
      expect(after.mode).toBe(before.mode);
      expect(after.mode & 0o7777).toBe(0o1777);
      expect(after.mtimeMs).toBe(before.mtimeMs);
      expect(r.logs.some((l) => /ready|capture agent started/.test(l.msg))).toBe(false);
      expect(r.left).toEqual([]);
    } finally {
      rmSync(somedir, { recursive: true, force: true });
    }
  });

  it("SERVICE_MAP_PATH as a symlink to a file that is not ours (adi up): refused; the target's content, mode and mtime unchanged", async () => {
    const target = join(dir, "passwd-like");
    writeFileSync(target, "root:x:0:0\n");
    chmodSync(target, 0o644);
    utimesSync(target, new Date("2021-05-06T07:08:09Z"), new Date("2021-05-06T07:08:09Z"));
    const link = join(dir, "map-link.yaml");
    symlinkSync(target, link);
    const before = statSync(target);
    const r = await run(["up"], { NATS_URL: await deadUrl(), OUTPUT_PATH: join(dir, "up.log"), SERVICE_MAP_PATH: link });
    expect(r.code).toBe(2);
    expect(r.stderr).toHaveLength(1);
    expect(r.stderr[0]).toMatch(/^adi: ADI_ERR_OUTPUT_PATH: SERVICE_MAP_PATH=".*map-link.yaml": is a symbolic link/);
    const after = statSync(target);
    expect(readFileSync(target, "utf8")).toBe("root:x:0:0\n");
    expect(after.mode).toBe(before.mode);
    expect(after.mtimeMs).toBe(before.mtimeMs);
    expect(lstatSync(link).isSymbolicLink()).toBe(true);
  });

  // The same kind through the other commands that write outputs: never a retry loop, never a bare errno.
  const table: { name: string; cmd: string; variable: string; make: () => string; why: RegExp }[] = [
    { name: "a missing parent directory", cmd: "map", variable: "OUTPUT_PATH", make: () => join(dir, "no-such-dir", "t.log"), why: /its directory .* does not exist/ },
    { name: "a missing parent directory", cmd: "enrich", variable: "ENV_OUTPUT_PATH", make: () => join(dir, "no-such-dir", "env.yaml"), why: /its directory .* does not exist/ },
    {
      name: "a named pipe",
      cmd: "enrich",
      variable: "ENV_OUTPUT_PATH",
      make: () => {
        const p = join(dir, `fifo-${Math.random().toString(36).slice(2)}`);
        execFileSync("mkfifo", [p]);
        return p;
      },
      why: /is a named pipe, not a regular file/,
    },
    {
      name: "a directory",
      cmd: "map",
      variable: "SERVICE_MAP_PATH",
      make: () => {
        const d = join(dir, `d-${Math.random().toString(36).slice(2)}`);
        mkdirSync(d, { mode: 0o755 });
        return d;
      },
      why: /is a directory/,
    },
  ];
  for (const c of table) {
    it(`adi ${c.cmd} with ${c.variable} naming ${c.name}: exit 2 at once, one line`, async () => {
      const path = c.make();
      const r = await run([c.cmd], { NATS_URL: await deadUrl(), OUTPUT_PATH: join(dir, `${c.cmd}.log`), [c.variable]: path });
      expect(r.code).toBe(2);
      expect(r.stderr).toHaveLength(1);
      expect(r.stderr[0]).toMatch(new RegExp(`^adi: ADI_ERR_OUTPUT_PATH: ${c.variable}=`));
      expect(r.stderr[0]).toMatch(c.why);
      expect(r.tookMs).toBeLessThan(10_000); // refused before dialling the (dead) broker, not after a retry loop
    });
  }
});

describe("outputs naming the same file, and adi replay's --out, are checked at start", () => {
  it("OUTPUT_PATH=SERVICE_MAP_PATH adi map: exit 2 at once, one line, nothing written", async () => {
    const same = join(dir, "same-out.txt");
    const r = await run(["map"], { NATS_URL: await deadUrl(), OUTPUT_PATH: same, SERVICE_MAP_PATH: same });
    expect(r.code).toBe(2);
    expect(r.stderr).toEqual([
      `adi: ADI_ERR_OUTPUT_PATH: OUTPUT_PATH="${same}" and SERVICE_MAP_PATH="${same}" name the same file ${same}: each output needs a file of its own (name a regular file, or a new one, in an existing directory (adi replay --out: an existing directory adi may write in))`,
    ]);
    expect(r.tookMs).toBeLessThan(10_000);
    expect(() => statSync(same)).toThrow();
  });

  it("ENV_OUTPUT_PATH naming OUTPUT_PATH's file another way (adi up): exit 2, one line", async () => {
    const r = await run(["up"], { NATS_URL: await deadUrl(), OUTPUT_PATH: join(dir, "up-same.log"), ENV_OUTPUT_PATH: `${dir}/./sub/../up-same.log` });
    expect(r.code).toBe(2);
    expect(r.stderr).toHaveLength(1);
    expect(r.stderr[0]).toMatch(/^adi: ADI_ERR_OUTPUT_PATH: OUTPUT_PATH=".*up-same.log" and ENV_OUTPUT_PATH=".*" name the same file /);
    expect(r.left).toEqual([]);
  });

  it("adi replay --out <an existing regular file>: exit 2, one line, before any broker (no embedded one started), the file untouched", async () => {
    const file = join(dir, "not-a-dir");
    writeFileSync(file, "mine\n");
    const r = await run(["replay", "--out", file], {});
    expect(r.code).toBe(2);
    expect(r.stderr).toEqual([`adi: ADI_ERR_OUTPUT_PATH: --out "${file}": is not a directory (name a regular file, or a new one, in an existing directory (adi replay --out: an existing directory adi may write in))`]);
    expect(readFileSync(file, "utf8")).toBe("mine\n");
    expect(r.logs).toEqual([]); // nothing logged: no broker was started
    expect(r.left).toEqual([]);
  });

  it("adi replay --out under a regular file, and with two outputs of one base name: exit 2, one line", async () => {
    const file = join(dir, "plain-file");
    writeFileSync(file, "");
    const under = await run(["replay", "--out", join(file, "sub")], { NATS_URL: await deadUrl() });
    expect(under.code).toBe(2);
    expect(under.stderr).toHaveLength(1);
    expect(under.stderr[0]).toMatch(/^adi: ADI_ERR_OUTPUT_PATH: --out ".*plain-file\/sub": /);

    const out = join(dir, "replay-names");
    const twins = await run(["replay", "--out", out], { NATS_URL: await deadUrl(), OUTPUT_PATH: join(dir, "a", "out.txt"), SERVICE_MAP_PATH: join(dir, "b", "out.txt") });
    expect(twins.code).toBe(2);
    expect(twins.stderr).toHaveLength(1);
    expect(twins.stderr[0]).toMatch(/^adi: ADI_ERR_OUTPUT_PATH: --out ".*replay-names": OUTPUT_PATH=".*a\/out.txt" and SERVICE_MAP_PATH=".*b\/out.txt" have the same file name "out.txt"/);
    expect(twins.tookMs).toBeLessThan(10_000);
  });

  it("adi replay on a broker with no streams: exit 5, one ADI_ERR_NO_STREAM line", async () => {
    const nats = await NatsServerFixture.start();
    try {
      const r = await run(["replay", "--out", join(dir, "replay-empty")], { NATS_URL: nats.url });
      expect(r.code).toBe(5);
      expect(r.stderr).toHaveLength(1);
      expect(r.stderr[0]).toMatch(/^adi: ADI_ERR_NO_STREAM: stream ADI_(FACTS|RAW) does not exist on the broker: nothing to replay/);
    } finally {
      await nats.stop();
    }
  });
});

describe("a broker that never comes", () => {
  it("adi map: one ADI_ERR_NATS_UNREACHABLE line, exit 5, after ADI_START_TIMEOUT (retried meanwhile)", async () => {
    const url = await deadUrl();
    const r = await run(["map"], { NATS_URL: url, OUTPUT_PATH: join(dir, "never.log"), ADI_START_TIMEOUT: "3s" });
    expect(r.code).toBe(5);
    expect(r.stderr).toHaveLength(1);
    expect(r.stderr[0]).toMatch(new RegExp(`^adi: ADI_ERR_NATS_UNREACHABLE: ${url}: .*\\(retried for 3 s\\)`));
    expect(r.tookMs).toBeGreaterThanOrEqual(3000);
    expect(r.tookMs).toBeLessThan(12_000);
    expect(r.logs.filter((l) => l.msg === "nats not reachable yet; will retry").length).toBeGreaterThan(1);
  });
});

describe("a broker that never lets the services follow (no JetStream)", () => {
  const bare = brokerWithoutJetStream();

  for (const cmd of ["map", "enrich"]) {
    it(`adi ${cmd}: one ADI_ERR_NOT_FOLLOWING line, exit 5, after ADI_START_TIMEOUT, never ready`, async () => {
      const r = await run([cmd], { NATS_URL: bare.url, OUTPUT_PATH: join(dir, `${cmd}-nojs.log`), ENV_OUTPUT_PATH: join(dir, `${cmd}-nojs.yaml`), ADI_START_TIMEOUT: "2s" });
      expect(r.code).toBe(5);
      expect(r.stderr).toHaveLength(1);
      expect(r.stderr[0]).toMatch(/^adi: ADI_ERR_NOT_FOLLOWING: create the streams: not done within 2 s: jetstream is not enabled/);
      expect(r.logs.some((l) => / ready$/.test(l.msg))).toBe(false);
      expect(r.tookMs).toBeLessThan(12_000);
    });
  }

  it("adi replay: one ADI_ERR_ line, never a bare broker error", async () => {
    const r = await run(["replay", "--out", join(dir, "replay-nojs")], { NATS_URL: bare.url, ADI_START_TIMEOUT: "2s" });
    expect(r.stderr).toHaveLength(1);
    expect(r.stderr[0]).toMatch(/^adi: ADI_ERR_NOT_FOLLOWING: replay could not read stream ADI_FACTS: /);
    expect(r.code).toBe(5);
  });

  it("adi up: exits non-zero in one line, before the capture agent is started", async () => {
    const r = await run(["up"], { NATS_URL: bare.url, OUTPUT_PATH: join(dir, "up-nojs.log"), ENV_OUTPUT_PATH: join(dir, "up-nojs.yaml"), ADI_START_TIMEOUT: "2s" });
    expect(r.code).toBe(5);
    expect(r.stderr).toHaveLength(1);
    expect(r.stderr[0]).toMatch(/^adi: ADI_ERR_NOT_FOLLOWING: /);
    expect(r.logs.some((l) => l.msg === "capture agent started in its own process")).toBe(false);
    expect(r.left).toEqual([]);
  });
});

describe("a broker that stalls", () => {
  let nats: NatsServerFixture;
  beforeAll(async () => {
    nats = await NatsServerFixture.start();
  });
  afterAll(async () => {
    await nats?.stop();
  });

  it("a stop while adi map still waits for it: exit 0 at once, no ERROR line, nothing on stderr", async () => {
    nats.pause();
    try {
      const r = await run(["map"], { NATS_URL: nats.url, OUTPUT_PATH: join(dir, "stalled.log") }, { signalAfterMs: 2000 });
      expect(r.code).toBe(0);
      expect(r.stderr).toEqual([]);
      expect(r.logs.filter((l) => l.level >= 50)).toEqual([]);
      expect(r.stopMs).toBeLessThan(1500);
    } finally {
      nats.resume();
    }
  });

  it("7 s right after adi map starts: ready only once it resumes, then a clean stop (no ERROR line)", async () => {
    nats.pause();
    let resumedAt = 0;
    setTimeout(() => {
      resumedAt = Date.now();
      nats.resume();
    }, 7000);
    const r = await run(["map"], { NATS_URL: nats.url, OUTPUT_PATH: join(dir, "slow.log") }, { signalOnLine: "mapper ready" });
    expect(r.code).toBe(0);
    const ready = r.logs.find((l) => l.msg === "mapper ready");
    expect(ready).toBeDefined();
    expect(ready!.time).toBeGreaterThanOrEqual(resumedAt);
    expect(resumedAt).toBeGreaterThan(0);
    expect(r.logs.filter((l) => l.level >= 50)).toEqual([]);
    expect(r.stderr).toEqual([]);
  });
});
