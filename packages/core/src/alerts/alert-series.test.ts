import { describe, expect, it } from 'vitest';
import { parseAlertRules } from './alert-rules.ts';
import { histogramQuantile, type Scrape, seriesValues, windowBase } from './alert-series.ts';
import { parseExposition } from './exposition.ts';

const [errors, slow] = parseAlertRules(
  `rules:
  - { name: errors, kind: error_rate, above: 0.1, window: 1m, minRequests: 4 }
  - { name: slow, kind: latency_p99, above: 1, window: 1m, minRequests: 4 }
`,
  'alerts/t.yaml',
);

const scrape = (time: number, text: string): Scrape => ({ time, samples: parseExposition(text) });
const counts = (ok: number, failed: number) =>
  [
    `gen_ai_server_request_duration_count{gen_ai_request_model="a",error_type=""} ${ok}`,
    `gen_ai_server_request_duration_count{gen_ai_request_model="a",error_type="upstream_error"} ${failed}`,
  ].join('\n');

describe('parseExposition', () => {
  it('reads names, escaped label values, +Inf and timestamps; skips comments and junk', () => {
    const text = [
      '# HELP x help',
      '# TYPE x gauge',
      'x{path="C:\\\\dir",quote="say \\"hi\\"",nl="a\\nb"} 1.5',
      'y_bucket{le="+Inf"} 7 1700000000000',
      'z +Inf',
      'not a sample line',
      'w{broken="x} 1',
    ].join('\n');
    expect(parseExposition(text)).toEqual([
      { name: 'x', labels: { path: 'C:\\dir', quote: 'say "hi"', nl: 'a\nb' }, value: 1.5 },
      { name: 'y_bucket', labels: { le: '+Inf' }, value: 7 },
      { name: 'z', labels: {}, value: Number.POSITIVE_INFINITY },
    ]);
  });
});

describe('histogramQuantile', () => {
  it('interpolates inside the bucket holding the rank, as Prometheus does', () => {
    // 100 observations: 90 under 0.1 s, 9 more under 1 s, 1 over 10 s.
    const buckets = new Map([
      [0.1, 90],
      [1, 99],
      [10, 99],
      [Number.POSITIVE_INFINITY, 100],
    ]);
    expect(histogramQuantile(0.5, buckets)).toBeCloseTo(0.1 * (50 / 90));
    expect(histogramQuantile(0.95, buckets)).toBeCloseTo(0.1 + 0.9 * (5 / 9));
    // The rank falls in the +Inf bucket: the highest finite bound.
    expect(histogramQuantile(0.999, buckets)).toBe(10);
    expect(histogramQuantile(0.99, new Map())).toBeNull();
  });
});

describe('seriesValues', () => {
  it('takes counter increases over the window, counting a reset from zero', () => {
    const scrapes = [
      scrape(0, counts(100, 0)),
      scrape(30_000, counts(110, 0)),
      scrape(90_000, counts(115, 5)),
    ];
    // The window (1m before 90 s) starts at the 30 s scrape: 5 ok and 5 failed since.
    expect(windowBase(scrapes, 90_000, 60)).toBe(scrapes[1]);
    expect(seriesValues(errors!, scrapes)).toEqual([{ labels: { endpoint: 'a' }, value: 0.5, active: true }]);
    // The server restarted: counters fell; what they count now is the increase.
    const reset = [scrape(0, counts(100, 50)), scrape(60_000, counts(8, 0))];
    expect(seriesValues(errors!, reset)).toEqual([{ labels: { endpoint: 'a' }, value: 0, active: false }]);
  });

  it("counts only the platform's errors: the client's refusals are no endpoint error", () => {
    const refusals = (n: number) =>
      [
        'invalid_api_key',
        'insufficient_quota',
        'rate_limit_exceeded',
        'model_not_found',
        'invalid_request_error',
      ]
        .map(
          (type) =>
            `gen_ai_server_request_duration_count{gen_ai_request_model="a",error_type="${type}"} ${n}`,
        )
        .join('\n');
    const platform = (n: number) =>
      ['upstream_error', 'timeout', 'replica_unavailable', '_OTHER']
        .map(
          (type) =>
            `gen_ai_server_request_duration_count{gen_ai_request_model="a",error_type="${type}"} ${n}`,
        )
        .join('\n');
    const ok = (n: number) => `gen_ai_server_request_duration_count{gen_ai_request_model="a"} ${n}`;
    // 10 answered, 50 refused: no error at all.
    const refused = [scrape(0, `${ok(0)}\n${refusals(0)}`), scrape(60_000, `${ok(10)}\n${refusals(10)}`)];
    expect(seriesValues(errors!, refused)).toEqual([{ labels: { endpoint: 'a' }, value: 0, active: false }]);
    // 12 answered, 4 failed by the platform (one of each type), 20 refused: 4 of 36.
    const failed = [
      scrape(0, `${ok(0)}\n${refusals(0)}\n${platform(0)}`),
      scrape(60_000, `${ok(12)}\n${refusals(4)}\n${platform(1)}`),
    ];
    expect(seriesValues(errors!, failed)).toEqual([
      { labels: { endpoint: 'a' }, value: 4 / 36, active: true },
    ]);
  });

  it('says nothing under minRequests, and cannot evaluate a window from one scrape', () => {
    expect(seriesValues(errors!, [scrape(0, counts(0, 0)), scrape(60_000, counts(1, 2))])).toEqual([]);
    expect(seriesValues(errors!, [scrape(0, counts(10, 10))])).toBeNull();
    expect(seriesValues(slow!, [])).toBeNull();
  });
});
