import { describe, expect, it } from 'vitest';
import { EndpointStatsRecorder } from './endpoint-stats.ts';

const request = (at: number, latencyMs: number, ok = true) => ({
  ok,
  latencyMs,
  firstTokenMs: null,
  tokensIn: 10,
  tokensOut: 5,
  at,
});

describe('endpoint stats', () => {
  it('windows the last 10,000 requests by time, across the ring’s wrap, newest first', () => {
    const stats = new EndpointStatsRecorder();
    // 12,345 requests one ms apart; every 10th failed; latency = its index mod 100.
    for (let n = 0; n < 12_345; n += 1) stats.record(request(n, n % 100, n % 10 !== 0));
    expect(stats.window(12_335)).toEqual({ requests: 10, errors: 1, errorRate: 0.1, latencyP99Ms: 44 });
    // Older than the ring: only the last 10,000 are kept.
    const all = stats.window(0);
    expect(all).toMatchObject({ requests: 10_000, errors: 1_000, errorRate: 0.1, latencyP99Ms: 99 });
    expect(stats.window(20_000)).toEqual({ requests: 0, errors: 0, errorRate: null, latencyP99Ms: null });
    // A request not kept for windows (an evaluation's) counts in the totals only.
    stats.record({ ...request(0, 1), at: undefined });
    expect(stats.window(12_344).requests).toBe(1);
    expect(stats.requests).toBe(12_346);
  });

  it('keeps the last 2,048 latencies for its percentiles', () => {
    const stats = new EndpointStatsRecorder();
    for (let n = 0; n < 5_000; n += 1) stats.record(request(n, n < 2_952 ? 1_000 : 1 + (n % 10)));
    // The last 2,048 are 1…10 ms (2,952 → 4,999: n mod 10 from 2 round to 9), the 1,000 ms ones before are gone.
    const snapshot = stats.snapshot();
    expect(snapshot.latencyP50Ms).toBe(6);
    expect(snapshot.latencyP99Ms).toBe(10);
    expect(snapshot.tokensPerSecond).not.toBeNull();
    expect(new EndpointStatsRecorder().snapshot().latencyP50Ms).toBeNull();
  });
});
