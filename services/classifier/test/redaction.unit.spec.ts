// The engine redacts every exchange it emits (the policy given by main, default: everything): what the classifier
// publishes to ADI_DERIVED, and what replay folds, never holds the secrets the policy hides.
import { describe, expect, it } from "vitest";
import { HttpExchangeSchema, type HttpExchange } from "@adi/shared/wire";
import type { ConnRecord, DataRecord, RawRecord, Tuple } from "@adi/shared/wire";
import { RedactionPolicy } from "@adi/shared/redaction";
import { ClassifierEngine } from "../src/core/engine.ts";

const BOOT = "00000000-0000-0000-0000-000000000001";
const T0 = 1_790_000_000_000_000_000n;
const t: Tuple = { family: 4, protocol: "tcp", laddr: "127.0.0.1", lport: 40000, raddr: "127.0.0.1", rport: 8080 };
const head = { startTicks: 100, cgroupId: 0n, size: 0, kind: 0, cpu: 0, pid: 42, tid: 42 };
const open = (): ConnRecord => ({ ...head, tsNs: T0, type: "conn_open", connId: 1n, tuple: t, fd: 3, ret: 0, syscall: "connect", role: "client" });
const data = (direction: "egress" | "ingress", text: string, ts: bigint): DataRecord => {
  const payload = Buffer.from(text, "latin1");
  return { ...head, tsNs: ts, type: "data", connId: 1n, tuple: t, totalLen: payload.length, offset: 0, fd: 3, syscall: "write", direction, truncated: false, lastChunk: true, readFailed: false, gap: false, payload };
};
const close = (ts: bigint): RawRecord => ({ ...head, tsNs: ts, type: "conn_close", connId: 1n, tuple: t, fd: 3, ret: 0, syscall: "close", role: "client" });

const JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhZGkifQ.c2lnbmF0dXJlLXBsYW50ZWQ";
const SECRETS = ["hunter2-planted", "tok-planted", "at-planted", "sess-planted", "sig-planted", "fold-planted", JWT, "cookie-planted"];
const body = '{"user":"bob","password":"hunter2-planted","nested":{"api_key":"k"}}';
const request =
  `POST /login?token=tok-planted&x=1 HTTP/1.1\r\nHost: api\r\nX-Session: sess-planted\r\nX-Hub-Signature-256: sha256=sig-planted\r\n` +
  `Authorization: Basic\r\n fold-planted\r\nX-Trace: ${JWT}\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`;
const resBody = '{"access_token":"at-planted","token_type":"Bearer"}';
const response = `HTTP/1.1 200 OK\r\nSet-Cookie: sid=cookie-planted\r\nContent-Type: application/json\r\nContent-Length: ${resBody.length}\r\n\r\n${resBody}`;

function run(engine: ClassifierEngine): HttpExchange {
  const out = engine.onRecords("h", BOOT, [open(), data("egress", request, T0 + 10n), data("ingress", response, T0 + 50n), close(T0 + 60n)]);
  expect(out).toHaveLength(1);
  return HttpExchangeSchema.parse(out[0]);
}

describe("ClassifierEngine redaction", () => {
  it("emits the exchange with headers, target, bodies and raw redacted, by default", () => {
    const ex = run(new ClassifierEngine());
    const text = JSON.stringify(ex);
    for (const secret of SECRETS) expect(text, secret).not.toContain(secret);
    expect(ex.request.target).toBe("/login?token=[REDACTED]&x=1");
    expect(ex.request.headers).toEqual([
      ["Host", "api"],
      ["X-Session", "[REDACTED]"],
      ["X-Hub-Signature-256", "[REDACTED]"],
      ["Authorization", "[REDACTED]"],
      ["X-Trace", "[REDACTED]"],
      ["Content-Type", "application/json"],
      ["Content-Length", String(body.length)],
    ]);
    expect(ex.request.body).toBe('{"user":"bob","password":"[REDACTED]","nested":{"api_key":"[REDACTED]"}}');
    expect(ex.request.raw).toBe(
      "POST /login?token=[REDACTED]&x=1 HTTP/1.1\r\nHost: api\r\nX-Session: [REDACTED]\r\nX-Hub-Signature-256: [REDACTED]\r\n" +
        `Authorization: [REDACTED]\r\n [REDACTED]\r\nX-Trace: [REDACTED]\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n` +
        '{"user":"bob","password":"[REDACTED]","nested":{"api_key":"[REDACTED]"}}',
    );
    expect(ex.request.body_size).toBe(body.length); // sizes are the wire's
    expect(ex.response!.headers[0]).toEqual(["Set-Cookie", "[REDACTED]"]);
    expect(ex.response!.body).toBe('{"access_token":"[REDACTED]","token_type":"Bearer"}');
  });

  it("emits the exchange as captured with a policy that turns every category off", () => {
    const ex = run(new ClassifierEngine({ redaction: RedactionPolicy.NONE }));
    expect(ex.request.target).toBe("/login?token=tok-planted&x=1");
    expect(ex.request.raw).toBe(request);
    expect(ex.response!.raw).toBe(response);
  });

  it("redacts a replay of the same records exactly as the live engine (deterministic)", () => {
    expect(run(new ClassifierEngine())).toEqual(run(new ClassifierEngine({ redaction: RedactionPolicy.fromConfig({ redactOff: [], redactNames: [], redactPatterns: [], envRedact: true }) })));
  });
});
