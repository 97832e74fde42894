// adi replay's pure checks: where each rebuilt file goes in DIR, and which broker error means "no stream".
import { describe, expect, it } from "vitest";
import { AdiError, formatFatal } from "@adi/shared";
import { isStreamNotFound, replayError, replayFiles } from "../commands/replay.ts";

const cfg = (outputPath: string, serviceMapPath: string | undefined, envOutputPath: string) => ({ outputPath, serviceMapPath, envOutputPath });

function refusal(f: () => unknown): AdiError {
  try {
    f();
  } catch (err) {
    if (err instanceof AdiError) return err;
    throw err;
  }
  throw new Error("not refused");
}

describe("replayFiles", () => {
  it("names each file in DIR after its setting's base name (the map's default when SERVICE_MAP_PATH is unset)", () => {
    expect(replayFiles("/r", cfg("/var/log/ebpf_http_profiler.log", undefined, "/var/log/ebpf_http_env.yaml"))).toEqual({
      log: "/r/ebpf_http_profiler.log",
      map: "/r/ebpf_service_map.yaml",
      env: "/r/ebpf_http_env.yaml",
    });
    expect(replayFiles("out", cfg("/a/t.log", "/b/m.yaml", "/c/e.yaml"))).toEqual({ log: "out/t.log", map: "out/m.yaml", env: "out/e.yaml" });
  });

  it.each([
    [cfg("/a/out.txt", "/b/out.txt", "/c/env.yaml"), "OUTPUT_PATH", "SERVICE_MAP_PATH", "out.txt"],
    [cfg("/a/out.txt", "/b/m.yaml", "/c/out.txt"), "OUTPUT_PATH", "ENV_OUTPUT_PATH", "out.txt"],
    [cfg("/a/t.log", "/b/env.yaml", "/c/env.yaml"), "SERVICE_MAP_PATH", "ENV_OUTPUT_PATH", "env.yaml"],
    // SERVICE_MAP_PATH unset: its default name taken by another setting
    [cfg("/a/ebpf_service_map.yaml", undefined, "/c/e.yaml"), "OUTPUT_PATH", "SERVICE_MAP_PATH", "ebpf_service_map.yaml"],
  ])("refuses two outputs with one base name (%j): ADI_ERR_OUTPUT_PATH, exit 2, one line", (c, first, second, name) => {
    const err = refusal(() => replayFiles("/r", c));
    expect(err.code).toBe("ADI_ERR_OUTPUT_PATH");
    expect(err.exitCode).toBe(2);
    expect(err.message).toMatch(new RegExp(`^--out "/r": ${first}=".*" and ${second}=".*" have the same file name "${name.replace(".", "\\.")}"`));
    const { line, exitCode } = formatFatal(err);
    expect(line).toMatch(/^adi: ADI_ERR_OUTPUT_PATH: --out "\/r": /);
    expect(line).not.toMatch(/\n/);
    expect(exitCode).toBe(2);
  });
});

describe("isStreamNotFound", () => {
  it("recognises the JetStream client's stream-not-found error, by name, API code or text", () => {
    const byName = Object.assign(new Error("stream not found"), { name: "StreamNotFoundError" });
    const byCode = Object.assign(new Error("whatever"), { name: "JetStreamApiError", code: 10059 });
    expect(isStreamNotFound(byName)).toBe(true);
    expect(isStreamNotFound(byCode)).toBe(true);
    expect(isStreamNotFound(new Error("stream not found"))).toBe(true);
  });

  it("leaves other errors alone", () => {
    expect(isStreamNotFound(Object.assign(new Error("consumer not found"), { name: "ConsumerNotFoundError", code: 10014 }))).toBe(false);
    expect(isStreamNotFound(new Error("TIMEOUT"))).toBe(false);
    expect(isStreamNotFound("stream not found")).toBe(false);
    expect(isStreamNotFound(undefined)).toBe(false);
  });
});

describe("replayError", () => {
  const asLine = (err: unknown) => formatFatal(err);

  it("a missing stream: ADI_ERR_NO_STREAM, exit 5", () => {
    const e = replayError(Object.assign(new Error("stream not found"), { name: "StreamNotFoundError" }), "/r", "ADI_FACTS");
    expect(asLine(e)).toMatchObject({ exitCode: 5 });
    expect(asLine(e).line).toMatch(/^adi: ADI_ERR_NO_STREAM: stream ADI_FACTS does not exist on the broker: nothing to replay/);
  });

  it.each(["JetStreamNotEnabled", "TimeoutError", "NoResponders", "ClosedConnectionError", "JetStreamApiError", "PermissionViolationError"])(
    "a broker error (%s) while reading: ADI_ERR_NOT_FOLLOWING, exit 5, naming the stream",
    (name) => {
      const e = replayError(Object.assign(new Error("jetstream is not enabled"), { name }), "/r", "ADI_RAW");
      expect(asLine(e)).toMatchObject({ exitCode: 5 });
      expect(asLine(e).line).toMatch(/^adi: ADI_ERR_NOT_FOLLOWING: replay could not read stream ADI_RAW: jetstream is not enabled/);
    },
  );

  it.each([
    ["write", "ENOSPC"],
    ["rename", "EXDEV"],
    ["open", "EACCES"],
  ])("a failed %s in DIR (%s): ADI_ERR_OUTPUT_PATH, exit 2", (syscall, code) => {
    const e = replayError(Object.assign(new Error(`${code}: failed, ${syscall}`), { code, syscall }), "/r", "ADI_RAW");
    expect(asLine(e)).toMatchObject({ exitCode: 2 });
    expect(asLine(e).line).toMatch(new RegExp(`^adi: ADI_ERR_OUTPUT_PATH: --out "/r": cannot be written: ${code}`));
  });

  it("passes AdiErrors through, and leaves a bug (or a socket error outside a read) an unexpected error, exit 1", () => {
    const adi = new AdiError("ADI_ERR_CONFIG", "x");
    expect(replayError(adi, "/r", null)).toBe(adi);
    const bug = new TypeError("undefined is not a function");
    expect(replayError(bug, "/r", "ADI_RAW")).toBe(bug);
    const reset = Object.assign(new Error("read ECONNRESET"), { code: "ECONNRESET", syscall: "read" });
    expect(replayError(reset, "/r", null)).toBe(reset);
    expect(replayError(Object.assign(new Error("t"), { name: "TimeoutError" }), "/r", null)).toMatchObject({ name: "TimeoutError" });
  });
});
