// A client-side HTTP exchange for the mapper's tests: one connection per `conn` (its own client port), to one server.
import { HttpExchangeSchema, nsToIso } from "@adi/shared/wire";
import type { HttpExchange } from "@adi/shared/wire";

export const BOOT = "11111111-2222-4333-8444-555555555555";
/** Capture time `ms` after a fixed instant, RFC 3339 with ns. */
export const at = (ms: number) => nsToIso(1_712_600_650_000_000_000n + BigInt(Math.round(ms * 1000)) * 1000n);

/**
 * Request at `ms` (its last byte 0.1 ms later) to `target`; the response (`status`, null: none) starts `latencyMs`
 * later and ends 0.1 ms after that. Bodies empty, Host "api".
 */
export function clientExchange(conn: number, ms: number, target: string, status: number | null = 200, latencyMs = 5): HttpExchange {
  const message = (t: number) => ({ ts: at(t), end_ts: at(t + 0.1), version: "1.1", headers: [["Host", "api"]] as [string, string][], body: null, body_size: 0, body_truncated: false, body_binary: false, raw: "" });
  const client = { ip: "10.0.0.1", port: 40_000 + conn };
  const server = { ip: "10.0.0.2", port: 80 };
  return HttpExchangeSchema.parse({
    v: 1, type: "http_exchange", host: "a", boot_id: BOOT, conn_id: String(conn), side: "client", pid: 10, start_ticks: 1,
    local: client, remote: server, family: 4, transport: "tcp", seq: 0, client, server,
    request: { ...message(ms), method: "GET", target },
    response: status === null ? null : { ...message(ms + latencyMs), status, reason: status === 200 ? "OK" : "X" },
    latency_ns: status === null ? null : latencyMs * 1_000_000,
  });
}
