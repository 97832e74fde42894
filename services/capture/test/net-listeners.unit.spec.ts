import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ListenerScanner } from "../src/adapters/listeners.ts";
import { isListeningPort, parseProcNetTcp } from "@adi/shared";

const TCP = `  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:1538 00000000:0000 0A 00000000:00000000 00:00000000 00000000   106        0 7266 1 0000000024806886 100 0 0 10 0
   1: 00000000:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 4699 1 0000000083a17eb0 100 0 0 10 0
   2: 0100007F:A3F2 0100007F:1538 01 00000000:00000000 00:00000000 00000000     0        0 9999 1 0000000083a17eb0 100 0 0 10 0
   3: garbage
`;
const TCP6 = `  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000000000000000000001000000:18EB 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 4700 1 0000000056ca2eb2 100 0 0 10 0
   1: 00000000000000000000000000000000:0050 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 4701 1 0000000056ca2eb2 100 0 0 10 0
   2: 0000000000000000FFFF00000100007F:1F40 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 4702 1 0000000056ca2eb2 100 0 0 10 0
   3: B80D0120000000000000000001000000:0035 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 4703 1 0000000056ca2eb2 100 0 0 10 0
`;

describe("parseProcNetTcp", () => {
  it("keeps IPv4 listening sockets only, with addresses and ports decoded", () => {
    expect(parseProcNetTcp(TCP, 4)).toEqual([
      { ip: "127.0.0.1", port: 5432, family: 4, inode: 7266, uid: 106 },
      { ip: "0.0.0.0", port: 8080, family: 4, inode: 4699, uid: 0 },
    ]);
  });

  it("decodes IPv6 words, compresses zeros and reports v4-mapped listeners as IPv4", () => {
    expect(parseProcNetTcp(TCP6, 6)).toEqual([
      { ip: "::1", port: 6379, family: 6, inode: 4700, uid: 0 },
      { ip: "::", port: 80, family: 6, inode: 4701, uid: 0 },
      { ip: "127.0.0.1", port: 8000, family: 4, inode: 4702, uid: 0 },
      { ip: "2001:db8::1", port: 53, family: 6, inode: 4703, uid: 0 },
    ]);
  });
});

// Sockets in state LISTEN whose port reads 0: one that lost its port (the peer reset it), and a dual-stack one.
const TCP_PORT0 = `  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:0000 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 8101 1 0000000024806886 100 0 0 10 0
   1: 00000000:0000 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 8102 1 0000000024806886 100 0 0 10 0
   2: 00000000:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 4699 1 0000000083a17eb0 100 0 0 10 0
   3: 00000000:XYZ1 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 8103 1 0000000083a17eb0 100 0 0 10 0
   4: 00000000:10000 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 8104 1 0000000083a17eb0 100 0 0 10 0
`;
const TCP6_PORT0 = `  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000000000000000000000000000:0000 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 8201 1 0000000056ca2eb2 100 0 0 10 0
   1: 00000000000000000000000001000000:18EB 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 4700 1 0000000056ca2eb2 100 0 0 10 0
`;

describe("listeners never have port 0", () => {
  it("isListeningPort accepts 1..65535 only", () => {
    for (const port of [1, 80, 65535]) expect(isListeningPort(port)).toBe(true);
    for (const port of [0, -1, 65536, Number.NaN, 1.5]) expect(isListeningPort(port)).toBe(false);
  });

  it("parseProcNetTcp drops LISTEN sockets on port 0, and ports that are not 16-bit hex", () => {
    expect(parseProcNetTcp(TCP_PORT0, 4)).toEqual([{ ip: "0.0.0.0", port: 8080, family: 4, inode: 4699, uid: 0 }]);
    expect(parseProcNetTcp(TCP6_PORT0, 6)).toEqual([{ ip: "::1", port: 6379, family: 6, inode: 4700, uid: 0 }]);
  });
});

describe("ListenerScanner over a fixture /proc", () => {
  let root: string;

  function fakeProcess(pid: number, comm: string, environ: string, sockets: number[]): void {
    const dir = join(root, String(pid));
    mkdirSync(join(dir, "fd"), { recursive: true });
    writeFileSync(join(dir, "stat"), `${pid} (${comm}) S 1 ${pid} ${pid} 0 -1 4194560 0 0 0 0 0 0 0 0 20 0 1 0 ${pid * 10} 0 0\n`);
    writeFileSync(join(dir, "environ"), environ);
    sockets.forEach((inode, fd) => symlinkSync(`socket:[${inode}]`, join(dir, "fd", String(fd + 3))));
  }

  beforeAll(() => {
    root = mkdtempSync(join(tmpdir(), "adi-listeners-"));
    mkdirSync(join(root, "net"));
    writeFileSync(join(root, "net/tcp"), TCP_PORT0);
    writeFileSync(join(root, "net/tcp6"), TCP6_PORT0);
    // The holder of the portless sockets must not become the owner of anything.
    fakeProcess(300, "wget", "ADI_PROFILE=x\0ADI_PROFILE_NAME=client\0", [8101, 8102, 8201]);
    fakeProcess(400, "httpd", "ADI_PROFILE=x\0ADI_PROFILE_NAME=api\0", [4699]);
    fakeProcess(500, "redis-server", "PATH=/bin\0", [4700]);
  });

  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it("publishes the listeners on a port, with their owners, and none on port 0", () => {
    const listeners = new ListenerScanner(root).scan();
    expect(listeners).toEqual([
      { ip: "::1", port: 6379, family: 6, pid: 500, start_ticks: 5000, comm: "redis-server", adi_profile_name: null },
      { ip: "0.0.0.0", port: 8080, family: 4, pid: 400, start_ticks: 4000, comm: "httpd", adi_profile_name: "api" },
    ]);
    expect(listeners.some((l) => l.port === 0 || l.pid === 300)).toBe(false);
  });
});
