import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseGpuApps, parseGpuTelemetry, TELEMETRY_GPU_FIELDS } from './gpu-query.ts';

const fixture = (name: string) => readFileSync(join(import.meta.dirname, 'fixtures/gpu-h200', name), 'utf8');
const H200 = 'GPU-92f60b2a-9f64-5823-8c7d-6c8a11e014bf';

describe('GPU telemetry parsers on the H200 captures', () => {
  it('asks for the fields the capture has, in its header order', () => {
    const header = fixture('query_idle.csv').split('\n')[0]!;
    const names = header.split(',').map((cell) => cell.trim().replace(/\s*\[.*\]$/, ''));
    expect(names).toEqual([...TELEMETRY_GPU_FIELDS]);
  });

  it('reads the idle GPU with its header and units', () => {
    expect(parseGpuTelemetry(fixture('query_idle.csv'))).toEqual([
      {
        index: 0,
        uuid: H200,
        name: 'NVIDIA H200',
        type: 'h200',
        memoryTotalMiB: 143771,
        memoryUsedMiB: 0,
        utilizationPercent: 0,
        powerW: 80.06,
      },
    ]);
  });

  it('reads every headerless second of the load capture: idle, loading, 95-100 %, idle again', () => {
    const rows = parseGpuTelemetry(fixture('query_load.csv'));
    expect(rows).toHaveLength(35);
    const utilization = rows.map((row) => row.utilizationPercent);
    expect(utilization.slice(0, 5)).toEqual([0, 0, 0, 0, 0]);
    expect(Math.max(...(utilization as number[]))).toBe(100);
    expect(rows[15]).toMatchObject({ utilizationPercent: 98, memoryUsedMiB: 8619, powerW: 631.25 });
    expect(rows.at(-1)).toMatchObject({ utilizationPercent: 0, memoryUsedMiB: 0 });
  });

  it('reads the compute app and skips the human table appended to the capture', () => {
    expect(parseGpuApps(fixture('apps.csv'))).toEqual([
      { gpuUuid: H200, pid: 463, processName: 'python3', usedMemoryMiB: 1386 },
    ]);
  });
});
