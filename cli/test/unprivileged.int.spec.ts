// The consumers need no root: `adi classify`, `adi map` and `adi enrich`, each run as nobody:nogroup with no
// capability (setpriv, as a service manager's User= would), against a real nats-server, turn published raw events
// and process facts into the traffic log, the service map and the environment inventory in a directory only nobody
// may write. The enricher reads the Docker socket as a member of the socket's group (the `docker` group of a
// Docker host), and without that group is refused by the socket's mode (it waits and retries, it does not fail).
import { execFileSync, spawnSync } from "node:child_process";
import { chownSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { jetstream } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { parse, parseAllDocuments } from "yaml";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { encodeFact, encodeBatch, factSubject, partitionOf, rawSubject } from "@adi/shared/wire";
import type { ProcessFact } from "@adi/shared/wire";
import { BOOT, connOpen, dataRecord } from "../../services/classifier/test/support/raw-batches.ts";
import { NatsServerFixture } from "../../test/support/nats-server.ts";
import { asNobody } from "../../test/support/as-nobody.ts";
import { sleep } from "../../test/support/capture.ts";
import { ADI, CLI_MAIN, killAll, startAdi } from "./adi-process.ts";
import type { AdiRun } from "./adi-process.ts";

const NOBODY = Number(execFileSync("id", ["-u", "nobody"], { encoding: "utf8" }).trim());
const NOGROUP = Number(execFileSync("id", ["-g", "nobody"], { encoding: "utf8" }).trim());
const DOCKER_SOCKET = "/var/run/docker.sock";
const PARTITIONS = 4;
const HOST = "unpriv";

let nats: NatsServerFixture;
let dir: string;
const runs: Record<string, AdiRun> = {};
const ready: Record<string, Record<string, unknown>> = {};
const creds: Record<string, { uid: string; gid: string; capEff: string; capPrm: string; capBnd: string }> = {};
let socketGid: number;

function start(name: string, command: string, groups: number[], env: Record<string, string>): AdiRun {
  // PATH without root's own directories (nobody cannot search /root): bin/adi then takes /usr/bin/node if it is
  // new enough, else the Node 24 in node_modules.
  const nobody = asNobody([ADI, command], { groups });
  const r = startAdi(nobody.cmd, nobody.args, { PATH: "/usr/bin:/bin", HOME: dir, NATS_URL: nats.url, LOG_LEVEL: "info", ADI_PARTITIONS: String(PARTITIONS), ...env });
  runs[name] = r;
  return r;
}

function credsOf(pid: number) {
  const text = readFileSync(`/proc/${pid}/status`, "utf8");
  const field = (k: string) => new RegExp(`^${k}:\\s*(.*)$`, "m").exec(text)![1]!.trim().split(/\s+/).join(" ");
  return { uid: field("Uid"), gid: field("Gid"), capEff: field("CapEff"), capPrm: field("CapPrm"), capBnd: field("CapBnd") };
}

async function waitFor<T>(what: string, probe: () => T | undefined, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await sleep(100);
  }
}

beforeAll(async () => {
  // The checkout must be readable by nobody: through a bind mount wherever CI cloned it (test/support/as-nobody.ts).
  const probe = asNobody(["/bin/sh", "-c", 'test -r "$1" && test -x "$2"', "sh", CLI_MAIN, ADI]);
  const reach = spawnSync(probe.cmd, probe.args, { encoding: "utf8" });
  if (reach.status !== 0) throw new Error(`nobody cannot read ${CLI_MAIN} or run ${ADI} through the bind mount of the checkout: ${reach.stderr}`);
  if (!existsSync(DOCKER_SOCKET)) throw new Error(`${DOCKER_SOCKET} is missing: this test reads a real Docker engine's socket`);
  socketGid = statSync(DOCKER_SOCKET).gid;
  nats = await NatsServerFixture.start();
  dir = mkdtempSync(join(tmpdir(), "adi-unprivileged-")); // 0700
  chownSync(dir, NOBODY, NOGROUP);
  start("classify", "classify", [], {});
  start("map", "map", [], { OUTPUT_PATH: join(dir, "traffic.log"), SERVICE_MAP_PATH: join(dir, "service-map.yaml") });
  start("enrich", "enrich", [socketGid], { ENV_OUTPUT_PATH: join(dir, "env.yaml"), ENV_OUTPUT_ALL: "true", DOCKER_HOST: `unix://${DOCKER_SOCKET}` });
  start("enrichNoSocket", "enrich", [], { ENV_OUTPUT_PATH: join(dir, "env-nosocket.yaml"), DOCKER_HOST: `unix://${DOCKER_SOCKET}` });
  ready.classify = await runs.classify!.waitForLog("classifier ready");
  ready.map = await runs.map!.waitForLog("mapper ready");
  ready.enrich = await runs.enrich!.waitForLog("enricher ready");
  ready.containers = await runs.enrich!.waitForLog("container enrichment on");
  ready.noSocket = await runs.enrichNoSocket!.waitForLog("container runtime not reachable; will retry");
  for (const [name, r] of Object.entries(runs)) creds[name] = credsOf(r.child.pid!);
}, 120_000);

afterAll(async () => {
  for (const r of Object.values(runs)) killAll(r.marker);
  await nats?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe("consumers run as nobody, without any capability", () => {
  it("every one is nobody:nogroup with empty capability sets (bin/adi execs node: the pid setpriv started)", () => {
    const none = "0000000000000000";
    for (const name of Object.keys(runs)) {
      expect({ name, ...creds[name] }).toEqual({ name, uid: `${NOBODY} ${NOBODY} ${NOBODY} ${NOBODY}`, gid: `${NOGROUP} ${NOGROUP} ${NOGROUP} ${NOGROUP}`, capEff: none, capPrm: none, capBnd: creds[name]!.capBnd });
    }
  });

  it("write the traffic log, the service map and the environment inventory from published raw events and facts", async () => {
    const nc = await connect({ servers: nats.url });
    const js = jetstream(nc);
    const t0 = BigInt(Date.now()) * 1_000_000n;
    const conn = 4242n;
    const p = partitionOf(conn, PARTITIONS);
    const records = [
      connOpen(conn, 8080, t0, 4242),
      dataRecord(conn, 8080, "egress", "GET /unprivileged HTTP/1.1\r\nHost: svc\r\n\r\n", t0 + 1_000_000n, 4242),
      dataRecord(conn, 8080, "ingress", 'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 11\r\n\r\n{"ok":true}', t0 + 2_000_000n, 4242),
    ];
    await js.publish(rawSubject(HOST, p), encodeBatch({ recordCount: records.length, partition: p, flags: 0, seq: 1n, bootId: BOOT }, records));
    const fact = {
      v: 1, type: "process", event: "exec", ts: new Date().toISOString().replace("Z", "000000Z"), host: HOST, boot_id: BOOT, pid: 4242, start_ticks: 5,
      ppid: 1, comm: "svc", exe: "/usr/bin/svc", cmdline: "/usr/bin/svc --unprivileged", cgroup: null, container_id: null,
      adi_profile_match: "local", adi_profile_name: "unpriv-svc", optin: "yes", env: { MODE: "unprivileged" }, env_redacted: true, error: null, exit_code: null,
    } as ProcessFact;
    await js.publish(factSubject(HOST, "process"), encodeFact(fact));
    await nc.drain();

    const line = await waitFor("a traffic-log line for GET /unprivileged", () => {
      if (!existsSync(join(dir, "traffic.log"))) return undefined;
      return readFileSync(join(dir, "traffic.log"), "utf8").split("\n").filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l.url === "/unprivileged" && l.direction === "send");
    });
    expect(line).toMatchObject({ method: "GET", url: "/unprivileged" });
    const inventory = await waitFor("the inventory documenting pid 4242", () => {
      if (!existsSync(join(dir, "env.yaml"))) return undefined;
      return parseAllDocuments(readFileSync(join(dir, "env.yaml"), "utf8")).map((d) => d.toJS() as Record<string, unknown>).find((d) => d.adi_profile_pid === 4242);
    });
    expect(inventory).toMatchObject({ adi_profile_pid: 4242, adi_profile_cmdline: "/usr/bin/svc --unprivileged" });
    const map = await waitFor("a service map listing a service", () => {
      if (!existsSync(join(dir, "service-map.yaml"))) return undefined;
      const m = parse(readFileSync(join(dir, "service-map.yaml"), "utf8")) as { services?: unknown[] } | null;
      return m?.services?.length ? m : undefined;
    });
    expect(JSON.stringify(map)).toContain("/unprivileged");
    // Each file is nobody's, mode 0600: created by the unprivileged writer, nothing chown'ed or chmod'ed by root.
    for (const f of ["traffic.log", "service-map.yaml", "env.yaml"]) {
      const st = statSync(join(dir, f));
      expect({ f, uid: st.uid, gid: st.gid, mode: st.mode & 0o777 }).toEqual({ f, uid: NOBODY, gid: NOGROUP, mode: 0o600 });
    }
  });

  it("the enricher reads the Docker socket as a member of its group, and is refused without it (and keeps running)", () => {
    expect(ready.containers).toMatchObject({ socket: DOCKER_SOCKET, runtime: "docker" });
    expect(String(ready.noSocket!.err)).toMatch(/EACCES/);
    expect(runs.enrichNoSocket!.child.exitCode).toBe(null);
  });

  it("each stops cleanly on SIGTERM (exit 0, no error line)", async () => {
    for (const r of Object.values(runs)) r.child.kill("SIGTERM");
    for (const [name, r] of Object.entries(runs)) {
      expect({ name, ...(await r.exited) }).toEqual({ name, code: 0, signal: null });
      expect({ name, errors: r.stdout().split("\n").filter((l) => l.startsWith("{") && (JSON.parse(l) as { level: number }).level >= 50) }).toEqual({ name, errors: [] });
    }
  });
});
