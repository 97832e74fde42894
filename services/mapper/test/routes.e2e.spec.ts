// Routes fold per service and by cardinality, through the kernel: a caller that forks 4 workers (gunicorn's
// model: os.fork, no exec, one ADI_PROFILE_NAME) calling /ratings/<id> for 30 ids, and a client calling 10,000
// distinct /user/<random letters> over one keep-alive connection, give one route entry each in the YAML map.
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parse } from "yaml";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort, NatsServerFixture, waitForPort } from "../../../test/support/nats-server.ts";
import { processEnv, run, sleep, startBackground, stopBackground } from "../../../test/support/capture.ts";
import { startPipeline, tearDown } from "../../../test/support/pipeline.ts";
import type { Pipeline } from "../../../test/support/pipeline.ts";

const ROOT = fileURLToPath(new URL("../../../", import.meta.url));
const USER_PATHS = 10_000;
const RATING_IDS = 30;

/** The callers: forked workers sharing ids, or one client of many random paths; keep-alive (http.client). */
const CALLER = `
import http.client, os, random, string, sys
port, mode = int(sys.argv[1]), sys.argv[2]
def call(paths):
    conn = http.client.HTTPConnection("127.0.0.1", port)
    for p in paths:
        conn.request("GET", p)
        r = conn.getresponse()
        r.read()
        assert r.status == 404, r.status
    conn.close()
if mode == "workers":
    kids = []
    for w in range(4):
        pid = os.fork()
        if pid == 0:
            call(["/ratings/%d" % i for i in range(w, ${RATING_IDS}, 4)])
            os._exit(0)
        kids.append(pid)
    for pid in kids:
        assert os.waitpid(pid, 0)[1] == 0
else:
    rnd = random.Random(7)
    seen = set()
    while len(seen) < ${USER_PATHS}:
        seen.add("/user/" + "".join(rnd.choice(string.ascii_lowercase) for _ in range(10)))
    call(sorted(seen))
print("done")
`;

interface MapFile {
  services: { name: string; endpoints?: { path: string; count: number; method: string }[] }[];
}

let nats: NatsServerFixture;
let pipe: Pipeline;
let map: MapFile;

beforeAll(async () => {
  nats = await NatsServerFixture.start();
  pipe = await startPipeline(nats.url);
  const dir = mkdtempSync(join(tmpdir(), "adi-routes-"));
  const script = join(dir, "caller.py");
  writeFileSync(script, CALLER);
  const port = await freePort();
  // The server does not opt in: only the callers' views are captured; it answers 404 with a JSON body.
  const server = startBackground(process.execPath, [join(ROOT, "test/support/clients/http-server.mjs"), String(port)], { cwd: ROOT, env: processEnv({}) });
  try {
    await waitForPort(port);
    const optedIn = (name: string) => ({ cwd: ROOT, env: processEnv({ ADI_PROFILE: "local", ADI_PROFILE_NAME: name }) });
    for (const [name, mode] of [["ratings-caller", "workers"], ["user-client", "users"]] as const) {
      const r = await run("python3", [script, String(port), mode], optedIn(name));
      expect(r.code, `${name}: ${r.stderr}`).toBe(0);
    }
    await pipe.waitForObservations(USER_PATHS + RATING_IDS, 120_000);
  } finally {
    await stopBackground(server);
  }
  const mapPath = pipe.cfg.serviceMapPath!;
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      map = parse(readFileSync(mapPath, "utf8")) as MapFile;
      const total = map.services.flatMap((s) => s.endpoints ?? []).reduce((n, e) => n + e.count, 0);
      if (total >= USER_PATHS + RATING_IDS) break;
    } catch {
      // not written yet
    }
    if (Date.now() > deadline) break;
    await sleep(250);
  }
}, 240_000);

afterAll(() => tearDown(pipe, nats, { stop: true }));

describe("routes in the service map, through the kernel", () => {
  it("4 forked workers calling 30 distinct ids: one route entry for their service", () => {
    const service = map.services.find((s) => s.name === "ratings-caller");
    expect(service?.endpoints?.map((e) => [e.method, e.path, e.count])).toEqual([["GET", "/ratings/{id}", RATING_IDS]]);
  });

  it("10,000 distinct /user/<random letters> over keep-alive: one route entry", () => {
    const service = map.services.find((s) => s.name === "user-client");
    expect(service?.endpoints?.map((e) => [e.method, e.path, e.count])).toEqual([["GET", "/user/{param}", USER_PATHS]]);
  });
});
