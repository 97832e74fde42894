import { pino } from "pino";
import { describe, expect, it } from "vitest";
import { createLogger } from "../src/logger.ts";

// pino keeps the serialised base bindings (",\"svc\":…") under this symbol.
function baseBindings(logger: object): string {
  return String((logger as Record<symbol, unknown>)[pino.symbols.chindingsSym]);
}

describe("createLogger", () => {
  it("tags every line with the service name and pid", () => {
    const logger = createLogger("capture");
    expect(JSON.parse(`{${baseBindings(logger).slice(1)}}`)).toEqual({ svc: "capture", pid: process.pid });
  });

  it("defaults to info and takes a level", () => {
    expect(createLogger("x").level).toBe("info");
    expect(createLogger("x", "debug").level).toBe("debug");
  });

  it("rejects an unknown level", () => {
    expect(() => createLogger("x", "loud")).toThrow();
  });
});
