import { describe, expect, it } from 'vitest';
import { declaredGpus, detectGpus } from './gpu-inventory.ts';

describe('detectGpus', () => {
  it('asks nvidia-smi for the query fields in csv,noheader,nounits and parses the answer', async () => {
    const calls: string[][] = [];
    const inventory = await detectGpus(async (command, args) => {
      calls.push([command, ...args]);
      return '0, GPU-92f60b2a-9f64-5823-8c7d-6c8a11e014bf, NVIDIA H200, 143771, 0, 0, 80.06\n';
    });
    expect(calls).toEqual([
      [
        'nvidia-smi',
        '--query-gpu=index,uuid,name,memory.total,memory.used,utilization.gpu,power.draw',
        '--format=csv,noheader,nounits',
      ],
    ]);
    expect(inventory).toEqual({
      source: 'detected',
      gpus: [
        {
          index: 0,
          uuid: 'GPU-92f60b2a-9f64-5823-8c7d-6c8a11e014bf',
          name: 'NVIDIA H200',
          type: 'h200',
          memoryTotalMiB: 143771,
          memoryUsedMiB: 0,
          utilizationPercent: 0,
          powerW: 80.06,
        },
      ],
    });
  });

  it('returns null when nvidia-smi is missing or fails', async () => {
    expect(await detectGpus(async () => null)).toBeNull();
    // The real runner on a machine without nvidia-smi (as here and in CI); with one, it must find GPUs.
    const real = await detectGpus();
    expect(real === null || real.gpus.length > 0).toBe(true);
  });
});

describe('declaredGpus', () => {
  it('numbers declared GPUs across types and marks them declared', () => {
    const inventory = declaredGpus([
      { type: 'H100', count: 2, memoryMiB: 81559 },
      { type: 'a10', count: 1 },
    ]);
    expect(inventory.source).toBe('declared');
    expect(inventory.gpus).toEqual([
      { index: 0, uuid: 'declared-0', name: 'h100', type: 'h100', memoryTotalMiB: 81559, declared: true },
      { index: 1, uuid: 'declared-1', name: 'h100', type: 'h100', memoryTotalMiB: 81559, declared: true },
      { index: 2, uuid: 'declared-2', name: 'a10', type: 'a10', memoryTotalMiB: 0, declared: true },
    ]);
  });
});
