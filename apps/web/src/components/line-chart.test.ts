import { describe, expect, it } from 'vitest';
import { niceTicks, shortNumber, timeTicks } from './line-chart.tsx';

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

describe('timeTicks', () => {
  it('puts ticks at whole seconds, minutes or hours', () => {
    const at = (text: string) => Date.parse(`2026-12-05T${text}Z`);
    expect(
      timeTicks(at('08:35:29.300'), at('08:35:39.300')).map((tick) =>
        new Date(tick).toISOString().slice(11, 19),
      ),
    ).toEqual(['08:35:30', '08:35:35']);
    expect(
      timeTicks(at('08:00:10'), at('09:00:00')).map((tick) => new Date(tick).toISOString().slice(11, 16)),
    ).toEqual(['08:15', '08:30', '08:45', '09:00']);
    expect(timeTicks(5, 5)).toEqual([5]);
  });
});
