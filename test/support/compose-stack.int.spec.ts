// ComposeStack (the compose e2e's way of running deploy/compose.yaml with testcontainers) on the real Docker
// engine, with a small compose file on the offline busybox image: what compose would do is what the stack does
// (service aliases, replicas, compose labels, named volumes, published ports, restart policy, `run`, `stop`,
// `down`), and a failure leaves each container's output behind.
import { execFile } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ComposeStack } from "./compose-stack.ts";
import { BUSYBOX_IMAGE, DOCKER_CLI, ensureBusyboxImage } from "./images.ts";

const run = promisify(execFile);
const docker = (...args: string[]) => run(DOCKER_CLI, args, { timeout: 30_000 }).then((r) => r.stdout.trim());
const dir = mkdtempSync(join(tmpdir(), "adi-stack-"));
const project = `adistack${process.pid}`;
const COMPOSE = `
x-common: &common
  image: \${IMAGE}
  restart: unless-stopped
services:
  web:
    <<: *common
    command: ["httpd", "-f", "-p", "8080", "-h", "/www"]
    volumes: ["data:/www:ro"]
    ports: ["8080"]
  client:
    <<: *common
    command: ["sh", "-c", "echo client \${GREETING:-up}; trap 'exit 0' TERM; sleep 600 & wait"]
    depends_on: [web]
    deploy: { replicas: 2 }
volumes:
  data:
`;

describe("ComposeStack on the real engine", () => {
  let stack: ComposeStack;

  beforeAll(async () => {
    await ensureBusyboxImage();
    writeFileSync(join(dir, "compose.yaml"), COMPOSE);
    mkdirSync(join(dir, "volumes", "data"), { recursive: true });
    writeFileSync(join(dir, "volumes", "data", "index.html"), "from the named volume\n");
    stack = new ComposeStack(project, { IMAGE: BUSYBOX_IMAGE, GREETING: "hello" }, { dir, files: [join(dir, "compose.yaml")] });
    await stack.up();
  });

  afterAll(async () => {
    await stack?.down();
    rmSync(dir, { recursive: true, force: true });
  });

  it("starts every replica under compose's names and labels, with the file's restart policy", async () => {
    const rows = (await docker("ps", "--filter", `label=com.docker.compose.project=${project}`, "--format", '{{.Names}} {{.Label "com.docker.compose.service"}} {{.Label "com.docker.compose.container-number"}}')).split("\n").sort();
    expect(rows).toEqual([`${project}-client-1 client 1`, `${project}-client-2 client 2`, `${project}-web-1 web 1`]);
    expect(await docker("inspect", "-f", "{{.HostConfig.RestartPolicy.Name}}", `${project}-web-1`)).toBe("unless-stopped");
  });

  it("resolves a service by its name on the stack's network, serves the named volume, and runs a one-off", async () => {
    const got = await stack.run("client", ["wget", "-q", "-O", "-", "http://web:8080/index.html"]);
    expect(got).toContain("from the named volume");
  });

  it("publishes a port on the host", async () => {
    const res = await fetch(`http://127.0.0.1:${stack.mappedPort("web", 8080)}/index.html`);
    expect(await res.text()).toBe("from the named volume\n");
  });

  it("rejects a one-off that fails, with what it printed", async () => {
    await expect(stack.run("client", ["sh", "-c", "echo boom-$((6*7)); exit 3"])).rejects.toThrow(/boom-42/);
  });

  it("stops services and keeps every container's output and state", async () => {
    await stack.stop("client");
    const states = await stack.saveLogs();
    expect(states).toMatch(new RegExp(`${project}-client-1: exited exit=0 restarts=0`));
    expect(states).toMatch(new RegExp(`${project}-web-1: running`));
    expect(readFileSync(join(dir, "logs", `${project}-client-2.log`), "utf8")).toContain("client hello");
    expect(await stack.logs("client")).toContain(`--- ${project}-client-1`);
  });

  it("removes every container and the network on down", async () => {
    await stack.down();
    expect(await docker("ps", "-a", "-q", "--filter", `label=com.docker.compose.project=${project}`)).toBe("");
    expect(await docker("network", "ls", "-q", "--filter", `name=adi-test-${process.pid}-${project}`)).toBe("");
  });
});
