// What every benchmark scenario returns: figures measured side by side in one run, summarised (stats.ts) as
// median, min and max over interleaved repetitions, with the unit and how they were obtained.
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
