// Issue 10, item 9 (capture side), through the kernel: a start script (sh, opted in) forks helpers that never touch
// the network (sleep, sed, a subshell, true) and one networked program (curl to a local server that did not opt
// in). The process facts mark network activity once, for curl alone (`event: "net"`), and every fact of the script's
// processes, those whose /proc was already gone included (every exit fact, at least), carries the ADI_PROFILE and
// ADI_PROFILE_NAME the kernel read at exec (or inherited at fork).
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ProcessFact } from "@adi/shared/wire";
import { freePort, NatsServerFixture } from "../../../test/support/nats-server.ts";
import { readAllAndClose } from "../../../test/support/stream.ts";
import { captureForkingScript } from "../../../test/support/capture.ts";

const PROFILE = `net-${randomBytes(4).toString("hex")}`;
const NAME = "starter";

let nats: NatsServerFixture;
let facts: ProcessFact[] = [];
let tree: ProcessFact[] = [];
let scriptPid = 0;

beforeAll(async () => {
  nats = await NatsServerFixture.start();
  const { cap, script: r } = await captureForkingScript(nats.url, await freePort(), { ADI_PROFILE: PROFILE, ADI_PROFILE_NAME: NAME });
  ({ facts } = await readAllAndClose(cap.nc));
  expect(r.code, r.stderr).toBe(0);
  expect(r.stdout.trim()).toBe("Done");
  scriptPid = r.pid;
  // The script and everything it started, by parent links (whatever their names say).
  const pids = new Set([scriptPid]);
  for (let grew = true; grew; ) {
    grew = false;
    for (const f of facts) {
      if (!pids.has(f.pid) && f.ppid !== null && pids.has(f.ppid)) {
        pids.add(f.pid);
        grew = true;
      }
    }
  }
  tree = facts.filter((f) => pids.has(f.pid));
}, 60_000);

afterAll(async () => {
  await nats?.stop();
});

describe("processes that made network calls", () => {
  it("the script forked several processes (sleep, sed, subshell, curl…)", () => {
    const comms = new Set(tree.filter((f) => f.event === "exec").map((f) => f.comm));
    for (const c of ["sleep", "sed", "true", "curl"]) expect(comms, c).toContain(c);
    expect(new Set(tree.map((f) => f.pid)).size).toBeGreaterThanOrEqual(7);
  });

  it("are marked once each: curl, and nothing else the script started", () => {
    const nets = tree.filter((f) => f.event === "net");
    expect(nets.map((f) => f.comm)).toEqual(["curl"]);
    const curlExec = tree.find((f) => f.event === "exec" && f.comm === "curl")!;
    expect(nets[0]).toMatchObject({
      pid: curlExec.pid,
      start_ticks: curlExec.start_ticks,
      boot_id: curlExec.boot_id,
      optin: "yes",
      adi_profile_match: PROFILE,
      adi_profile_name: NAME,
    });
    expect(nets[0]!.cmdline).toContain(`curl -sS --fail -o /dev/null http://127.0.0.1:`);
    // Its time is its first connection's: after its exec, before its exit.
    const exit = tree.find((f) => f.event === "exit" && f.pid === curlExec.pid)!;
    expect(nets[0]!.ts > curlExec.ts && nets[0]!.ts <= exit.ts).toBe(true);
    // No other identity of this profile was marked (a server that did not opt in never is).
    expect(facts.filter((f) => f.event === "net" && f.adi_profile_match === PROFILE)).toHaveLength(1);
  });
});

describe("a process gone before /proc was read", () => {
  it("still carries the kernel's ADI_PROFILE match and ADI_PROFILE_NAME, in every fact", () => {
    const exits = tree.filter((f) => f.event === "exit");
    expect(exits.length).toBeGreaterThanOrEqual(6);
    for (const f of tree) {
      expect(f, `${f.event} of ${f.comm} (${f.pid})${f.error ? `: ${f.error}` : ""}`).toMatchObject({ optin: "yes", adi_profile_match: PROFILE, adi_profile_name: NAME });
    }
    const gone = tree.filter((f) => f.error !== null);
    console.log(`facts of the script's processes: ${tree.length}, exits ${exits.length}, /proc unreadable ${gone.length}`);
  });
});
