// Raw batches as the capture agent writes them (wire v2), for tests that drive a real classifier through a real
// nats-server: keep-alive HTTP connections (open, request/response pairs, close) spread over partitions like the
// agent spreads them (partitionOf), each batch with the agent's kind of message id.
import { encodeBatch, encodeRecord, partitionOf, rawSubject } from "@adi/shared/wire";
import type { TupleInit } from "@adi/shared/wire";

export const BOOT = "393a8351-01d1-4c4f-84ed-e7c686d9ae26";

/** The client end of a loopback TCP connection: local port 40000 + connId % 20000, remote `port`. */
const tuple = (connId: bigint, port: number): TupleInit => ({ laddr: "127.0.0.1", lport: 40000 + Number(connId % 20000n), raddr: "127.0.0.1", rport: port });

/** A connection's open (conn id `connId`, local port 40000 + connId % 20000, remote `port`), by connect() unless a server's. */
export function connOpen(connId: bigint, port: number, tsNs: bigint, pid = 7, role: "client" | "server" = "client"): Buffer {
  return encodeRecord({ type: "conn_open", tsNs, pid, connId, tuple: tuple(connId, port), syscall: role === "client" ? "connect" : "accept4", role });
}

export function connClose(connId: bigint, port: number, tsNs: bigint, pid = 7): Buffer {
  return encodeRecord({ type: "conn_close", tsNs, pid, connId, tuple: tuple(connId, port), syscall: "tcp_destroy", role: "client" });
}

/** One data record: the bytes `payload` written (egress) or read (ingress) by the client end. */
export function dataRecord(connId: bigint, port: number, direction: "egress" | "ingress", payload: string | Buffer, tsNs: bigint, pid = 7): Buffer {
  return encodeRecord({ type: "data", tsNs, pid, connId, tuple: tuple(connId, port), direction, payload });
}

export interface RawMessage {
  subject: string;
  data: Buffer;
  msgId: string;
}

/**
 * Builds raw messages for `conns` keep-alive HTTP connections making `exchanges` calls each, interleaved
 * round-robin, one record per message (every third request split over two writes), on `partitions` partitions of
 * host `host`. Connections are opened first; the even-numbered ones close after `closeAfter` exchanges (default:
 * none closes: all stay open at the end). Timestamps start at `t0Ns` (UTC ns), 1 ms apart.
 */
export function keepAliveTraffic(opts: { host: string; partitions: number; conns: number; exchanges: number; t0Ns: bigint; closeAfter?: number; agent?: string }): RawMessage[] {
  const { host, partitions, conns } = opts;
  let ts = opts.t0Ns;
  const next = () => (ts += 1_000_000n);
  const out: RawMessage[] = [];
  const seqs = new Map<string, number>();
  const emit = (connId: bigint, records: Buffer[]) => {
    const p = partitionOf(connId, partitions);
    const subject = rawSubject(host, p);
    const n = (seqs.get(subject) ?? 0) + 1;
    seqs.set(subject, n);
    out.push({ subject, msgId: `${opts.agent ?? "agent-test"}.${subject}.${n}`, data: encodeBatch({ partition: p, seq: BigInt(n), bootId: BOOT }, records) });
  };
  const ids = Array.from({ length: conns }, (_, i) => 1000n + BigInt(i) * 7919n);
  const port = (i: number) => 8080 + (i % 3);
  ids.forEach((id, i) => emit(id, [connOpen(id, port(i), next())]));
  for (let x = 0; x < opts.exchanges; x++) {
    ids.forEach((id, i) => {
      const closes = opts.closeAfter !== undefined && i % 2 === 0;
      if (closes && x >= opts.closeAfter!) return;
      const req = `GET /items/${i}/${x} HTTP/1.1\r\nHost: svc${port(i)}\r\n\r\n`;
      if (x % 3 === 1) {
        emit(id, [dataRecord(id, port(i), "egress", req.slice(0, 9), next())]);
        emit(id, [dataRecord(id, port(i), "egress", req.slice(9), next())]);
      } else emit(id, [dataRecord(id, port(i), "egress", req, next())]);
      const body = `{"conn":${i},"call":${x}}`;
      emit(id, [dataRecord(id, port(i), "ingress", `HTTP/1.1 200 OK\r\nContent-Length: ${body.length}\r\n\r\n${body}`, next())]);
      if (closes && x + 1 === opts.closeAfter) emit(id, [connClose(id, port(i), next())]);
    });
  }
  return out;
}
