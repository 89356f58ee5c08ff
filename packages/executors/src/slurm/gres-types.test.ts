import { describe, expect, it } from 'vitest';
import { gresTypesFor, parseSinfoGres } from './gres-types.ts';

describe('parseSinfoGres', () => {
  it('reads the GPU types of sinfo %G lines, socket bindings and other gres aside', () => {
    expect(parseSinfoGres('gpu:a100:4(S:0,1)\ngpu:nvidia_h100_80gb_hbm3:8(S:0-1),mps:100\n')).toEqual([
      'a100',
      'nvidia_h100_80gb_hbm3',
    ]);
  });

  it('says untyped for GPUs without Type= (the test cluster’s gpu:4) and for nodes without GPUs', () => {
    expect(parseSinfoGres('gpu:4\n')).toBe('untyped');
    expect(parseSinfoGres('(null)\n')).toBe('untyped');
    expect(parseSinfoGres('')).toBe('untyped');
  });
});

describe('gresTypesFor', () => {
  it('names the catalog type as the partition does, equal or contained, ignoring case', () => {
    expect(gresTypesFor('A100', ['a100', 'h100'], 'gpu')).toEqual({ A100: 'a100' });
    expect(gresTypesFor('H100', ['nvidia_h100_80gb_hbm3'], 'gpu')).toEqual({ H100: 'nvidia_h100_80gb_hbm3' });
    expect(gresTypesFor('H100', 'untyped', 'gpu')).toBe('untyped');
  });

  it('refuses a type the partition does not declare, naming what it has', () => {
    expect(() => gresTypesFor('H100', ['a100', 'l4'], 'gpu')).toThrow(
      /partition gpu declares GPU types a100, l4, none of them H100/,
    );
  });
});
