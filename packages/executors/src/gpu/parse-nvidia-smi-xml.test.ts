import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseNvidiaSmiXml } from './parse-nvidia-smi-xml.ts';

const fixture = (name: string) => readFileSync(join(import.meta.dirname, 'fixtures', name), 'utf8');

describe('parseNvidiaSmiXml', () => {
  it('reads nvidia-smi -q -x (nvsmi_q.xml): memory from fb_memory_usage, instant power draw', () => {
    expect(parseNvidiaSmiXml(fixture('nvsmi_q.xml'))).toEqual([
      {
        index: 0,
        uuid: 'GPU-92f60b2a-9f64-5823-8c7d-6c8a11e014bf',
        name: 'NVIDIA H200',
        type: 'h200',
        memoryTotalMiB: 143771,
        memoryUsedMiB: 0,
        utilizationPercent: 0,
        powerW: 80.5,
      },
    ]);
  });

  it('numbers several GPUs by position and reads the older power_readings section', () => {
    const gpu = (uuid: string, power: string) =>
      `<gpu id="x"><product_name>Tesla V100-SXM2-16GB</product_name><uuid>${uuid}</uuid>` +
      `<fb_memory_usage><total>16160 MiB</total><used>0 MiB</used></fb_memory_usage>` +
      `<power_readings><power_draw>${power}</power_draw></power_readings></gpu>`;
    const gpus = parseNvidiaSmiXml(
      `<nvidia_smi_log>${gpu('GPU-a', '40.10 W')}${gpu('GPU-b', 'N/A')}</nvidia_smi_log>`,
    );
    expect(gpus.map((g) => [g.index, g.uuid, g.type, g.powerW])).toEqual([
      [0, 'GPU-a', 'v100', 40.1],
      [1, 'GPU-b', 'v100', undefined],
    ]);
  });
});
