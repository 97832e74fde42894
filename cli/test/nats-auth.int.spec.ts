// `adi` and NATS credentials (issue 11), through the launcher as a user runs it:
// - a wrong password or token: exit 5 at once, one line naming ADI_ERR_NATS_AUTH, the secret nowhere in the output;
// - the embedded broker admits only who holds its key: as `nobody`, a client without it is refused (no reading,
//   publishing or deleting streams), the key file cannot be read; the key is 0600 in a 0700 data directory, kept
//   across starts, and a key file others can read is refused, not chmod'ed.
import { setTimeout as sleep } from "node:timers/promises";
import { spawn } from "node:child_process";
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { jetstreamManager } from "@nats-io/jetstream";
import { connect, nkeyAuthenticator } from "@nats-io/transport-node";
import { afterAll, describe, expect, it } from "vitest";
import { findNatsServer, loopbackListenerOwners } from "@adi/shared/nats";
import { asNobody } from "../../test/support/as-nobody.ts";
import { freePort, NatsServerFixture } from "../../test/support/nats-server.ts";
import { ADI, killAll, startAdi } from "./adi-process.ts";
import type { AdiRun } from "./adi-process.ts";

const PASSWORD = "Pa55-w0rd-never-shown";
const TOKEN = "T0ken-never-shown";

const brokers: NatsServerFixture[] = [];
const runs: AdiRun[] = [];
const dirs: string[] = [];
afterAll(async () => {
  for (const r of runs) killAll(r.marker);
  for (const b of brokers) await b.stop();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function tempDir(prefix: string): string {
  const d = mkdtempSync(join(tmpdir(), prefix));
  dirs.push(d);
  return d;
}

/** `adi classify` (no BPF needed) with `env`; its outputs in a temporary directory. */
function adiClassify(env: Record<string, string>): AdiRun {
  const out = tempDir("adi-auth-out-");
  const run = startAdi(ADI, ["classify"], { OUTPUT_PATH: join(out, "traffic.log"), LOG_LEVEL: "info", ...env });
  runs.push(run);
  return run;
}

describe("adi against a broker that refuses its credentials", () => {
  const cases: { name: string; server: string[]; env: (url: string) => Record<string, string>; secret: string; shown: (port: number) => string }[] = [
    {
      name: "a wrong password in NATS_URL",
      server: ["--user", "adi", "--pass", "right-password"],
      env: (url) => ({ NATS_URL: url.replace("://", `://adi:${PASSWORD}@`) }),
      secret: PASSWORD,
      shown: (port) => `nats://adi:***@127.0.0.1:${port}`,
    },
    {
      name: "a wrong password with a space and a quote in NATS_URL (not percent-encoded)",
      server: ["--user", "adi", "--pass", "right-password"],
      env: (url) => ({ NATS_URL: url.replace("://", `://adi:hun ter2"SECRET5@`) }),
      secret: 'ter2"SECRET5',
      shown: (port) => `nats://adi:***@127.0.0.1:${port}`,
    },
    {
      name: "a wrong NATS_PASSWORD",
      server: ["--user", "adi", "--pass", "right-password"],
      env: (url) => ({ NATS_URL: url, NATS_USER: "adi", NATS_PASSWORD: PASSWORD }),
      secret: PASSWORD,
      shown: (port) => `nats://127.0.0.1:${port}`,
    },
    {
      name: "a wrong token in NATS_URL",
      server: ["--auth", "right-token"],
      env: (url) => ({ NATS_URL: url.replace("://", `://${TOKEN}@`) }),
      secret: TOKEN,
      shown: (port) => `nats://***@127.0.0.1:${port}`,
    },
    {
      name: "a wrong NATS_TOKEN",
      server: ["--auth", "right-token"],
      env: (url) => ({ NATS_URL: url, NATS_TOKEN: TOKEN }),
      secret: TOKEN,
      shown: (port) => `nats://127.0.0.1:${port}`,
    },
  ];

  it.each(cases)("$name: exit 5 at once, ADI_ERR_NATS_AUTH, the secret in no output", async (c) => {
    const broker = await NatsServerFixture.start({ args: c.server });
    brokers.push(broker);
    const started = Date.now();
    const run = adiClassify({ ...c.env(broker.url), ADI_START_TIMEOUT: "60s" });
    const exit = await run.exited;
    expect(exit).toEqual({ code: 5, signal: null });
    expect(Date.now() - started).toBeLessThan(20_000); // not retried for ADI_START_TIMEOUT
    expect(run.stderr().trim().split("\n")).toEqual([
      `adi: ADI_ERR_NATS_AUTH: ${c.shown(broker.port)}: refused: Authorization Violation (check NATS_URL's user:password@ or token@, NATS_CREDS, NATS_NKEY, NATS_USER/NATS_PASSWORD, NATS_TOKEN, NATS_CA, NATS_CERT/NATS_KEY)`,
    ]);
    expect(run.stderr()).not.toContain(c.secret);
    expect(run.stdout()).not.toContain(c.secret);
  });
});

describe("adi against an unreachable broker named with a password", () => {
  it("retries for ADI_START_TIMEOUT, its warnings and its ADI_ERR_NATS_UNREACHABLE line showing the user, never the password", async () => {
    const port = await freePort(); // nothing listens there
    const run = adiClassify({ NATS_URL: `nats://adi:${PASSWORD}@127.0.0.1:${port}`, ADI_START_TIMEOUT: "2s" });
    expect((await run.exited).code).toBe(5);
    const lines = run.stderr().trim().split("\n");
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(new RegExp(`^adi: ADI_ERR_NATS_UNREACHABLE: nats://adi:\\*\\*\\*@127\\.0\\.0\\.1:${port}: .*\\(retried for 2 s\\)$`));
    const warnings = run.stdout().split("\n").filter((l) => l.includes("nats not reachable yet"));
    expect(warnings.length).toBeGreaterThan(1);
    for (const w of warnings) expect((JSON.parse(w) as { servers: string }).servers).toBe(`nats://adi:***@127.0.0.1:${port}`);
    expect(run.stdout() + run.stderr()).not.toContain(PASSWORD);
  });
});

/** A script run as nobody: dials the broker in NATS's text protocol without credentials, then tries to read the seed. */
const STRANGER = `
import { createConnection } from "node:net";
import { readFileSync } from "node:fs";
const [port, seedFile] = process.argv.slice(2);
const result = { uid: process.getuid() };
result.protocol = await new Promise((resolve) => {
  let text = "";
  const s = createConnection({ host: "127.0.0.1", port: Number(port) }, () => {
    // Read a stream's messages, publish a forged raw batch, delete a stream: what an unauthenticated client would try.
    s.write('CONNECT {"verbose":false,"pedantic":false,"protocol":1}\\r\\n' +
      'SUB adi.raw.> 1\\r\\n' +
      'PUB adi.raw.forged.0 5\\r\\nhello\\r\\n' +
      'PUB $JS.API.STREAM.DELETE.ADI_RAW _INBOX.x 0\\r\\n\\r\\n' +
      'PING\\r\\n');
  });
  s.on("data", (d) => (text += d.toString()));
  s.on("close", () => resolve(text.split("\\r\\n").filter((l) => l && !l.startsWith("INFO "))));
  s.on("error", (e) => resolve(["error " + e.code]));
  setTimeout(() => { s.destroy(); }, 5000);
});
try { readFileSync(seedFile); result.seed = "read"; } catch (e) { result.seed = e.code; }
console.log(JSON.stringify(result));
`;

function runAsNobody(script: string, args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const nobody = asNobody([process.execPath, script, ...args]);
    const child = spawn(nobody.cmd, nobody.args, { stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.on("exit", (code) => resolve({ code, stdout, stderr }));
  });
}

describe("the embedded broker", () => {
  it("admits only the holder of its key: strangers are refused, the key is private, kept, and refused when exposed", async () => {
    const base = tempDir("adi-embedded-auth-");
    const dataDir = join(base, "data"); // created by adi
    const port = await freePort();
    const env = { ADI_DATA_DIR: dataDir, ADI_NATS_PORT: String(port) };
    const run = adiClassify(env);
    const started = await run.waitForLog("embedded nats-server started");
    await run.waitForLog("classifier ready");
    const nkeyFile = join(dataDir, "nats", "adi-user.nk");
    const seed = readFileSync(nkeyFile, "utf8").trim();
    expect(seed).toMatch(/^SU[A-Z2-7]{56}$/);
    expect(started.nkeyFile).toBe(nkeyFile);
    expect(started.natsCli).toBe(`nats --server nats://127.0.0.1:${port} --nkey ${nkeyFile} stream ls`);
    expect(run.stdout()).not.toContain(seed);
    expect(statSync(dataDir).mode & 0o777).toBe(0o700);
    expect(statSync(join(dataDir, "nats")).mode & 0o777).toBe(0o700);
    expect(statSync(nkeyFile).mode & 0o777).toBe(0o600);
    expect(statSync(join(dataDir, "nats", "server.conf")).mode & 0o777).toBe(0o600);
    // The server's command line names its config file, not the key; no process of the run has the seed in its env.
    expect(readFileSync(`/proc/${run.child.pid}/environ`, "utf8")).not.toContain(seed);

    // A stranger: nobody, without the key.
    const scripts = join(base, "scripts");
    mkdirSync(scripts, { mode: 0o755 });
    chmodSync(base, 0o755);
    const script = join(scripts, "stranger.mjs");
    writeFileSync(script, STRANGER, { mode: 0o644 });
    const r = await runAsNobody(script, [String(port), nkeyFile]);
    expect(r.stderr).toBe("");
    const seen = JSON.parse(r.stdout) as { uid: number; protocol: string[]; seed: string };
    expect(seen.uid).toBe(65534);
    expect(seen.protocol).toEqual(["-ERR 'Authorization Violation'"]);
    expect(seen.seed).toBe("EACCES");

    // The holder of the key still sees every stream: nothing was deleted, nothing forged was stored.
    const nc = await connect({ servers: `127.0.0.1:${port}`, authenticator: nkeyAuthenticator(new TextEncoder().encode(seed)), reconnect: false });
    const jsm = await jetstreamManager(nc);
    const raw = await jsm.streams.info("ADI_RAW");
    expect(raw.state.messages).toBe(0);
    await nc.close();

    // Another consumer command on the host, same ADI_DATA_DIR: it joins this broker with the key, starts none.
    const out = tempDir("adi-auth-map-");
    const mapper = startAdi(ADI, ["map"], { ...env, OUTPUT_PATH: join(out, "traffic.log"), LOG_LEVEL: "info" });
    runs.push(mapper);
    const joined = await mapper.waitForLog("using the embedded nats-server another adi command started");
    expect(joined.url).toBe(`nats://127.0.0.1:${port}`);
    await mapper.waitForLog("mapper ready");
    expect(mapper.stdout()).not.toContain("embedded nats-server started");
    mapper.child.kill("SIGTERM");
    expect((await mapper.exited).code).toBe(0);
    // Its stop left the broker alone: the first command still reaches it.
    const after = await connect({ servers: `127.0.0.1:${port}`, authenticator: nkeyAuthenticator(new TextEncoder().encode(seed)), reconnect: false });
    await after.close();

    run.child.kill("SIGTERM");
    expect((await run.exited).code).toBe(0);

    // Started again: the same key.
    const again = adiClassify(env);
    await again.waitForLog("classifier ready");
    expect(readFileSync(nkeyFile, "utf8").trim()).toBe(seed);
    again.child.kill("SIGTERM");
    expect((await again.exited).code).toBe(0);

    // A key others can read is refused (exit 2), and left as it is.
    chmodSync(nkeyFile, 0o640);
    const exposed = adiClassify(env);
    expect((await exposed.exited).code).toBe(2);
    expect(exposed.stderr().trim()).toBe(
      `adi: ADI_ERR_DATA_DIR: ${nkeyFile} (the embedded broker's key; mode 0640, owner uid 0) is readable or writable by group or others (make it yours and private (directories not writable by others, the store 0700, the key 0600), or remove the key to have a new one made at the next start (clients using the old one must then use the new one))`,
    );
    expect(statSync(nkeyFile).mode & 0o777).toBe(0o640);
    expect(readFileSync(nkeyFile, "utf8").trim()).toBe(seed);
  });
});

describe("the embedded broker's boundary, beyond its key", () => {
  it("runs with no capability but the one to bind a low port, and no_new_privs", async () => {
    const dataDir = join(tempDir("adi-embedded-caps-"), "data");
    const port = await freePort();
    const run = adiClassify({ ADI_DATA_DIR: dataDir, ADI_NATS_PORT: String(port) });
    const started = await run.waitForLog("embedded nats-server started");
    const status = readFileSync(`/proc/${String(started.serverPid)}/status`, "utf8");
    const field = (k: string) => new RegExp(`^${k}:\\s*(\\S+)`, "m").exec(status)![1];
    // 0x400: CAP_NET_BIND_SERVICE alone.
    expect({ eff: field("CapEff"), prm: field("CapPrm"), bnd: field("CapBnd"), amb: field("CapAmb"), nnp: field("NoNewPrivs") }).toEqual({
      eff: "0000000000000400",
      prm: "0000000000000400",
      bnd: "0000000000000400",
      amb: "0000000000000000",
      nnp: "1",
    });
    run.child.kill("SIGTERM");
    expect((await run.exited).code).toBe(0);
  });

  it("is not joined when another user listens on its port (a forged broker), nor used from a data directory others can write", async () => {
    // A first run makes the key; then nobody takes the port with a broker that asks for nothing.
    const base = tempDir("adi-embedded-rogue-");
    chmodSync(base, 0o755);
    const dataDir = join(base, "data");
    const port = await freePort();
    const first = adiClassify({ ADI_DATA_DIR: dataDir, ADI_NATS_PORT: String(port) });
    await first.waitForLog("classifier ready");
    first.child.kill("SIGTERM");
    expect((await first.exited).code).toBe(0);

    const rogueStore = join(base, "rogue");
    mkdirSync(rogueStore, { mode: 0o777 });
    chmodSync(rogueStore, 0o777);
    const rogue = asNobody([findNatsServer()!, "-a", "127.0.0.1", "-p", String(port), "-js", "-sd", rogueStore]);
    const server = spawn(rogue.cmd, rogue.args, { stdio: "ignore", cwd: "/tmp" });
    try {
      for (let i = 0; i < 100 && loopbackListenerOwners(port).length === 0; i++) await sleep(50);
      expect(loopbackListenerOwners(port)).toEqual([65534]);
      const joined = adiClassify({ ADI_DATA_DIR: dataDir, ADI_NATS_PORT: String(port) });
      expect((await joined.exited).code).toBe(5);
      expect(joined.stderr().trim()).toBe(
        `adi: ADI_ERR_NATS_UNREACHABLE: port ${port} is taken by a listener of uid 65534, not by an adi of this user (uid 0): refusing to use it; stop it, or set ADI_NATS_PORT to another port`,
      );
      expect(joined.stdout()).not.toContain("classifier ready");
    } finally {
      server.kill("SIGKILL");
    }

    // A data directory others can write: refused at start, and left as it is.
    chmodSync(dataDir, 0o777);
    const open = adiClassify({ ADI_DATA_DIR: dataDir, ADI_NATS_PORT: String(await freePort()) });
    expect((await open.exited).code).toBe(2);
    expect(open.stderr().trim()).toBe(
      `adi: ADI_ERR_DATA_DIR: ${dataDir} (ADI_DATA_DIR; mode 0777, owner uid 0) is writable by group or others: refused, left as it is (make it yours and private (directories not writable by others, the store 0700, the key 0600), or remove the key to have a new one made at the next start (clients using the old one must then use the new one))`,
    );
    expect(statSync(dataDir).mode & 0o777).toBe(0o777);
  });
});
