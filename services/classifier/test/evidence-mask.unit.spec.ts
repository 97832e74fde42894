// ConnectionObservation.evidence.first_bytes_hex goes through the wire masker: no handshake secret in ADI_DERIVED.
import { describe, expect, it } from "vitest";
import { classifyConnection } from "../src/core/protocols/classify.ts";

const hexOf = (s: string) => Buffer.from(s, "latin1").toString("hex");

describe("evidence first bytes", () => {
  it("masks a Redis AUTH password in the client's first bytes, same length", () => {
    const auth = Buffer.from("*2\r\n$4\r\nAUTH\r\n$9\r\nhunter2pw\r\n", "latin1");
    const verdict = classifyConnection({ clientFirstBytes: auth, serverFirstBytes: Buffer.from("+OK\r\n"), serverPort: 6379, clientDone: true, serverDone: true });
    expect(verdict.protocol).toBe("redis");
    expect(verdict.evidence.first_bytes_hex).toBe(hexOf("*2\r\n$4\r\nAUTH\r\n$9\r\n*********\r\n").slice(0, 64));
    expect(auth.toString("latin1")).toContain("hunter2pw"); // the classifier's own bytes are untouched
  });

  it("masks a NATS CONNECT pass, the protocol told from the server's INFO", () => {
    const connect = Buffer.from('CONNECT {"pass":"pw123"}\r\n', "latin1");
    const verdict = classifyConnection({ clientFirstBytes: connect, serverFirstBytes: Buffer.from('INFO {"server_id":"x"}\r\n'), serverPort: 4222, clientDone: true, serverDone: true });
    const shown = Buffer.from(verdict.evidence.first_bytes_hex, "hex").toString("latin1");
    expect(shown).not.toContain("pw123");
    expect(shown).toBe(verdict.evidence.from === "client" ? 'CONNECT {"pass":"*****"}\r\n' : 'INFO {"server_id":"x"}\r\n');
  });

  it("leaves bytes with no secret as they were", () => {
    const get = Buffer.from("GET / HTTP/1.1\r\nHost: x\r\n\r\n", "latin1");
    const verdict = classifyConnection({ clientFirstBytes: get, serverFirstBytes: null, serverPort: 80, clientDone: true, serverDone: true });
    expect(verdict.evidence.first_bytes_hex).toBe(get.toString("hex"));
  });

  it("masks a secret by its look in a protocol no rule knows, even when the 32 bytes shown cut it", () => {
    const key = "sk_live_" + "a1B2c3D4e5F6g7H8i9J0k1L2";
    const line = Buffer.from(`HELLO-ACME ${key} v1\n`, "latin1");
    const verdict = classifyConnection({ clientFirstBytes: line, serverFirstBytes: null, serverPort: 7777, clientDone: true, serverDone: true });
    expect(verdict.protocol).toBe("unknown");
    const shown = Buffer.from(verdict.evidence.first_bytes_hex, "hex").toString("latin1");
    expect(shown).toBe(`HELLO-ACME sk_live_${"*".repeat(32 - 19)}`);
  });
});
