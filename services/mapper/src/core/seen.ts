// Which observations the fold already took, to ignore one delivered again: a classifier that restarts republishes
// the batches it had not acknowledged (same ids), and after the stream's duplicate window (2 min) those are
// stored twice. A restarted mapper re-reads them too; replay never sees them. So the fold must drop them
// whenever they come, and with memory by connection, not by observation.
//
// The observations of one connection come from one classifier partition, in order: exchanges by increasing
// `seq`, and request times that never go back. So per connection it is enough to keep the last exchange taken
// (seq and request time) and whether its connection observation was taken. An exchange at or below that seq
// and not later is one seen before; one with a lower seq but a later request time is new (a classifier that
// restarted its count: taken, and the connection's mark moves to it). Connections idle for `idleMs` of capture
// time are forgotten (a redelivery later than that would be taken again).
import type { Derived } from "@adi/shared/wire";
import { isoToMs } from "./observation.ts";

interface ConnectionMark {
  /** Last exchange taken: its seq and request time (ms); -1 / -Infinity before any. */
  seq: number;
  requestMs: number;
  /** Its connection observation (one per connection) was taken. */
  connection: boolean;
  /** Capture time of its latest observation, for forgetting idle connections. */
  lastMs: number;
}

/** Default: well beyond the stream's duplicate window (2 min) and a classifier's restart. */
export const DEFAULT_SEEN_IDLE_MS = 10 * 60_000;

export class SeenObservations {
  readonly #connections = new Map<string, ConnectionMark>();
  readonly #idleMs: number;
  #newestMs = -Infinity;
  #sweptAtMs = -Infinity;

  constructor(idleMs = DEFAULT_SEEN_IDLE_MS) {
    this.#idleMs = idleMs;
  }

  /** Marks `d` as taken; false when it was taken before (a redelivery: drop it). */
  take(d: Derived): boolean {
    const key = `${d.host} ${d.boot_id} ${d.conn_id}`;
    const ms = isoToMs(d.type === "connection" ? d.ts : d.request.ts);
    let mark = this.#connections.get(key);
    if (!mark) this.#connections.set(key, (mark = { seq: -1, requestMs: -Infinity, connection: false, lastMs: ms }));
    mark.lastMs = Math.max(mark.lastMs, ms);
    if (ms > this.#newestMs) this.#newestMs = ms;
    this.#sweep();
    if (d.type === "connection") {
      if (mark.connection) return false;
      mark.connection = true;
      return true;
    }
    if (d.seq <= mark.seq && ms <= mark.requestMs) return false;
    mark.seq = d.seq;
    mark.requestMs = ms;
    return true;
  }

  /** Connections remembered (bounded by those active within the idle window). */
  size(): number {
    return this.#connections.size;
  }

  /** Forgets idle connections, at most once per tenth of the window of capture time (a scan costs). */
  #sweep(): void {
    if (this.#newestMs - this.#sweptAtMs < this.#idleMs / 10) return;
    this.#sweptAtMs = this.#newestMs;
    const horizon = this.#newestMs - this.#idleMs;
    for (const [key, mark] of this.#connections) if (mark.lastMs < horizon) this.#connections.delete(key);
  }
}
