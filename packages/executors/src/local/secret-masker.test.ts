import { describe, expect, it } from 'vitest';
import { createSecretMasker } from './secret-masker.ts';

describe('createSecretMasker', () => {
  it('replaces every occurrence of every secret, the longest first', () => {
    const mask = createSecretMasker(['abc123', 'abc123-extended', 'zz-top']);
    expect(mask('key=abc123-extended other=abc123 and zz-top abc123')).toBe('key=*** other=*** and *** ***');
  });
  it('masks each line of a multi-line secret, since logs are masked line by line', () => {
    const pem = '-----BEGIN KEY-----\nMIIEvQIBADANBgkq\n-----END KEY-----';
    const mask = createSecretMasker([pem]);
    expect(mask('MIIEvQIBADANBgkq')).toBe('***');
    expect(mask('header -----BEGIN KEY-----')).toBe('header ***');
  });
  it('ignores empty secrets and leaves lines without secrets alone', () => {
    const mask = createSecretMasker(['', 'secret-value']);
    expect(mask('nothing to hide')).toBe('nothing to hide');
    expect(createSecretMasker([])('x')).toBe('x');
  });
});
