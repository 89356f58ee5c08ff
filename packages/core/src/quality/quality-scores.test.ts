import { describe, expect, it } from 'vitest';
import { exactMatch, parseJudgeScore, tokenF1 } from './quality-scores.ts';

describe('reference metrics', () => {
  it('matches exactly once case, punctuation and articles are normalised away', () => {
    expect(exactMatch('The Arbitration clause.', 'arbitration  clause')).toBe(1);
    expect(exactMatch('arbitration', 'mediation')).toBe(0);
  });

  it('scores token overlap as F1', () => {
    expect(tokenF1('force majeure clause', 'the force majeure clause')).toBe(1);
    // 2 of 4 predicted tokens are in the 2-token reference: precision 0.5, recall 1.
    expect(tokenF1('force majeure excuses performance', 'force majeure')).toBeCloseTo(2 / 3);
    expect(tokenF1('something else', 'force majeure')).toBe(0);
    expect(tokenF1('', '')).toBe(1);
    expect(tokenF1('', 'force')).toBe(0);
  });
});

describe('parseJudgeScore', () => {
  it('reads the usual ways a model writes a grade', () => {
    expect(parseJudgeScore('Score: 7')).toBe(0.7);
    expect(parseJudgeScore('I would give it 8/10 because…')).toBe(0.8);
    expect(parseJudgeScore('9 out of 10')).toBe(0.9);
    expect(parseJudgeScore(' 10 ')).toBe(1);
  });

  it('refuses what holds no grade in range', () => {
    expect(parseJudgeScore('a fine answer')).toBeNull();
    expect(parseJudgeScore('Score: 42')).toBeNull();
    expect(parseJudgeScore('')).toBeNull();
  });
});
