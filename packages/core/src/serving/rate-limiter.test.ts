import { describe, expect, it } from 'vitest';
import { SlidingWindowLimiter } from './rate-limiter.ts';

describe('SlidingWindowLimiter', () => {
  it('limits requests per minute and says when the next one fits', () => {
    let now = 0;
    const limiter = new SlidingWindowLimiter(() => now);
    expect(limiter.requestWait('k', 2)).toBe(0);
    limiter.hit('k');
    now = 10_000;
    limiter.hit('k');
    expect(limiter.requestWait('k', 2)).toBe(50);
    now = 60_001;
    expect(limiter.requestWait('k', 2)).toBe(0);
  });
  it('limits tokens per minute', () => {
    let now = 0;
    const limiter = new SlidingWindowLimiter(() => now);
    limiter.hit('k').addTokens(80);
    now = 30_000;
    limiter.hit('k').addTokens(30);
    expect(limiter.tokenWait('k', 100)).toBe(30);
    expect(limiter.tokenWait('k', null)).toBe(0);
  });
});
