import { describe, expect, it } from 'vitest';
import { createTelemetry } from './telemetry.ts';

/** The samples of one metric in Prometheus text, as `labels → value`. */
function samples(text: string, name: string): Map<string, number> {
  const found = new Map<string, number>();
  for (const line of text.split('\n')) {
    const match = new RegExp(`^${name}\\{(.*)\\} (\\S+)$`).exec(line);
    if (match) found.set(match[1]!, Number(match[2]));
  }
  return found;
}

describe('series histograms', () => {
  it('aggregates as the SDK does: inclusive upper bounds, cumulative buckets, sum and count per attribute set', async () => {
    const telemetry = createTelemetry();
    const histogram = telemetry.histogram('test.duration', 's', 'A test histogram', [0.1, 1, 10]);
    const fast = histogram.series('a', () => ({ endpoint: 'a' }));
    for (const value of [0.05, 0.1, 0.5, 1, 20]) fast.record(value);
    histogram.series('b', () => ({ endpoint: 'b', 'error.type': 'timeout' })).record(2);
    // The same key is the same series: its attributes are built once.
    histogram.series('b', () => ({ endpoint: 'wrong' })).record(3);
    histogram.record(7, { endpoint: 'c' });
    histogram.record(8, { endpoint: 'c' });
    fast.record(Number.NaN);

    const text = await telemetry.prometheusText();
    const buckets = samples(text, 'test_duration_bucket');
    expect(buckets.get('endpoint="a",otel_scope_name="aicloud",le="0.1"')).toBe(2);
    expect(buckets.get('endpoint="a",otel_scope_name="aicloud",le="1"')).toBe(4);
    expect(buckets.get('endpoint="a",otel_scope_name="aicloud",le="10"')).toBe(4);
    expect(buckets.get('endpoint="a",otel_scope_name="aicloud",le="+Inf"')).toBe(5);
    expect(samples(text, 'test_duration_sum').get('endpoint="a",otel_scope_name="aicloud"')).toBeCloseTo(
      21.65,
    );
    expect(samples(text, 'test_duration_count')).toEqual(
      new Map([
        ['endpoint="a",otel_scope_name="aicloud"', 5],
        ['endpoint="b",error_type="timeout",otel_scope_name="aicloud"', 2],
        ['endpoint="c",otel_scope_name="aicloud"', 2],
      ]),
    );
    expect(text).toContain('# HELP test_duration A test histogram');
    expect(text).toContain('# TYPE test_duration histogram');
    await telemetry.shutdown();
  });

  it('puts series past the cardinality limit into one overflow series', async () => {
    const telemetry = createTelemetry();
    const histogram = telemetry.histogram('test.many', '{token}', 'Many series', [1]);
    for (let n = 0; n < 2100; n += 1) histogram.series(`k${n}`, () => ({ key: `k${n}` })).record(1);
    const counts = samples(await telemetry.prometheusText(), 'test_many_count');
    expect(counts.size).toBe(2001);
    expect(counts.get('otel_metric_overflow="true",otel_scope_name="aicloud"')).toBe(100);
    await telemetry.shutdown();
  });

  it('off: records nothing', async () => {
    const telemetry = createTelemetry({ enabled: false });
    telemetry
      .histogram('test.off', 's', 'Off', [1])
      .series('a', () => ({}))
      .record(1);
    expect(await telemetry.prometheusText()).toBe('');
  });
});
