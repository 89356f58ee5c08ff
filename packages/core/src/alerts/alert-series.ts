import type { AlertRule } from './alert-rules.ts';
import type { MetricSample } from './exposition.ts';
import { ENDPOINT_LABEL, idleSeconds, PLATFORM_ERROR_TYPES, REQUEST_HISTOGRAM } from './prometheus-rules.ts';

/** One scrape of `/metrics`, parsed. */
export interface Scrape {
  time: number;
  samples: MetricSample[];
}

/** A rule's value for one series (an endpoint, a team, a GPU…), and whether its condition holds. */
export interface SeriesValue {
  labels: Record<string, string>;
  value: number;
  active: boolean;
}

const rawKey = (sample: MetricSample) => `${sample.name}${JSON.stringify(sample.labels)}`;

/** Increase of each counter series between two scrapes (a reset counts from zero, as Prometheus does). */
function increases(
  current: Scrape,
  base: Scrape,
  name: string,
): { labels: Record<string, string>; delta: number }[] {
  const before = new Map(
    base.samples.filter((sample) => sample.name === name).map((s) => [rawKey(s), s.value]),
  );
  return current.samples
    .filter((sample) => sample.name === name)
    .map((sample) => {
      const previous = before.get(rawKey(sample)) ?? 0;
      return {
        labels: sample.labels,
        delta: sample.value >= previous ? sample.value - previous : sample.value,
      };
    });
}

/** Prometheus's histogram_quantile over cumulative buckets (upper bound → count), interpolating linearly. */
export function histogramQuantile(quantile: number, buckets: Map<number, number>): number | null {
  const sorted = [...buckets].sort((a, b) => a[0] - b[0]);
  const total = sorted.at(-1)?.[1] ?? 0;
  if (total <= 0 || sorted.at(-1)![0] !== Number.POSITIVE_INFINITY) return null;
  const rank = quantile * total;
  let lowerBound = 0;
  let lowerCount = 0;
  for (const [upper, count] of sorted) {
    if (count >= rank) {
      if (upper === Number.POSITIVE_INFINITY) return lowerBound;
      return lowerBound + (upper - lowerBound) * ((rank - lowerCount) / (count - lowerCount));
    }
    lowerBound = upper;
    lowerCount = count;
  }
  return null;
}

/** The scrape a window starts from: the latest at or before its start, else the oldest kept. */
export function windowBase(
  scrapes: readonly Scrape[],
  now: number,
  windowSeconds: number,
): Scrape | undefined {
  const start = now - windowSeconds * 1000;
  let base: Scrape | undefined;
  for (const scrape of scrapes) if (scrape.time <= start) base = scrape;
  return base ?? scrapes[0];
}

/**
 * The values of a rule per series from the scrapes kept (oldest first; the last is now); null when the
 * rule cannot be evaluated yet (a windowed rule needs two scrapes), so no alert changes state on it.
 */
export function seriesValues(rule: AlertRule, scrapes: readonly Scrape[]): SeriesValue[] | null {
  const current = scrapes.at(-1);
  if (!current) return null;
  switch (rule.kind) {
    case 'error_rate':
    case 'latency_p99': {
      const base = windowBase(scrapes, current.time, rule.windowSeconds);
      if (!base || base === current) return null;
      const counts = new Map<string, { total: number; errors: number }>();
      for (const { labels, delta } of increases(current, base, `${REQUEST_HISTOGRAM}_count`)) {
        const endpoint = labels[ENDPOINT_LABEL] ?? '';
        const sums = counts.get(endpoint) ?? { total: 0, errors: 0 };
        sums.total += delta;
        if (PLATFORM_ERROR_TYPES.includes(labels.error_type ?? '')) sums.errors += delta;
        counts.set(endpoint, sums);
      }
      if (rule.kind === 'error_rate') {
        return [...counts]
          .filter(([, sums]) => sums.total >= rule.minRequests)
          .map(([endpoint, sums]) => {
            const value = sums.errors / sums.total;
            return { labels: { endpoint }, value, active: value > rule.above };
          });
      }
      const buckets = new Map<string, Map<number, number>>();
      for (const { labels, delta } of increases(current, base, `${REQUEST_HISTOGRAM}_bucket`)) {
        const endpoint = labels[ENDPOINT_LABEL] ?? '';
        const le = labels.le === '+Inf' ? Number.POSITIVE_INFINITY : Number(labels.le);
        const byLe = buckets.get(endpoint) ?? new Map<number, number>();
        byLe.set(le, (byLe.get(le) ?? 0) + delta);
        buckets.set(endpoint, byLe);
      }
      const values: SeriesValue[] = [];
      for (const [endpoint, byLe] of buckets) {
        if ((counts.get(endpoint)?.total ?? 0) < rule.minRequests) continue;
        const value = histogramQuantile(0.99, byLe);
        if (value !== null) values.push({ labels: { endpoint }, value, active: value > rule.above });
      }
      return values;
    }
    case 'budget_burn':
      return current.samples
        .filter((sample) => sample.name === 'aicloud_budget_used_ratio')
        .map((sample) => ({ labels: sample.labels, value: sample.value, active: sample.value > rule.above }));
    case 'idle_gpu': {
      const threshold = idleSeconds(rule);
      return current.samples
        .filter((sample) => sample.name === 'aicloud_gpu_idle_seconds' && sample.labels.workload_id)
        .map((sample) => ({ labels: sample.labels, value: sample.value, active: sample.value >= threshold }));
    }
    case 'drift':
      return current.samples
        .filter(
          (sample) =>
            sample.name === 'aicloud_endpoint_drift_psi' &&
            (rule.feature === undefined || sample.labels.feature === rule.feature),
        )
        .map((sample) => ({ labels: sample.labels, value: sample.value, active: sample.value > rule.above }));
    case 'quality':
      return current.samples
        .filter(
          (sample) =>
            sample.name === 'aicloud_endpoint_quality_score' &&
            (rule.metric === undefined || sample.labels.metric === rule.metric),
        )
        .map((sample) => ({ labels: sample.labels, value: sample.value, active: sample.value < rule.below }));
    case 'metric':
      return current.samples
        .filter(
          (sample) =>
            sample.name === rule.metric &&
            Object.entries(rule.labels ?? {}).every(([name, value]) => sample.labels[name] === value),
        )
        .map((sample) => ({
          labels: sample.labels,
          value: sample.value,
          active: rule.above !== undefined ? sample.value > rule.above : sample.value < rule.below!,
        }));
  }
}

/** The threshold a rule compares with, as its webhook payload and `alerts list` show it. */
export function ruleThreshold(rule: AlertRule): number {
  switch (rule.kind) {
    case 'idle_gpu':
      return idleSeconds(rule);
    case 'metric':
      return rule.above ?? rule.below!;
    case 'quality':
      return rule.below;
    default:
      return rule.above;
  }
}
