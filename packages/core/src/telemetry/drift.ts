/**
 * Drift scores between a reference sample and a current one: the Population Stability Index over the
 * reference's quantile bins, and the two-sample Kolmogorov–Smirnov statistic with its asymptotic p-value.
 * Both take plain numbers, so any per-request feature (token counts, latency, an empty-answer flag) works.
 */

/** Below this PSI a distribution is read as stable; above `PSI_SIGNIFICANT` as shifted (the usual cuts). */
export const PSI_MODERATE = 0.1;
export const PSI_SIGNIFICANT = 0.25;

/** A bin with no sample gets this share, so that the logarithm stays finite. */
const EMPTY_BIN_SHARE = 1e-4;

/**
 * The Population Stability Index: Σ (cᵢ − rᵢ)·ln(cᵢ / rᵢ) over bins cut at the reference's quantiles.
 * Repeated values (a count that is often 0, a 0/1 flag) collapse into fewer bins, never empty ones.
 */
export function psi(reference: readonly number[], current: readonly number[], bins = 10): number {
  if (reference.length === 0 || current.length === 0) return 0;
  const sorted = [...reference].sort((a, b) => a - b);
  const edges: number[] = [];
  for (let i = 1; i < bins; i += 1) {
    const edge = sorted[Math.floor((i * sorted.length) / bins)]!;
    if (edges.length === 0 || edge > edges[edges.length - 1]!) edges.push(edge);
  }
  const shares = (sample: readonly number[]) => {
    const counts = new Array<number>(edges.length + 1).fill(0);
    for (const value of sample) counts[binOf(edges, value)]! += 1;
    return counts.map((count) => Math.max(count / sample.length, EMPTY_BIN_SHARE));
  };
  const r = shares(reference);
  const c = shares(current);
  let total = 0;
  for (let i = 0; i < r.length; i += 1) total += (c[i]! - r[i]!) * Math.log(c[i]! / r[i]!);
  return total;
}

/** The index of the bin a value falls in: values up to the first edge in 0, above edge k (and up to k+1) in k+1. */
function binOf(edges: readonly number[], value: number): number {
  let low = 0;
  let high = edges.length;
  while (low < high) {
    const mid = (low + high) >> 1;
    if (value > edges[mid]!) low = mid + 1;
    else high = mid;
  }
  return low;
}

/** The two-sample Kolmogorov–Smirnov statistic D and its asymptotic p-value. */
export function ks(a: readonly number[], b: readonly number[]): { statistic: number; pValue: number } {
  if (a.length === 0 || b.length === 0) return { statistic: 0, pValue: 1 };
  const x = [...a].sort((p, q) => p - q);
  const y = [...b].sort((p, q) => p - q);
  let i = 0;
  let j = 0;
  let d = 0;
  while (i < x.length && j < y.length) {
    const value = Math.min(x[i]!, y[j]!);
    while (i < x.length && x[i]! <= value) i += 1;
    while (j < y.length && y[j]! <= value) j += 1;
    d = Math.max(d, Math.abs(i / x.length - j / y.length));
  }
  const n = (x.length * y.length) / (x.length + y.length);
  return { statistic: d, pValue: kolmogorovSurvival((Math.sqrt(n) + 0.12 + 0.11 / Math.sqrt(n)) * d) };
}

/** Q_KS(λ) = 2 Σ (−1)^(k−1) e^(−2k²λ²), the tail of the Kolmogorov distribution (Numerical Recipes). */
function kolmogorovSurvival(lambda: number): number {
  if (lambda < 1e-3) return 1;
  let sum = 0;
  let sign = 1;
  for (let k = 1; k <= 100; k += 1) {
    const term = sign * Math.exp(-2 * k * k * lambda * lambda);
    sum += term;
    if (Math.abs(term) < 1e-10) break;
    sign = -sign;
  }
  return Math.min(1, Math.max(0, 2 * sum));
}

/** The per-request features an endpoint's drift is measured on. */
export const DRIFT_FEATURES = ['prompt_tokens', 'completion_tokens', 'latency_ms', 'empty_answer'] as const;
export type DriftFeature = (typeof DRIFT_FEATURES)[number];

export interface DriftScore {
  psi: number;
  ks: number;
  ksPValue: number;
}

export interface DriftReport {
  /** `collecting` until the baseline and a first window are full; then `stable`, `moderate` or `shifted`. */
  status: 'collecting' | 'stable' | 'moderate' | 'shifted';
  baselineSize: number;
  windowSize: number;
  features: Partial<Record<DriftFeature, DriftScore>>;
}

/**
 * Keeps a baseline (the first `baseline` successful requests after a start or a reset, e.g. a new version)
 * and a sliding window of the last `window` ones, and scores each feature of the window against the baseline.
 */
export class DriftMonitor {
  private readonly reference: Record<DriftFeature, number[]> = emptySamples();
  private readonly recent: Record<DriftFeature, number[]> = emptySamples();

  constructor(
    readonly baseline = 500,
    readonly window = 500,
  ) {}

  observe(sample: Record<DriftFeature, number>): void {
    const target = this.reference.prompt_tokens.length < this.baseline ? this.reference : this.recent;
    for (const feature of DRIFT_FEATURES) {
      const values = target[feature];
      values.push(sample[feature]);
      if (target === this.recent && values.length > this.window) values.shift();
    }
  }

  /** Forgets the baseline: the next requests form a new one. */
  reset(): void {
    for (const feature of DRIFT_FEATURES) {
      this.reference[feature].length = 0;
      this.recent[feature].length = 0;
    }
  }

  report(): DriftReport {
    const baselineSize = this.reference.prompt_tokens.length;
    const windowSize = this.recent.prompt_tokens.length;
    if (baselineSize < this.baseline || windowSize < this.window)
      return { status: 'collecting', baselineSize, windowSize, features: {} };
    const features: Partial<Record<DriftFeature, DriftScore>> = {};
    let worst = 0;
    for (const feature of DRIFT_FEATURES) {
      const score = psi(this.reference[feature], this.recent[feature]);
      const test = ks(this.reference[feature], this.recent[feature]);
      features[feature] = { psi: round(score), ks: round(test.statistic), ksPValue: round(test.pValue) };
      worst = Math.max(worst, score);
    }
    const status = worst >= PSI_SIGNIFICANT ? 'shifted' : worst >= PSI_MODERATE ? 'moderate' : 'stable';
    return { status, baselineSize, windowSize, features };
  }
}

function emptySamples(): Record<DriftFeature, number[]> {
  return { prompt_tokens: [], completion_tokens: [], latency_ms: [], empty_answer: [] };
}

function round(value: number): number {
  return Math.round(value * 10_000) / 10_000;
}
