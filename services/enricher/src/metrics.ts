// The enricher's metrics: the process facts it took, the messages it could not decode, and its consumer's lag.
import type { MetricFamily } from "@adi/shared";
import { consumerPendingFamily, metricFamily } from "@adi/shared";
import { FACTS_STREAM } from "@adi/shared/wire";
import type { Enricher } from "./main.ts";

/** adi_enricher_facts_total, adi_enricher_invalid_messages_total, and adi_consumer_pending_messages{consumer="enricher"}. */
export function enricherMetricFamilies(enricher: Pick<Enricher, "counters">): MetricFamily[] {
  return [
    metricFamily("adi_enricher_facts_total", "counter", "Process facts taken into the environment inventory.", () => [[{}, enricher.counters().facts]]),
    metricFamily("adi_enricher_invalid_messages_total", "counter", "Messages of ADI_FACTS that did not decode, skipped.", () => [[{}, enricher.counters().invalid]]),
    consumerPendingFamily(() => [[{ stream: FACTS_STREAM, consumer: "enricher" }, enricher.counters().pending]]),
  ];
}
