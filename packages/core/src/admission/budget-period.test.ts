import { describe, expect, it } from 'vitest';
import { currentPeriod, isBudgetDuration } from './budget-period.ts';

describe('currentPeriod', () => {
  it('uses calendar months for 1mo', () => {
    expect(currentPeriod('1mo', '2026-01-01T00:00:00.000Z', Date.parse('2026-11-27T10:00:00Z'))).toEqual({
      start: '2026-11-01T00:00:00.000Z',
      end: '2026-12-01T00:00:00.000Z',
    });
  });
  it('uses fixed windows from the anchor for days', () => {
    expect(currentPeriod('30d', '2026-11-01T00:00:00.000Z', Date.parse('2026-12-05T00:00:00Z'))).toEqual({
      start: '2026-12-01T00:00:00.000Z',
      end: '2026-12-31T00:00:00.000Z',
    });
  });
  it('knows budget durations', () => {
    expect(isBudgetDuration('30d')).toBe(true);
    expect(isBudgetDuration('1mo')).toBe(true);
    expect(isBudgetDuration('0d')).toBe(false);
    expect(isBudgetDuration('forever')).toBe(false);
  });
});
