// Parses /proc/net/tcp and /proc/net/tcp6: the kernel's table of TCP sockets, addresses in hex, each
// 32-bit word in host (little-endian) order. Only listening sockets (state 0A) on a port are kept.
const LISTEN = "0A";

export interface ListeningSocket {
  ip: string;
  port: number;
  /** The table it came from (tcp: 4, tcp6: 6), but 4 for an IPv4-mapped address of tcp6 (reported as IPv4). */
  family: 4 | 6;
  inode: number;
  /** Owner of the socket (the table's `uid` column, proc(5)). */
  uid: number;
}

function ipv4(hex: string): string {
  const n = Number.parseInt(hex, 16);
  return [n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, n >>> 24].join(".");
}

function ipv6(hex: string): string {
  const bytes: number[] = [];
  for (let w = 0; w < 4; w++) {
    const word = hex.slice(w * 8, w * 8 + 8);
    for (let b = 3; b >= 0; b--) bytes.push(Number.parseInt(word.slice(b * 2, b * 2 + 2), 16));
  }
  // ::ffff:a.b.c.d is an IPv4 listener on a dual-stack socket: report it as IPv4, as capture does.
  if (bytes.slice(0, 10).every((b) => b === 0) && bytes[10] === 0xff && bytes[11] === 0xff) return bytes.slice(12).join(".");
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((bytes[i]! << 8) | bytes[i + 1]!).toString(16));
  const text = groups.join(":");
  // Compress the longest run of zero groups, as Node and the raw codec print addresses.
  const runs = [...text.matchAll(/(?:^|:)0(?::0)+(?::|$)/g)];
  if (runs.length === 0) return text;
  const longest = runs.reduce((a, b) => (b[0].length > a[0].length ? b : a));
  return `${text.slice(0, longest.index)}::${text.slice(longest.index! + longest[0].length)}`;
}

/**
 * A listener anyone can connect to has a port in 1..65535. Port 0 is a socket that has none (any more): a
 * destination must never be named after whoever holds it.
 */
export function isListeningPort(port: number): boolean {
  return Number.isInteger(port) && port > 0 && port <= 0xffff;
}

/** Listening sockets of one table; malformed lines and sockets without a port (0) are skipped. */
export function parseProcNetTcp(text: string, family: 4 | 6): ListeningSocket[] {
  const out: ListeningSocket[] = [];
  for (const line of text.split("\n").slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length < 10 || f[3] !== LISTEN) continue;
    const [addr, portHex] = f[1]!.split(":");
    if (!addr || !portHex || addr.length !== (family === 4 ? 8 : 32) || !/^[0-9A-Fa-f]{1,4}$/.test(portHex)) continue;
    const port = Number.parseInt(portHex, 16);
    if (!isListeningPort(port)) continue;
    const ip = family === 4 ? ipv4(addr) : ipv6(addr);
    out.push({ ip, port, family: family === 6 && ip.includes(":") ? 6 : 4, inode: Number(f[9]), uid: Number(f[7]) });
  }
  return out;
}
