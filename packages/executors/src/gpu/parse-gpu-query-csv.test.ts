import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { gpuQueryFields, parseGpuQueryCsv } from './parse-gpu-query-csv.ts';

const fixture = (name: string) => readFileSync(join(import.meta.dirname, 'fixtures', name), 'utf8');
const h200 = {
  index: 0,
  uuid: 'GPU-92f60b2a-9f64-5823-8c7d-6c8a11e014bf',
  name: 'NVIDIA H200',
  type: 'h200',
};

describe('parseGpuQueryCsv', () => {
  it('reads a query with a header and units (query_idle.csv, captured on an H200)', () => {
    expect(parseGpuQueryCsv(fixture('query_idle.csv'))).toEqual([
      { ...h200, memoryTotalMiB: 143771, memoryUsedMiB: 0, utilizationPercent: 0, powerW: 80.06 },
    ]);
  });

  it('reads headerless samples given the field list (query_load.csv, the same GPU under load)', () => {
    const fields = fixture('query_idle.csv')
      .split('\n')[0]!
      .split(', ')
      .map((f) => f.replace(/ \[.*\]$/, ''));
    const samples = parseGpuQueryCsv(fixture('query_load.csv'), fields);
    expect(samples).toHaveLength(35);
    expect(samples.every((gpu) => gpu.uuid === h200.uuid && gpu.memoryTotalMiB === 143771)).toBe(true);
    expect(samples[5]).toEqual({
      ...h200,
      memoryTotalMiB: 143771,
      memoryUsedMiB: 1321,
      utilizationPercent: 5,
      powerW: 96.56,
    });
    expect(Math.max(...samples.map((gpu) => gpu.utilizationPercent ?? 0))).toBeGreaterThan(5);
  });

  it('reads the noheader,nounits form detectGpus asks for, and leaves out [N/A] values', () => {
    const text = [
      '0, GPU-92f60b2a-9f64-5823-8c7d-6c8a11e014bf, NVIDIA H200, 143771, 1321, 5, 96.56',
      '1, GPU-00000000-0000-0000-0000-000000000001, NVIDIA H100 80GB HBM3, 81559, [N/A], [N/A], [N/A]',
      '',
    ].join('\n');
    expect(parseGpuQueryCsv(text, gpuQueryFields)).toEqual([
      { ...h200, memoryTotalMiB: 143771, memoryUsedMiB: 1321, utilizationPercent: 5, powerW: 96.56 },
      {
        index: 1,
        uuid: 'GPU-00000000-0000-0000-0000-000000000001',
        name: 'NVIDIA H100 80GB HBM3',
        type: 'h100',
        memoryTotalMiB: 81559,
      },
    ]);
  });

  it('skips lines that are not rows of the query', () => {
    expect(parseGpuQueryCsv('No devices were found\n', gpuQueryFields)).toEqual([]);
  });
});
