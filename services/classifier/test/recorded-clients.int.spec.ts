// Real client libraries against a recording listener: the bytes kafkajs, the MongoDB driver, tedious and
// node:tls actually send must classify as their protocol, on the standard port (90) and, by fingerprint alone,
// on an unrelated one (90). The committed fixtures the unit tests use must still classify like a fresh
// recording (client ids and random fields vary, so bytes are not compared); ADI_UPDATE_FIXTURES=1 rewrites them.
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { connect as tlsConnect } from "node:tls";
import { Kafka, logLevel } from "kafkajs";
import { MongoClient } from "mongodb";
import { Connection as TdsConnection } from "tedious";
import { describe, expect, it } from "vitest";
import { RecordingListener } from "../../../test/support/recording-listener.ts";
import { classifyConnection } from "../src/core/protocols/classify.ts";

const FIXTURES = new URL("./fixtures/", import.meta.url);
const UNRELATED_PORT = 40000;
const CLIENT_TIMEOUT_MS = 1_500;

/** Runs one client against a fresh listener; the client is expected to fail once the listener hangs up. */
async function record(runClient: (port: number) => Promise<void>): Promise<Buffer> {
  const listener = await RecordingListener.start();
  try {
    await runClient(listener.port).catch(() => {});
    return await listener.firstRecording(5_000);
  } finally {
    await listener.close();
  }
}

async function kafkajsProducer(port: number): Promise<void> {
  const kafka = new Kafka({
    clientId: "adi-recorder",
    brokers: [`127.0.0.1:${port}`],
    logLevel: logLevel.NOTHING,
    connectionTimeout: CLIENT_TIMEOUT_MS,
    requestTimeout: CLIENT_TIMEOUT_MS,
    retry: { retries: 0 },
  });
  const producer = kafka.producer();
  try {
    await producer.connect();
  } finally {
    await producer.disconnect().catch(() => {});
  }
}

async function mongodbClient(port: number): Promise<void> {
  const client = new MongoClient(`mongodb://127.0.0.1:${port}/?directConnection=true`, {
    serverSelectionTimeoutMS: CLIENT_TIMEOUT_MS,
    connectTimeoutMS: CLIENT_TIMEOUT_MS,
    appName: "adi-recorder",
  });
  try {
    await client.connect();
  } finally {
    await client.close().catch(() => {});
  }
}

async function tediousConnection(port: number): Promise<void> {
  const connection = new TdsConnection({
    server: "127.0.0.1",
    options: { port, connectTimeout: CLIENT_TIMEOUT_MS, encrypt: false, trustServerCertificate: true },
    authentication: { type: "default", options: { userName: "sa", password: "not-a-secret" } },
  });
  await new Promise<void>((resolve) => connection.connect(() => resolve()));
  connection.close();
}

async function tlsClient(port: number): Promise<void> {
  await new Promise<void>((resolve) => {
    const socket = tlsConnect({ host: "127.0.0.1", port, servername: "db.example.internal", rejectUnauthorized: false });
    socket.setTimeout(CLIENT_TIMEOUT_MS, () => socket.destroy());
    socket.on("error", () => resolve());
    socket.on("close", () => resolve());
  });
}

/** The parts of a verdict that must not depend on which recording it came from. */
function essence(bytes: Buffer, serverPort: number) {
  const { protocol, category, confidence, evidence, tls } = classifyConnection({ clientFirstBytes: bytes, serverFirstBytes: null, serverPort });
  return { protocol, category, confidence, rule: evidence.rule, port_match: evidence.port_match, tls };
}

/** Compares with the committed fixture, or writes it when missing or asked to. */
function checkFixture(name: string, fresh: Buffer, serverPort: number): void {
  const file = new URL(name, FIXTURES);
  if (process.env.ADI_UPDATE_FIXTURES === "1" || !existsSync(file)) writeFileSync(file, fresh);
  const committed = readFileSync(file);
  expect(essence(committed, serverPort)).toEqual(essence(fresh, serverPort));
  expect(essence(committed, UNRELATED_PORT)).toEqual(essence(fresh, UNRELATED_PORT));
}

const CLIENTS = [
  { library: "kafkajs producer", fixture: "kafkajs-producer-connect.bin", run: kafkajsProducer, port: 9092, protocol: "kafka", rule: "kafka-request-header" },
  { library: "mongodb MongoClient", fixture: "mongodb-client-connect.bin", run: mongodbClient, port: 27017, protocol: "mongodb", rule: "mongodb-wire-header" },
  { library: "tedious Connection", fixture: "tedious-connect.bin", run: tediousConnection, port: 1433, protocol: "mssql", rule: "mssql-tds-prelogin" },
] as const;

describe("bytes sent by real client libraries", () => {
  it.each(CLIENTS)("$library is $protocol with confidence 90 on port $port and by fingerprint elsewhere", async (client) => {
    const bytes = await record(client.run);

    const onItsPort = classifyConnection({ clientFirstBytes: bytes, serverFirstBytes: null, serverPort: client.port });
    expect(onItsPort).toMatchObject({ protocol: client.protocol, confidence: 90 });
    expect(onItsPort.evidence).toMatchObject({ rule: client.rule, port_match: true, fingerprint_match: true, from: "client" });
    expect(onItsPort.reason).toMatch(new RegExp(`^port ${client.port}, `));

    const elsewhere = classifyConnection({ clientFirstBytes: bytes, serverFirstBytes: null, serverPort: UNRELATED_PORT });
    expect(elsewhere).toMatchObject({ protocol: client.protocol, confidence: 90 });
    expect(elsewhere.evidence).toMatchObject({ port_match: false, fingerprint_match: true });
    expect(elsewhere.reason).toContain(`non-standard port ${UNRELATED_PORT}`);

    checkFixture(client.fixture, bytes, client.port);
  });

  it("node:tls sends a ClientHello whose SNI names the server, and TLS hides the protocol behind the port", async () => {
    const bytes = await record(tlsClient);

    const onAmqps = classifyConnection({ clientFirstBytes: bytes, serverFirstBytes: null, serverPort: 5671 });
    expect(onAmqps).toMatchObject({ protocol: "amqp", category: "message_bus", confidence: 60, tls: { sni: "db.example.internal" } });

    const elsewhere = classifyConnection({ clientFirstBytes: bytes, serverFirstBytes: null, serverPort: UNRELATED_PORT });
    expect(elsewhere).toMatchObject({ protocol: "tls", category: "unknown", confidence: 90, tls: { sni: "db.example.internal" } });

    checkFixture("tls-client-hello-sni.bin", bytes, 5671);
  });
});
