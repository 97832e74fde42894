// Capture-time redaction (ADI_CAPTURE_REDACT): the same three real clients, opted in, log in twice, once under an
// agent with redaction off and once with it on: curl with `Authorization: Bearer <secret>`, redis-cli with
// --user/--pass (AUTH user password), psql with a password (a cluster of its own whose `password` method puts it in
// clear in the PasswordMessage). With it on, no secret is in any ADI_RAW message; every data record keeps the length
// it had with it off, each client's bytes are those of the run without redaction with the secret's bytes turned to
// '*', and the classifier still frames the HTTP exchange.
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { DataRecord } from "@adi/shared/wire";
import { classify } from "../../../test/support/exchanges.ts";
import type { Classified } from "../../../test/support/exchanges.ts";
import { startPasswordPostgres, startRedisWithPassword } from "../../../test/support/login-servers.ts";
import type { LoginServer } from "../../../test/support/login-servers.ts";
import { freePort, NatsServerFixture, waitForPort } from "../../../test/support/nats-server.ts";
import { byteStream, readAllAndClose } from "../../../test/support/stream.ts";
import type { RawContents } from "../../../test/support/stream.ts";
import { processEnv, run, sleep, startBackground, startCapture, stopBackground } from "../../../test/support/capture.ts";

const secret = (what: string) => `${what}-${randomBytes(9).toString("hex")}`;
const SECRETS = { bearer: secret("bearer"), redis: secret("redis"), pg: secret("pg") };

interface Run {
  raw: RawContents;
  pids: { curl: number; redis: number; psql: number };
}

const runs: Partial<Record<"off" | "on", Run>> = {};
let classified: Classified;
let pg: LoginServer | undefined;
let redis: LoginServer | undefined;
const httpPort = await freePort();
// A document root of its own: the same answer in both runs (a listing of /tmp changes as other tests write there).
const docroot = mkdtempSync(join(tmpdir(), "adi-redact-www-"));
writeFileSync(join(docroot, "index.html"), "<p>hello</p>\n");

/** One capture with ADI_CAPTURE_REDACT=`mode`, on its own nats-server, while the three clients log in. */
async function captureLogins(mode: "off" | "on"): Promise<Run> {
  const nats = await NatsServerFixture.start();
  try {
    const cap = await startCapture(nats.url, { ADI_CAPTURE_REDACT: mode });
    const env = (name: string, extra: Record<string, string> = {}) => ({ env: processEnv({ ADI_PROFILE: "e2e", ADI_PROFILE_NAME: name, ...extra }) });
    let pids: Run["pids"];
    try {
      const curl = await run("curl", ["-sS", "--fail", "-o", "/dev/null", "-H", `Authorization: Bearer ${SECRETS.bearer}`, `http://127.0.0.1:${httpPort}/`], env("curl"));
      const cli = await run("redis-cli", ["-p", String(redis!.port), "--user", "default", "--pass", SECRETS.redis, "--no-auth-warning", "PING"], env("redis-cli"));
      const psql = await run("psql", ["-h", "127.0.0.1", "-p", String(pg!.port), "-U", "postgres", "-d", "postgres", "-Atc", "SELECT 41 + 1"], env("psql", { PGPASSWORD: SECRETS.pg, PGSSLMODE: "disable", PGGSSENCMODE: "disable" }));
      expect([curl.code, curl.stderr]).toEqual([0, ""]);
      expect([cli.code, cli.stdout.trim()]).toEqual([0, "PONG"]);
      expect([psql.code, psql.stdout.trim()]).toEqual([0, "42"]);
      pids = { curl: curl.pid, redis: cli.pid, psql: psql.pid };
      await sleep(300);
    } finally {
      await cap.stop();
    }
    const { raw } = await readAllAndClose(cap.nc);
    return { raw, pids };
  } finally {
    await nats.stop();
  }
}

let server: ReturnType<typeof startBackground> | undefined;

beforeAll(async () => {
  [pg, redis] = await Promise.all([startPasswordPostgres(SECRETS.pg), startRedisWithPassword(SECRETS.redis)]);
  server = startBackground("python3", ["-m", "http.server", String(httpPort), "--bind", "127.0.0.1"], { cwd: docroot, env: processEnv({}) });
  await waitForPort(httpPort);
  runs.off = await captureLogins("off");
  runs.on = await captureLogins("on");
  classified = classify(runs.on.raw);
}, 180_000);

afterAll(async () => {
  if (server) await stopBackground(server);
  await pg?.stop();
  await redis?.stop();
  rmSync(docroot, { recursive: true, force: true });
});

const tcp = (r: Run, pid: number) => r.raw.data.filter((d) => d.pid === pid && d.tuple.protocol === "tcp");
const shape = (records: DataRecord[]) => records.map((d) => [d.direction, d.offset, d.totalLen, d.payload.length, d.lastChunk, d.truncated]);
const clients = [
  { name: "curl", pid: (r: Run) => r.pids.curl, secret: SECRETS.bearer },
  { name: "redis-cli", pid: (r: Run) => r.pids.redis, secret: SECRETS.redis },
  // A PasswordMessage's payload is masked whole: the password and its NUL terminator.
  { name: "psql", pid: (r: Run) => r.pids.psql, secret: `${SECRETS.pg}\0` },
] as const;

describe("capture-time redaction", () => {
  it("without it, every secret is in ADI_RAW (the test can fail)", () => {
    const all = Buffer.concat(runs.off!.raw.messages.map((m) => Buffer.from(m.data)));
    for (const s of Object.values(SECRETS)) expect(all.includes(s), s).toBe(true);
  });

  it("with it, no secret is in any ADI_RAW message", () => {
    expect(runs.on!.raw.messages.length).toBeGreaterThan(0);
    for (const m of runs.on!.raw.messages) {
      const data = Buffer.from(m.data);
      for (const s of Object.values(SECRETS)) expect(data.includes(s), `${s} in ${m.subject}`).toBe(false);
    }
  });

  for (const c of clients) {
    it(`keeps ${c.name}'s records as long as without it, and its bytes but for the secret's`, () => {
      const off = tcp(runs.off!, c.pid(runs.off!)), on = tcp(runs.on!, c.pid(runs.on!));
      const egress = (r: Run) => byteStream(r.raw.data, c.pid(r), "egress");
      expect(shape(on.filter((d) => d.direction === "egress"))).toEqual(shape(off.filter((d) => d.direction === "egress")));
      const want = egress(runs.off!).toString("latin1").replace(c.secret, "*".repeat(c.secret.length));
      expect(want).not.toContain(c.secret);
      expect(egress(runs.on!).toString("latin1")).toBe(want);
      // What the client received has no secret: its length and bytes are those of the other run.
      expect(byteStream(runs.on!.raw.data, c.pid(runs.on!), "ingress").length).toBe(byteStream(runs.off!.raw.data, c.pid(runs.off!), "ingress").length);
    });
  }

  it("keeps the HTTP framing: the classifier still sees the exchange, its Authorization header without the token", () => {
    const curl = classified.http.filter((h) => h.pid === runs.on!.pids.curl);
    expect(curl.map((h) => [h.request.method, h.request.target, h.response?.status])).toEqual([["GET", "/", 200]]);
    const auth = curl[0]!.request.headers.filter(([name]) => name.toLowerCase() === "authorization");
    expect(auth).toHaveLength(1);
    expect(auth[0]![1]).not.toContain(SECRETS.bearer);
  });

  it("puts no secret in the connection observations' first bytes either", () => {
    const seen = classified.connections.filter((c) => Object.values(runs.on!.pids).includes(c.pid));
    // HTTP connections become exchanges (above), the others connection observations.
    expect(new Set(seen.map((c) => c.protocol))).toEqual(new Set(["redis", "postgres"]));
    for (const c of seen) {
      const bytes = Buffer.from(c.evidence.first_bytes_hex, "hex").toString("latin1");
      for (const s of Object.values(SECRETS)) expect(bytes).not.toContain(s.split("-")[1]!.slice(0, 6));
    }
  });
});
