// Real folds (MapperOutputs, EnvInventory) fed with hand-made facts and observations, as the live mapper and
// enricher would be fed from the streams: what the view's tests serve.
import { MapperOutputs } from "@adi/mapper";
import { EnvInventory } from "@adi/enricher";
import { RedactionPolicy } from "@adi/shared/redaction";
import { HttpExchangeSchema, nsToIso, ProcessFactSchema } from "@adi/shared/wire";
import type { HttpExchange, ProcessFact } from "@adi/shared/wire";

export const BOOT = "11111111-2222-4333-8444-555555555555";
const BASE_NS = BigInt(Date.parse("2026-11-27T09:00:00Z")) * 1_000_000n;

export function processFact(host: string, pid: number, name: string, env: Record<string, string> = {}): ProcessFact {
  return ProcessFactSchema.parse({
    v: 1, type: "process", event: "net", ts: nsToIso(BASE_NS), host, boot_id: BOOT, pid, start_ticks: 100, ppid: 1,
    comm: "node", exe: "/usr/bin/node", cmdline: `node ${name}.js`, cgroup: null, container_id: null,
    adi_profile_match: "local", adi_profile_name: name, optin: "yes", env: { ADI_PROFILE: "local", ...env }, env_redacted: true, error: null, exit_code: null,
  });
}

/**
 * The client's view of call `n` from pid 10 to the server named by its Host header, `ms` after the base time.
 * `body`: the request body (JSON), `status` the response's.
 */
export function exchange(host: string, n: number, o: { method?: string; target?: string; hostHeader?: string; body?: string | null; response?: string | null; status?: number; ms?: number } = {}): HttpExchange {
  const ns = BASE_NS + BigInt(o.ms ?? n) * 1_000_000n;
  const message = (t: bigint, body: string | null, headers: [string, string][]) => ({
    ts: nsToIso(t), end_ts: nsToIso(t + 1000n), version: "1.1", headers, body, body_size: body?.length ?? 0, body_truncated: false, body_binary: false, raw: "",
  });
  const client = { ip: "10.0.0.1", port: 40_000 + n };
  const server = { ip: "10.0.0.2", port: 8080 };
  return HttpExchangeSchema.parse({
    v: 1, type: "http_exchange", host, boot_id: BOOT, conn_id: String(1000 + n), side: "client", pid: 10, start_ticks: 100,
    local: client, remote: server, family: 4, transport: "tcp", seq: 0, client, server,
    request: { ...message(ns, o.body ?? null, [["Host", o.hostHeader ?? "http-service"], ...(o.body ? [["Content-Type", "application/json"] as [string, string]] : [])]), method: o.method ?? "GET", target: o.target ?? "/healthz" },
    response: { ...message(ns + 3_000_000n, o.response === undefined ? '{"status":"ok"}' : o.response, [["Content-Type", "application/json"]]), status: o.status ?? 200, reason: "OK" },
    latency_ns: 3_000_000,
  });
}

/** The two folds, with traffic-generator (pid 10) known to both. */
export function folds(host = "h1"): { outputs: MapperOutputs; inventory: EnvInventory } {
  const outputs = new MapperOutputs({ redaction: RedactionPolicy.DEFAULT });
  const inventory = new EnvInventory();
  const fact = processFact(host, 10, "traffic-generator", { DB_PASSWORD: "hunter2-secret" });
  outputs.addFact(fact);
  inventory.add(fact);
  return { outputs, inventory };
}
