import { describe, expect, it } from 'vitest';
import { niceTicks, shortNumber } from './line-chart.tsx';

describe('niceTicks', () => {
  it('gives round ticks 1, 2, 2.5 or 5 × 10^n apart inside the range', () => {
    expect(niceTicks(0, 100)).toEqual([0, 25, 50, 75, 100]);
    expect(niceTicks(0, 1, 3)).toEqual([0, 0.5, 1]);
    expect(niceTicks(0.13, 0.92, 5)).toEqual([0.2, 0.4, 0.6, 0.8]);
    expect(niceTicks(3, 3)).toEqual([3]);
    expect(niceTicks(Number.NaN, 1)).toEqual([]);
  });
});

describe('shortNumber', () => {
  it('keeps 4 significant digits', () => {
    expect(shortNumber(0.312_749)).toBe('0.3127');
    expect(shortNumber(1024)).toBe('1024');
    expect(shortNumber(0.000_012_5)).toBe('0.0000125');
  });
});
