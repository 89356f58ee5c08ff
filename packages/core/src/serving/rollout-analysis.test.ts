import { describe, expect, it } from 'vitest';
import { DEFAULT_ROLLOUT_THRESHOLDS, judgeStep, rolloutSteps } from './rollout-analysis.ts';

const thresholds = {
  minRequests: 20,
  maxErrorRateIncrease: 0.05,
  maxLatencyRatio: 1.5,
  latencyAllowanceMs: 50,
  maxQualityDrop: 0.05,
};
const figures = (requests: number, errors: number, latencyP99Ms: number | null) => ({
  requests,
  errors,
  errorRate: requests ? errors / requests : null,
  latencyP99Ms,
});

describe('judging a canary step', () => {
  it('waits for the minimum sample, then passes a canary as good as the stable version', () => {
    expect(judgeStep(figures(19, 0, 10), figures(200, 0, 10), null, thresholds)).toEqual({
      verdict: 'wait',
      reason: '19 of 20 canary requests in this step',
    });
    expect(judgeStep(figures(20, 1, 12), figures(200, 4, 10), null, thresholds)).toEqual({
      verdict: 'pass',
      reason: '20 canary requests: error rate 5% vs 2%, p99 12 ms vs 10 ms',
    });
  });

  it('fails on an error rate more than the allowed points above the stable one', () => {
    const verdict = judgeStep(figures(40, 4, 10), figures(400, 8, 10), null, thresholds);
    expect(verdict).toEqual({
      verdict: 'fail',
      reason: "error rate 10% exceeds the stable version's 2% by more than 5%",
    });
    // A stable version with too few requests to compare with counts as error-free.
    expect(judgeStep(figures(40, 3, 10), figures(5, 5, 10), null, thresholds).verdict).toBe('fail');
  });

  it('fails on p99 latency beyond the ratio and allowance, and ignores noise below the allowance', () => {
    expect(judgeStep(figures(40, 0, 400), figures(400, 0, 200), null, thresholds)).toEqual({
      verdict: 'fail',
      reason: "p99 latency 400 ms exceeds 1.5x the stable version's 200 ms + 50 ms (350 ms)",
    });
    expect(judgeStep(figures(40, 0, 40), figures(400, 0, 2), null, thresholds).verdict).toBe('pass');
  });

  it('fails on a quality drop at once, before the sample is complete', () => {
    const quality = { metric: 'f1', canary: 0.6, stable: 0.9 };
    expect(judgeStep(figures(0, 0, null), figures(0, 0, null), quality, thresholds)).toEqual({
      verdict: 'fail',
      reason: "quality f1 0.600 is below the stable version's 0.900 less 0.050 (0.850)",
    });
    const close = { metric: 'f1', canary: 0.86, stable: 0.9 };
    expect(judgeStep(figures(20, 0, 5), figures(20, 0, 5), close, thresholds).reason).toContain(
      'f1 0.860 vs 0.900',
    );
  });
});

describe('judging a canary step against the thresholds its deploy set', () => {
  const set = (changes: Partial<typeof thresholds>) => ({ ...thresholds, ...changes });

  it('keeps the defaults a deploy without thresholds gets', () => {
    expect(DEFAULT_ROLLOUT_THRESHOLDS).toEqual(thresholds);
  });

  it('passes an error rate 8 points above under a 10-point limit and fails it under a 5-point one', () => {
    const canary = figures(50, 5, 10);
    const stable = figures(500, 10, 10);
    expect(judgeStep(canary, stable, null, set({ maxErrorRateIncrease: 0.1 }))).toEqual({
      verdict: 'pass',
      reason: '50 canary requests: error rate 10% vs 2%, p99 10 ms vs 10 ms',
    });
    expect(judgeStep(canary, stable, null, set({ maxErrorRateIncrease: 0.05 }))).toEqual({
      verdict: 'fail',
      reason: "error rate 10% exceeds the stable version's 2% by more than 5%",
    });
    // No increase at all allowed: an equal rate passes, one error more fails.
    expect(
      judgeStep(figures(50, 1, 10), figures(50, 1, 10), null, set({ maxErrorRateIncrease: 0 })).verdict,
    ).toBe('pass');
    expect(judgeStep(figures(50, 2, 10), figures(50, 1, 10), null, set({ maxErrorRateIncrease: 0 }))).toEqual(
      {
        verdict: 'fail',
        reason: "error rate 4% exceeds the stable version's 2% by more than 0%",
      },
    );
    // "At most" includes the limit, even where the sum rounds below it (0.7 + 0.1 is 0.7999… in floating point).
    expect(
      judgeStep(
        figures(10, 8, 10),
        figures(10, 7, 10),
        null,
        set({ minRequests: 10, maxErrorRateIncrease: 0.1 }),
      ).verdict,
    ).toBe('pass');
  });

  it('passes a p99 2x the stable one under a ratio of 3 and fails it under 1.5, with the allowance as set', () => {
    const canary = figures(40, 0, 400);
    const stable = figures(400, 0, 200);
    expect(judgeStep(canary, stable, null, set({ maxLatencyRatio: 3 })).verdict).toBe('pass');
    expect(judgeStep(canary, stable, null, set({ maxLatencyRatio: 1.5 }))).toEqual({
      verdict: 'fail',
      reason: "p99 latency 400 ms exceeds 1.5x the stable version's 200 ms + 50 ms (350 ms)",
    });
    // The allowance is the deploy's too: 200 ms of it let the same figures through at 1.0x; none at all does not.
    expect(
      judgeStep(canary, stable, null, set({ maxLatencyRatio: 1, latencyAllowanceMs: 200 })).verdict,
    ).toBe('pass');
    expect(
      judgeStep(
        figures(40, 0, 12),
        figures(400, 0, 10),
        null,
        set({ maxLatencyRatio: 1, latencyAllowanceMs: 0 }),
      ),
    ).toEqual({
      verdict: 'fail',
      reason: "p99 latency 12 ms exceeds 1x the stable version's 10 ms + 0 ms (10 ms)",
    });
  });

  it('passes a quality drop of 0.75 under a limit of 0.8 and fails it under 0.05', () => {
    const quality = { metric: 'f1', canary: 0.25, stable: 1 };
    const canary = figures(20, 0, 5);
    const stable = figures(20, 0, 5);
    expect(judgeStep(canary, stable, quality, set({ maxQualityDrop: 0.8 }))).toEqual({
      verdict: 'pass',
      reason: '20 canary requests: error rate 0% vs 0%, p99 5 ms vs 5 ms, f1 0.250 vs 1.000',
    });
    expect(judgeStep(canary, stable, quality, set({ maxQualityDrop: 0.05 }))).toEqual({
      verdict: 'fail',
      reason: "quality f1 0.250 is below the stable version's 1.000 less 0.050 (0.950)",
    });
    // No drop at all allowed: the same score passes, a point lower fails.
    const judge = { metric: 'judge', canary: 0.8, stable: 0.8 };
    expect(judgeStep(canary, stable, judge, set({ maxQualityDrop: 0 })).verdict).toBe('pass');
    expect(judgeStep(canary, stable, { ...judge, canary: 0.79 }, set({ maxQualityDrop: 0 }))).toEqual({
      verdict: 'fail',
      reason: "quality judge 0.790 is below the stable version's 0.800 less 0.000 (0.800)",
    });
  });
});

describe('rollout steps', () => {
  it('double from the first weight until promotion', () => {
    expect(rolloutSteps(10)).toEqual([10, 20, 40, 80]);
    expect(rolloutSteps(25)).toEqual([25, 50]);
    expect(rolloutSteps(60)).toEqual([60]);
    expect(rolloutSteps(100)).toEqual([100]);
  });
});
