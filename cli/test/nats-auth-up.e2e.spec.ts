// The whole pipeline (`adi up`: the capture agent in its child process, classifier, mapper, enricher) over real
// nats-servers that authenticate, one per way a NATS user secures a broker (issue 11): user and password in
// NATS_URL, a token in NATS_TOKEN, a .creds file (operator mode), and TLS verifying a client certificate. An
// opted-in curl calls an opted-in Python server; the call must be in the traffic log, from both ends, and the
// broker's secret in none of adi's output.
import { setTimeout as sleep } from "node:timers/promises";
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { freePort, NatsServerFixture } from "../../test/support/nats-server.ts";
import type { NatsServerOptions } from "../../test/support/nats-server.ts";
import { operatorCreds, tlsFiles } from "../../shared/test/support/nats-credentials.ts";
import { ADI, killAll, startAdi } from "./adi-process.ts";
import type { AdiRun } from "./adi-process.ts";

const dir = mkdtempSync(join(tmpdir(), "adi-auth-up-"));
const creds = operatorCreds(dir);
const tls = tlsFiles(dir);
const PASSWORD = "up-Pa55:w0rd@x";
const TOKEN = "up-t0ken-never-shown";

interface Case {
  name: string;
  server: NatsServerOptions;
  env: (serverUrl: string) => Record<string, string>;
  /** What must never appear in adi's stdout or stderr. */
  secret: string | null;
}

const CASES: Case[] = [
  {
    name: "user and password in NATS_URL",
    server: { args: ["--user", "adi", "--pass", PASSWORD] },
    env: (u) => ({ NATS_URL: u.replace("://", `://adi:${encodeURIComponent(PASSWORD)}@`) }),
    secret: PASSWORD,
  },
  { name: "NATS_TOKEN", server: { args: ["--auth", TOKEN] }, env: (u) => ({ NATS_URL: u, NATS_TOKEN: TOKEN }), secret: TOKEN },
  { name: "NATS_CREDS (operator mode)", server: { config: () => creds.config }, env: (u) => ({ NATS_URL: u, NATS_CREDS: creds.credsFile }), secret: null },
  {
    name: "tls:// verifying a client certificate",
    server: {
      scheme: "tls",
      config: () => `tls { cert_file: ${JSON.stringify(tls.serverCert)}, key_file: ${JSON.stringify(tls.serverKey)}, ca_file: ${JSON.stringify(tls.ca)}, verify: true }\n`,
    },
    env: (u) => ({ NATS_URL: u, NATS_CA: tls.ca, NATS_CERT: tls.clientCert, NATS_KEY: tls.clientKey }),
    secret: null,
  },
];

const servers: NatsServerFixture[] = [];
const runs: AdiRun[] = [];
afterAll(async () => {
  for (const r of runs) killAll(r.marker);
  for (const s of servers) await s.stop();
  rmSync(dir, { recursive: true, force: true });
});

function run(cmd: string, args: string[], env: Record<string, string>): Promise<number | null> {
  return new Promise((resolve) => spawn(cmd, args, { stdio: "ignore", env: { PATH: process.env.PATH!, ...env } }).on("exit", resolve));
}

describe.each(CASES)("adi up through an authenticating nats-server: $name", (c) => {
  it("captures, classifies and maps an opted-in call, and prints no secret", async () => {
    const nats = await NatsServerFixture.start(c.server);
    servers.push(nats);
    const out = mkdtempSync(join(dir, "out-"));
    const log = join(out, "traffic.log");
    const up = startAdi(ADI, ["up"], {
      ...c.env(nats.url),
      ADI_HOST: `authup${servers.length}`,
      OUTPUT_PATH: log,
      SERVICE_MAP_PATH: join(out, "map.yaml"),
      ENV_OUTPUT_PATH: join(out, "env.yaml"),
      LOG_LEVEL: "info",
    });
    runs.push(up);
    await up.waitForLog("ready");
    const port = await freePort();
    const web = spawn("python3", ["-m", "http.server", String(port), "--bind", "127.0.0.1"], {
      stdio: "ignore",
      env: { PATH: process.env.PATH!, ADI_PROFILE: "authup", ADI_PROFILE_NAME: "authup-web" },
    });
    try {
      for (let i = 0; i < 50 && (await run("curl", ["-s", "-o", "/dev/null", `http://127.0.0.1:${port}/`], {})) !== 0; i++) await sleep(100);
      expect(await run("curl", ["-s", "-o", "/dev/null", `http://127.0.0.1:${port}/authup`], { ADI_PROFILE: "authup", ADI_PROFILE_NAME: "authup-curl" })).toBe(0);
      // Both ends of the call, as the log shows them once the mapper wrote it (debounced: at most ~10 s).
      const ends = () => {
        let text = "";
        try {
          text = readFileSync(log, "utf8");
        } catch {
          return 0;
        }
        return text.split("\n").filter((l) => l.includes('"url":"/authup"')).length;
      };
      const deadline = Date.now() + 20_000;
      while (ends() < 2 && Date.now() < deadline) await sleep(200);
      expect(ends()).toBe(2);
    } finally {
      web.kill();
    }
    up.child.kill("SIGTERM");
    expect((await up.exited).code).toBe(0);
    if (c.secret !== null) {
      expect(up.stdout()).not.toContain(c.secret);
      expect(up.stderr()).not.toContain(c.secret);
      expect(up.stdout()).not.toContain(encodeURIComponent(c.secret));
    }
  }, 90_000);
});
