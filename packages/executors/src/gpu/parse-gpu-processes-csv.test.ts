import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseGpuProcessesCsv } from './parse-gpu-processes-csv.ts';

describe('parseGpuProcessesCsv', () => {
  it('reads compute apps (apps.csv) and skips the human table captured after them', () => {
    const text = readFileSync(join(import.meta.dirname, 'fixtures', 'apps.csv'), 'utf8');
    expect(parseGpuProcessesCsv(text)).toEqual([
      {
        gpuUuid: 'GPU-92f60b2a-9f64-5823-8c7d-6c8a11e014bf',
        pid: 463,
        processName: 'python3',
        usedMemoryMiB: 1386,
      },
    ]);
  });

  it('reads the headerless form in the default field order', () => {
    expect(parseGpuProcessesCsv('GPU-a, 12, python, 100\nGPU-b, 13, torchrun, [N/A]\n')).toEqual([
      { gpuUuid: 'GPU-a', pid: 12, processName: 'python', usedMemoryMiB: 100 },
      { gpuUuid: 'GPU-b', pid: 13, processName: 'torchrun' },
    ]);
  });
});
