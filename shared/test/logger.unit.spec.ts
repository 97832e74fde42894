import { Writable } from "node:stream";
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

  it("writes this process's pid once per JSON line; a traced process's pid field becomes observed_pid", () => {
    const { lines, destination } = capture();
    const logger = createLogger("capture", "info", { format: "json", destination });
    logger.warn({ pid: 4242, svc: "nginx", comm: "nginx" }, "environment too long");
    logger.info("plain");
    expect(lines).toHaveLength(2);
    for (const line of lines) expect(line.match(/"pid":/g)).toHaveLength(1);
    expect(lines[0]!.match(/"svc":/g)).toHaveLength(1);
    expect(JSON.parse(lines[0]!)).toMatchObject({ pid: process.pid, svc: "capture", observed_pid: 4242, observed_svc: "nginx", comm: "nginx", msg: "environment too long" });
  });

  it("writes human-readable lines when asked (a terminal's default), not JSON", () => {
    const { lines, destination } = capture();
    const logger = createLogger("mapper", "info", { format: "pretty", destination });
    logger.info({ pid: 7 }, "service map written");
    const text = lines.join("");
    expect(text).toContain("INFO");
    expect(text).toContain("mapper: service map written");
    expect(text).toContain("observed_pid: 7");
    expect(() => JSON.parse(lines[0]!)).toThrow();
  });
});

/** A destination stream that keeps what is written, one entry per write. */
function capture(): { lines: string[]; destination: Writable } {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer | string, _encoding, done) {
      lines.push(chunk.toString());
      done();
    },
  });
  return { lines, destination };
}
