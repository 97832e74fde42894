// Children an opted-in process forks (and that never exec) inherit its verdict, and their process facts name them
// with the parent's ADI_PROFILE / ADI_PROFILE_NAME even when they are gone before the agent reads /proc: the kernel
// copies the names it took at exec (or that the agent gave it for a process found running) into the fork record.
import { writeFileSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ProcessFact } from "@adi/shared/wire";
import { freePort, NatsServerFixture, waitForPort } from "../../../test/support/nats-server.ts";
import { readAllAndClose } from "../../../test/support/stream.ts";
import type { RawContents } from "../../../test/support/stream.ts";
import { processEnv, run, sleep, startBackground, startCapture, stopBackground } from "../../../test/support/capture.ts";

const CHILDREN = 12;
// Each child connects, sends one request, reads the answer and exits at once (os._exit: no cleanup, no exec).
const FORKER = `
import os, socket, sys
port = int(sys.argv[1])
pids = []
for i in range(${CHILDREN}):
    pid = os.fork()
    if pid == 0:
        s = socket.create_connection(("127.0.0.1", port))
        s.sendall(b"GET /child/%d HTTP/1.0\\r\\nHost: x\\r\\n\\r\\n" % i)
        while s.recv(65536):
            pass
        os._exit(0)
    pids.append(pid)
for pid in pids:
    os.waitpid(pid, 0)
print(" ".join(str(p) for p in pids))
`;

let nats: NatsServerFixture;
let facts: ProcessFact[];
let raw: RawContents;
let children: number[] = [];

beforeAll(async () => {
  nats = await NatsServerFixture.start();
  const dir = mkdtempSync(join(tmpdir(), "adi-fork-"));
  writeFileSync(join(dir, "forker.py"), FORKER);
  const port = await freePort();
  const cap = await startCapture(nats.url);
  const server = startBackground("python3", ["-m", "http.server", String(port), "--bind", "127.0.0.1"], { cwd: dir, env: processEnv({}) });
  try {
    await waitForPort(port);
    const r = await run("python3", [join(dir, "forker.py"), String(port)], { env: processEnv({ ADI_PROFILE: "fork", ADI_PROFILE_NAME: "forker" }) });
    expect(r.code, r.stderr).toBe(0);
    children = r.stdout.trim().split(" ").map(Number);
    await sleep(300);
  } finally {
    await stopBackground(server);
    await cap.stop();
  }
  ({ raw, facts } = await readAllAndClose(cap.nc));
});

afterAll(async () => {
  await nats?.stop();
});

describe("forked children that never exec", () => {
  it("are captured, each with its own calls", () => {
    expect(children).toHaveLength(CHILDREN);
    for (const pid of children) expect(raw.data.some((d) => d.pid === pid && d.direction === "egress"), `pid ${pid}`).toBe(true);
  });

  it("are named after their parent's ADI_PROFILE_NAME, read from /proc or not", () => {
    const forks = facts.filter((f) => f.event === "fork" && children.includes(f.pid));
    expect(forks.map((f) => f.pid).sort()).toEqual([...children].sort());
    for (const f of forks) expect(f, `pid ${f.pid}${f.error ? ` (${f.error})` : ""}`).toMatchObject({ optin: "yes", adi_profile_match: "fork", adi_profile_name: "forker" });
    // At least some were gone before /proc could be read: the names came from the kernel.
    console.log(`fork facts: ${forks.length}, of which /proc unreadable: ${forks.filter((f) => f.error).length}`);
  });
});
