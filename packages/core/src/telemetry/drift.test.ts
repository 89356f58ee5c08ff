import { describe, expect, it } from 'vitest';
import { seededRandom } from '../testing/tiny-model.ts';
import { DriftMonitor, ks, PSI_MODERATE, PSI_SIGNIFICANT, psi } from './drift.ts';

/** Prompt lengths as chat traffic has them: log-normal around `median` tokens. */
function promptLengths(next: () => number, count: number, median: number): number[] {
  return Array.from({ length: count }, () => {
    const normal = Math.sqrt(-2 * Math.log(1 - next())) * Math.cos(2 * Math.PI * next());
    return Math.round(median * Math.exp(0.5 * normal));
  });
}

describe('psi and ks', () => {
  it('are near zero for two samples of one distribution and large for a shifted one', () => {
    const next = seededRandom(7);
    const reference = promptLengths(next, 2000, 120);
    const same = promptLengths(next, 2000, 120);
    const longer = promptLengths(next, 2000, 300);
    expect(psi(reference, same)).toBeLessThan(PSI_MODERATE);
    expect(psi(reference, longer)).toBeGreaterThan(PSI_SIGNIFICANT);
    expect(ks(reference, same).pValue).toBeGreaterThan(0.01);
    const shifted = ks(reference, longer);
    expect(shifted.statistic).toBeGreaterThan(0.5);
    expect(shifted.pValue).toBeLessThan(1e-6);
  });

  it('knows the exact KS statistic of two small samples', () => {
    // F_a steps at 1,2,3 and F_b at 2,3,4: the largest gap is 1/3, at 1 (and at 3).
    expect(ks([1, 2, 3], [2, 3, 4]).statistic).toBeCloseTo(1 / 3, 10);
    expect(ks([1, 2, 3], [1, 2, 3])).toEqual({ statistic: 0, pValue: 1 });
  });

  it('scores a 0/1 flag whose rate moves (empty answers) without empty-bin infinities', () => {
    const flags = (rate: number, count: number) =>
      Array.from({ length: count }, (_, i) => (i < rate * count ? 1 : 0));
    const stable = psi(flags(0.02, 1000), flags(0.02, 1000));
    const worse = psi(flags(0.02, 1000), flags(0.3, 1000));
    expect(stable).toBeCloseTo(0, 10);
    expect(Number.isFinite(worse)).toBe(true);
    expect(worse).toBeGreaterThan(PSI_SIGNIFICANT);
  });
});

describe('DriftMonitor', () => {
  const sample = (prompt: number) => ({
    prompt_tokens: prompt,
    completion_tokens: 40,
    latency_ms: 25,
    empty_answer: 0,
  });

  it('collects a baseline first, stays stable on the same traffic, and says shifted when prompts change', () => {
    const next = seededRandom(11);
    const monitor = new DriftMonitor(400, 400);
    for (const length of promptLengths(next, 400, 100)) monitor.observe(sample(length));
    expect(monitor.report()).toMatchObject({ status: 'collecting', baselineSize: 400, windowSize: 0 });
    for (const length of promptLengths(next, 400, 100)) monitor.observe(sample(length));
    const steady = monitor.report();
    expect(steady.status).toBe('stable');
    expect(steady.features.prompt_tokens!.psi).toBeLessThan(PSI_MODERATE);
    // The window slides: 400 requests with prompts three times as long replace the steady ones.
    for (const length of promptLengths(next, 400, 300)) monitor.observe(sample(length));
    const drifted = monitor.report();
    expect(drifted.status).toBe('shifted');
    expect(drifted.features.prompt_tokens!.psi).toBeGreaterThan(PSI_SIGNIFICANT);
    expect(drifted.features.completion_tokens!.psi).toBe(0);
    monitor.reset();
    expect(monitor.report()).toMatchObject({ status: 'collecting', baselineSize: 0, windowSize: 0 });
  });
});

describe('embedding drift (cosine distance to the baseline centroid)', () => {
  /** A standard normal draw (Box–Muller). */
  const gaussian = (next: () => number) =>
    Math.sqrt(-2 * Math.log(1 - next())) * Math.cos(2 * Math.PI * next());
  /** A random unit vector. */
  const direction = (next: () => number, dims: number) => {
    const vector = Array.from({ length: dims }, () => gaussian(next));
    const norm = Math.hypot(...vector);
    return vector.map((value) => value / norm);
  };
  /**
   * An embeddings answer's `data` as a model gives it for texts on one topic: the topic's direction plus
   * per-text noise of length about `spread`, L2-normalised (texts of a topic at a cosine of about 0.85 to it).
   */
  const answer = (next: () => number, topic: number[], spread = 0.6) => {
    const sigma = spread / Math.sqrt(topic.length);
    const vector = topic.map((value) => value + sigma * gaussian(next));
    const norm = Math.hypot(...vector);
    return [{ object: 'embedding', index: 0, embedding: vector.map((value) => value / norm) }];
  };
  const request = { prompt_tokens: 12, completion_tokens: 0, latency_ms: 8, empty_answer: 1 };

  for (const dims of [32, 384, 1536]) {
    it(`is stable on the same topics and shifted when they move (${dims} dimensions${dims > 64 ? ', projected to 64' : ''})`, () => {
      const next = seededRandom(dims);
      const legal = direction(next, dims);
      const medical = direction(next, dims);
      // Mostly legal questions, a fifth of them on a second topic: the centroid lies between the two.
      const steadyTopic = () => (next() < 0.8 ? legal : medical);
      const monitor = new DriftMonitor();
      for (let n = 0; n < 1000; n += 1) monitor.observe(request, answer(next, steadyTopic()));
      const steady = monitor.report();
      expect(steady.status).toBe('stable');
      const same = steady.features.embedding_centroid_distance!;
      expect(same.psi).toBeLessThan(PSI_MODERATE);
      expect(same.ksPValue).toBeGreaterThan(0.01);
      // The traffic turns to the second topic: most texts now lie away from the baseline's centroid.
      for (let n = 0; n < 500; n += 1) monitor.observe(request, answer(next, next() < 0.3 ? legal : medical));
      const moved = monitor.report();
      const shifted = moved.features.embedding_centroid_distance!;
      expect(moved.status).toBe('shifted');
      expect(shifted.psi).toBeGreaterThan(PSI_SIGNIFICANT);
      expect(shifted.ks).toBeGreaterThan(0.4);
      expect(shifted.ksPValue).toBeLessThan(1e-6);
      // The scalar features did not move.
      expect(moved.features.prompt_tokens!.psi).toBe(0);
      console.info(
        `embedding drift, ${dims} dims: same PSI ${same.psi} KS ${same.ks}; shifted PSI ${shifted.psi} KS ${shifted.ks}`,
      );
    });
  }

  it('sees traffic narrowing onto its main topic (distances get smaller)', () => {
    const next = seededRandom(5);
    const [main, second, third] = Array.from({ length: 3 }, () => direction(next, 384)) as [
      number[],
      number[],
      number[],
    ];
    // Baseline: 60% on the main topic, the rest on two others; then nothing but the main topic. Its texts
    // lie nearer the centroid than the baseline's average text.
    const monitor = new DriftMonitor();
    for (let n = 0; n < 500; n += 1)
      monitor.observe(request, answer(next, n % 5 < 3 ? main : n % 5 === 3 ? second : third));
    for (let n = 0; n < 500; n += 1) monitor.observe(request, answer(next, main));
    const narrowed = monitor.report().features.embedding_centroid_distance!;
    expect(narrowed.psi).toBeGreaterThan(PSI_SIGNIFICANT);
    expect(narrowed.ks).toBeGreaterThan(0.3);
    console.info(`embedding drift, narrowing onto the main topic: PSI ${narrowed.psi} KS ${narrowed.ks}`);
  });

  it('skips unusable vectors without failing: broken base64, non-numbers, another dimension, empty, zero', () => {
    const next = seededRandom(21);
    const topic = direction(next, 384);
    const valid = Array.from({ length: 1000 }, () => answer(next, topic));
    const clean = new DriftMonitor();
    for (const data of valid) clean.observe(request, data);
    const mixed = new DriftMonitor();
    const malformed: unknown[] = [
      [{ object: 'embedding', index: 0, embedding: 'AACAPwAAAEA=' }],
      [{ object: 'embedding', index: 0, embedding: 'AACAPwAA' }],
      [{ object: 'embedding', index: 0, embedding: '' }],
      [{ embedding: [0.1, 'x', ...topic.slice(2)] }],
      [{ embedding: [Number.NaN, ...topic.slice(1)] }],
      [{ embedding: [null, ...topic.slice(1)] }],
      [{ embedding: topic.slice(0, 256) }],
      [{ embedding: [...topic, 0.5] }],
      [{ embedding: new Array(384).fill(0) }],
      [{ embedding: [] }],
      [{ index: 0 }],
      [null],
      [],
      {},
      null,
      'data',
      42,
    ];
    valid.forEach((data, n) => {
      // A malformed answer before every usable one (after the first, which fixes the dimension).
      if (n > 0) expect(() => mixed.observe(request, malformed[n % malformed.length])).not.toThrow();
      mixed.observe(request, data);
    });
    // Twice as many requests, so the request window moved; the embedding samples are exactly the usable ones.
    const cleanScore = clean.report().features.embedding_centroid_distance!;
    expect(mixed.report().features.embedding_centroid_distance).toEqual(cleanScore);
    expect(cleanScore.psi).toBeLessThan(PSI_MODERATE);

    // The same vectors as base64 float32s (the OpenAI SDKs' default `encoding_format`): the same scores as the
    // float answers of those float32s.
    const floats = new DriftMonitor();
    const base64 = new DriftMonitor();
    for (const data of valid) {
      const vector = new Float32Array((data as { embedding: number[] }[])[0]!.embedding);
      floats.observe(request, [{ object: 'embedding', index: 0, embedding: Array.from(vector) }]);
      const text = Buffer.from(vector.buffer).toString('base64');
      base64.observe(request, [{ object: 'embedding', index: 0, embedding: text }]);
    }
    const floatScore = floats.report().features.embedding_centroid_distance!;
    expect(floatScore.psi).toBeLessThan(PSI_MODERATE);
    expect(base64.report().features.embedding_centroid_distance).toEqual(floatScore);
  });

  it('keeps its own baseline per reset, and chat traffic never gets the feature', () => {
    const next = seededRandom(3);
    const monitor = new DriftMonitor();
    for (let n = 0; n < 1000; n += 1) monitor.observe(request);
    expect(Object.keys(monitor.report().features)).toEqual([
      'prompt_tokens',
      'completion_tokens',
      'latency_ms',
      'empty_answer',
    ]);
    const small = direction(next, 16);
    // Embedding answers from here on: the feature's own baseline starts with the first usable vector.
    for (let n = 0; n < 999; n += 1) monitor.observe(request, answer(next, small));
    expect(monitor.report().features.embedding_centroid_distance).toBeUndefined();
    monitor.observe(request, answer(next, small));
    expect(monitor.report().features.embedding_centroid_distance!.psi).toBeLessThan(PSI_MODERATE);
    // A new version with another embedding size: its vectors form the new baseline after a reset.
    monitor.reset();
    const wider = direction(next, 768);
    for (let n = 0; n < 1000; n += 1) monitor.observe(request, answer(next, wider));
    expect(monitor.report().features.embedding_centroid_distance!.psi).toBeLessThan(PSI_MODERATE);
  });
});
