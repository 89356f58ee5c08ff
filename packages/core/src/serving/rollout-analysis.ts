import type { RolloutFigures } from '@aicloud/contracts';

/** What a canary step is judged against (set at deploy, fixed while the rollout runs). */
export interface RolloutThresholds {
  /** Canary requests a step needs before it is judged. */
  minRequests: number;
  /** How much higher (absolute, 0.05 = 5 points) the canary's error rate may be than the stable one's. */
  maxErrorRateIncrease: number;
  /** How many times the stable p99 latency the canary's p99 may reach (plus `latencyAllowanceMs`). */
  maxLatencyRatio: number;
  /** Milliseconds above the ratio that are noise, not a regression: a 3 ms answer against a 1 ms one is not 3x slower in use. */
  latencyAllowanceMs: number;
  /** How much lower (absolute) the canary's quality score may be than the stable version's. */
  maxQualityDrop: number;
}

/** The thresholds of a deploy that sets none (as Flagger's and Argo Rollouts' usual analyses). */
export const DEFAULT_ROLLOUT_THRESHOLDS: RolloutThresholds = {
  minRequests: 20,
  maxErrorRateIncrease: 0.05,
  maxLatencyRatio: 1.5,
  latencyAllowanceMs: 50,
  maxQualityDrop: 0.05,
};

/** Both versions' quality score on the endpoint's evaluation set (`metric` is `f1` or `judge`). */
export interface QualityComparison {
  metric: string;
  canary: number | null;
  stable: number | null;
}

/** The outcome of judging one step. */
export type StepVerdict =
  | { verdict: 'wait'; reason: string }
  | { verdict: 'pass'; reason: string }
  | { verdict: 'fail'; reason: string };

/**
 * Judges one canary step as Flagger and Argo Rollouts' analysis do: not before the canary has answered enough
 * requests; then it fails on the first check that does not hold (quality, error rate, p99 latency), each
 * compared with the stable version over the same window. A stable version with too few requests of its own
 * to compare with is taken as error-free, and latency is then not compared.
 */
export function judgeStep(
  canary: RolloutFigures,
  stable: RolloutFigures,
  quality: QualityComparison | null,
  thresholds: RolloutThresholds,
): StepVerdict {
  if (quality && quality.canary !== null) {
    const floor = (quality.stable ?? 0) - thresholds.maxQualityDrop;
    if (quality.canary < floor - ROUNDING)
      return {
        verdict: 'fail',
        reason: `quality ${quality.metric} ${fixed(quality.canary)} is below the stable version's ${fixed(quality.stable ?? 0)} less ${fixed(thresholds.maxQualityDrop)} (${fixed(floor)})`,
      };
  }
  if (canary.requests < thresholds.minRequests)
    return {
      verdict: 'wait',
      reason: `${canary.requests} of ${thresholds.minRequests} canary requests in this step`,
    };
  const comparable = stable.requests >= thresholds.minRequests;
  const stableRate = comparable ? (stable.errorRate ?? 0) : 0;
  const canaryRate = canary.errorRate ?? 0;
  if (canaryRate > stableRate + thresholds.maxErrorRateIncrease + ROUNDING)
    return {
      verdict: 'fail',
      reason: `error rate ${percent(canaryRate)} exceeds the stable version's ${percent(stableRate)} by more than ${percent(thresholds.maxErrorRateIncrease)}`,
    };
  if (comparable && canary.latencyP99Ms !== null && stable.latencyP99Ms !== null) {
    const limit = stable.latencyP99Ms * thresholds.maxLatencyRatio + thresholds.latencyAllowanceMs;
    if (canary.latencyP99Ms > limit + ROUNDING)
      return {
        verdict: 'fail',
        reason: `p99 latency ${Math.round(canary.latencyP99Ms)} ms exceeds ${thresholds.maxLatencyRatio}x the stable version's ${Math.round(stable.latencyP99Ms)} ms + ${thresholds.latencyAllowanceMs} ms (${Math.round(limit)} ms)`,
      };
  }
  const checks = [
    `error rate ${percent(canaryRate)} vs ${percent(stableRate)}`,
    ...(comparable && canary.latencyP99Ms !== null && stable.latencyP99Ms !== null
      ? [`p99 ${Math.round(canary.latencyP99Ms)} ms vs ${Math.round(stable.latencyP99Ms)} ms`]
      : []),
    ...(quality && quality.canary !== null
      ? [`${quality.metric} ${fixed(quality.canary)} vs ${fixed(quality.stable ?? 0)}`]
      : []),
  ];
  return { verdict: 'pass', reason: `${canary.requests} canary requests: ${checks.join(', ')}` };
}

/** The traffic weights of a rollout that starts at `first` percent: doubling each step, then 100 (promotion). */
export function rolloutSteps(first: number): number[] {
  const steps: number[] = [];
  for (let weight = first; weight < 100; weight *= 2) steps.push(weight);
  return steps.length ? steps : [100];
}

/** "At most" includes the limit itself: sums such as 0.7 + 0.1 (0.7999…) must not fail a canary at 0.8. */
const ROUNDING = 1e-9;
const percent = (rate: number) => `${(Math.round(rate * 1000) / 10).toString()}%`;
const fixed = (value: number) => value.toFixed(3);
