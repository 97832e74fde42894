import { describe, expect, it } from "vitest";
import { ConnectionObservationSchema, HttpExchangeSchema, nsToIso, ProcessFactSchema } from "@adi/shared/wire";
import type { ConnectionObservation, Endpoint, HttpExchange } from "@adi/shared/wire";
import { connectionLogLine, httpLogLines } from "../src/core/log-lines.ts";
import type { HttpRequestLine, HttpResponseLine } from "../src/core/log-lines.ts";
import { NameResolver } from "../src/core/names.ts";
import { RedactionPolicy } from "@adi/shared/redaction";

const BOOT = "11111111-2222-4333-8444-555555555555";
const at = (us: number) => nsToIso(1_712_600_650_000_000_000n + BigInt(us) * 1000n);
const CLIENT = { ip: "127.0.0.1", port: 54321 };
const SERVER = { ip: "127.0.0.1", port: 8080 };

/** The fields of the Go README's HTTP event example, in its order. */
const GO_HTTP_FIELDS = ["timestamp", "pid", "comm", "cmdline", "direction", "source_ip", "source_port", "dest_ip", "dest_port", "bytes", "method", "url", "body", "headers", "raw_payload", "source_container", "destination_container", "destination_type"];
const GO_CONNECTION_FIELDS = ["timestamp", "event_type", "pid", "comm", "cmdline", "direction", "source_ip", "source_port", "dest_ip", "dest_port", "protocol", "category", "confidence", "detection_reason"];

function message(us: number, head: string, headers: [string, string][], body: string | null) {
  const rawHead = `${head}\r\n${headers.map(([n, v]) => `${n}: ${v}\r\n`).join("")}\r\n`;
  return {
    ts: at(us), end_ts: at(us + 10), version: "1.1", headers, body, body_size: body === null ? 0 : Buffer.byteLength(body),
    body_truncated: false, body_binary: false, raw: rawHead + (body ?? ""),
  };
}

function exchange(side: "client" | "server", pid: number): HttpExchange {
  const [local, remote] = side === "client" ? [CLIENT, SERVER] : [SERVER, CLIENT];
  const reqHeaders: [string, string][] = [["Host", "127.0.0.1:8080"], ["authorization", "Bearer s3cret"], ["Accept", "text/plain"], ["accept", "application/json"], ["Content-Type", "application/json"]];
  return HttpExchangeSchema.parse({
    v: 1, type: "http_exchange", host: "a", boot_id: BOOT, conn_id: side === "client" ? "1" : "2", side, pid, start_ticks: 100,
    local, remote, family: 4, transport: "tcp", seq: 0, client: CLIENT, server: SERVER,
    request: { ...message(side === "client" ? 0 : 30, "POST /echo?x=1 HTTP/1.1", reqHeaders, '{"message":"hello"}'), method: "POST", target: "/echo?x=1" },
    response: { ...message(5000, "HTTP/1.1 200 OK", [["Set-Cookie", "sid=1"], ["Content-Type", "application/json"]], '{"ok":true}'), status: 200, reason: "OK" },
    latency_ns: 4_990_123,
  });
}

function names(): NameResolver {
  const resolver = new NameResolver();
  const base = { v: 1, type: "process", event: "scan", ts: at(0), host: "a", boot_id: BOOT, start_ticks: 100, ppid: 1, exe: null, cgroup: null, container_id: null, adi_profile_match: "local", optin: "yes", env: {}, env_redacted: true, error: null, exit_code: null } as const;
  resolver.addProcess(ProcessFactSchema.parse({ ...base, pid: 1234, comm: "traffic-generat", cmdline: "/bin/traffic-generator", adi_profile_name: null }));
  resolver.addProcess(ProcessFactSchema.parse({ ...base, pid: 99, comm: "server", cmdline: "/bin/server", adi_profile_name: "http-service" }));
  return resolver;
}

describe("httpLogLines", () => {
  it("writes the client's view as a send request and a recv response, with every field of the Go README", () => {
    const ex = exchange("client", 1234);
    const [request, response] = httpLogLines(ex, names()) as [HttpRequestLine, HttpResponseLine];
    expect(Object.keys(request)).toEqual([...GO_HTTP_FIELDS, "side", "conn_id", "seq", "exchange_id"]);
    expect(request).toMatchObject({
      timestamp: at(0), pid: 1234, comm: "traffic-generat", cmdline: "/bin/traffic-generator", direction: "send",
      source_ip: "127.0.0.1", source_port: 54321, dest_ip: "127.0.0.1", dest_port: 8080, method: "POST", url: "/echo?x=1",
      body: '{"message":"hello"}', source_container: null, destination_container: null, destination_type: "external",
      side: "client", conn_id: "1", seq: 0,
    });
    // Head + body, as captured whole here, the head as written (its credential redacted: 13 bytes became 10).
    expect(request.bytes).toBe(ex.request.raw.length - "Bearer s3cret".length + "[REDACTED]".length);
    // With the head's true size (what the classifier now publishes), redaction no longer changes `bytes`.
    const headSize = ex.request.raw.indexOf("\r\n\r\n") + 4;
    const [sized] = httpLogLines({ ...ex, request: { ...ex.request, head_size: headSize } }, names()) as [HttpRequestLine];
    expect(sized.bytes).toBe(ex.request.raw.length);
    expect(sized.bytes).toBe(headSize + ex.request.body_size);

    const responseFields = GO_HTTP_FIELDS.filter((f) => f !== "method" && f !== "url").map((f) => (f === "bytes" ? ["bytes", "status_code"] : [f])).flat();
    expect(Object.keys(response)).toEqual([...responseFields, "side", "conn_id", "seq", "exchange_id", "latency_ms"]);
    expect(response).toMatchObject({
      timestamp: at(5000), pid: 1234, direction: "recv", source_port: 8080, dest_port: 54321, status_code: 200,
      body: '{"ok":true}', latency_ms: 4.99, exchange_id: request.exchange_id,
    });
  });

  it("writes the server's view as a recv request and a send response, with the same exchange id", () => {
    const client = httpLogLines(exchange("client", 1234), names());
    const [request, response] = httpLogLines(exchange("server", 99), names()) as [HttpRequestLine, HttpResponseLine];
    expect(request).toMatchObject({ pid: 99, comm: "server", direction: "recv", source_port: 54321, dest_port: 8080, side: "server" });
    expect(response).toMatchObject({ direction: "send", source_port: 8080, dest_port: 54321 });
    expect(request.exchange_id).toBe(client[0]?.exchange_id);
    expect(request.exchange_id).toMatch(/^[0-9a-f]{16}$/);
  });

  it("joins repeated headers under Go's canonical names, sorted, and hides credentials by default", () => {
    const [request, response] = httpLogLines(exchange("client", 1234), names()) as [HttpRequestLine, HttpResponseLine];
    expect(request.headers).toEqual({
      Accept: "text/plain, application/json",
      Authorization: "[REDACTED]",
      "Content-Type": "application/json",
      Host: "127.0.0.1:8080",
    });
    expect(Object.keys(request.headers)).toEqual(["Accept", "Authorization", "Content-Type", "Host"]);
    expect(request.raw_payload).toContain("authorization: [REDACTED]\r\n");
    expect(request.raw_payload).not.toContain("s3cret");
    expect(request.raw_payload.startsWith("POST /echo?x=1 HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n")).toBe(true);
    expect(request.raw_payload.endsWith('\r\n\r\n{"message":"hello"}')).toBe(true);
    expect(response.headers["Set-Cookie"]).toBe("[REDACTED]");
    expect(response.raw_payload).not.toContain("sid=1");
  });

  it("keeps credentials when redaction is off", () => {
    const [request] = httpLogLines(exchange("client", 1234), names(), { redaction: RedactionPolicy.NONE }) as [HttpRequestLine];
    expect(request.headers.Authorization).toBe("Bearer s3cret");
    expect(request.raw_payload).toContain("Bearer s3cret");
  });

  it("writes only the request when there was no response, with empty comm for an unknown process", () => {
    const lines = httpLogLines({ ...exchange("client", 4321), response: null, latency_ns: null }, new NameResolver());
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ pid: 4321, comm: "", cmdline: "" });
  });

  it("marks an incomplete request body_truncated (after exchange_id), and only it, when its response came at once", () => {
    // curl -H 'Expect: 100-continue' answered 413 at once: the request's body never came, the response is whole.
    const ex = exchange("client", 1234);
    const refused = { ...ex, request: { ...ex.request, body: null, body_size: 0, body_truncated: true } };
    const [request, response] = httpLogLines(refused, names()) as [HttpRequestLine, HttpResponseLine];
    expect(request.body_truncated).toBe(true);
    expect(Object.keys(request)).toEqual([...GO_HTTP_FIELDS, "side", "conn_id", "seq", "exchange_id", "body_truncated"]);
    expect(response).not.toHaveProperty("body_truncated");
    expect(JSON.stringify(request)).toContain('"exchange_id":"' + request.exchange_id + '","body_truncated":true}');
  });

  it("marks a truncated response body_truncated before latency_ms, and a request with no response", () => {
    const ex = exchange("server", 99);
    const cut = { ...ex, response: { ...ex.response!, body_truncated: true } };
    const [request, response] = httpLogLines(cut, names()) as [HttpRequestLine, HttpResponseLine];
    expect(request).not.toHaveProperty("body_truncated");
    expect(response.body_truncated).toBe(true);
    expect(Object.keys(response).slice(-3)).toEqual(["exchange_id", "body_truncated", "latency_ms"]);

    // A reset mid-body: the request alone, marked.
    const reset = { ...ex, request: { ...ex.request, body_truncated: true }, response: null, latency_ns: null };
    const lines = httpLogLines(reset, names());
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ body_truncated: true, method: "POST" });
  });

  it("keeps complete messages' lines without body_truncated", () => {
    for (const line of httpLogLines(exchange("client", 1234), names())) expect(line).not.toHaveProperty("body_truncated");
  });

  it("shows raw_payload's head and body as UTF-8 when their bytes are, else as read; bytes still counts bytes", () => {
    const ex = exchange("client", 1234);
    const latin1Of = (t: string) => Buffer.from(t, "utf8").toString("latin1");
    const head = "GET /café/日本 HTTP/1.1\r\nHost: x\r\n\r\n";
    const utf8 = { ...ex, request: { ...ex.request, method: "GET", target: "/café/日本", body: "ü", body_size: 2, raw: latin1Of(head + "ü") } };
    const [request] = httpLogLines(utf8, names()) as [HttpRequestLine];
    expect(request.url).toBe("/café/日本");
    expect(request.raw_payload).toBe(head + "ü");
    expect(request.bytes).toBe(Buffer.byteLength(head + "ü"));

    // A binary body (a lone 0xFF) leaves the head decoded and the body as read.
    const binary = { ...utf8, request: { ...utf8.request, body_size: 1, raw: latin1Of(head) + "\u00ff" } };
    const [b] = httpLogLines(binary, names()) as [HttpRequestLine];
    expect(b.raw_payload).toBe(head + "\u00ff");
    expect(b.bytes).toBe(Buffer.byteLength(head) + 1);

    // A latin1 header value (0xE9 alone) stays as read.
    const old = { ...ex, request: { ...ex.request, raw: "GET / HTTP/1.1\r\nX-Old: caf\u00e9\r\n\r\n", body_size: 0 } };
    expect((httpLogLines(old, names())[0] as HttpRequestLine).raw_payload).toBe("GET / HTTP/1.1\r\nX-Old: caf\u00e9\r\n\r\n");
  });

  it("names the containers at both ends when their identities are known", () => {
    const resolver = names();
    resolver.addIdentity({ container_id: "c1", service: "reviews", image: "reviews:2", container_name: "reviews-1", ips: ["10.0.0.9"] });
    const ex = exchange("client", 1234);
    const [request, response] = httpLogLines({ ...ex, server: { ip: "10.0.0.9", port: 8080 }, remote: { ip: "10.0.0.9", port: 8080 } }, resolver) as [HttpRequestLine, HttpResponseLine];
    expect(request).toMatchObject({ source_container: null, destination_type: "container", destination_container: { service: "reviews", image: "reviews:2", container_id: "c1", container_name: "reviews-1" } });
    expect(response).toMatchObject({ source_container: { service: "reviews" }, destination_container: null, destination_type: "external" });
  });
});

describe("connectionLogLine", () => {
  function connection(side: "client" | "server", client: Endpoint, server: Endpoint): ConnectionObservation {
    const [local, remote] = side === "client" ? [client, server] : [server, client];
    return ConnectionObservationSchema.parse({
      v: 1, type: "connection", host: "a", boot_id: BOOT, conn_id: "5", side, pid: 1234, start_ticks: 100, local, remote,
      family: 4, transport: "tcp", ts: at(0), client, server, protocol: "postgres", category: "database", confidence: 90,
      reason: "port 5432, valid Postgres startup/SSLRequest header",
      evidence: { rule: "postgres", port_match: true, fingerprint_match: true, from: "client", first_bytes_hex: "0000000804d2162f" }, tls: null,
    });
  }

  it("writes the Go README's connection event, fields in its order", () => {
    const line = connectionLogLine(connection("client", { ip: "10.4.2.60", port: 38338 }, { ip: "10.4.2.59", port: 5432 }), names());
    // A recognised protocol's first bytes stay out of the log (they can carry credentials).
    expect(Object.keys(line)).toEqual([...GO_CONNECTION_FIELDS, "side", "conn_id"]);
    expect(line).toEqual({
      timestamp: at(0), event_type: "connection", pid: 1234, comm: "traffic-generat", cmdline: "/bin/traffic-generator",
      direction: "send", source_ip: "10.4.2.60", source_port: 38338, dest_ip: "10.4.2.59", dest_port: 5432,
      protocol: "postgres", category: "database", confidence: 90,
      detection_reason: "port 5432, valid Postgres startup/SSLRequest header", side: "client", conn_id: "5",
    });
    expect(JSON.parse(JSON.stringify(line))).toEqual(line);
  });

  it("keeps the client as the source when the server observed it", () => {
    const line = connectionLogLine(connection("server", { ip: "10.4.2.60", port: 38338 }, { ip: "10.4.2.59", port: 5432 }), names());
    expect(line).toMatchObject({ direction: "recv", source_port: 38338, dest_port: 5432, side: "server" });
  });
});
