// The first bytes of one direction of a connection, as the detection reads them: the direction's stream from its
// start, across records and across the other side's turns (a TCP direction is one ordered stream), until a budget
// or a hole. Pure.
import { DETECT_BYTES_PER_SIDE } from "./classify.ts";

export class FirstBytes {
  readonly #cap: number;
  #buf: Buffer | null = null;
  #len = 0;
  #done = false;

  /** `cap`: bytes kept at most (default DETECT_BYTES_PER_SIDE); reaching it ends the prefix. */
  constructor(cap = DETECT_BYTES_PER_SIDE) {
    this.#cap = Math.max(1, cap);
  }

  /**
   * Appends a record's payload; `gapAfter` bytes of the stream were lost right after it (the capture limit, a
   * sendfile), so nothing later continues this prefix. Growth doubles the buffer: a process writing a byte at a
   * time costs linear, not quadratic, copying.
   */
  add(payload: Uint8Array, gapAfter = 0): void {
    if (this.#done) return;
    const n = Math.min(payload.length, this.#cap - this.#len);
    if (n > 0) {
      if (this.#buf === null || this.#buf.length < this.#len + n) {
        const grown = Buffer.allocUnsafe(Math.min(this.#cap, Math.max(256, 2 * (this.#len + n))));
        this.#buf?.copy(grown, 0, 0, this.#len);
        this.#buf = grown;
      }
      this.#buf.set(payload.subarray(0, n), this.#len);
      this.#len += n;
    }
    if (this.#len >= this.#cap || n < payload.length || gapAfter > 0) this.#done = true;
  }

  /** The bytes so far (a view, valid until the next add), or null before any. */
  get bytes(): Buffer | null {
    return this.#len === 0 ? null : this.#buf!.subarray(0, this.#len);
  }

  /** The protocol is decided: the bytes are dropped (a long-lived connection keeps no detection buffer). */
  release(): void {
    this.#buf = null;
    this.#len = 0;
    this.#done = true;
  }

  /** Nothing more will be added: a gap or the budget ended the prefix. */
  get done(): boolean {
    return this.#done;
  }
}
