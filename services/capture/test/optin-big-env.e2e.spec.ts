// Opt-in decided by the kernel at exec from the whole environment, however long (issue 9): a process whose
// ADI_PROFILE_DISABLED=1 (or ADI_PROFILE) comes after 1,500 other variables is judged on it, like one with a
// short environment. The processes are real curls (exec'd directly, so the environment keeps the order given)
// calling a server in this test process, which is not opted in: only the curls can appear in the stream.
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { HttpExchange, ProcessFact } from "@adi/shared/wire";
import type { RawContents } from "../../../test/support/stream.ts";
import { byteStream, readAllAndClose } from "../../../test/support/stream.ts";
import { processEnv, run, sleep, startCapture } from "../../../test/support/capture.ts";
import { classify } from "../../../test/support/exchanges.ts";
import { NatsServerFixture } from "../../../test/support/nats-server.ts";

const FILLER = 1_500;

/** 1,500 variables that are not adi's, ~40 bytes each, in a fixed order. */
function filler(): Record<string, string> {
  const vars: Record<string, string> = {};
  for (let i = 0; i < FILLER; i++) vars[`FILLER_${String(i).padStart(4, "0")}`] = `value-${i}-${"z".repeat(i % 29)}`;
  return vars;
}

/** Object key order is the order of the environment block the child gets (no integer-like keys here). */
const envs = {
  // ADI_PROFILE first, the veto after the filler: must not be captured.
  disabledLate: processEnv({ ADI_PROFILE: "x", ADI_PROFILE_NAME: "disabled-late", ...filler(), ADI_PROFILE_DISABLED: "1" }),
  // ADI_PROFILE only after the filler: must be captured.
  profileLate: processEnv({ ADI_PROFILE_NAME: "profile-late", ...filler(), ADI_PROFILE: "x" }),
};

let nats: NatsServerFixture;
let raw: RawContents;
let facts: ProcessFact[];
let http: HttpExchange[];
const pids = { disabledLate: 0, profileLate: 0 };
const seen: string[] = [];

beforeAll(async () => {
  const server = createServer((req, res) => {
    seen.push(req.url ?? "");
    res.writeHead(200, { "Content-Type": "application/json" });
    res.end(JSON.stringify({ path: req.url }));
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as AddressInfo).port;
  nats = await NatsServerFixture.start();
  const cap = await startCapture(nats.url);
  try {
    for (const key of ["disabledLate", "profileLate"] as const) {
      const env = envs[key];
      const names = Object.keys(env);
      // The order under test: the deciding variable after the filler.
      const deciding = key === "disabledLate" ? "ADI_PROFILE_DISABLED" : "ADI_PROFILE";
      expect(names.indexOf(deciding)).toBeGreaterThan(names.indexOf(`FILLER_${FILLER - 1}`));
      const r = await run("curl", ["-sS", "--fail", "-o", "/dev/null", `http://127.0.0.1:${port}/${key}`], { env });
      expect(r.code, r.stderr).toBe(0);
      pids[key] = r.pid;
    }
    await sleep(200);
  } finally {
    await cap.stop();
    await new Promise((r) => server.close(r));
  }
  ({ raw, facts } = await readAllAndClose(cap.nc));
  http = classify(raw).http;
}, 60_000);

afterAll(async () => {
  await nats?.stop();
});

describe("opt-in with 1,500 variables before the deciding one", () => {
  it("does not capture a process whose ADI_PROFILE_DISABLED=1 comes after them", () => {
    expect(seen).toContain("/disabledLate"); // it did make its call
    expect(raw.data.filter((d) => d.pid === pids.disabledLate)).toHaveLength(0);
    expect(http.filter((x) => x.pid === pids.disabledLate)).toHaveLength(0);
    const mine = facts.filter((f) => f.pid === pids.disabledLate);
    expect(mine.filter((f) => f.optin === "yes").map((f) => `${f.event}: ${f.optin}`)).toEqual([]);
  });

  it("captures a process whose ADI_PROFILE comes after them, from its first byte", () => {
    expect(seen).toContain("/profileLate");
    expect(byteStream(raw.data, pids.profileLate, "egress").toString()).toMatch(/^GET \/profileLate HTTP\/1\.1\r\n/);
    const client = http.filter((x) => x.pid === pids.profileLate);
    expect(client).toHaveLength(1);
    expect(client[0]).toMatchObject({ side: "client", request: { method: "GET", target: "/profileLate" }, response: { status: 200 } });
    expect(JSON.parse(client[0]!.response!.body!)).toEqual({ path: "/profileLate" });
    const exec = facts.find((f) => f.pid === pids.profileLate && f.event === "exec");
    expect(exec).toMatchObject({ optin: "yes", adi_profile_match: "x", adi_profile_name: "profile-late" });
  });
});
