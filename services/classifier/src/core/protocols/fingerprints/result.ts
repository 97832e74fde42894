// What a fingerprint says about some bytes. `detail` is worded for people: on a match it becomes part of the
// verdict's reason (the Go tool's detection_reason); on a miss it says why, which helps when reading tests.
//
// Detection is incremental: bytes arrive a write at a time, so a fingerprint also says whether more bytes could
// change its answer (`more`). The engine keeps a connection undecided while any rule still waits, up to a byte
// budget or the connection's end, and never calls it unknown because a write was short.
export interface Fingerprint {
  match: boolean;
  detail: string;
  /**
   * More bytes could change this answer: `bytes` of the side read (a request line not ended yet, a header not
   * whole, a ClientHello whose server name may still come), or the other side's `reply` (a Redis inline command is
   * Redis only when answered in RESP). Absent: the answer is final for these bytes.
   */
  more?: "bytes" | "reply";
}

export function matched(detail: string): Fingerprint {
  return { match: true, detail };
}

export function notMatched(detail: string): Fingerprint {
  return { match: false, detail };
}

/** Not a match yet: the bytes so far are a prefix of one. */
export function needMore(detail: string): Fingerprint {
  return { match: false, detail, more: "bytes" };
}

/** A match already, which more bytes could make better (e.g. a ClientHello's SNI past the bytes seen). */
export function matchedSoFar(detail: string): Fingerprint {
  return { match: true, detail, more: "bytes" };
}

/** Not a match yet: the bytes fit, and only the other side's answer can tell. */
export function awaitReply(detail: string): Fingerprint {
  return { match: false, detail, more: "reply" };
}
