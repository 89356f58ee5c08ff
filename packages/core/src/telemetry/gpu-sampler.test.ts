import { type ChildProcess, spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createTestPlatform, storeTargets } from '../testing/test-platform.ts';
import { createGpuSampler } from './gpu-sampler.ts';
import { jobGpuSeries } from './gpu-series.ts';

/**
 * The sampler through its real spawn path: a fake `nvidia-smi` first on PATH prints the H200 captures the
 * test picks (idle, then load), and records the arguments it was called with. Jobs are rows in a real
 * SQLite store; the pid attribution walks real processes in /proc.
 */
const fixtures = join(import.meta.dirname, 'fixtures/gpu-h200');
const header = readFileSync(join(fixtures, 'query_idle.csv'), 'utf8').split('\n')[0]!;
const loadLines = readFileSync(join(fixtures, 'query_load.csv'), 'utf8').trim().split('\n');
const idleLine = loadLines[0]!;
const busyLine = loadLines[16]!;
const appsText = readFileSync(join(fixtures, 'apps.csv'), 'utf8');
const H200 = 'GPU-92f60b2a-9f64-5823-8c7d-6c8a11e014bf';

let bin: string;
let savedPath: string | undefined;
let platform: Awaited<ReturnType<typeof createTestPlatform>>;
let now = Date.parse('2026-11-27T03:38:20Z');
const clock = { now: () => now };
let shell: ChildProcess;
let worker: number;

function showGpu(line: string, apps = '') {
  writeFileSync(join(bin, 'gpu.csv'), `${header}\n${line}\n`);
  writeFileSync(join(bin, 'apps.csv'), apps);
}

async function insertJob(id: string, gpuIndexes: number[], externalId: string | null) {
  const at = new Date(now).toISOString();
  await platform.store.db
    .insertInto('jobs')
    .values({
      id,
      name: id,
      team: 'legal-rag',
      owner: 'alice',
      product: 'fine-tune',
      kind: 'fine-tune',
      gpus: gpuIndexes.length,
      gpu_type: 'h200',
      spot: 0,
      datasets: '[]',
      secrets: '[]',
      command: 'python train.py',
      executor: 'local',
      max_runtime_s: 3600,
      grace_s: 30,
      status: 'running',
      reasons: '[]',
      decision: '{}',
      estimate_micros: 0,
      reserved_micros: 0,
      cost_micros: 0,
      approval_id: null,
      gpu_indexes: JSON.stringify(gpuIndexes),
      gpu_source: 'detected',
      exit_code: null,
      external_id: externalId,
      created_at: at,
      admitted_at: at,
      started_at: at,
      ended_at: null,
      metered_until: at,
    })
    .execute();
}

beforeAll(async () => {
  bin = mkdtempSync(join(tmpdir(), 'aicloud-fake-smi-'));
  writeFileSync(
    join(bin, 'nvidia-smi'),
    `#!/bin/sh\necho "$*" >> "${bin}/calls"\ncase "$1" in\n  --query-gpu=*) cat "${bin}/gpu.csv" ;;\n  --query-compute-apps=*) cat "${bin}/apps.csv" ;;\n  *) exit 2 ;;\nesac\n`,
  );
  chmodSync(join(bin, 'nvidia-smi'), 0o755);
  savedPath = process.env.PATH;
  process.env.PATH = `${bin}:${process.env.PATH}`;
  // A real workload tree: a shell (the root the executor started) and its child, which "uses" the GPU.
  shell = spawn('sh', ['-c', 'sleep 60 & wait'], { stdio: 'ignore' });
  for (let tries = 0; tries < 50 && !worker; tries += 1) {
    await new Promise((resolve) => setTimeout(resolve, 50));
    const children = readFileSync(`/proc/${shell.pid}/task/${shell.pid}/children`, 'utf8').trim();
    worker = Number(children.split(' ')[0]) || 0;
  }
});
afterAll(async () => {
  shell?.kill('SIGKILL');
  if (worker) process.kill(worker, 'SIGKILL');
  process.env.PATH = savedPath;
  rmSync(bin, { recursive: true, force: true });
});

const pgUrl = inject('pgUrl');

describe.each(storeTargets(pgUrl))('GPU sampler on %s', (target) => {
  beforeAll(async () => {
    now = Date.parse('2026-11-27T03:38:20Z');
    platform = await createTestPlatform(target, pgUrl, { clock });
  });
  afterAll(async () => {
    await platform?.dispose();
  });

  it('samples through nvidia-smi on PATH, stores per job, exports gauges and raises gpu.idle once per idle period', async () => {
    expect(worker).toBeGreaterThan(0);
    await insertJob('job_held', [0], '999999:1');
    await insertJob('job_pid', [], `${shell.pid}:1`);
    const registry = new Registry();
    const notices: string[] = [];
    const notebookAsks: unknown[] = [];
    const sampler = createGpuSampler({
      store: platform.store,
      audit: platform.audit,
      clock,
      registry,
      idleMinutes: 10,
      log: (message) => notices.push(message),
      onNotebookIdle: async (idle) => {
        notebookAsks.push(idle);
        return 'kept';
      },
    });
    const idleEvents = async () =>
      platform.audit.list({ action: 'gpu.idle', limit: 100 }, { all: true, teams: [], actor: '' });

    // Busy, with the worker process of job_pid on the GPU that job_held holds.
    showGpu(busyLine, appsText.replace(' 463,', ` ${worker},`));
    const samples = await sampler.sample();
    expect(sampler.state).toBe('on');
    expect(
      samples?.map((sample) => [sample.workload?.id, sample.attributedBy, sample.utilizationPercent]),
    ).toEqual([
      ['job_held', 'assignment', 100],
      ['job_pid', 'pid', null],
    ]);
    const calls = readFileSync(join(bin, 'calls'), 'utf8');
    expect(calls).toContain('--query-gpu=timestamp,index,uuid,name,');
    expect(calls).toContain(
      '--query-compute-apps=timestamp,gpu_uuid,pid,process_name,used_gpu_memory --format=csv',
    );
    const text = await registry.metrics();
    expect(text).toContain(
      `aicloud_gpu_utilization_ratio{gpu="0",uuid="${H200}",workload_kind="job",workload_id="job_held",team="legal-rag"} 1`,
    );
    expect(text).toContain(
      `aicloud_gpu_memory_used_bytes{gpu="0",uuid="${H200}",workload_kind="job",workload_id="job_pid",team="legal-rag"} ${1386 * 1024 * 1024}`,
    );

    // Idle from here on: 10 minutes under 5 % raise one event; more idle minutes raise nothing more.
    showGpu(idleLine);
    for (let minute = 0; minute <= 14; minute += 1) {
      now += 60_000;
      await sampler.sample();
    }
    let events = await idleEvents();
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ resource: 'job/job_held', team: 'legal-rag', outcome: 'warn' });
    expect(events[0]!.details).toMatchObject({ gpu: 0, uuid: H200, thresholdPercent: 5 });
    expect(await registry.metrics()).toMatch(
      /aicloud_gpu_idle_seconds\{[^}]*workload_id="job_held"[^}]*\} 840/,
    );

    // Busy again ends the period; the next 10 idle minutes are a new period and a second event.
    showGpu(busyLine);
    now += 5000;
    await sampler.sample();
    showGpu(idleLine);
    for (let minute = 0; minute <= 10; minute += 1) {
      now += 60_000;
      await sampler.sample();
    }
    events = await idleEvents();
    expect(events).toHaveLength(2);

    const series = await jobGpuSeries(platform.store.db, 'job_held');
    expect(series.gpus).toHaveLength(1);
    expect(series.gpus[0]).toMatchObject({ index: 0, uuid: H200, attributedBy: 'assignment' });
    expect(series.gpus[0]!.points).toHaveLength(1 + 15 + 1 + 11);
    expect(series.gpus[0]!.points[0]).toMatchObject({ utilizationPercent: 100, memoryUsedMiB: 8619 });
    expect((await jobGpuSeries(platform.store.db, 'job_pid')).gpus[0]).toMatchObject({
      attributedBy: 'pid',
      points: [expect.objectContaining({ memoryUsedMiB: 1386, utilizationPercent: null })],
    });
    expect(notices).toEqual([]);
    // Idle jobs are only reported: the early stop is asked about notebooks alone.
    expect(notebookAsks).toEqual([]);
  });

  it('is off and says so once when there is no nvidia-smi', async () => {
    const notices: string[] = [];
    const sampler = createGpuSampler({
      store: platform.store,
      audit: platform.audit,
      clock,
      registry: new Registry(),
      run: async (command) => (command === 'nvidia-smi' ? null : ''),
      log: (message) => notices.push(message),
    });
    expect(await sampler.sample()).toBeNull();
    expect(await sampler.sample()).toBeNull();
    expect(sampler.state).toBe('off');
    expect(notices).toHaveLength(1);
    expect(notices[0]).toMatch(/GPU telemetry is off: nvidia-smi/);
  });
});
