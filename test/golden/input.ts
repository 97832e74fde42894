// The golden outputs' recorded input: a fixed handful of facts and derived observations of one host, as they sit
// in ADI_FACTS and ADI_DERIVED (each with its JetStream store time), built with the wire contracts of
// @adi/shared/wire so that a contract change that breaks them fails here first. A shop (node) calls an inventory
// (python, listening on 8080) three times over HTTP, one call seen from both ends, and talks to a database;
// a request carries a credential and a process a secret variable, so the redaction shows in the files.
import { ConnectionObservationSchema, FactSchema, HttpExchangeSchema } from "@adi/shared/wire";
import type { Derived, Fact } from "@adi/shared/wire";

const BOOT = "3f1c2a9e-5b7d-4e21-9c0a-1d2e3f405162";
const HOST = "node1";
/** 2026-11-27T09:00:00Z plus `ms` (fractions to the microsecond), as the wire writes it: 9 fractional digits. */
export const at = (ms: number): string => {
  const whole = Math.floor(ms);
  const micros = Math.round((ms - whole) * 1000);
  const d = new Date(Date.UTC(2026, 10, 27, 9, 0, 0) + whole);
  return `${d.toISOString().slice(0, 19)}.${String(d.getUTCMilliseconds()).padStart(3, "0")}${String(micros).padStart(3, "0")}000Z`;
};
/** Store time of a message about capture time `ms`: 50 ms later. */
const stored = (ms: number) => Date.UTC(2026, 10, 27, 9, 0, 0) + ms + 50;

const SHOP = { pid: 100, start_ticks: 5000 };
const INVENTORY = { pid: 200, start_ticks: 6000 };
const SHOP_IP = "10.0.0.1";
const DB = { ip: "10.0.0.9", port: 5432 };

function process(who: typeof SHOP, ms: number, comm: string, exe: string, cmdline: string, env: Record<string, string>): Fact {
  return FactSchema.parse({
    v: 1, ts: at(ms), host: HOST, boot_id: BOOT, type: "process", event: "net", ...who, ppid: 1, comm, exe, cmdline,
    cgroup: null, container_id: null, adi_profile_match: null, adi_profile_name: null, optin: "yes", env,
    env_redacted: false, error: null, exit_code: null,
  });
}

function message(ms: number, headers: [string, string][], body: string | null) {
  const size = body === null ? 0 : Buffer.byteLength(body);
  return { ts: at(ms), end_ts: at(ms + 0.2), version: "1.1", headers, body, body_size: size, body_truncated: false, body_binary: false, raw: "" };
}

/** One call from the shop (client port `port`) to the inventory, seen by `side`. */
function call(side: "client" | "server", port: number, ms: number, method: string, target: string, status: number, reqBody: string | null, resBody: string, extra: [string, string][] = []): Derived {
  const client = { ip: SHOP_IP, port };
  const server = { ip: SHOP_IP, port: 8080 };
  const json: [string, string][] = [["Content-Type", "application/json"]];
  return HttpExchangeSchema.parse({
    v: 1, type: "http_exchange", host: HOST, boot_id: BOOT, conn_id: String(side === "client" ? port : port + 100_000),
    side, ...(side === "client" ? SHOP : INVENTORY), local: side === "client" ? client : server, remote: side === "client" ? server : client,
    family: 4, transport: "tcp", seq: 0, client, server,
    request: { ...message(ms, [["Host", "inventory:8080"], ...extra, ...(reqBody === null ? [] : json)], reqBody), method, target },
    response: { ...message(ms + 4, json, resBody), status, reason: status === 201 ? "Created" : "OK" },
    latency_ns: 4_000_000,
  });
}

const database: Derived = ConnectionObservationSchema.parse({
  v: 1, type: "connection", host: HOST, boot_id: BOOT, conn_id: "7", side: "client", ...SHOP,
  local: { ip: SHOP_IP, port: 41000 }, remote: DB, family: 4, transport: "tcp", ts: at(20),
  client: { ip: SHOP_IP, port: 41000 }, server: DB, protocol: "postgresql", category: "database", confidence: 90,
  reason: "PostgreSQL startup message", tls: null,
  evidence: { rule: "postgresql", port_match: true, fingerprint_match: true, from: "client", first_bytes_hex: "0000004c00030000" },
});

/** ADI_FACTS, in stream order, each with its store time (ms). */
export const FACTS: { fact: Fact; storedAtMs: number }[] = [
  { fact: process(SHOP, 0, "node", "/usr/bin/node", "node server.js --port 3000", { SERVICE_NAME: "shop", NODE_ENV: "production", DB_PASSWORD: "hunter2" }), storedAtMs: stored(0) },
  { fact: process(INVENTORY, 1, "python3", "/usr/bin/python3", "python3 -m inventory", { SERVICE_NAME: "inventory", PORT: "8080" }), storedAtMs: stored(1) },
  {
    fact: FactSchema.parse({
      v: 1, ts: at(2), host: HOST, boot_id: BOOT, type: "listeners", event: "scan",
      listeners: [{ ip: "0.0.0.0", port: 8080, family: 4, v6only: null, ...INVENTORY, comm: "python3", adi_profile_name: null }],
    }),
    storedAtMs: stored(2),
  },
];

/** ADI_DERIVED's observations, in stream order, each with its store time (ms): not in capture order. */
export const DERIVED: { observation: Derived; storedAtMs: number }[] = [
  { observation: database, storedAtMs: stored(20) },
  { observation: call("client", 40001, 100, "GET", "/items/1", 200, null, '{"id":1,"name":"cup","price":4.5}'), storedAtMs: stored(104) },
  { observation: call("client", 40002, 300, "POST", "/orders", 201, '{"item":1,"qty":2}', '{"order":7}', [["Authorization", "Bearer s3cr3t-token"]]), storedAtMs: stored(304) },
  { observation: call("server", 40002, 300.1, "POST", "/orders", 201, '{"item":1,"qty":2}', '{"order":7}', [["Authorization", "Bearer s3cr3t-token"]]), storedAtMs: stored(304) },
  { observation: call("client", 40003, 200, "GET", "/items/2", 200, null, '{"id":2,"name":"plate","price":7}'), storedAtMs: stored(204) },
  { observation: call("client", 40004, 2600, "GET", "/items/3?sort=asc", 200, null, '{"id":3,"name":"bowl","price":6}'), storedAtMs: stored(2604) },
];
