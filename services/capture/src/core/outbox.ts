// The bounded buffer between the kernel drain and JetStream. Pure state, no timers, no I/O:
// - one FIFO per subject, at most one message of a subject in flight, so a partition's batches are stored
//   in the order they were captured even across retries;
// - a byte budget: what does not fit is dropped at once and counted, so a slow or absent broker never
//   blocks the thread that empties the kernel's ring buffer;
// - a failed publish stays at the head of its queue and is retried after a per-subject backoff.

export interface OutboxItem {
  readonly subject: string;
  readonly data: Uint8Array;
  readonly msgId: string;
  /** Kernel records carried, for the drop and publish counters. */
  readonly records: number;
}

interface SubjectQueue {
  items: OutboxItem[];
  inFlight: boolean;
  retryAt: number;
  failures: number;
}

export interface OutboxStats {
  bufferedBytes: number;
  bufferedItems: number;
  droppedItems: number;
  droppedRecords: number;
  droppedBytes: number;
  retries: number;
}

export const BACKOFF_MIN_MS = 100;
export const BACKOFF_MAX_MS = 2000;

export class Outbox {
  readonly #maxBytes: number;
  readonly #queues = new Map<string, SubjectQueue>();
  #order: string[] = [];
  #cursor = 0;
  readonly #stats: OutboxStats = {
    bufferedBytes: 0,
    bufferedItems: 0,
    droppedItems: 0,
    droppedRecords: 0,
    droppedBytes: 0,
    retries: 0,
  };

  constructor(maxBytes: number) {
    this.#maxBytes = maxBytes;
  }

  /** Queues an item; false (and counted as dropped) when it does not fit the byte budget. */
  offer(item: OutboxItem): boolean {
    if (this.#stats.bufferedBytes + item.data.length > this.#maxBytes) {
      this.#stats.droppedItems++;
      this.#stats.droppedRecords += item.records;
      this.#stats.droppedBytes += item.data.length;
      return false;
    }
    let q = this.#queues.get(item.subject);
    if (!q) {
      q = { items: [], inFlight: false, retryAt: 0, failures: 0 };
      this.#queues.set(item.subject, q);
      this.#order.push(item.subject);
    }
    q.items.push(item);
    this.#stats.bufferedBytes += item.data.length;
    this.#stats.bufferedItems++;
    return true;
  }

  /** The next item that may be sent now (round robin over subjects), marked in flight. */
  take(now: number): OutboxItem | undefined {
    const n = this.#order.length;
    for (let i = 0; i < n; i++) {
      const subject = this.#order[(this.#cursor + i) % n]!;
      const q = this.#queues.get(subject)!;
      if (q.inFlight || q.items.length === 0 || q.retryAt > now) continue;
      this.#cursor = (this.#cursor + i + 1) % n;
      q.inFlight = true;
      return q.items[0];
    }
    return undefined;
  }

  /** The broker stored it: remove it. */
  ack(item: OutboxItem): void {
    const q = this.#queues.get(item.subject);
    if (!q || q.items[0] !== item) return;
    q.items.shift();
    q.inFlight = false;
    q.failures = 0;
    q.retryAt = 0;
    this.#stats.bufferedBytes -= item.data.length;
    this.#stats.bufferedItems--;
  }

  /** Not stored (timeout, broker away): keep it first in line, retry after a growing delay. */
  fail(item: OutboxItem, now: number): number {
    const q = this.#queues.get(item.subject);
    if (!q || q.items[0] !== item) return 0;
    q.inFlight = false;
    q.failures++;
    this.#stats.retries++;
    const delay = Math.min(BACKOFF_MAX_MS, BACKOFF_MIN_MS * 2 ** (q.failures - 1));
    q.retryAt = now + delay;
    return delay;
  }

  /** Earliest time a waiting item becomes sendable, or undefined when nothing waits on a backoff. */
  nextRetryAt(): number | undefined {
    let t: number | undefined;
    for (const q of this.#queues.values()) {
      if (!q.inFlight && q.items.length > 0 && q.retryAt > 0) t = t === undefined ? q.retryAt : Math.min(t, q.retryAt);
    }
    return t;
  }

  get empty(): boolean {
    return this.#stats.bufferedItems === 0;
  }

  stats(): Readonly<OutboxStats> {
    return { ...this.#stats };
  }
}
