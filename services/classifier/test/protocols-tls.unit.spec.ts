import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { parseClientHello } from "../src/core/protocols/tls.ts";
import { recorded } from "./fixtures/protocol-bytes.ts";
import { clientHello, clientHelloMessage, otherExtensions, records, serverNameExtension } from "./fixtures/tls-hello.ts";

const nodeHello = recorded("tls-client-hello-sni.bin");

describe("parseClientHello", () => {
  it("reads the SNI of a real node:tls ClientHello", () => {
    expect(parseClientHello(nodeHello)).toEqual({ isClientHello: true, sni: "db.example.internal", complete: true });
  });

  it.each([
    ["server_name first", clientHello("api.example.com"), "api.example.com"],
    ["server_name after other extensions", clientHello("api.example.com", { extensionsFirst: true }), "api.example.com"],
    ["no server_name", clientHello(null), null],
    ["a ClientHello split over 60-byte records", clientHello("split.example.org", { fragment: 60 }), "split.example.org"],
    ["a ClientHello split over 1-byte records", clientHello("tiny.example", { fragment: 1 }), "tiny.example"],
    ["a name type other than host_name", records(clientHelloMessage([serverNameExtension("x.example", 7)])), null],
    ["a host name with a space", records(clientHelloMessage([serverNameExtension("bad name.example")])), null],
    ["an empty host name", records(clientHelloMessage([serverNameExtension("")])), null],
    ["a 256-character host name", records(clientHelloMessage([serverNameExtension("a".repeat(256))])), null],
  ])("%s", (_name, bytes, sni) => {
    expect(parseClientHello(bytes)).toEqual({ isClientHello: true, sni, complete: true });
  });

  it("finds the SNI when only the first record of a split ClientHello was captured, if it is in there", () => {
    const split = clientHello("early.example", { fragment: 200 });
    const firstRecord = split.subarray(0, 5 + 200);
    expect(parseClientHello(firstRecord)).toMatchObject({ isClientHello: true, sni: "early.example" });
  });

  it("recognises a ClientHello from its first 6 bytes and never reports a wrong SNI when truncated", () => {
    for (let length = 0; length <= nodeHello.length; length++) {
      const hello = parseClientHello(nodeHello.subarray(0, length));
      expect(hello.isClientHello).toBe(length >= 6);
      expect([null, "db.example.internal"]).toContain(hello.sni);
    }
  });

  it.each([
    ["an application data record", Buffer.concat([Buffer.from([0x17]), nodeHello.subarray(1)])],
    ["a ServerHello", Buffer.concat([nodeHello.subarray(0, 5), Buffer.from([0x02]), nodeHello.subarray(6)])],
    ["record version 0x0205", Buffer.concat([Buffer.from([0x16, 0x02, 0x05]), nodeHello.subarray(3)])],
    ["a zero-length record", Buffer.from([0x16, 0x03, 0x01, 0x00, 0x00, 0x01])],
    ["an HTTP request", Buffer.from("GET / HTTP/1.1\r\n\r\n")],
    ["nothing", Buffer.alloc(0)],
    ["null", null],
  ])("rejects %s", (_name, bytes) => {
    expect(parseClientHello(bytes)).toEqual({ isClientHello: false, sni: null, complete: false });
  });

  it("never throws on arbitrary bytes, and a name it reports is printable ASCII", () => {
    const withHeader = fc.uint8Array({ maxLength: 400 }).map((a) => Buffer.concat([Buffer.from([0x16, 0x03, 0x01, 0x01, 0x00, 0x01]), a]));
    fc.assert(
      fc.property(fc.oneof(fc.uint8Array({ maxLength: 400 }), withHeader), (bytes) => {
        const { sni } = parseClientHello(bytes);
        if (sni !== null) expect(sni).toMatch(/^[\x21-\x7e]{1,255}$/);
      }),
      { seed: 11, numRuns: 2000 },
    );
  });

  it("never throws on ClientHellos with bytes flipped", () => {
    const seeds = [nodeHello, clientHello("flip.example", { fragment: 50 }), records(clientHelloMessage(otherExtensions))];
    fc.assert(
      fc.property(fc.constantFrom(...seeds), fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 6 }), (seed, flips) => {
        const bytes = Buffer.from(seed);
        for (const [i, v] of flips) bytes[i % bytes.length] = v;
        const hello = parseClientHello(bytes);
        expect(typeof hello.isClientHello).toBe("boolean");
      }),
      { seed: 11, numRuns: 2000 },
    );
  });
});
