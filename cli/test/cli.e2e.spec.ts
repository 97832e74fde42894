// The `adi` command as a user runs it: help, one-line refusals with the documented exit codes, the embedded
// nats-server when NATS_URL is unset, the `ready` line, and a clean exit 0 on SIGTERM.
import { setTimeout as sleep } from "node:timers/promises";
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { jetstreamManager } from "@nats-io/jetstream";
import { connect, nkeyAuthenticator } from "@nats-io/transport-node";
import { describe, expect, it } from "vitest";
import { freePort } from "../../test/support/nats-server.ts";

const ADI = fileURLToPath(new URL("../../bin/adi", import.meta.url));

function adi(args: string[], env: Record<string, string>, opts: { untilLine?: RegExp; thenSignal?: NodeJS.Signals; beforeSignal?: () => Promise<void> } = {}) {
  return new Promise<{ code: number | null; stdout: string; stderr: string; sawLine: boolean }>((resolve) => {
    const child = spawn(ADI, args, { env: { PATH: process.env.PATH!, ...env } });
    let stdout = "", stderr = "", sawLine = false;
    child.stdout.on("data", (d) => {
      stdout += d;
      if (opts.untilLine && !sawLine && opts.untilLine.test(stdout)) {
        sawLine = true;
        void (opts.beforeSignal ?? (async () => undefined))().finally(() => child.kill(opts.thenSignal ?? "SIGTERM"));
      }
    });
    child.stderr.on("data", (d) => (stderr += d));
    child.on("exit", (code) => resolve({ code, stdout, stderr, sawLine }));
  });
}

describe("adi --help", () => {
  it("lists the commands and the environment variables", async () => {
    const r = await adi(["--help"], {});
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/capture/);
    expect(r.stdout).toMatch(/\bup\b/);
    const c = await adi(["capture", "--help"], {});
    expect(c.stdout).toMatch(/ADI_PROFILE_ALLOWED/);
    expect(c.stdout).toMatch(/NATS_URL/);
  });
});

describe("configuration errors", () => {
  it("names the bad variable in one line and exits 2", async () => {
    const r = await adi(["capture"], { ADI_PAYLOAD_LIMIT: "lots" });
    expect(r.code).toBe(2);
    const lines = r.stderr.trim().split("\n");
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^adi: ADI_ERR_CONFIG: ADI_PAYLOAD_LIMIT="lots"/);
  });

  it("refuses an unreachable NATS_URL with exit 5 (after ADI_START_TIMEOUT: retried meanwhile)", async () => {
    const port = await freePort();
    const r = await adi(["capture"], { NATS_URL: `nats://127.0.0.1:${port}`, ADI_START_TIMEOUT: "2s" });
    expect(r.code).toBe(5);
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    expect(r.stderr).toMatch(/ADI_ERR_NATS_UNREACHABLE/);
  });
});

describe("a host that cannot run the probes", () => {
  it("is refused in one line with exit 3 before any broker starts (root without capabilities)", async () => {
    const port = await freePort();
    const r = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
      const child = spawn("setpriv", ["--inh-caps=-all", "--bounding-set=-all", ADI, "capture"], {
        env: { PATH: process.env.PATH!, ADI_NATS_PORT: String(port), ADI_DATA_DIR: mkdtempSync(join(tmpdir(), "adi-nocap-")) },
      });
      let stderr = "";
      child.stderr.on("data", (d) => (stderr += d));
      child.on("exit", (code) => resolve({ code, stderr }));
    });
    expect(r.code).toBe(3);
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    expect(r.stderr).toMatch(/^adi: ADI_ERR_NOT_ROOT: running as uid 0 without CAP_BPF/);
  });
});

describe("adi up with the embedded nats-server", () => {
  it("starts its own JetStream under ADI_DATA_DIR, logs ready, maps traffic, flushes the outputs and stops on SIGTERM with exit 0", async () => {
    const dataDir = mkdtempSync(join(tmpdir(), "adi-data-"));
    const port = await freePort();
    const webPort = await freePort();
    const outputs = { OUTPUT_PATH: join(dataDir, "traffic.log"), SERVICE_MAP_PATH: join(dataDir, "map.yaml") };
    const web = spawn("python3", ["-m", "http.server", String(webPort), "--bind", "127.0.0.1"], { stdio: "ignore", env: { PATH: process.env.PATH! } });
    // Once ready: one opted-in call, then a pause shorter than the 2 s debounce: only the SIGTERM flush writes it.
    const traffic = async () => {
      await sleep(300);
      await new Promise((resolve) => {
        spawn("curl", ["-s", "-o", "/dev/null", `http://127.0.0.1:${webPort}/`], { env: { PATH: process.env.PATH!, ADI_PROFILE: "cli", ADI_PROFILE_NAME: "curl-cli" } }).on("exit", resolve);
      });
      await sleep(300);
    };
    try {
      let streams: string[] = [];
      const run = adi(["up"], { ADI_DATA_DIR: dataDir, ADI_NATS_PORT: String(port), ...outputs }, { untilLine: /"msg":"ready"/, beforeSignal: traffic });
      // While it runs, the embedded server is a real JetStream with all the streams.
      // The embedded server admits only the holder of its key (issue 11): the seed adi wrote under ADI_DATA_DIR.
      const seedFile = join(dataDir, "nats", "adi-user.nk");
      const authenticator = () => nkeyAuthenticator(new TextEncoder().encode(existsSync(seedFile) ? readFileSync(seedFile, "utf8").trim() : ""));
      const poll = (async () => {
        for (let i = 0; i < 200 && streams.length < 4; i++) {
          const nc = existsSync(seedFile) ? await connect({ servers: `127.0.0.1:${port}`, authenticator: authenticator(), reconnect: false }).catch(() => null) : null;
          if (nc) {
            const jsm = await jetstreamManager(nc);
            // the adi streams (the classifiers' key-value bucket is a stream too: KV_adi_classifiers)
            streams = (await jsm.streams.names().next()).filter((n) => n.startsWith("ADI_")).sort();
            await nc.close();
          }
          await sleep(50);
        }
      })();
      const r = await run;
      await poll;
      expect(r.sawLine).toBe(true);
      expect(r.code).toBe(0);
      const lines = r.stdout.trim().split("\n").map((l) => JSON.parse(l));
      expect(lines.map((l) => l.msg)).toEqual(expect.arrayContaining(["embedded nats-server started", "ready", "classifier ready", "mapper ready", "capture stopped"]));
      const log = readFileSync(outputs.OUTPUT_PATH, "utf8");
      expect(log).toMatch(/"method":"GET","url":"\/"/);
      expect(readFileSync(outputs.SERVICE_MAP_PATH, "utf8")).toMatch(/name: curl-cli/);
      expect(statSync(outputs.OUTPUT_PATH).mode & 0o777).toBe(0o600);
      expect(streams).toEqual(["ADI_DEADLETTER", "ADI_DERIVED", "ADI_FACTS", "ADI_RAW"]);
      expect(existsSync(join(dataDir, "nats", "jetstream"))).toBe(true);
      const after = await connect({ servers: `127.0.0.1:${port}`, authenticator: authenticator(), reconnect: false }).then(
        (nc) => nc.close().then(() => "still up"),
        () => "gone",
      );
      expect(after).toBe("gone");
    } finally {
      web.kill();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
