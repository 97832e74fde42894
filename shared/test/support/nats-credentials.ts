// Credentials for tests against authenticated nats-servers, made offline in a temporary directory: an nkey user, a
// decentralized-auth chain (operator, account with JetStream, user) written as a .creds file the way `nsc` writes
// it, and a TLS CA with a server certificate (127.0.0.1) and a client certificate made with openssl.
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { nkeys } from "@nats-io/transport-node";

type KeyPair = ReturnType<typeof nkeys.createUser>;
const utf8 = new TextEncoder();
const b64url = (b: Uint8Array | string) => Buffer.from(b).toString("base64url");

/** A user nkey: its seed written (0600) to `dir`/`name`, and its public key for the server's config. */
export function nkeyUser(dir: string, name = "user.nk"): { seedFile: string; publicKey: string } {
  const kp = nkeys.createUser();
  const seedFile = join(dir, name);
  writeFileSync(seedFile, `${new TextDecoder().decode(kp.getSeed())}\n`, { mode: 0o600 });
  return { seedFile, publicKey: kp.getPublicKey() };
}

/**
 * A NATS JWT (github.com/nats-io/jwt v2): header {typ: JWT, alg: ed25519-nkey}, the claims, and the ed25519 signature
 * of `header.claims` by `issuer`, each base64url. What `nsc` signs; nats-server checks the signature and the chain.
 */
function natsJwt(issuer: KeyPair, subject: string, name: string, nats: Record<string, unknown>): string {
  const header = b64url(JSON.stringify({ typ: "JWT", alg: "ed25519-nkey" }));
  const claims = {
    jti: randomBytes(16).toString("hex").toUpperCase(),
    iat: Math.floor(Date.now() / 1000),
    iss: issuer.getPublicKey(),
    name,
    sub: subject,
    nats: { ...nats, version: 2 },
  };
  const body = b64url(JSON.stringify(claims));
  return `${header}.${body}.${b64url(issuer.sign(utf8.encode(`${header}.${body}`)))}`;
}

/**
 * Operator mode: an operator, an account allowed JetStream (unlimited), a user of that account; the .creds file of
 * the user, and the server configuration lines that trust the chain (operator JWT, a system account, memory
 * resolver with both accounts preloaded).
 */
export function operatorCreds(dir: string): { credsFile: string; config: string } {
  const operator = nkeys.createOperator();
  const account = nkeys.createAccount();
  // JetStream needs a system account in operator mode (nats-server: "system account not setup").
  const system = nkeys.createAccount();
  const user = nkeys.createUser();
  const operatorJwt = natsJwt(operator, operator.getPublicKey(), "adi-test-op", { type: "operator" });
  const unlimited = { subs: -1, data: -1, payload: -1, imports: -1, exports: -1, wildcards: true, conn: -1, leaf: -1 };
  const jetstream = { mem_storage: -1, disk_storage: -1, streams: -1, consumer: -1 };
  const accountJwt = natsJwt(operator, account.getPublicKey(), "adi-test-acc", {
    type: "account",
    limits: { ...unlimited, ...jetstream },
    default_permissions: { pub: {}, sub: {} },
  });
  const systemJwt = natsJwt(operator, system.getPublicKey(), "SYS", { type: "account", limits: unlimited, default_permissions: { pub: {}, sub: {} } });
  const userJwt = natsJwt(account, user.getPublicKey(), "adi-test-user", { type: "user", pub: {}, sub: {}, subs: -1, data: -1, payload: -1 });
  const credsFile = join(dir, "user.creds");
  writeFileSync(
    credsFile,
    [
      "-----BEGIN NATS USER JWT-----",
      userJwt,
      "------END NATS USER JWT------",
      "",
      "************************* IMPORTANT *************************",
      "NKEY Seed printed below can be used to sign and prove identity.",
      "NKEYs are sensitive and should be treated as secrets.",
      "",
      "-----BEGIN USER NKEY SEED-----",
      new TextDecoder().decode(user.getSeed()),
      "------END USER NKEY SEED------",
      "",
    ].join("\n"),
    { mode: 0o600 },
  );
  const operatorFile = join(dir, "operator.jwt");
  writeFileSync(operatorFile, operatorJwt);
  const config = [
    `operator: ${JSON.stringify(operatorFile)}`,
    `system_account: ${system.getPublicKey()}`,
    "resolver: MEMORY",
    `resolver_preload: { ${account.getPublicKey()}: ${JSON.stringify(accountJwt)}, ${system.getPublicKey()}: ${JSON.stringify(systemJwt)} }`,
    "",
  ].join("\n");
  return { credsFile, config };
}

export interface TlsFiles {
  ca: string;
  serverCert: string;
  serverKey: string;
  clientCert: string;
  clientKey: string;
}

/** A CA (EC P-256, 1 day), a server certificate for 127.0.0.1/localhost and a client certificate, signed by it. */
export function tlsFiles(dir: string): TlsFiles {
  const f = (name: string) => join(dir, name);
  const openssl = (...args: string[]) => execFileSync("openssl", args, { stdio: ["ignore", "ignore", "pipe"] });
  const ecKey = (out: string) => openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", out);
  ecKey(f("ca.key"));
  openssl("req", "-x509", "-new", "-key", f("ca.key"), "-subj", "/CN=adi test CA", "-days", "1", "-out", f("ca.pem"), "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign");
  const leaf = (name: string, cn: string, ext: string) => {
    ecKey(f(`${name}.key`));
    openssl("req", "-new", "-key", f(`${name}.key`), "-subj", `/CN=${cn}`, "-out", f(`${name}.csr`));
    writeFileSync(f(`${name}.ext`), ext);
    openssl("x509", "-req", "-in", f(`${name}.csr`), "-CA", f("ca.pem"), "-CAkey", f("ca.key"), "-CAcreateserial", "-days", "1", "-extfile", f(`${name}.ext`), "-out", f(`${name}.pem`));
  };
  leaf("server", "127.0.0.1", "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n");
  leaf("client", "adi-test-client", "extendedKeyUsage=clientAuth\n");
  return { ca: f("ca.pem"), serverCert: f("server.pem"), serverKey: f("server.key"), clientCert: f("client.pem"), clientKey: f("client.key") };
}
