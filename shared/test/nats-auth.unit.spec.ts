// NATS client settings (issue 11): the nats CLI's variables turned into nats.js options, conflicts refused by name,
// and no secret in a URL shown anywhere.
import { chmodSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { nkeys } from "@nats-io/transport-node";
import { describe, expect, it } from "vitest";
import { loadConfig } from "../src/config.ts";
import { AdiError } from "../src/errors.ts";
import { describeServers, maskUrlUserinfo, natsAuthMethod, natsClientOptions, natsSettingsConflict, stripUserinfo, userinfoOf } from "../src/nats/auth.ts";

const dir = mkdtempSync(join(tmpdir(), "adi-nats-auth-"));
const seed = new TextDecoder().decode(nkeys.createUser().getSeed());
const seedFile = join(dir, "user.nk");
writeFileSync(seedFile, `${seed}\n`, { mode: 0o600 });
const credsFile = join(dir, "user.creds");
writeFileSync(
  credsFile,
  `-----BEGIN NATS USER JWT-----\neyJhbGciOiJlZDI1NTE5LW5rZXkiLCJ0eXAiOiJKV1QifQ.e30.c2ln\n------END NATS USER JWT------\n\n-----BEGIN USER NKEY SEED-----\n${seed}\n------END USER NKEY SEED------\n`,
);
const pem = join(dir, "ca.pem");
// A real (self-signed, P-256) certificate: loadConfig parses NATS_CA and NATS_CERT as node's TLS will.
writeFileSync(pem, "-----BEGIN CERTIFICATE-----\nMIIBgjCCASmgAwIBAgIURwWetcu1BBUkVvi/W0Hu94nXHX4wCgYIKoZIzj0EAwIw\nFjEUMBIGA1UEAwwLYWRpLXRlc3QtY2EwIBcNMjYxMTMwMjM0NzM1WhgPMjEyNjEx\nMDYyMzQ3MzVaMBYxFDASBgNVBAMMC2FkaS10ZXN0LWNhMFkwEwYHKoZIzj0CAQYI\nKoZIzj0DAQcDQgAE83w9dZhnMCySg+B6Sryt8FZNWAS9IDt/bDz1jnZ0QJVHqVwB\ntkr/T4V+lDPS7s5W+tmnpDgLklP3aHcMOqTGZ6NTMFEwHQYDVR0OBBYEFCFDI0y7\nsfRlGva/Kc+LpcfK+8gIMB8GA1UdIwQYMBaAFCFDI0y7sfRlGva/Kc+LpcfK+8gI\nMA8GA1UdEwEB/wQFMAMBAf8wCgYIKoZIzj0EAwIDRwAwRAIge9JtxINTUZue2Bkj\n6H8VULYZ5/wK95/q2EGJVjp7VjECID4UMYhL+ipK5po5ijcg5v2hkao2X2JnjqjM\nLdr0eQtt\n-----END CERTIFICATE-----\n");

function configError(env: NodeJS.ProcessEnv): AdiError {
  try {
    loadConfig(env);
  } catch (err) {
    if (err instanceof AdiError) return err;
    throw err;
  }
  throw new Error(`loadConfig did not throw`);
}

describe("URL userinfo", () => {
  it("is read percent-decoded, to the last @ (an unencoded @ in a password)", () => {
    expect(userinfoOf("nats://alice:s%3Acret@h:4222")).toEqual({ user: "alice", password: "s:cret" });
    expect(userinfoOf("nats://alice:p@ss@h:4222")).toEqual({ user: "alice", password: "p@ss" });
    expect(userinfoOf("nats://t0ken@h:4222")).toEqual({ user: "t0ken" });
    expect(userinfoOf("nats://h:4222")).toBeUndefined();
    expect(userinfoOf("h:4222")).toBeUndefined();
  });

  it("is stripped from what is dialled", () => {
    expect(stripUserinfo("nats://alice:p@ss@h:4222")).toBe("nats://h:4222");
    expect(stripUserinfo("tls://t0ken@h:4222")).toBe("tls://h:4222");
    expect(stripUserinfo("nats://h:4222")).toBe("nats://h:4222");
  });

  it("is masked in any text: the user kept, password and token never", () => {
    expect(maskUrlUserinfo("nats://alice:hunter2@h:4222")).toBe("nats://alice:***@h:4222");
    expect(maskUrlUserinfo("nats://alice:p@ss@h:4222/x")).toBe("nats://alice:***@h:4222/x");
    expect(maskUrlUserinfo("nats://s3cr3t@h:4222")).toBe("nats://***@h:4222");
    expect(maskUrlUserinfo(`connect to "tls://a:b@h1:1,nats://tok@h2:2" failed`)).toBe(`connect to "tls://a:***@h1:1,nats://***@h2:2" failed`);
    expect(maskUrlUserinfo("mail bob@example.com at nats://h:4222")).toBe("mail bob@example.com at nats://h:4222");
    expect(describeServers(["nats://a:b@h1:1", "nats://h2:2"])).toBe("nats://a:***@h1:1,nats://h2:2");
  });
});

describe("natsClientOptions", () => {
  const read = (path: string) => new TextEncoder().encode(path === seedFile ? seed : `creds of ${path}`);

  it("an open server: servers only", () => {
    expect(natsClientOptions(["nats://h:4222", "h2:4222"], {})).toEqual({ servers: ["nats://h:4222", "h2:4222"] });
  });

  it("user and password in the URL: a user/password authenticator, the URL without them", () => {
    const o = natsClientOptions(["nats://alice:p%40ss@h:4222"], {}, read);
    expect(o.servers).toEqual(["nats://h:4222"]);
    expect(o.authenticator!()).toEqual({ user: "alice", pass: "p@ss" });
    expect(o.tls).toBeUndefined();
  });

  it("a token in the URL (a user and no password, as the Go client reads it)", () => {
    const o = natsClientOptions(["nats://s3cr3t@h:4222"], {}, read);
    expect(o.servers).toEqual(["nats://h:4222"]);
    expect(o.authenticator!()).toEqual({ auth_token: "s3cr3t" });
  });

  it("NATS_USER/NATS_PASSWORD and NATS_TOKEN", () => {
    expect(natsClientOptions(["nats://h:1"], { user: "bob", password: "pw" }).authenticator!()).toEqual({ user: "bob", pass: "pw" });
    expect(natsClientOptions(["nats://h:1"], { token: "tk" }).authenticator!()).toEqual({ auth_token: "tk" });
  });

  it("NATS_NKEY: signs the server's nonce with the seed's key", () => {
    const o = natsClientOptions(["nats://h:1"], { nkey: seedFile }, read);
    const auth = o.authenticator!("bm9uY2U") as { nkey: string; sig: string };
    const kp = nkeys.fromSeed(new TextEncoder().encode(seed));
    expect(auth.nkey).toBe(kp.getPublicKey());
    expect(kp.verify(new TextEncoder().encode("bm9uY2U"), Buffer.from(auth.sig, "base64url"))).toBe(true);
  });

  it("NATS_CREDS: the JWT of the file, the nonce signed with its seed", () => {
    const o = natsClientOptions(["nats://h:1"], { creds: credsFile });
    const auth = o.authenticator!("bm9uY2U") as { jwt: string; nkey: string; sig: string };
    expect(auth.jwt).toBe("eyJhbGciOiJlZDI1NTE5LW5rZXkiLCJ0eXAiOiJKV1QifQ.e30.c2ln");
    expect(auth.nkey).toBe(nkeys.fromSeed(new TextEncoder().encode(seed)).getPublicKey());
  });

  it("TLS: required by tls://, by NATS_CA, with the client certificate by NATS_CERT/NATS_KEY", () => {
    expect(natsClientOptions(["tls://h:1"], {}).tls).toEqual({});
    expect(natsClientOptions(["nats://h:1"], { ca: "/ca.pem" }).tls).toEqual({ caFile: "/ca.pem" });
    expect(natsClientOptions(["tls://h:1"], { ca: "/ca.pem", cert: "/c.pem", key: "/k.pem" }).tls).toEqual({ caFile: "/ca.pem", certFile: "/c.pem", keyFile: "/k.pem" });
    expect(natsClientOptions(["nats://h:1"], {}).tls).toBeUndefined();
  });

  it("refuses two methods, naming variables and never values", () => {
    const cases: [string[], Parameters<typeof natsSettingsConflict>[1], string][] = [
      [["nats://h:1"], { token: "tk", user: "u", password: "pw" }, "NATS_USER/NATS_PASSWORD and NATS_TOKEN are both set: use one authentication method"],
      [["nats://u:pw@h:1"], { creds: "/x.creds" }, "NATS_CREDS and NATS_URL's user:password@ are both set: use one authentication method"],
      [["nats://tk@h:1"], { nkey: "/x.nk" }, "NATS_NKEY and NATS_URL's token@ are both set: use one authentication method"],
      [["nats://h:1"], { password: "pw" }, "NATS_PASSWORD is set without NATS_USER"],
      [["nats://h:1"], { cert: "/c.pem" }, "NATS_CERT and NATS_KEY go together: set both (a client certificate and its key) or neither"],
      [["nats://h:1"], { key: "/k.pem" }, "NATS_CERT and NATS_KEY go together: set both (a client certificate and its key) or neither"],
      [["nats://a:pw@h:1", "nats://b:pw@h:2"], {}, "NATS_URL: the servers carry different user:password@ or token@: give them once, the same for every server"],
    ];
    for (const [servers, s, why] of cases) {
      expect(natsSettingsConflict(servers, s)).toBe(why);
      expect(() => natsClientOptions(servers, s)).toThrow(why);
    }
    expect(natsSettingsConflict(["nats://a:pw@h:1", "nats://a:pw@h:2"], {})).toBeNull();
  });

  it("names the method the settings select", () => {
    expect(natsAuthMethod(["nats://h:1"], {})).toBeUndefined();
    expect(natsAuthMethod(["nats://h:1"], { creds: "/c" })).toBe("creds");
    expect(natsAuthMethod(["nats://h:1"], { user: "u", password: "p" })).toBe("user");
    expect(natsAuthMethod(["nats://u:p@h:1"], {})).toBe("url-user");
    expect(natsAuthMethod(["nats://t@h:1"], {})).toBe("url-token");
  });
});

describe("loadConfig: the NATS client settings", () => {
  const url = "nats://127.0.0.1:4222";

  it("are read after validation, frozen", () => {
    const cfg = loadConfig({ NATS_URL: url, NATS_NKEY: seedFile, NATS_CA: pem });
    expect(cfg.natsAuth).toEqual({ nkey: seedFile, ca: pem, creds: undefined, user: undefined, password: undefined, token: undefined, cert: undefined, key: undefined });
    expect(Object.isFrozen(cfg.natsAuth)).toBe(true);
    expect(loadConfig({ NATS_URL: url, NATS_CREDS: credsFile }).natsAuth.creds).toBe(credsFile);
    expect(loadConfig({ NATS_URL: url, NATS_USER: "u", NATS_PASSWORD: " p w " }).natsAuth).toMatchObject({ user: "u", password: " p w " });
  });

  it("refuse a file that cannot be read, or does not hold what it should", () => {
    expect(configError({ NATS_URL: url, NATS_CREDS: join(dir, "missing.creds") }).message).toBe(`NATS_CREDS="${join(dir, "missing.creds")}": cannot be read: ENOENT`);
    expect(configError({ NATS_URL: url, NATS_CA: dir }).message).toBe(`NATS_CA="${dir}": cannot be read: not a regular file`);
    expect(configError({ NATS_URL: url, NATS_NKEY: pem }).message).toBe(`NATS_NKEY="${pem}": holds no user nkey seed (a line SU..., as \`nsc\` or \`nk -gen user\` writes)`);
    expect(configError({ NATS_URL: url, NATS_CREDS: seedFile }).message).toBe(`NATS_CREDS="${seedFile}": is not a .creds file (a NATS USER JWT and a USER NKEY SEED block)`);
    const unreadable = join(dir, "unreadable.pem");
    writeFileSync(unreadable, "x");
    chmodSync(unreadable, 0o000);
    // root reads anything: the check is access(2)'s, which says what the process may do.
    if (process.geteuid?.() !== 0) expect(configError({ NATS_URL: url, NATS_CA: unreadable }).message).toBe(`NATS_CA="${unreadable}": cannot be read: EACCES`);
  });

  it("refuse conflicts with an exit code 2 line that holds no password or token", () => {
    const e = configError({ NATS_URL: "nats://alice:hunter2@h:4222", NATS_TOKEN: "t0psecret" });
    expect(e.code).toBe("ADI_ERR_CONFIG");
    expect(e.exitCode).toBe(2);
    expect(e.message).toBe("NATS_TOKEN and NATS_URL's user:password@ are both set: use one authentication method");
    expect(configError({ NATS_URL: url, NATS_CERT: pem }).message).toBe("NATS_CERT and NATS_KEY go together: set both (a client certificate and its key) or neither");
    expect(configError({ NATS_URL: url, NATS_PASSWORD: "hunter2" }).message).toBe("NATS_PASSWORD is set without NATS_USER");
  });

  it("refuse client settings without NATS_URL (the embedded server has its own key)", () => {
    expect(configError({ NATS_TOKEN: "t0psecret", NATS_CA: pem }).message).toBe(
      "NATS_TOKEN, NATS_CA set without NATS_URL: they apply to a NATS server you name; the embedded server (NATS_URL unset) uses its own key under ADI_DATA_DIR",
    );
  });

  it("never echo a URL's password or token in an invalid NATS_URL", () => {
    const token = configError({ NATS_URL: "nats://t0psecret@" }).message;
    expect(token).not.toContain("t0psecret");
    expect(token).toMatch(/^NATS_URL="nats:\/\/\*\*\*@": expected a NATS URL/);
    const pw = configError({ NATS_URL: "nats://alice:hunter2@,x y" }).message;
    expect(pw).not.toContain("hunter2");
    expect(pw).toMatch(/^NATS_URL="nats:\/\/alice:\*\*\*@,x y": expected a NATS URL/);
  });
});
