// The embedded broker's key on a real file system (issue 11): made once with mode 0600, reused as it is, and a file
// that cannot be trusted (others may read it, someone else owns it, a symbolic link, no seed in it) refused with
// ADI_ERR_DATA_DIR and left untouched.
import { chmodSync, chownSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { nkeys } from "@nats-io/transport-node";
import { afterAll, describe, expect, it } from "vitest";
import { AdiError } from "../src/errors.ts";
import { embeddedNatsFiles, embeddedServerConfig, embeddedUserKey } from "../src/nats/embedded-server.ts";

const dir = mkdtempSync(join(tmpdir(), "adi-embedded-key-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function refusal(file: string): AdiError {
  try {
    embeddedUserKey(file);
  } catch (err) {
    if (err instanceof AdiError) return err;
    throw err;
  }
  throw new Error("embeddedUserKey did not refuse");
}

describe("embeddedUserKey", () => {
  it("makes a user key once (0600) and reads the same one afterwards", () => {
    const file = join(dir, "made.nk");
    const first = embeddedUserKey(file);
    expect(first.created).toBe(true);
    expect(first.publicKey).toMatch(/^U[A-Z2-7]{55}$/);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const seed = readFileSync(file, "utf8");
    expect(nkeys.fromSeed(new TextEncoder().encode(seed.trim())).getPublicKey()).toBe(first.publicKey);
    expect(embeddedUserKey(file)).toEqual({ publicKey: first.publicKey, created: false });
    expect(readFileSync(file, "utf8")).toBe(seed);
  });

  it("refuses a key file it cannot trust, and leaves it as it is", () => {
    const good = join(dir, "good.nk");
    const { publicKey } = embeddedUserKey(good);
    expect(publicKey).toMatch(/^U/);

    const shared = join(dir, "shared.nk");
    writeFileSync(shared, readFileSync(good));
    chmodSync(shared, 0o604);
    const e = refusal(shared);
    expect(e.code).toBe("ADI_ERR_DATA_DIR");
    expect(e.exitCode).toBe(2);
    expect(e.message).toBe(`${shared} (the embedded broker's key; mode 0604, owner uid ${process.geteuid!()}) is readable or writable by group or others`);
    expect(statSync(shared).mode & 0o777).toBe(0o604);

    const link = join(dir, "link.nk");
    symlinkSync(good, link);
    expect(refusal(link).message).toMatch(/^.*link\.nk \(the embedded broker's key; mode 0777, owner uid \d+\) is a symbolic link$/);

    const empty = join(dir, "empty.nk");
    writeFileSync(empty, "not a seed\n", { mode: 0o600 });
    expect(refusal(empty).message).toBe(`${empty} (the embedded broker's key) holds no user nkey seed`);

    if (process.geteuid!() === 0) {
      const theirs = join(dir, "theirs.nk");
      writeFileSync(theirs, readFileSync(good), { mode: 0o600 });
      chownSync(theirs, 65534, 65534);
      expect(refusal(theirs).message).toBe(`${theirs} (the embedded broker's key; mode 0600, owner uid 65534) is not owned by the user adi runs as`);
      expect(statSync(theirs).uid).toBe(65534);
    }
  });
});

describe("embeddedServerConfig", () => {
  it("listens on loopback only, stores JetStream under ADI_DATA_DIR, admits one nkey user", () => {
    const files = embeddedNatsFiles("/var/lib/adi");
    expect(files).toEqual({ dir: "/var/lib/adi/nats", nkeyFile: "/var/lib/adi/nats/adi-user.nk", configFile: "/var/lib/adi/nats/server.conf" });
    expect(embeddedServerConfig({ port: 4223, storeDir: files.dir, publicKey: "UABC" }).split("\n")).toEqual([
      "# Written by adi at each start of its embedded nats-server (ADI_DATA_DIR, ADI_NATS_PORT): edits are replaced.",
      'listen: "127.0.0.1:4223"',
      'jetstream { store_dir: "/var/lib/adi/nats" }',
      'authorization { users = [ { nkey: "UABC" } ] }',
      "",
    ]);
  });
});
