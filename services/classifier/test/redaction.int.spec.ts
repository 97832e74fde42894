// The real classifier against a real nats-server: HTTP traffic carrying planted secrets in every place the issue
// found them (JSON and form bodies, the query, a response's access_token, credential headers, a folded
// Authorization line, a JWT by its look) is published to ADI_DERIVED without any of them. With ADI_REDACT_OFF=all
// the same traffic does carry them: the check below can fail.
import { jetstream } from "@nats-io/jetstream";
import { afterEach, describe, expect, it } from "vitest";
import { loadConfig, createLogger } from "@adi/shared";
import { connectNats, ensureStreams } from "@adi/shared/nats";
import { decodeDerivedBatch, type HttpExchange, encodeBatch, rawSubject } from "@adi/shared/wire";
import { NatsServerFixture } from "../../../test/support/nats-server.ts";
import { readStream } from "../../../test/support/stream.ts";
import { poll } from "../../../test/support/wait.ts";
import { startClassifier } from "../src/main.ts";
import { BOOT, connClose, connOpen, dataRecord } from "./support/raw-batches.ts";

const JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJwbGFudGVkIn0.UExBTlRFRC1TSUdOQVRVUkU";
const PLANTED = {
  jsonPassword: "PLANTED-json-password",
  formPassword: "PLANTED-form-password",
  queryToken: "PLANTED-query-token",
  accessToken: "PLANTED-access-token",
  session: "PLANTED-x-session",
  signature: "PLANTED-x-signature",
  hubSignature: "PLANTED-hub-signature",
  folded: "PLANTED-folded-authorization",
  cookie: "PLANTED-set-cookie",
  jwt: JWT,
};

const json = `{"user":"bob","password":"${PLANTED.jsonPassword}"}`;

/** Two exchanges on one keep-alive connection: a JSON login and a form token request. */
function traffic(): [request: string, response: string][] {
  const form = `grant_type=password&username=bob&password=${PLANTED.formPassword}`;
  const login =
    `POST /login?token=${PLANTED.queryToken}&next=%2F HTTP/1.1\r\nHost: api\r\nX-Session: ${PLANTED.session}\r\n` +
    `X-Signature: ${PLANTED.signature}\r\nX-Hub-Signature-256: sha256=${PLANTED.hubSignature}\r\nAuthorization: Basic\r\n ${PLANTED.folded}\r\n` +
    `X-Forwarded-Jwt: ${JWT}\r\nContent-Type: application/json\r\nContent-Length: ${json.length}\r\n\r\n${json}`;
  const loginOk = `{"access_token":"${PLANTED.accessToken}","token_type":"Bearer"}`;
  const token = `POST /oauth/token HTTP/1.1\r\nHost: api\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: ${form.length}\r\n\r\n${form}`;
  const tokenOk = "{}";
  return [
    [login, `HTTP/1.1 200 OK\r\nSet-Cookie: sid=${PLANTED.cookie}; HttpOnly\r\nContent-Length: ${loginOk.length}\r\n\r\n${loginOk}`],
    [token, `HTTP/1.1 200 OK\r\nContent-Length: ${tokenOk.length}\r\n\r\n${tokenOk}`],
  ];
}

let nats: NatsServerFixture | undefined;
afterEach(async () => {
  await nats?.stop();
  nats = undefined;
});

/** Runs a classifier with `env` over the traffic; returns ADI_DERIVED's messages (text) and the exchanges. */
async function classify(env: Record<string, string>): Promise<{ text: string; exchanges: HttpExchange[] }> {
  nats = await NatsServerFixture.start();
  const log = createLogger("redaction-test", "silent");
  const nc = await connectNats({ servers: [nats.url], name: "test", log });
  await ensureStreams(nc, { maxAgeMs: 86_400_000, maxBytes: -1, replicas: 1, partitions: 1 });
  const cfg = loadConfig({ NATS_URL: nats.url, LOG_LEVEL: "silent", ADI_PARTITIONS: "1", ...env });
  const classifier = await startClassifier(cfg, nc, log);
  try {
    let ts = BigInt(Date.now()) * 1_000_000n;
    const next = () => (ts += 1_000_000n);
    const records = [connOpen(9n, 8080, next())];
    for (const [request, response] of traffic()) records.push(dataRecord(9n, 8080, "egress", request, next()), dataRecord(9n, 8080, "ingress", response, next()));
    records.push(connClose(9n, 8080, next()));
    const js = jetstream(nc);
    await js.publish(rawSubject("hostr", 0), encodeBatch({ recordCount: records.length, partition: 0, flags: 0, seq: 1n, bootId: BOOT }, records));
    const stored = await poll(() => readStream(nc, "ADI_DERIVED"), (m) => m.length > 0, 20_000);
    const text = stored.map((m) => Buffer.from(m.data).toString("utf8")).join("\n");
    const exchanges = stored.flatMap((m) => decodeDerivedBatch(m.data).observations).filter((d): d is HttpExchange => d.type === "http_exchange");
    return { text, exchanges };
  } finally {
    await classifier.stop();
    await nc.close();
  }
}

describe("classifier publishes redacted exchanges to ADI_DERIVED", () => {
  it("holds none of the planted secrets, everything else as captured", async () => {
    const { text, exchanges } = await classify({});
    for (const [where, secret] of Object.entries(PLANTED)) expect(text.includes(secret), where).toBe(false);
    expect(exchanges.map((e) => e.request.target)).toEqual(["/login?token=[REDACTED]&next=%2F", "/oauth/token"]);
    expect(exchanges[0]!.request.headers).toEqual([
      ["Host", "api"],
      ["X-Session", "[REDACTED]"],
      ["X-Signature", "[REDACTED]"],
      ["X-Hub-Signature-256", "[REDACTED]"],
      ["Authorization", "[REDACTED]"],
      ["X-Forwarded-Jwt", "[REDACTED]"],
      ["Content-Type", "application/json"],
      ["Content-Length", String(json.length)],
    ]);
    expect(exchanges[0]!.request.body).toBe('{"user":"bob","password":"[REDACTED]"}');
    expect(exchanges[0]!.request.raw).toContain("\r\nAuthorization: [REDACTED]\r\n [REDACTED]\r\n");
    expect(exchanges[0]!.response!.body).toBe('{"access_token":"[REDACTED]","token_type":"Bearer"}');
    expect(exchanges[0]!.response!.raw).toContain("Set-Cookie: [REDACTED]\r\n");
    expect(exchanges[1]!.request.body).toBe("grant_type=password&username=bob&password=[REDACTED]");
    expect(exchanges[1]!.request.raw.endsWith("\r\n\r\ngrant_type=password&username=bob&password=[REDACTED]")).toBe(true);
  });

  it("holds them all with ADI_REDACT_OFF=all (the check above detects a leak)", async () => {
    const { text } = await classify({ ADI_REDACT_OFF: "all" });
    for (const [where, secret] of Object.entries(PLANTED)) expect(text.includes(secret), where).toBe(true);
  });
});
