// The scenarios, in the order they run. Each module owns its set-up and tear-down.
import type { Scenario } from "../lib/types.ts";
import { workloadOverhead } from "./workload-overhead.ts";
import { pipelineCost } from "./pipeline-cost.ts";
import { replayThroughput } from "./replay-throughput.ts";
import { alternatives } from "./alternatives.ts";
import { captureOverhead } from "./capture-overhead.ts";

export const scenarios: Scenario[] = [workloadOverhead, pipelineCost, replayThroughput, alternatives, captureOverhead];
