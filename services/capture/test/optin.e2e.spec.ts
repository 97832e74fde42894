// Opt-in is decided in the kernel at exec, with the Go tool's rules: the same traffic from a process
// without ADI_PROFILE, with ADI_PROFILE_DISABLED=1, or with a value outside ADI_PROFILE_ALLOWED adds
// nothing to the stream. An allowed process in the same run is the control: it must be captured.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ProcessFact } from "@adi/shared/wire";
import { freePort, NatsServerFixture, waitForPort } from "../../../test/support/nats-server.ts";
import { readAllAndClose } from "../../../test/support/stream.ts";
import type { RawContents } from "../../../test/support/stream.ts";
import { processEnv, run, sleep, startBackground, startCapture, stopBackground } from "../../../test/support/capture.ts";

let nats: NatsServerFixture;
let raw: RawContents;
let facts: ProcessFact[];
const pids: Record<string, number> = {};
const cases: Record<string, Record<string, string>> = {
  none: {},
  disabled: { ADI_PROFILE: "local", ADI_PROFILE_DISABLED: "1" },
  notAllowed: { ADI_PROFILE: "prod" },
  empty: { ADI_PROFILE: "" },
  allowed: { ADI_PROFILE: "dev", ADI_PROFILE_NAME: "control" },
};

beforeAll(async () => {
  nats = await NatsServerFixture.start();
  const port = await freePort();
  const cap = await startCapture(nats.url, { ADI_PROFILE_ALLOWED: "local,dev" });
  // The server is not opted in either: only the clients' own verdicts decide.
  const server = startBackground("python3", ["-m", "http.server", String(port), "--bind", "127.0.0.1"], { env: processEnv({}) });
  try {
    await waitForPort(port);
    for (const [name, env] of Object.entries(cases)) {
      const r = await run("curl", ["-sS", "-o", "/dev/null", `http://127.0.0.1:${port}/`], { env: processEnv(env) });
      expect(r.code, r.stderr).toBe(0);
      pids[name] = r.pid;
    }
    await sleep(200);
  } finally {
    await stopBackground(server);
    await cap.stop();
  }
  ({ raw, facts } = await readAllAndClose(cap.nc));
});

afterAll(async () => {
  await nats?.stop();
});

describe("opt-in rules", () => {
  it("captures the allowed process (the control)", () => {
    expect(raw.data.some((d) => d.pid === pids.allowed && d.payload.toString().startsWith("GET / HTTP/1.1"))).toBe(true);
    expect(facts.some((f) => f.pid === pids.allowed && f.adi_profile_name === "control")).toBe(true);
  });

  for (const name of ["none", "disabled", "notAllowed", "empty"]) {
    it(`adds nothing for a process with ${name === "none" ? "no ADI_PROFILE" : JSON.stringify(cases[name])}`, () => {
      expect(raw.records.filter((r) => r.pid === pids[name])).toEqual([]);
      expect(facts.filter((f) => f.pid === pids[name])).toEqual([]);
    });
  }

  it("holds nothing but the control's connection in the raw stream", () => {
    expect(new Set(raw.records.map((r) => r.pid))).toEqual(new Set([pids.allowed]));
  });
});
