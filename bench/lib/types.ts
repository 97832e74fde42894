// What every benchmark scenario returns: figures measured side by side in one run, summarised as median, min
// and max over interleaved repetitions, with the unit and how they were obtained.
export interface BenchOptions {
  /** A short version (fewer and shorter repetitions) for CI and quick checks. */
  quick: boolean;
  /** Progress for the person watching (stderr). */
  log: (msg: string) => void;
}

export interface ResultRow {
  scenario: string;
  /** e.g. "untraced", "pipeline on, not opted in", "opted in" */
  variant: string;
  /** e.g. "req/s", "p99 latency", "CPU ms per 1000 exchanges" */
  metric: string;
  unit: string;
  median: number;
  min: number;
  max: number;
  runs: number;
  /** Ratio to the scenario's baseline variant, measured in the same run (1 for the baseline itself). */
  ratio?: number;
  note?: string;
}

export interface Scenario {
  name: string;
  /** One line: what is measured and how. */
  method: string;
  run(opts: BenchOptions): Promise<ResultRow[]>;
}

export function summarise(values: readonly number[]): { median: number; min: number; max: number; runs: number } {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  const median = sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
  return { median, min: sorted[0]!, max: sorted.at(-1)!, runs: sorted.length };
}
