import { describe, expect, it } from 'vitest';
import { DriftMonitor, ks, PSI_MODERATE, PSI_SIGNIFICANT, psi } from './drift.ts';

/** A seeded generator (mulberry32), so that the samples and the scores are the same on every run. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Prompt lengths as chat traffic has them: log-normal around `median` tokens. */
function promptLengths(next: () => number, count: number, median: number): number[] {
  return Array.from({ length: count }, () => {
    const normal = Math.sqrt(-2 * Math.log(1 - next())) * Math.cos(2 * Math.PI * next());
    return Math.round(median * Math.exp(0.5 * normal));
  });
}

describe('psi and ks', () => {
  it('are near zero for two samples of one distribution and large for a shifted one', () => {
    const next = random(7);
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
    const next = random(11);
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
