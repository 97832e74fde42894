// adi replay's pure checks: where each rebuilt file goes in DIR, and which error line each failure gets (what a
// nats.js error means is errors.ts's, tested against a real server in shared/test/nats-errors.int.spec.ts).
import { describe, expect, it } from "vitest";
import { AdiError, formatFatal } from "@adi/shared";
import { JetStreamApiError } from "@nats-io/jetstream";
import { ClosedConnectionError, NoRespondersError, PermissionViolationError, RequestError, TimeoutError } from "@nats-io/transport-node";
import { replayError, replayFiles } from "../commands/replay.ts";

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

describe("replayError", () => {
  const asLine = (err: unknown) => formatFatal(err);

  it("a missing stream: ADI_ERR_NO_STREAM, exit 5", () => {
    const e = replayError(new JetStreamApiError({ code: 404, err_code: 10059, description: "stream not found" }), "/r", "ADI_FACTS");
    expect(asLine(e)).toMatchObject({ exitCode: 5 });
    expect(asLine(e).line).toMatch(/^adi: ADI_ERR_NO_STREAM: stream ADI_FACTS does not exist on the broker: nothing to replay/);
  });

  it.each([
    ["TimeoutError", () => new TimeoutError(), "timeout"],
    ["NoResponders", () => new RequestError("no responders: '$JS.API.INFO'", { cause: new NoRespondersError("$JS.API.INFO") }), "no responders"],
    ["ClosedConnectionError", () => new ClosedConnectionError(), "closed connection"],
    ["JetStreamApiError", () => new JetStreamApiError({ code: 503, err_code: 10008, description: "JetStream system temporarily unavailable" }), "JetStream system"],
    ["PermissionViolationError", () => new PermissionViolationError("Permissions Violation for Subscription to \"_INBOX.>\"", "subscription", "_INBOX.>"), "Permissions Violation"],
  ] as const)("a broker error (%s) while reading: ADI_ERR_NOT_FOLLOWING, exit 5, naming the stream", (_name, make, text) => {
    const e = replayError(make(), "/r", "ADI_RAW");
    expect(asLine(e)).toMatchObject({ exitCode: 5 });
    expect(asLine(e).line).toMatch(new RegExp(`^adi: ADI_ERR_NOT_FOLLOWING: replay could not read stream ADI_RAW: ${text}`));
  });

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
    const timeout = new TimeoutError();
    expect(replayError(timeout, "/r", null)).toBe(timeout);
    // An error merely named like a NATS one is not taken for one: only nats.js's classes are.
    const lookalike = Object.assign(new Error("timeout"), { name: "TimeoutError" });
    expect(replayError(lookalike, "/r", "ADI_RAW")).toBe(lookalike);
  });
});
