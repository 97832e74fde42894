// The classifier as a pure function of the raw stream, for a reader other than the live service (`adi replay`):
// every raw message is screened exactly as a live partition worker screens it (core/record-guard.ts: decode, the
// partition check against the stream's count, the timestamp window from the stream's max age), what live would
// dead-letter is counted by reason and left out, and the rest goes through the same engine. The caller never
// touches the record guard or the partition worker's subject parsing.
import type { RedactionPolicy } from "@adi/shared/redaction";
import type { Derived } from "@adi/shared/wire";
import { hostOfSubject } from "./adapters/partition-worker.ts";
import { ClassifierEngine } from "./core/engine.ts";
import type { EngineStats } from "./core/engine.ts";
import { emptyDeadLetterCounts, screenBatch, timestampWindow } from "./core/record-guard.ts";
import type { DeadLetterCounts, DeadLetterReason, TimestampWindow } from "./core/record-guard.ts";

export interface RawBatchClassifierOptions {
  /** Applied to every exchange (RedactionPolicy.fromConfig), as the live classifier does. */
  redaction: RedactionPolicy;
  /** ADI_RAW's partition count: the stream's (`rawStreamContract`), ADI_PARTITIONS only while it states none. */
  partitions: number;
  /** ADI_RAW's max age, ms (0: unlimited): the timestamp window is derived from it as live (timestampWindow). */
  maxAgeMs: number;
}

/** One raw message as JetStream stored it. */
export interface RawMessage {
  /** `adi.raw.v1.<host>.<partition>`. */
  subject: string;
  data: Uint8Array;
  /** JetStream store time, UTC ns (`info.timestampNanos`). */
  storeNs: bigint;
  /** Stream sequence: derived observations name it as their source. */
  seq: number;
}

export class RawBatchClassifier {
  readonly #engine: ClassifierEngine;
  readonly #partitions: number;
  readonly #window: TimestampWindow;
  readonly #deadLetters: DeadLetterCounts = emptyDeadLetterCounts();

  constructor(opts: RawBatchClassifierOptions) {
    this.#engine = new ClassifierEngine({ redaction: opts.redaction });
    this.#partitions = opts.partitions;
    this.#window = timestampWindow(opts.maxAgeMs);
  }

  /**
   * Screens `m` and feeds what passes to the engine; returns the observations that came out (none for a batch
   * live would dead-letter whole: counted under its reason; records removed by the timestamp window are counted
   * too). An engine failure (a bug) is thrown, not counted.
   */
  classify(m: RawMessage): Derived[] {
    const s = screenBatch(m.subject, Buffer.from(m.data), m.storeNs, this.#partitions, this.#window);
    if (s.kind === "dead") {
      this.#deadLetters[s.reason]++;
      return [];
    }
    for (const [reason, n] of Object.entries(s.removed?.counts ?? {})) this.#deadLetters[reason as DeadLetterReason] += n;
    return this.#engine.onRecords(hostOfSubject(m.subject), s.header.bootId, s.records, m.seq);
  }

  /** What live would have dead-lettered so far, by reason (batches refused whole, records removed). */
  deadLetters(): Readonly<DeadLetterCounts> {
    return { ...this.#deadLetters };
  }

  /** The engine's counters (EngineStats: exchanges, connections, ...). */
  stats(): Readonly<EngineStats> {
    return this.#engine.stats();
  }
}
