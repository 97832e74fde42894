// For the start-up specs (a service, or `adi`, against brokers that stall, restart or have no JetStream): a logger
// whose lines the test reads back, a broker of its own per test, and a real nats-server without JetStream.
import { spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pino } from "pino";
import { afterAll, afterEach, beforeAll, beforeEach } from "vitest";
import { findNatsServer } from "@adi/shared/nats";
import { freePort, NatsServerFixture, waitForPort } from "./nats-server.ts";

export interface LogLine {
  level: number;
  msg: string;
  time: number;
}

/** A logger whose lines the test reads back (level 50 = ERROR). */
export function recordingLogger() {
  const lines: LogLine[] = [];
  const log = pino({ level: "info" }, { write: (s: string) => void lines.push(JSON.parse(s) as LogLine) });
  return { log, lines, errors: () => lines.filter((l) => l.level >= 50) };
}

/**
 * A broker of its own per test (a service reads every host's messages, so tests must not see each other's), and
 * one scratch directory, named `dirPrefix`..., for the whole file. Registers the hooks where it is called.
 */
export function brokerPerTest(dirPrefix: string): { readonly nats: NatsServerFixture; readonly dir: string } {
  let nats: NatsServerFixture | undefined;
  let dir = "";
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), dirPrefix));
  });
  beforeEach(async () => {
    nats = await NatsServerFixture.start();
  });
  afterEach(async () => {
    await nats?.stop();
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  return {
    get nats() {
      return nats!;
    },
    get dir() {
      return dir;
    },
  };
}

/**
 * A real nats-server without JetStream for the enclosing describe: it accepts the connection, and no JetStream
 * request is ever answered. Registers the hooks where it is called; `url` is set once its beforeAll has run.
 */
export function brokerWithoutJetStream(): { readonly url: string } {
  let bare: ChildProcess | undefined;
  let url = "";
  beforeAll(async () => {
    const port = await freePort();
    bare = spawn(findNatsServer()!, ["-a", "127.0.0.1", "-p", String(port)], { stdio: "ignore" });
    await waitForPort(port);
    url = `nats://127.0.0.1:${port}`;
  });
  afterAll(() => void bare?.kill("SIGKILL"));
  return {
    get url() {
      return url;
    },
  };
}
