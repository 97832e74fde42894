// What deploy/compose.yaml grants each adi service, read as the compose e2e reads it (test/support/compose): the
// consumers run as a fixed non-root uid with no capability, no new privileges and a read-only root filesystem; the
// capture agent is the only root one, with exactly the capabilities it names, among which those it keeps once
// attached (RUNTIME_CAPABILITIES) and SETPCAP to drop the rest from its bounding set.
import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { RUNTIME_CAPABILITIES } from "@adi/capture";
import { composeServices, parseComposeText } from "../../test/support/compose/compose-file.ts";
import type { ServiceSpec } from "../../test/support/compose/compose-file.ts";

const ROOT = resolve(import.meta.dirname, "../..");
const COMPOSE = readFileSync(join(ROOT, "deploy/compose.yaml"), "utf8");
const specs = (env: Record<string, string> = {}) => composeServices([parseComposeText(COMPOSE, env)], join(ROOT, "deploy"));
const byName = (all: ServiceSpec[], name: string) => all.find((s) => s.name === name)!;
const CONSUMERS = ["classifier", "mapper", "enricher"] as const;
const CONSUMER_UID = 10001;

describe("deploy/compose.yaml privileges", () => {
  const all = specs();

  it("runs classifier, mapper and enricher as uid:gid 10001, read-only, every capability dropped, no new privileges", () => {
    for (const name of CONSUMERS) {
      const s = byName(all, name);
      expect({ name, user: s.user, readOnly: s.readOnly, capDrop: s.capDrop, capAdd: s.capAdd, securityOpt: s.securityOpt, pid: s.pid }).toEqual({
        name,
        user: `${CONSUMER_UID}:${CONSUMER_UID}`,
        readOnly: true,
        capDrop: ["ALL"],
        capAdd: [],
        securityOpt: ["no-new-privileges:true"],
        pid: undefined,
      });
    }
  });

  it("lets the user pick the consumers' uid and gid, and the enricher's Docker socket group (default 0)", () => {
    const mine = specs({ ADI_UID: "1000", ADI_GID: "1000", DOCKER_GID: "998" });
    for (const name of CONSUMERS) expect(byName(mine, name).user).toBe("1000:1000");
    expect(byName(mine, "enricher").groupAdd).toEqual(["998"]);
    expect(byName(all, "enricher").groupAdd).toEqual(["0"]);
    expect(byName(all, "classifier").groupAdd).toEqual([]);
    expect(byName(all, "mapper").groupAdd).toEqual([]);
  });

  it("mounts the output directory writable only where something writes it (mapper, enricher) and nothing of the host's else", () => {
    expect(byName(all, "classifier").volumes).toEqual([]);
    expect(byName(all, "mapper").volumes.map((v) => [v.target, v.readOnly])).toEqual([["/output", false]]);
    expect(byName(all, "enricher").volumes.map((v) => [v.target, v.readOnly])).toEqual([
      ["/output", false],
      ["/var/run/docker.sock", false],
    ]);
  });

  it("gives capture, as root, exactly the capabilities it names: those it keeps at run time among them, and SETPCAP to drop the others", () => {
    const capture = byName(all, "capture");
    expect(capture.user).toBe(undefined);
    expect(capture.capDrop).toEqual(["ALL"]);
    expect(capture.capAdd).toEqual(["SYS_ADMIN", "SYS_PTRACE", "DAC_READ_SEARCH", "SETPCAP"]);
    for (const cap of Object.keys(RUNTIME_CAPABILITIES)) expect(capture.capAdd).toContain(cap.replace(/^CAP_/, ""));
    expect(capture.securityOpt).toContain("no-new-privileges:true");
    expect(capture.pid).toBe("host");
  });

  it("makes /output the consumers' in the image, so a named volume there starts out writable by them", () => {
    expect(readFileSync(join(ROOT, "deploy/Dockerfile"), "utf8")).toMatch(new RegExp(`^RUN install -d -o ${CONSUMER_UID} -g ${CONSUMER_UID} -m 0755 /output$`, "m"));
  });
});
