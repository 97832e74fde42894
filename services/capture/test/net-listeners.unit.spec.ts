import { describe, expect, it } from "vitest";
import { parseProcNetTcp } from "../src/core/net-listeners.ts";

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
      { ip: "127.0.0.1", port: 5432, inode: 7266 },
      { ip: "0.0.0.0", port: 8080, inode: 4699 },
    ]);
  });

  it("decodes IPv6 words, compresses zeros and reports v4-mapped listeners as IPv4", () => {
    expect(parseProcNetTcp(TCP6, 6)).toEqual([
      { ip: "::1", port: 6379, inode: 4700 },
      { ip: "::", port: 80, inode: 4701 },
      { ip: "127.0.0.1", port: 8000, inode: 4702 },
      { ip: "2001:db8::1", port: 53, inode: 4703 },
    ]);
  });
});
