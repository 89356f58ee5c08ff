import { execFile } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, startUp, tempDir, type UpProcess } from './cli-harness.ts';

/** `aicloud alerts` and the GPU section of `aicloud jobs metrics`, against a real `aicloud up`. */
let dataDir: string;
let server: UpProcess;
let tokens: Record<string, { token: string }>;
const as = (user: string) => ({ AICLOUD_URL: server.url, AICLOUD_TOKEN: tokens[user]!.token });

beforeAll(async () => {
  dataDir = tempDir('aicloud-alerts-cli-');
  server = await startUp(['--data-dir', dataDir]);
  tokens = JSON.parse(readFileSync(join(dataDir, 'credentials.json'), 'utf8'));
});
afterAll(async () => {
  server?.child.kill('SIGTERM');
  await server?.exited;
});

describe('aicloud up', () => {
  it('says once that GPU telemetry is off where there is no nvidia-smi', async () => {
    const onPath = await new Promise<boolean>((resolve) =>
      execFile('sh', ['-c', 'command -v nvidia-smi'], (error) => resolve(!error)),
    );
    const notice = 'GPU telemetry is off: nvidia-smi is not on PATH';
    // The first sample runs beside the start; give it a moment to have said so.
    for (let waited = 0; !onPath && !server.output().includes(notice) && waited < 5000; waited += 100)
      await new Promise((resolve) => setTimeout(resolve, 100));
    const notices = server.output().split(notice).length - 1;
    expect(notices).toBe(onPath ? 0 : 1);
  });
});

describe('aicloud alerts', () => {
  it('lists the shipped rules as JSON and as a table', async () => {
    const json = await runCli(['alerts', 'list', '-o', 'json'], as('alice'));
    expect(json.code, json.stderr).toBe(0);
    const listed = JSON.parse(json.stdout) as { rules: { name: string; kind: string }[]; active: unknown[] };
    expect(listed.rules.map((rule) => [rule.name, rule.kind])).toEqual([
      ['team_budget_nearly_spent', 'budget_burn'],
      ['endpoint_drift_high', 'drift'],
      ['gpu_idle', 'idle_gpu'],
      ['endpoint_error_rate_high', 'error_rate'],
      ['endpoint_latency_p99_high', 'latency_p99'],
    ]);
    expect(listed.active).toEqual([]);
    const text = await runCli(['alerts', 'list'], as('alice'));
    expect(text.stdout).toMatch(
      /endpoint_error_rate_high\s+error_rate\s+> 5 %\s+2m\s+5m\s+critical\s+no\s+alerts\/serving\.yaml/,
    );
    expect(text.stdout).toMatch(/gpu_idle\s+idle_gpu\s+idle ≥ 30m/);
    expect(text.stdout).toMatch(/endpoint_drift_high\s+drift\s+PSI > 0\.25\s+10m/);
    expect(text.stdout).toContain('no alert is pending or firing');
  });

  it('tests a rule as a platform-admin and refuses others', async () => {
    const refused = await runCli(['alerts', 'test', 'gpu_idle'], as('alice'));
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toContain('only platform-admins test alert rules');
    const tested = await runCli(['alerts', 'test', 'gpu_idle', '-o', 'json'], as('admin'));
    expect(tested.code, tested.stderr).toBe(0);
    expect(JSON.parse(tested.stdout)).toMatchObject({ rule: 'gpu_idle', delivery: 'none' });
    const unknown = await runCli(['alerts', 'test', 'nope'], as('admin'));
    expect(unknown.stderr).toContain("no alert rule 'nope'");
  });

  it('exports a rule file promtool accepts', async () => {
    const exported = await runCli(['alerts', 'export'], as('alice'));
    expect(exported.code, exported.stderr).toBe(0);
    const file = join(tempDir('aicloud-rules-'), 'aicloud.rules.yaml');
    writeFileSync(file, exported.stdout);
    const checked = await new Promise<string>((resolve) =>
      execFile('promtool', ['check', 'rules', file], (_error, stdout, stderr) => resolve(stdout + stderr)),
    );
    expect(checked).toContain('SUCCESS: 5 rules found');
  });
});

describe('aicloud jobs metrics and jobs gpu', () => {
  it('ends the metrics table with the job’s GPU figures, and jobs gpu -o json gives every point', async () => {
    const db = new Database(join(dataDir, 'aicloud.db'));
    const at = '2026-11-27T03:38:35.000Z';
    db.prepare(
      `insert into jobs (id, name, team, owner, product, kind, gpus, gpu_type, spot, datasets, secrets, command, executor,
        max_runtime_s, grace_s, status, reasons, decision, estimate_micros, reserved_micros, cost_micros, gpu_indexes,
        created_at) values ('job_gpu', 'train', 'legal-rag', 'alice', 'fine-tune', 'fine-tune', 1, 'h200', 0, '[]', '[]',
        'python train.py', 'local', 3600, 30, 'succeeded', '[]', '{}', 0, 0, 0, '[0]', ?)`,
    ).run(at);
    const insert = db.prepare(
      `insert into gpu_samples (workload_kind, workload_id, team, gpu_index, gpu_uuid, gpu_name, attributed_by,
        utilization_percent, memory_used_mib, memory_total_mib, power_w, pids, time)
        values ('job', 'job_gpu', 'legal-rag', 0, 'GPU-92f60b2a', 'NVIDIA H200', 'assignment', ?, ?, 143771, ?, '[463]', ?)`,
    );
    // Three seconds of the H200 load capture: 84 %, 98 %, 100 %.
    insert.run(84, 8619, 178.37, '2026-11-27T03:38:35.334Z');
    insert.run(98, 8619, 631.25, '2026-11-27T03:38:36.373Z');
    insert.run(100, 8619, 635.18, '2026-11-27T03:38:37.412Z');
    db.close();
    const metrics = await runCli(['jobs', 'metrics', 'job_gpu'], as('alice'));
    expect(metrics.code, metrics.stderr).toBe(0);
    expect(metrics.stdout).toContain('job job_gpu has reported no metrics yet');
    expect(metrics.stdout).toContain('GPU (sampled from nvidia-smi');
    expect(metrics.stdout).toMatch(
      /0\s+NVIDIA H200\s+assignment\s+3\s+100 %\s+94 %\s+100 %\s+8619\/143771 MiB\s+8619 MiB\s+635.18 W/,
    );
    const json = await runCli(['jobs', 'gpu', 'job_gpu', '-o', 'json'], as('alice'));
    expect(
      JSON.parse(json.stdout).gpus[0].points.map(
        (point: { utilizationPercent: number }) => point.utilizationPercent,
      ),
    ).toEqual([84, 98, 100]);
    const other = await runCli(['jobs', 'gpu', 'job_gpu'], as('carol'));
    expect(other.code).not.toBe(0);
    // The metrics JSON keeps its contract; GPU figures are in jobs gpu.
    const metricsJson = await runCli(['jobs', 'metrics', 'job_gpu', '-o', 'json'], as('alice'));
    expect(JSON.parse(metricsJson.stdout)).toMatchObject({ jobId: 'job_gpu', series: {} });
  });
});
