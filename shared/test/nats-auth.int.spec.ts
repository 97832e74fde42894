// The pipeline (classifier and mapper, configured from the environment as a user would) over real nats-servers that
// authenticate (issue 11): user/password, token, nkey, .creds (operator mode), TLS with a CA, TLS verifying a client
// certificate. Raw batches published as the capture agent writes them come out as traffic log lines. Each server
// also refuses a client without credentials, at once (ADI_ERR_NATS_AUTH), not after ADI_START_TIMEOUT of retries.
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { jetstream } from "@nats-io/jetstream";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { keepAliveTraffic } from "../../services/classifier/test/support/raw-batches.ts";
import { NatsServerFixture } from "../../test/support/nats-server.ts";
import type { NatsServerOptions } from "../../test/support/nats-server.ts";
import { startPipeline, stopAndReadLog } from "../../test/support/pipeline.ts";
import type { Pipeline } from "../../test/support/pipeline.ts";
import { AdiError } from "../src/errors.ts";
import { connectNats } from "../src/nats/connect.ts";
import type { NatsAuthSettings } from "../src/nats/auth.ts";
import { nkeyUser, operatorCreds, tlsFiles } from "./support/nats-credentials.ts";

const dir = mkdtempSync(join(tmpdir(), "adi-nats-auth-int-"));
const nkey = nkeyUser(dir);
const creds = operatorCreds(dir);
const tls = tlsFiles(dir);
const tlsBlock = (verify: boolean) =>
  `tls { cert_file: ${JSON.stringify(tls.serverCert)}, key_file: ${JSON.stringify(tls.serverKey)}, ca_file: ${JSON.stringify(tls.ca)}, verify: ${verify} }\n`;

interface Case {
  name: string;
  server: NatsServerOptions;
  /** NATS_URL from the server's URL, and the other NATS_* variables. */
  url: (serverUrl: string) => string;
  env: Record<string, string>;
  /** What a client without the credentials is told (the error line's end). */
  refused: RegExp;
}

const CASES: Case[] = [
  { name: "user and password in NATS_URL (--user/--pass)", server: { args: ["--user", "adi", "--pass", "pa:ss@word"] }, url: (u) => u.replace("://", "://adi:pa%3Ass%40word@"), env: {}, refused: /Authorization Violation/ },
  { name: "NATS_USER/NATS_PASSWORD", server: { args: ["--user", "adi", "--pass", "hunter2"] }, url: (u) => u, env: { NATS_USER: "adi", NATS_PASSWORD: "hunter2" }, refused: /Authorization Violation/ },
  { name: "a token in NATS_URL (--auth)", server: { args: ["--auth", "s3cr3t-token"] }, url: (u) => u.replace("://", "://s3cr3t-token@"), env: {}, refused: /Authorization Violation/ },
  { name: "NATS_TOKEN", server: { args: ["--auth", "s3cr3t-token"] }, url: (u) => u, env: { NATS_TOKEN: "s3cr3t-token" }, refused: /Authorization Violation/ },
  {
    name: "NATS_NKEY (an nkey user in the server's config)",
    server: { config: () => `authorization { users = [ { nkey: ${JSON.stringify(nkey.publicKey)} } ] }\n` },
    url: (u) => u,
    env: { NATS_NKEY: nkey.seedFile },
    refused: /Authorization Violation/,
  },
  { name: "NATS_CREDS (operator mode: user JWT and seed)", server: { config: () => creds.config }, url: (u) => u, env: { NATS_CREDS: creds.credsFile }, refused: /Authorization Violation/ },
  {
    name: "tls:// with NATS_CA",
    server: { scheme: "tls", config: () => tlsBlock(false) },
    url: (u) => u,
    env: { NATS_CA: tls.ca },
    refused: /self.signed certificate|unable to verify|certificate/i,
  },
  {
    name: "TLS verifying a client certificate: NATS_CA, NATS_CERT, NATS_KEY",
    server: { scheme: "tls", config: () => tlsBlock(true) },
    url: (u) => u,
    env: { NATS_CA: tls.ca, NATS_CERT: tls.clientCert, NATS_KEY: tls.clientKey },
    refused: /certificate/i,
  },
];

const servers: NatsServerFixture[] = [];
const pipes: Pipeline[] = [];
afterAll(async () => {
  for (const p of pipes) await p.nc.close().catch(() => undefined);
  for (const s of servers) await s.stop();
});

const quiet = pino({ level: "silent" });

describe.each(CASES)("an authenticating nats-server: $name", (c) => {
  let nats: NatsServerFixture;
  beforeAll(async () => {
    nats = await NatsServerFixture.start(c.server);
    servers.push(nats);
  });

  it("carries raw batches through classifier and mapper into the traffic log", async () => {
    const pipe = await startPipeline(c.url(nats.url), { capture: false, env: c.env });
    pipes.push(pipe);
    const js = jetstream(pipe.nc);
    for (const m of keepAliveTraffic({ host: pipe.cfg.host, partitions: pipe.cfg.partitions, conns: 2, exchanges: 3, t0Ns: BigInt(Date.now()) * 1_000_000n })) {
      await js.publish(m.subject, m.data, { msgID: m.msgId });
    }
    await pipe.waitForObservations(6);
    const lines = await stopAndReadLog(pipe);
    const requests = lines.filter((l) => l.method === "GET").map((l) => l.url).sort();
    expect(requests).toEqual(["/items/0/0", "/items/0/1", "/items/0/2", "/items/1/0", "/items/1/1", "/items/1/2"]);
  });

  it("refuses a client without its credentials at once, with ADI_ERR_NATS_AUTH and no secret in the message", async () => {
    // Without the authentication part (for TLS: without the CA, or without the client certificate).
    const without: NatsAuthSettings = c.env.NATS_CERT ? { ca: tls.ca } : {};
    const started = performance.now();
    const err = await connectNats({ servers: [nats.url], auth: without, name: "stranger", log: quiet, retryForMs: 90_000 }).then(
      () => undefined,
      (e: unknown) => e,
    );
    const tookMs = performance.now() - started;
    expect(err).toBeInstanceOf(AdiError);
    expect((err as AdiError).message).toMatch(c.refused);
    expect((err as AdiError).code).toBe("ADI_ERR_NATS_AUTH");
    expect((err as AdiError).exitCode).toBe(5);
    expect((err as AdiError).message).toContain(`${nats.url}: refused: `);
    // Not retried to the 90 s bound. A refused client certificate costs one attempt's timeout (nats.js reports it as
    // "timeout") and one probing dial: ~5 s idle, up to ~16 s seen on a loaded host.
    expect(tookMs).toBeLessThan(45_000);
    for (const secret of ["hunter2", "pa:ss@word", "s3cr3t-token"]) expect((err as AdiError).message).not.toContain(secret);
  });
});

describe("a wrong password or token", () => {
  it("is refused at once, and the error shows the URL's user but never the password or token", async () => {
    const nats = await NatsServerFixture.start({ args: ["--user", "adi", "--pass", "right-pw"] });
    servers.push(nats);
    const attempt = (servers: string[], auth: NatsAuthSettings = {}) =>
      connectNats({ servers, auth, name: "wrong", log: quiet, retryForMs: 30_000 }).then(
        () => undefined,
        (e: unknown) => e as AdiError,
      );
    const url = await attempt([nats.url.replace("://", "://adi:wr0ng-pw@")]);
    expect(url?.code).toBe("ADI_ERR_NATS_AUTH");
    expect(url?.message).toBe(`nats://adi:***@127.0.0.1:${nats.port}: refused: Authorization Violation`);
    const token = await attempt([nats.url.replace("://", "://wr0ng-token@")]);
    expect(token?.message).toBe(`nats://***@127.0.0.1:${nats.port}: refused: Authorization Violation`);
    const vars = await attempt([nats.url], { user: "adi", password: "wr0ng-pw" });
    expect(vars?.message).toBe(`nats://127.0.0.1:${nats.port}: refused: Authorization Violation`);
    const none = await attempt([nats.url]);
    expect(none?.message).toBe(`nats://127.0.0.1:${nats.port}: refused: Authorization Violation (no credentials were given)`);
  });
});
