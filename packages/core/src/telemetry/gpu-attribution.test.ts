import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { attributeGpus, type GpuHolder } from './gpu-attribution.ts';
import { parseGpuApps, parseGpuTelemetry } from './gpu-query.ts';

const fixture = (name: string) => readFileSync(join(import.meta.dirname, 'fixtures/gpu-h200', name), 'utf8');
const load = parseGpuTelemetry(fixture('query_load.csv'));
const busy = load[16]!; // 100 %, 8619 MiB
const apps = parseGpuApps(fixture('apps.csv')); // pid 463, 1386 MiB
// pid 463 (python3) was started by 460 (a shell), started by 400: the workload's root.
const parents = new Map([
  [463, 460],
  [460, 400],
  [400, 1],
]);
const parentOf = (pid: number) => parents.get(pid);
const job: GpuHolder = { kind: 'job', id: 'job_a', team: 'legal-rag', gpuIndexes: [0], rootPid: 400 };
const notebook: GpuHolder = { kind: 'notebook', id: 'nb_b', team: 'vision', gpuIndexes: [], rootPid: 400 };

describe('attributeGpus on the H200 captures', () => {
  it('gives a held GPU under load to the job holding it, with its utilisation, memory and pids', () => {
    expect(attributeGpus({ gpus: [busy], apps }, [job], parentOf)).toEqual([
      {
        gpuIndex: 0,
        gpuUuid: busy.uuid,
        gpuName: 'NVIDIA H200',
        workload: { kind: 'job', id: 'job_a', team: 'legal-rag' },
        attributedBy: 'assignment',
        utilizationPercent: 100,
        memoryUsedMiB: 8619,
        memoryTotalMiB: 143771,
        powerW: busy.powerW,
        pids: [463],
      },
    ]);
  });

  it('gives an idle held GPU to its holder at 0 %', () => {
    const [idle] = parseGpuTelemetry(fixture('query_idle.csv'));
    const [sample] = attributeGpus({ gpus: [idle!], apps: [] }, [job], parentOf);
    expect(sample).toMatchObject({
      workload: { id: 'job_a' },
      utilizationPercent: 0,
      memoryUsedMiB: 0,
      pids: [],
    });
  });

  it('attributes a process on a GPU its workload was not assigned by pid, through its parents', () => {
    const samples = attributeGpus({ gpus: [busy], apps }, [notebook], parentOf);
    expect(samples).toEqual([
      expect.objectContaining({
        workload: { kind: 'notebook', id: 'nb_b', team: 'vision' },
        attributedBy: 'pid',
        utilizationPercent: 100,
        memoryUsedMiB: 1386,
        pids: [463],
      }),
    ]);
  });

  it('keeps the assignment and adds the intruder by pid, without handing it the GPU’s utilisation', () => {
    const intruder: GpuHolder = { ...notebook, rootPid: 460 };
    const holder: GpuHolder = { ...job, rootPid: 999 };
    const samples = attributeGpus({ gpus: [busy], apps }, [holder, intruder], parentOf);
    expect(
      samples.map((sample) => [sample.workload?.id, sample.attributedBy, sample.utilizationPercent]),
    ).toEqual([
      ['job_a', 'assignment', 100],
      ['nb_b', 'pid', null],
    ]);
    expect(samples[1]!.memoryUsedMiB).toBe(1386);
  });

  it('leaves a free GPU unattributed when no known process uses it', () => {
    const samples = attributeGpus({ gpus: [busy], apps }, [], parentOf);
    expect(samples).toEqual([expect.objectContaining({ workload: null, attributedBy: null, pids: [] })]);
  });
});

describe('attributeGpus on the sampler’s own commands run on a real H200', () => {
  const stat = readFileSync(join(import.meta.dirname, 'fixtures/gpu-h200', 'sampler_pids.txt'), 'utf8')
    .split('\n')[1]!
    .split(' ');
  // /proc/443/stat as captured: pid, (comm), state, ppid.
  const procParents = new Map([[Number(stat[0]), Number(stat[3])]]);

  it('attributes the torch process (pid 443) to the workload started as its parent shell (pid 438)', () => {
    const reading = {
      gpus: parseGpuTelemetry(fixture('sampler_query_load.csv')),
      apps: parseGpuApps(fixture('sampler_apps_load.csv')),
    };
    const shell: GpuHolder = {
      kind: 'replica',
      id: 'rep_a',
      team: 'legal-rag',
      gpuIndexes: [],
      rootPid: 438,
    };
    expect(procParents.get(443)).toBe(438);
    expect(attributeGpus(reading, [shell], (pid) => procParents.get(pid))).toEqual([
      expect.objectContaining({
        gpuUuid: 'GPU-e5541a37-a93d-1070-8c62-d4e16f395c7d',
        workload: { kind: 'replica', id: 'rep_a', team: 'legal-rag' },
        attributedBy: 'pid',
        utilizationPercent: 100,
        memoryUsedMiB: 1386,
        pids: [443],
      }),
    ]);
  });

  it('reads the idle answer, whose apps query is a header only', () => {
    expect(parseGpuApps(fixture('sampler_apps_idle.csv'))).toEqual([]);
    expect(parseGpuTelemetry(fixture('sampler_query_idle.csv'))[0]).toMatchObject({
      utilizationPercent: 0,
      memoryUsedMiB: 0,
    });
  });
});
