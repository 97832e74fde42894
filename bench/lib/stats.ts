// The benchmarks' one statistics module: median/min/max of repetitions, percentiles of latency samples, paired
// ratios, and turning per-repetition figures into ResultRows.
import type { ResultRow } from "./types.ts";

/** Median, min and max of `values` and how many there are (NaN figures for none). */
export function summarise(values: readonly number[]): { median: number; min: number; max: number; runs: number } {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  const median = sorted.length === 0 ? NaN : sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
  return { median, min: sorted[0] ?? NaN, max: sorted.at(-1) ?? NaN, runs: sorted.length };
}

/**
 * The p-th percentile (0..100) of values sorted ascending, by linear interpolation between the two closest
 * ranks. NaN for no values.
 */
export function percentileSorted(sorted: ArrayLike<number>, p: number): number {
  const n = sorted.length;
  if (n === 0) return NaN;
  if (n === 1) return sorted[0]!;
  const rank = (Math.min(100, Math.max(0, p)) / 100) * (n - 1);
  const lo = Math.floor(rank);
  const hi = Math.min(n - 1, lo + 1);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (rank - lo);
}

/** Percentiles of unsorted samples (copied and sorted once). */
export function percentiles(values: ArrayLike<number>, ps: readonly number[]): number[] {
  const sorted = Float64Array.from(values).sort();
  return ps.map((p) => percentileSorted(sorted, p));
}

/** Median of a list (NaN for none). */
export function median(values: readonly number[]): number {
  return values.length === 0 ? NaN : summarise(values).median;
}

/**
 * Collects per-repetition figures, keyed by variant and metric, and the paired ratios to a baseline variant
 * measured in the same repetition; then emits one ResultRow per (variant, metric) in insertion order.
 */
export class Collector {
  readonly #scenario: string;
  readonly #baseline: string;
  #staged: (() => void)[] | undefined;
  readonly #targets = new Map<string, { text: string; met: (ratio: number) => boolean }>();
  readonly #series = new Map<string, { variant: string; metric: string; unit: string; values: number[]; ratios: number[] }>();
  readonly #notes = new Map<string, string[]>();

  constructor(scenario: string, baseline: string) {
    this.#scenario = scenario;
    this.#baseline = baseline;
  }

  #get(variant: string, metric: string, unit: string) {
    const key = `${variant}\u0000${metric}`;
    let s = this.#series.get(key);
    if (!s) {
      s = { variant, metric, unit, values: [], ratios: [] };
      this.#series.set(key, s);
    }
    return s;
  }

  /**
   * Records one repetition's figure. `baselineValue` is the baseline variant's figure for the same metric in
   * the same repetition; the ratio value / baselineValue is kept when both are finite and non-zero.
   */
  add(variant: string, metric: string, unit: string, value: number, baselineValue?: number): void {
    if (this.#staged) {
      this.#staged.push(() => this.add(variant, metric, unit, value, baselineValue));
      return;
    }
    const s = this.#get(variant, metric, unit);
    s.values.push(value);
    if (baselineValue !== undefined && Number.isFinite(value) && Number.isFinite(baselineValue) && baselineValue !== 0) {
      s.ratios.push(value / baselineValue);
    }
  }

  /** From now on add() and note() are held back until commit() (kept) or discard() (dropped): one repetition. */
  stage(): void {
    this.#staged = [];
  }

  commit(): void {
    const staged = this.#staged ?? [];
    this.#staged = undefined;
    for (const f of staged) f();
  }

  discard(): void {
    this.#staged = undefined;
  }

  /** A target the row's ratio is reported against (not asserted), e.g. ("ratio >= 0.90", (r) => r >= 0.9). */
  target(variant: string, metric: string, text: string, met: (ratio: number) => boolean): void {
    this.#targets.set(`${variant}\u0000${metric}`, { text, met });
  }

  /** A note for a (variant, metric) row; repeated notes are kept once. */
  note(variant: string, metric: string, text: string): void {
    if (this.#staged) {
      this.#staged.push(() => this.note(variant, metric, text));
      return;
    }
    const key = `${variant}\u0000${metric}`;
    const notes = this.#notes.get(key) ?? [];
    if (!notes.includes(text)) notes.push(text);
    this.#notes.set(key, notes);
  }

  rows(): ResultRow[] {
    const out: ResultRow[] = [];
    for (const s of this.#series.values()) {
      const finite = s.values.filter((v) => Number.isFinite(v));
      if (finite.length === 0) continue;
      const row: ResultRow = { scenario: this.#scenario, variant: s.variant, metric: s.metric, unit: s.unit, ...summarise(finite) };
      const notes = [...(this.#notes.get(`${s.variant}\u0000${s.metric}`) ?? [])];
      if (s.variant === this.#baseline) row.ratio = 1;
      else if (s.ratios.length > 0) {
        row.ratio = median(s.ratios);
        const r = summarise(s.ratios);
        if (s.ratios.length > 1) notes.unshift(`ratio per run ${r.min.toFixed(3)}..${r.max.toFixed(3)}`);
        const target = this.#targets.get(`${s.variant}\u0000${s.metric}`);
        if (target) notes.unshift(`target ${target.text}: ${target.met(row.ratio) ? "met" : "NOT met"}`);
      }
      if (notes.length > 0) row.note = notes.join("; ");
      out.push(row);
    }
    return out;
  }
}
