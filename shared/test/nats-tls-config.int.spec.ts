// TLS files given to adi are checked at start as node's TLS will read them (issue 11: a garbage NATS_CERT, or a
// certificate and key that do not match, were accepted and then retried for ADI_START_TIMEOUT before failing with
// a misleading line). Files made with openssl, as in the broker tests.
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { loadConfig } from "../src/config.ts";
import { AdiError } from "../src/errors.ts";
import { tlsFiles } from "./support/nats-credentials.ts";

const dir = mkdtempSync(join(tmpdir(), "adi-tls-config-"));
const tls = tlsFiles(dir);
const garbage = join(dir, "garbage.pem");
writeFileSync(garbage, "-----BEGIN CERTIFICATE-----\nnot base64 at all\n-----END CERTIFICATE-----\n");
const NATS_URL = "tls://127.0.0.1:4222";

function refusal(env: Record<string, string>): string {
  try {
    loadConfig({ NATS_URL, ...env });
  } catch (err) {
    expect(err).toBeInstanceOf(AdiError);
    expect((err as AdiError).code).toBe("ADI_ERR_CONFIG");
    return (err as Error).message;
  }
  throw new Error("accepted");
}

describe("TLS settings checked at start", () => {
  it("accepts a CA, and a client certificate with its own key", () => {
    expect(loadConfig({ NATS_URL, NATS_CA: tls.ca, NATS_CERT: tls.clientCert, NATS_KEY: tls.clientKey }).natsAuth).toMatchObject({ ca: tls.ca, cert: tls.clientCert, key: tls.clientKey });
  });

  it.each([
    ["a CA file that is no certificate", { NATS_CA: garbage }, `NATS_CA=${JSON.stringify(garbage)}: holds no PEM certificate (-----BEGIN CERTIFICATE-----)`],
    ["a private key given as the CA", { NATS_CA: tls.clientKey }, `NATS_CA=${JSON.stringify(tls.clientKey)}: holds no PEM certificate (-----BEGIN CERTIFICATE-----)`],
    ["a client certificate that is garbage", { NATS_CERT: garbage, NATS_KEY: tls.clientKey }, `NATS_CERT=${JSON.stringify(garbage)}: holds no PEM certificate (-----BEGIN CERTIFICATE-----)`],
    ["a key that is a certificate", { NATS_CERT: tls.clientCert, NATS_KEY: tls.clientCert }, `NATS_KEY=${JSON.stringify(tls.clientCert)}: holds no PEM private key`],
    [
      "a certificate with another certificate's key",
      { NATS_CERT: tls.clientCert, NATS_KEY: tls.serverKey },
      `NATS_KEY=${JSON.stringify(tls.serverKey)} is not the private key of NATS_CERT=${JSON.stringify(tls.clientCert)}'s certificate`,
    ],
  ])("refuses %s in one line (ADI_ERR_CONFIG)", (_what, env, message) => {
    expect(refusal(env)).toBe(message);
  });
});
