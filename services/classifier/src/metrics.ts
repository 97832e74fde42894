// The classifier's metrics: what its partition workers count (batches, observations, dead letters by reason, warm-up
// re-reads) and the lag of the durable consumer of each partition it owns, asked of JetStream at scrape time.
import { jetstreamManager } from "@nats-io/jetstream";
import type { JetStreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import type { MetricFamily } from "@adi/shared";
import { consumerPendingFamily, metricFamily } from "@adi/shared";
import { RAW_STREAM } from "@adi/shared/wire";
import type { Classifier } from "./main.ts";

type Counters = ReturnType<Classifier["counters"]>;

/** Monotonic counters of the instance (WorkerCounters): name, help, value. The engines' own stats are left out: an
 * engine re-created for a warm-up starts from 0 and counts the re-read batches again. */
const COUNTERS: readonly (readonly [string, string, (c: Counters) => number])[] = [
  ["adi_classifier_batches_total", "Raw batches classified (fed to an engine, what they produced stored in ADI_DERIVED).", (c) => c.batches],
  ["adi_classifier_observations_total", "Observations (HTTP exchanges, classified connections) published to ADI_DERIVED.", (c) => c.derived],
  ["adi_classifier_dead_lettered_batches_total", "Raw messages published to ADI_DEADLETTER (refused whole, or with records removed).", (c) => c.deadLetters],
  ["adi_classifier_rewound_batches_total", "Raw batches re-read to warm an engine up when a partition was taken.", (c) => c.rewoundBatches],
  ["adi_classifier_rewind_seconds_total", "Time spent re-reading partitions to warm engines up.", (c) => c.rewindMs / 1000],
];

/**
 * The classifier's families: the counters above, adi_classifier_dead_letters_total{reason} (whole batches refused,
 * and records removed for their timestamps, by reason), adi_classifier_partitions_owned, and
 * adi_consumer_pending_messages for each owned partition's durable consumer (a JetStream request each, at scrape).
 */
export function classifierMetricFamilies(classifier: Pick<Classifier, "counters" | "owned" | "consumers">, nc: NatsConnection): MetricFamily[] {
  let jsm: Promise<JetStreamManager> | undefined;
  const pending = async () => {
    const names = classifier.consumers();
    if (names.length === 0) return [];
    const manager = await (jsm ??= jetstreamManager(nc).catch((err: unknown) => {
      jsm = undefined;
      throw err;
    }));
    const infos = await Promise.allSettled(names.map((consumer) => manager.consumers.info(RAW_STREAM, consumer)));
    // A consumer handed to another instance meanwhile is simply not listed; all failing is the broker's problem.
    if (infos.every((r) => r.status === "rejected")) throw (infos[0] as PromiseRejectedResult).reason;
    return infos.flatMap((r, i) => (r.status === "fulfilled" ? [[{ stream: RAW_STREAM, consumer: names[i]! }, r.value.num_pending] as const] : []));
  };
  return [
    ...COUNTERS.map(([name, help, value]) => metricFamily(name, "counter", help, () => [[{}, value(classifier.counters())]])),
    metricFamily("adi_classifier_dead_letters_total", "counter", "Dead letters by reason: raw batches refused whole, and records removed from a batch for their timestamps (timestamp_*).", () =>
      Object.entries(classifier.counters().deadLetterReasons).map(([reason, n]) => [{ reason }, n] as const),
    ),
    metricFamily("adi_classifier_partitions_owned", "gauge", "Raw partitions this instance consumes now.", () => [[{}, classifier.owned().length]]),
    consumerPendingFamily(pending),
  ];
}
