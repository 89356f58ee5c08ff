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

/** The per-request scalar features every endpoint's drift is measured on. */
const SCALAR_FEATURES = ['prompt_tokens', 'completion_tokens', 'latency_ms', 'empty_answer'] as const;
type ScalarFeature = (typeof SCALAR_FEATURES)[number];

/**
 * The features an endpoint's drift is measured on: the scalar ones, and for an endpoint that answers
 * `POST /v1/embeddings` the cosine distance of each answer's embedding to the baseline's centroid.
 */
export const DRIFT_FEATURES = [...SCALAR_FEATURES, 'embedding_centroid_distance'] as const;
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
  private readonly reference: Record<ScalarFeature, number[]> = emptySamples();
  private readonly recent: Record<ScalarFeature, number[]> = emptySamples();
  private readonly embeddings: EmbeddingDrift;

  constructor(
    readonly baseline = 500,
    readonly window = 500,
  ) {
    this.embeddings = new EmbeddingDrift(baseline, window);
  }

  /**
   * Records one successful request: its scalar features, and for an embeddings answer its `data` (the
   * answer's list of `{embedding}` items, as parsed; anything unusable is skipped, see `EmbeddingDrift`).
   */
  observe(sample: Record<ScalarFeature, number>, embeddingData?: unknown): void {
    const target = this.reference.prompt_tokens.length < this.baseline ? this.reference : this.recent;
    for (const feature of SCALAR_FEATURES) {
      const values = target[feature];
      values.push(sample[feature]);
      if (target === this.recent && values.length > this.window) values.shift();
    }
    if (embeddingData !== undefined) this.embeddings.observe(embeddingData);
  }

  /** Forgets the baseline: the next requests form a new one. */
  reset(): void {
    for (const feature of SCALAR_FEATURES) {
      this.reference[feature].length = 0;
      this.recent[feature].length = 0;
    }
    this.embeddings.reset();
  }

  report(): DriftReport {
    const baselineSize = this.reference.prompt_tokens.length;
    const windowSize = this.recent.prompt_tokens.length;
    if (baselineSize < this.baseline || windowSize < this.window)
      return { status: 'collecting', baselineSize, windowSize, features: {} };
    const samples: [DriftFeature, readonly number[], readonly number[]][] = SCALAR_FEATURES.map((feature) => [
      feature,
      this.reference[feature],
      this.recent[feature],
    ]);
    const distances = this.embeddings.distances();
    if (distances) samples.push(['embedding_centroid_distance', distances.reference, distances.recent]);
    const features: Partial<Record<DriftFeature, DriftScore>> = {};
    let worst = 0;
    for (const [feature, reference, recent] of samples) {
      const score = psi(reference, recent);
      const test = ks(reference, recent);
      features[feature] = { psi: round(score), ks: round(test.statistic), ksPValue: round(test.pValue) };
      worst = Math.max(worst, score);
    }
    const status = worst >= PSI_SIGNIFICANT ? 'shifted' : worst >= PSI_MODERATE ? 'moderate' : 'stable';
    return { status, baselineSize, windowSize, features };
  }
}

/*
 * Embedding drift, the "distance" method of Evidently's embedding drift (and of most monitoring tools): the
 * vectors themselves are not compared dimension by dimension; each one is reduced to one number, its cosine
 * distance to the centroid (mean direction) of the baseline's vectors, and the baseline's own distances are
 * compared with the window's by the same PSI and KS as the scalar features. Traffic whose topic, language or
 * phrasing moves away from what the endpoint saw at first lands further from that centroid; traffic that
 * narrows onto its main part lands closer. Either moves the distribution of distances. What it cannot see is
 * a move that keeps the distances: traffic turning to another direction just as far from the centroid (say,
 * one of several equally frequent topics taking over); a per-dimension test or a domain classifier (Evidently's
 * other methods) would, at many times the memory and cost.
 *
 * Memory and cost are bounded: a vector longer than `SKETCH_DIMS` is replaced at once by a fixed, seeded
 * random projection of it to 64 dimensions, so an endpoint keeps at most 2 × 500 × 64 floats, never a full
 * vector. The projection is a count sketch (the "hashing trick"): each coordinate is added, with a random
 * sign, to one of the 64 outputs. Like a dense Johnson–Lindenstrauss projection it preserves inner products
 * in expectation (cosines up to a noise of about 1/√64, which baseline and window share alike), but it costs
 * one addition per coordinate, so the request path pays one pass over the vector (about as much as reading
 * it). The centroid and the distances are computed at scrape or show time.
 */

/** Vectors are kept at most this long: longer ones are randomly projected to it. */
const SKETCH_DIMS = 64;
/** Longer vectors are skipped: no embedding model comes close, and it bounds the work on the request path. */
const MAX_EMBEDDING_DIMS = 16_384;
/** The projection is the same for every endpoint and every run: a baseline and a window always share it. */
const PROJECTION_SEED = 0x5eed_e1b;
/** Projections by input length (a few distinct embedding sizes at most), each one byte per dimension. */
const projections = new Map<number, Int8Array>();

/**
 * The embedding part of `DriftMonitor`. It keeps its own baseline (the first `baseline` usable vectors) and
 * window (the last `window` ones), so that answers whose vector is skipped do not thin its samples out.
 *
 * A request's vector is the first item of the answer's `data`, not the mean of the items: a batch's mean
 * would sit nearer the centroid the larger the batch, so a change in batch sizes would read as drift, and
 * one item costs the same whatever the batch. The vector is a list of numbers (`encoding_format: "float"`) or
 * base64 float32s (`"base64"`, the OpenAI SDKs' default). Skipped, never an error: a `data` that is not a
 * non-empty list, an `embedding` that is neither finite numbers nor whole base64 float32s, a zero vector, and a vector whose length differs from the baseline's first one (another model, or `dimensions`).
 */
class EmbeddingDrift {
  private dims: number | null = null;
  private readonly reference: Float32Array[] = [];
  private readonly recent: Float32Array[] = [];
  /** The baseline's centroid and its vectors' distances to it, once the baseline is full (it no longer changes). */
  private scored: { centroid: Float64Array; distances: number[] } | null = null;

  constructor(
    private readonly baseline: number,
    private readonly window: number,
  ) {}

  observe(data: unknown): void {
    const sketch = sketchOf(data, this.dims);
    if (!sketch) return;
    this.dims = sketch.dims;
    if (this.reference.length < this.baseline) this.reference.push(sketch.vector);
    else {
      this.recent.push(sketch.vector);
      if (this.recent.length > this.window) this.recent.shift();
    }
  }

  reset(): void {
    this.dims = null;
    this.reference.length = 0;
    this.recent.length = 0;
    this.scored = null;
  }

  /** The baseline's and the window's distances to the baseline centroid; null until both are full. */
  distances(): { reference: number[]; recent: number[] } | null {
    if (this.reference.length < this.baseline || this.recent.length < this.window) return null;
    if (!this.scored) {
      const centroid = new Float64Array(this.reference[0]!.length);
      for (const vector of this.reference)
        for (let i = 0; i < vector.length; i += 1) centroid[i]! += vector[i]!;
      const norm = Math.hypot(...centroid);
      // Baseline vectors that cancel out have no mean direction: every distance would be 1, nothing to score.
      if (norm < 1e-9) return null;
      for (let i = 0; i < centroid.length; i += 1) centroid[i]! /= norm;
      this.scored = { centroid, distances: this.reference.map((vector) => cosineDistance(vector, centroid)) };
    }
    const { centroid, distances } = this.scored;
    return { reference: distances, recent: this.recent.map((vector) => cosineDistance(vector, centroid)) };
  }
}

/** 1 − cos(vector, centroid), both of unit length. */
function cosineDistance(vector: Float32Array, centroid: Float64Array): number {
  let dot = 0;
  for (let i = 0; i < vector.length; i += 1) dot += vector[i]! * centroid[i]!;
  return 1 - dot;
}

/** A base64 embedding's float32s (little-endian), or null when it is not whole float32s. */
function float32sOf(text: string): Float32Array | null {
  if (text.length > ((MAX_EMBEDDING_DIMS * 4 + 2) / 3) * 4 + 4) return null;
  const bytes = Buffer.from(text, 'base64');
  if (bytes.length === 0 || bytes.length % 4 !== 0) return null;
  const values = new Float32Array(bytes.length / 4);
  for (let i = 0; i < values.length; i += 1) values[i] = bytes.readFloatLE(i * 4);
  return values;
}

/**
 * The unit-length sketch of an embeddings answer's first vector (itself when it has at most 64 dimensions,
 * else its random projection), in one pass that also checks it; null when it is unusable.
 */
function sketchOf(data: unknown, dims: number | null): { dims: number; vector: Float32Array } | null {
  if (!Array.isArray(data) || data.length === 0) return null;
  const first: unknown = data[0];
  if (typeof first !== 'object' || first === null) return null;
  const raw = (first as { embedding?: unknown }).embedding;
  // `encoding_format: "base64"` (the OpenAI SDKs' default): the vector's float32s, little-endian, in base64.
  const embedding = typeof raw === 'string' ? float32sOf(raw) : raw;
  if (!Array.isArray(embedding) && !(embedding instanceof Float32Array)) return null;
  const length = embedding.length;
  if (length === 0 || length > MAX_EMBEDDING_DIMS || (dims !== null && length !== dims)) return null;
  const out = new Float64Array(Math.min(length, SKETCH_DIMS));
  const projection = length > SKETCH_DIMS ? projectionFor(length) : null;
  for (let i = 0; i < length; i += 1) {
    const value: unknown = embedding[i];
    if (typeof value !== 'number' || !Number.isFinite(value)) return null;
    if (!projection) out[i] = value;
    else {
      const target = projection[i]!;
      if (target > 0) out[target - 1]! += value;
      else out[-target - 1]! -= value;
    }
  }
  let norm = 0;
  for (const value of out) norm += value * value;
  norm = Math.sqrt(norm);
  if (!(norm > 0) || !Number.isFinite(norm)) return null;
  const vector = new Float32Array(out.length);
  for (let i = 0; i < out.length; i += 1) vector[i] = out[i]! / norm;
  return { dims: length, vector };
}

/**
 * The seeded projection of vectors of this length (built once per length): each coordinate goes to one of
 * the 64 outputs with a sign, both drawn at random; stored as (output + 1) × sign.
 */
function projectionFor(dims: number): Int8Array {
  let projection = projections.get(dims);
  if (projection) return projection;
  // mulberry32, seeded by the length too: a different size gets an independent projection.
  let state = (PROJECTION_SEED ^ Math.imul(dims, 0x9e3779b1)) >>> 0;
  projection = new Int8Array(dims);
  for (let i = 0; i < dims; i += 1) {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    const bits = (t ^ (t >>> 14)) >>> 0;
    projection[i] = ((bits % SKETCH_DIMS) + 1) * (bits & 0x8000_0000 ? -1 : 1);
  }
  // A handful of distinct sizes at most; should something send many, the memory stays bounded anyway.
  if (projections.size >= 8) projections.delete(projections.keys().next().value!);
  projections.set(dims, projection);
  return projection;
}

function emptySamples(): Record<ScalarFeature, number[]> {
  return { prompt_tokens: [], completion_tokens: [], latency_ms: [], empty_answer: [] };
}

function round(value: number): number {
  return Math.round(value * 10_000) / 10_000;
}
