import { describe, expect, it } from 'vitest';
import { formatDuration, parseDuration } from './duration.ts';

describe('parseDuration', () => {
  it('reads seconds, minutes, hours and days', () => {
    expect(parseDuration('90s')).toBe(90);
    expect(parseDuration('30m')).toBe(1800);
    expect(parseDuration('8h')).toBe(28800);
    expect(parseDuration('30d')).toBe(2592000);
  });
  it('refuses text that is not a duration, naming the field', () => {
    expect(() => parseDuration('8 hours', 'maxRuntime')).toThrow(/maxRuntime '8 hours' is not a duration/);
    expect(() => parseDuration('-1h')).toThrow();
  });
  it('formats back to the shortest exact unit', () => {
    expect(formatDuration(28800)).toBe('8h');
    expect(formatDuration(90)).toBe('90s');
    expect(formatDuration(120)).toBe('2m');
  });
});
