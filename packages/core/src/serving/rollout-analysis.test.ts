import { describe, expect, it } from 'vitest';
import { judgeStep, rolloutSteps } from './rollout-analysis.ts';

const thresholds = {
  minRequests: 20,
  maxErrorRateIncrease: 0.05,
  maxLatencyRatio: 1.5,
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

describe('rollout steps', () => {
  it('double from the first weight until promotion', () => {
    expect(rolloutSteps(10)).toEqual([10, 20, 40, 80]);
    expect(rolloutSteps(25)).toEqual([25, 50]);
    expect(rolloutSteps(60)).toEqual([60]);
    expect(rolloutSteps(100)).toEqual([100]);
  });
});
