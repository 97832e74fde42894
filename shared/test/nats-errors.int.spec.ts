// What each NATS error means (shared/src/nats/errors.ts), asserted on the errors nats.js really throws against real
// nats-servers: a missing stream or consumer, a name taken, nobody answering, a broker that stalls, a server without
// JetStream, a closed connection, a refused password, TLS that cannot be agreed, a server not there. Run after a
// nats.js or nats-server upgrade: a class, code or text moved shows here, not as a service retrying the wrong thing.
import { spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { AckPolicy, DeliverPolicy, jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import type { NatsConnection } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort, NatsServerFixture, waitForPort } from "../../test/support/nats-server.ts";
import { findNatsServer } from "../src/nats/embedded-server.ts";
import {
  isAlreadyExists,
  isAuthorizationRefusal,
  isBrokerError,
  isConsumerNotFound,
  isJetStreamNotEnabled,
  isNoResponders,
  isPermanentRefusal,
  isStreamNotFound,
  isTimeout,
  isTransient,
  jetStreamApiCode,
} from "../src/nats/errors.ts";
import { tlsFiles } from "./support/nats-credentials.ts";

const CLASSIFIERS = {
  isStreamNotFound,
  isConsumerNotFound,
  isAlreadyExists,
  isTimeout,
  isNoResponders,
  isJetStreamNotEnabled,
  isTransient,
  isAuthorizationRefusal,
  isPermanentRefusal,
  isBrokerError,
};
type Name = keyof typeof CLASSIFIERS;

/** The error `action` rejects with (the test fails if it resolves). */
async function failure(action: () => Promise<unknown>): Promise<unknown> {
  let result: unknown;
  try {
    result = await action();
  } catch (err) {
    return err;
  }
  throw new Error(`expected a rejection, got ${String(result)}`);
}

/** Every classifier's answer for `err`: exactly the names in `yes` are true. */
function expectExactly(err: unknown, yes: readonly Name[]): void {
  const got = Object.fromEntries(Object.entries(CLASSIFIERS).map(([name, f]) => [name, f(err)]));
  const want = Object.fromEntries(Object.keys(CLASSIFIERS).map((name) => [name, yes.includes(name as Name)]));
  expect(got).toEqual(want);
}

describe("NATS errors classified by nats.js's classes and JetStream API codes (real nats-server)", () => {
  let server: NatsServerFixture;
  let nc: NatsConnection;

  beforeAll(async () => {
    server = await NatsServerFixture.start();
    nc = await connect({ servers: server.url });
    const jsm = await jetstreamManager(nc);
    await jsm.streams.add({ name: "KNOWN", subjects: ["known.>"] });
  });

  afterAll(async () => {
    await nc?.close();
    await server?.stop();
  });

  it("stream info of a missing stream: stream not found (err_code 10059), nothing to retry", async () => {
    const jsm = await jetstreamManager(nc);
    const err = await failure(() => jsm.streams.info("MISSING"));
    expect(jetStreamApiCode(err)).toBe(10059);
    expectExactly(err, ["isStreamNotFound", "isBrokerError"]);
  });

  it("consumer info of a missing consumer: consumer not found (10014), not a missing stream", async () => {
    const jsm = await jetstreamManager(nc);
    const err = await failure(() => jsm.consumers.info("KNOWN", "missing"));
    expect(jetStreamApiCode(err)).toBe(10014);
    expectExactly(err, ["isConsumerNotFound", "isBrokerError"]);
  });

  it("adding a stream whose name is taken with another configuration: already exists (10058)", async () => {
    const jsm = await jetstreamManager(nc);
    const err = await failure(() => jsm.streams.add({ name: "KNOWN", subjects: ["other.>"] }));
    expect(jetStreamApiCode(err)).toBe(10058);
    expectExactly(err, ["isAlreadyExists", "isBrokerError"]);
  });

  it("a consumer update the server refuses (another deliver policy) is not taken for 'already exists'", async () => {
    const jsm = await jetstreamManager(nc);
    await jsm.consumers.add("KNOWN", { durable_name: "d", ack_policy: AckPolicy.Explicit });
    const err = await failure(() => jsm.consumers.add("KNOWN", { durable_name: "d", ack_policy: AckPolicy.Explicit, deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: 5 }));
    expect(jetStreamApiCode(err)).toBeGreaterThan(10000);
    expectExactly(err, ["isBrokerError"]);
  });

  it("a request nobody subscribes to: no responders, retried (transient)", async () => {
    const err = await failure(() => nc.request("nobody.listens", "x", { timeout: 2000 }));
    expectExactly(err, ["isNoResponders", "isTransient", "isBrokerError"]);
  });

  it("a request a subscriber never answers: timeout, retried", async () => {
    const sub = nc.subscribe("silent.service", { callback: () => undefined });
    await nc.flush();
    const err = await failure(() => nc.request("silent.service", "x", { timeout: 200 }));
    sub.unsubscribe();
    expectExactly(err, ["isTimeout", "isTransient", "isBrokerError"]);
  });

  it("a JetStream API call to a stalled broker (SIGSTOP): timeout, retried", async () => {
    const jsm = await jetstreamManager(nc, { timeout: 300 });
    server.pause();
    // SIGSTOP lands asynchronously: a request sent before every thread of the server stopped could still be answered.
    for (let i = 0; i < 100 && !/^\d+ \(.*\) T/.test(readFileSync(`/proc/${server.pid}/stat`, "utf8")); i++) await sleep(10);
    try {
      const err = await failure(() => jsm.streams.info("KNOWN"));
      expectExactly(err, ["isTimeout", "isTransient", "isBrokerError"]);
    } finally {
      server.resume();
    }
    await nc.flush();
  });

  it("a closed connection: a broker error, not retried", async () => {
    const other = await connect({ servers: server.url });
    await other.close();
    const err = await failure(() => other.request("anything", "x"));
    expectExactly(err, ["isBrokerError"]);
  });

  it("errors that are not NATS's (a bug, an errno, a non-Error) are none of these", async () => {
    expectExactly(new TypeError("undefined is not a function"), []);
    expectExactly(Object.assign(new Error("timeout"), { name: "TimeoutError" }), []); // named like one, is not one
    expectExactly("stream not found", []);
    expectExactly(undefined, []);
  });
});

describe("a server without JetStream", () => {
  let child: ChildProcess | undefined;
  afterAll(() => {
    child?.kill("SIGTERM");
  });

  it("a JetStream call: JetStream not enabled (no responders underneath), not retried: waiting will not add it", async () => {
    const port = await freePort();
    child = spawn(findNatsServer() ?? "nats-server", ["-a", "127.0.0.1", "-p", String(port)], { stdio: "ignore" });
    await waitForPort(port);
    const plain = await connect({ servers: `nats://127.0.0.1:${port}` });
    try {
      const err = await failure(() => jetstreamManager(plain));
      expectExactly(err, ["isJetStreamNotEnabled", "isNoResponders", "isBrokerError"]);
    } finally {
      await plain.close();
    }
  });
});

describe("connection refusals (real servers with auth and TLS)", () => {
  const dir = mkdtempSync(join(tmpdir(), "adi-nats-errors-"));
  const tls = tlsFiles(dir);
  let withPassword: NatsServerFixture;
  let withTls: NatsServerFixture;

  beforeAll(async () => {
    withPassword = await NatsServerFixture.start({ args: ["--user", "adi", "--pass", "right"] });
    withTls = await NatsServerFixture.start({
      scheme: "tls",
      config: () => `tls { cert_file: ${JSON.stringify(tls.serverCert)}, key_file: ${JSON.stringify(tls.serverKey)} }\n`,
    });
  });

  afterAll(async () => {
    await withPassword?.stop();
    await withTls?.stop();
  });

  it("a wrong password: authorization refused, permanent (no retry cures it)", async () => {
    const err = await failure(() => connect({ servers: withPassword.url, user: "adi", pass: "wrong", reconnect: false }));
    expectExactly(err, ["isAuthorizationRefusal", "isPermanentRefusal", "isBrokerError"]);
  });

  it("no credentials at all: authorization refused, permanent", async () => {
    const err = await failure(() => connect({ servers: withPassword.url, reconnect: false }));
    expectExactly(err, ["isAuthorizationRefusal", "isPermanentRefusal", "isBrokerError"]);
  });

  it("TLS asked of a server without it: permanent, not an authorization refusal", async () => {
    const err = await failure(() => connect({ servers: withPassword.url, user: "adi", pass: "right", tls: {}, reconnect: false }));
    expectExactly(err, ["isPermanentRefusal", "isBrokerError"]);
  });

  it("a server certificate the client cannot verify (no CA given): permanent", async () => {
    const err = await failure(() => connect({ servers: withTls.url, reconnect: false, timeout: 5000 }));
    // node's own TLS error (code UNABLE_TO_VERIFY_LEAF_SIGNATURE), which nats.js passes on unwrapped.
    expectExactly(err, ["isPermanentRefusal"]);
    // The client with the CA gets through: the refusal was the certificate, nothing else.
    const ok = await connect({ servers: withTls.url, tls: { caFile: tls.ca }, reconnect: false });
    await ok.close();
  });

  it("nothing listening (a broker not up yet): a broker error that a retry may cure", async () => {
    const err = await failure(async () => connect({ servers: `nats://127.0.0.1:${await freePort()}`, reconnect: false, timeout: 2000 }));
    expectExactly(err, ["isBrokerError"]);
  });
});
