import { describe, expect, it } from 'vitest';
import { gpuTypeFromName } from './gpu-info.ts';

describe('gpuTypeFromName', () => {
  it('derives the short type from product names', () => {
    const names = [
      'NVIDIA H200',
      'NVIDIA H100 80GB HBM3',
      'NVIDIA A100-SXM4-80GB',
      'Tesla T4',
      'NVIDIA GeForce RTX 4090',
      'NVIDIA L40S',
    ];
    expect(names.map(gpuTypeFromName)).toEqual(['h200', 'h100', 'a100', 't4', 'rtx-4090', 'l40s']);
  });
});
