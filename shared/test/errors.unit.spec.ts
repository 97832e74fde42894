import { describe, expect, it } from "vitest";
import { AdiError, adiError, ErrorCodes, formatFatal, type ErrorCode } from "../src/errors.ts";

describe("ErrorCodes", () => {
  it("maps each code to the documented exit code", () => {
    const exits = Object.fromEntries(Object.entries(ErrorCodes).map(([code, info]) => [code, info.exitCode]));
    expect(exits).toEqual({
      ADI_ERR_CONFIG: 2,
      ADI_ERR_OUTPUT_PATH: 2,
      ADI_ERR_DATA_DIR: 2,
      ADI_ERR_NOT_ROOT: 3,
      ADI_ERR_NO_BTF: 3,
      ADI_ERR_TRACEFS: 3,
      ADI_ERR_BPF_LOAD: 4,
      ADI_ERR_ADDON_MISSING: 4,
      ADI_ERR_NATS_UNREACHABLE: 5,
      ADI_ERR_NATS_AUTH: 5,
      ADI_ERR_NATS_SERVER_MISSING: 5,
      ADI_ERR_NOT_FOLLOWING: 5,
      ADI_ERR_NO_STREAM: 5,
    });
  });

  it("never uses exit code 0 or 1 (1 is reserved for unexpected errors)", () => {
    for (const info of Object.values(ErrorCodes)) expect(info.exitCode).toBeGreaterThan(1);
  });
});

describe("AdiError", () => {
  it("carries code, exit code, name and cause", () => {
    const cause = new Error("ECONNREFUSED 127.0.0.1:4222");
    const err = adiError("ADI_ERR_NATS_UNREACHABLE", "cannot connect to nats://127.0.0.1:4222", cause);
    expect(err).toBeInstanceOf(AdiError);
    expect(err).toBeInstanceOf(Error);
    expect(err.name).toBe("AdiError");
    expect(err.code).toBe("ADI_ERR_NATS_UNREACHABLE");
    expect(err.exitCode).toBe(5);
    expect(err.message).toBe("cannot connect to nats://127.0.0.1:4222");
    expect(err.cause).toBe(cause);
  });

  it("has no cause property when none is given", () => {
    expect("cause" in adiError("ADI_ERR_CONFIG", "x")).toBe(false);
  });
});

describe("formatFatal", () => {
  it("formats an AdiError as `adi: <code>: <detail>` with its exit code", () => {
    expect(formatFatal(adiError("ADI_ERR_CONFIG", 'ADI_PARTITIONS="0": expected an integer between 1 and 1024'))).toEqual({
      line: 'adi: ADI_ERR_CONFIG: ADI_PARTITIONS="0": expected an integer between 1 and 1024',
      exitCode: 2,
    });
  });

  it("appends the registry's hint", () => {
    const { line, exitCode } = formatFatal(adiError("ADI_ERR_ADDON_MISSING", "cannot load adi_capture.node"));
    expect(line).toBe("adi: ADI_ERR_ADDON_MISSING: cannot load adi_capture.node (run scripts/setup.sh)");
    expect(exitCode).toBe(4);
  });

  it("appends the cause's message unless the detail already has it", () => {
    const cause = new Error("Operation not permitted");
    expect(formatFatal(adiError("ADI_ERR_BPF_LOAD", "attach tracepoint", cause)).line).toBe(
      "adi: ADI_ERR_BPF_LOAD: attach tracepoint: Operation not permitted",
    );
    expect(formatFatal(adiError("ADI_ERR_BPF_LOAD", "attach: Operation not permitted", cause)).line).toBe(
      "adi: ADI_ERR_BPF_LOAD: attach: Operation not permitted",
    );
  });

  it("keeps the line on one line", () => {
    const { line } = formatFatal(adiError("ADI_ERR_BPF_LOAD", "verifier said:\n  R1 invalid mem access\n\nprocessed 12 insns"));
    expect(line).not.toMatch(/[\r\n]/);
    expect(line).toBe("adi: ADI_ERR_BPF_LOAD: verifier said: R1 invalid mem access processed 12 insns");
  });

  it("gives exit code 1 for anything that is not an AdiError", () => {
    expect(formatFatal(new TypeError("x is undefined"))).toEqual({ line: "adi: TypeError: x is undefined", exitCode: 1 });
    expect(formatFatal("boom")).toEqual({ line: "adi: boom", exitCode: 1 });
    expect(formatFatal(undefined).exitCode).toBe(1);
  });

  it("formats every registered code", () => {
    for (const code of Object.keys(ErrorCodes) as ErrorCode[]) {
      const { line, exitCode } = formatFatal(adiError(code, "detail"));
      expect(line.startsWith(`adi: ${code}: detail`)).toBe(true);
      expect(exitCode).toBe(ErrorCodes[code].exitCode);
    }
  });
});
