// Opt-in is decided in the kernel at exec, so a process that sends within a millisecond of exec is captured
// from its first byte; and pid + start time is the identity, so a reused pid never mixes two processes.
import { createServer } from "node:net";
import type { Server } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ProcessFact } from "@adi/shared/wire";
import { NatsServerFixture } from "../../../test/support/nats-server.ts";
import { readAllAndClose } from "../../../test/support/stream.ts";
import type { RawContents } from "../../../test/support/stream.ts";
import { processEnv, run, sleep, startCapture } from "../../../test/support/capture.ts";

// Forks; the child (optionally only once it has the wanted pid, set up through ns_last_pid) execs bash,
// which connects and writes its message straight away. Prints the child's pid.
const FORK_EXEC = `
import os, sys
port, message, name, want = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
env = {"PATH": "/usr/bin:/bin", "ADI_PROFILE": "e2e", "ADI_PROFILE_NAME": name}
script = 'exec 3<>/dev/tcp/127.0.0.1/%s; printf %%s "%s" >&3; exec 3>&-' % (port, message)
for attempt in range(200):
    if want:
        with open("/proc/sys/kernel/ns_last_pid", "w") as f:
            f.write(str(want - 1))
    pid = os.fork()
    if pid == 0:
        if want and os.getpid() != want:
            os._exit(3)
        os.execve("/bin/bash", ["bash", "-c", script], env)
    _, status = os.waitpid(pid, 0)
    if os.waitstatus_to_exitcode(status) != 3:
        print(pid)
        sys.exit(0)
sys.exit("could not get pid %d" % want)
`;

let nats: NatsServerFixture;
let listener: Server;
let raw: RawContents;
let facts: ProcessFact[];
const received: string[] = [];
let fastPid = 0;
let reusedPid = 0;

async function forkExec(port: number, message: string, name: string, want = 0): Promise<number> {
  const r = await run("python3", ["-c", FORK_EXEC, String(port), message, name, String(want)], { env: processEnv({}) });
  expect(r.code, r.stderr).toBe(0);
  return Number(r.stdout.trim());
}

beforeAll(async () => {
  nats = await NatsServerFixture.start();
  listener = createServer((s) => s.on("data", (d) => received.push(d.toString())));
  await new Promise<void>((r) => listener.listen(0, "127.0.0.1", r));
  const port = (listener.address() as { port: number }).port;
  const cap = await startCapture(nats.url);
  try {
    fastPid = await forkExec(port, "FIRST-BYTES-ARE-HERE", "fast");
    reusedPid = await forkExec(port, "I-AM-first", "first");
    await sleep(30); // a later start tick (10 ms each) for the process that reuses the pid
    const second = await forkExec(port, "I-AM-second", "second", reusedPid);
    expect(second).toBe(reusedPid);
    await sleep(200);
  } finally {
    await cap.stop();
  }
  ({ raw, facts } = await readAllAndClose(cap.nc));
});

afterAll(async () => {
  listener?.close();
  await nats?.stop();
});

describe("a process that sends right after exec", () => {
  it("is captured from its first byte", () => {
    const sent = raw.data.filter((d) => d.pid === fastPid && d.direction === "egress" && d.tuple.protocol === "tcp");
    expect(sent.length).toBeGreaterThan(0);
    expect(sent[0]!.offset).toBe(0);
    expect(Buffer.concat(sent.map((d) => d.payload)).toString()).toBe("FIRST-BYTES-ARE-HERE");
    const open = raw.records.find((r) => r.type === "conn_open" && r.pid === fastPid);
    expect(open).toMatchObject({ syscall: "connect", role: "client" });
    expect(received.join("")).toContain("FIRST-BYTES-ARE-HERE");
  });

  it("has an exec fact naming it, from the kernel's reading of its environment", () => {
    const exec = facts.find((f) => f.pid === fastPid && f.event === "exec");
    expect(exec).toMatchObject({ adi_profile_match: "e2e", optin: "yes" });
    // bash may be gone before /proc is read: then the fact carries the error and the kernel's view.
    if (exec!.error === null) expect(exec!.adi_profile_name).toBe("fast");
    else expect(exec!.error).toMatch(/\/proc\/\d+\//);
  });
});

describe("a reused pid", () => {
  it("yields two identities, each with its own bytes", () => {
    const records = raw.data.filter((d) => d.pid === reusedPid && d.direction === "egress" && d.tuple.protocol === "tcp");
    const starts = [...new Set(records.map((d) => d.startTicks))];
    expect(starts).toHaveLength(2);
    const bytesOf = (start: number) => Buffer.concat(records.filter((d) => d.startTicks === start).map((d) => d.payload)).toString();
    const [a, b] = starts.sort((x, y) => x - y) as [number, number];
    expect(bytesOf(a)).toBe("I-AM-first");
    expect(bytesOf(b)).toBe("I-AM-second");
    const execs = facts.filter((f) => f.pid === reusedPid && f.event === "exec");
    expect(execs.find((f) => f.start_ticks === a)?.adi_profile_name ?? "first").toBe("first");
    expect(execs.find((f) => f.start_ticks === b)?.adi_profile_name ?? "second").toBe("second");
    expect(new Set(execs.map((f) => f.start_ticks))).toEqual(new Set([a, b]));
  });

  it("keeps connection ids apart", () => {
    const conns = new Set(raw.data.filter((d) => d.pid === reusedPid).map((d) => d.connId));
    expect(conns.size).toBe(2);
  });
});
