// Issue 10, item 9, end to end through the kernel: a start script (sh, opted in) forks helpers that never touch
// the network (sleep, sed, a subshell, true) and one networked program (curl to a local server that did not opt
// in). ENV_OUTPUT_PATH, written by the real enricher from the capture agent's facts, holds one document: curl's,
// with the script's ADI_PROFILE and ADI_PROFILE_NAME. With ENV_OUTPUT_ALL=true every process of the script is
// listed, each with the kernel's exec-time match even when /proc was gone (before issue 10: 48 documents for
// 5 programs, 25 of them errors, most with `adi_profile_match: ""`).
import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseAllDocuments } from "yaml";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig, createLogger } from "@adi/shared";
import { connectNats } from "@adi/shared/nats";
import { startEnricher } from "../src/main.ts";
import { freePort, NatsServerFixture } from "../../../test/support/nats-server.ts";
import { testEnv } from "../../../test/support/pipeline.ts";
import { captureForkingScript, sleep } from "../../../test/support/capture.ts";

const PROFILE = `env-${randomBytes(4).toString("hex")}`;
const NAME = "starter";
const dir = mkdtempSync(join(tmpdir(), "adi-env-output-"));
let nats: NatsServerFixture;
let port = 0;

interface EnvDoc {
  adi_profile_pid: number;
  adi_profile_match: string;
  adi_profile_name?: string;
  adi_profile_cmdline: string;
  adi_profile_env: Record<string, string>;
  error?: string;
}

/** ENV_OUTPUT_PATH as the enricher writes it from everything in the stream, this test's profile only. */
async function envOutput(extra: Record<string, string>): Promise<EnvDoc[]> {
  const path = join(dir, `env-${Object.keys(extra).join("-") || "default"}.yaml`);
  const cfg = loadConfig(testEnv(nats.url, dir, { ENV_OUTPUT_PATH: path, ...extra }));
  const log = createLogger("enricher-test", cfg.logLevel);
  const nc = await connectNats({ servers: cfg.natsServers!, name: "adi-test", log });
  const enricher = await startEnricher(cfg, nc, log);
  try {
    // The facts are all stored already: the inventory has caught up when it stops changing.
    let version = -1;
    for (let i = 0; i < 100 && (enricher.inventory.version !== version || version <= 0); i++) {
      version = enricher.inventory.version;
      await sleep(200);
    }
    await enricher.flush();
  } finally {
    await enricher.stop();
    await nc.close();
  }
  const docs = parseAllDocuments(readFileSync(path, "utf8")).map((d) => d.toJS() as EnvDoc);
  return docs.filter((d) => d.adi_profile_match === PROFILE || d.adi_profile_cmdline.includes(String(port)));
}

beforeAll(async () => {
  nats = await NatsServerFixture.start();
  port = await freePort();
  const { cap, script: r } = await captureForkingScript(nats.url, port, { ADI_PROFILE: PROFILE, ADI_PROFILE_NAME: NAME, APP_SETTING: "on" });
  await cap.nc.close();
  expect(r.code, r.stderr).toBe(0);
}, 60_000);

afterAll(async () => {
  await nats?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe("ENV_OUTPUT_PATH from a start script that forks helpers and one networked program", () => {
  it("holds curl alone, with the script's match and name, and its environment", async () => {
    const docs = await envOutput({});
    expect(docs).toHaveLength(1);
    expect(docs[0]).toMatchObject({ adi_profile_match: PROFILE, adi_profile_name: NAME });
    expect(docs[0]!.adi_profile_cmdline).toBe(`curl -sS --fail -o /dev/null http://127.0.0.1:${port}/`);
    // Read from /proc while curl ran (its net fact's or its exec's), so no error; or the kernel's view if it was
    // too quick: then the error says why and the match is still the kernel's.
    if (docs[0]!.error === undefined) expect(docs[0]!.adi_profile_env).toMatchObject({ APP_SETTING: "on", ADI_PROFILE: PROFILE });
    // Gone before any of its /proc files could be read (stat is the first), or while they were.
    else expect(docs[0]!.error).toMatch(/^open \/proc\/\d+\/(stat|cmdline|cgroup|environ): no such file or directory$|replaced/);
  }, 40_000);

  it("with ENV_OUTPUT_ALL=true, lists every process of the script, each with the kernel's match", async () => {
    const docs = await envOutput({ ENV_OUTPUT_ALL: "true" });
    expect(docs.length).toBeGreaterThanOrEqual(7); // sh, its subshells, sleep, sed ×2, true, curl
    for (const d of docs) expect(d, `${d.adi_profile_cmdline}: ${d.error ?? ""}`).toMatchObject({ adi_profile_match: PROFILE, adi_profile_name: NAME });
    const errors = docs.filter((d) => d.error !== undefined);
    for (const d of errors) expect(d.error).toMatch(/\/proc\/\d+/);
    console.log(`ENV_OUTPUT_ALL=true: ${docs.length} documents, ${errors.length} with an error; default: 1`);
  }, 40_000);
});
