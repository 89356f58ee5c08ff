import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Observability, parseAlertRules, startObservability } from '@aicloud/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer } from '../src/start-server.ts';
import { startTestApp, type TestApp } from './test-app.ts';

/**
 * `/metrics` with GPU telemetry (nvidia-smi answered from the H200 captures) and budget gauges, checked
 * by the real `promtool check metrics`; the alert routes, scoped to the caller's teams; a job's GPU series.
 */
const fixtures = join(import.meta.dirname, '../../../packages/core/src/telemetry/fixtures/gpu-h200');
const gpuCsv = readFileSync(join(fixtures, 'query_idle.csv'), 'utf8');
const H200 = 'GPU-92f60b2a-9f64-5823-8c7d-6c8a11e014bf';

let t: TestApp;
let observability: Observability;
let now = Date.parse('2026-11-27T05:00:00Z');

function promtool(args: string[], input: string): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    const child = execFile('promtool', args, (error, stdout, stderr) =>
      resolve({ code: error ? ((error as { code?: number }).code ?? 1) : 0, output: stdout + stderr }),
    );
    child.stdin?.end(input);
  });
}

beforeAll(async () => {
  t = await startTestApp();
  const at = new Date(now).toISOString();
  await t.platform.store.db
    .insertInto('jobs')
    .values({
      id: 'job_gpu',
      name: 'held',
      team: 'legal-rag',
      owner: 'alice',
      product: 'fine-tune',
      kind: 'fine-tune',
      gpus: 1,
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
      gpu_indexes: '[0]',
      gpu_source: 'detected',
      exit_code: null,
      external_id: null,
      created_at: at,
      admitted_at: at,
      started_at: at,
      ended_at: null,
      metered_until: at,
    })
    .execute();
  const rules = parseAlertRules(
    `rules:
  - name: gpu_idle
    kind: idle_gpu
    idleFor: 1m
  - name: big_gpus
    kind: metric
    metric: aicloud_gpu_memory_total_bytes
    above: 0
`,
    'alerts/test.yaml',
  );
  // Long intervals: the test samples and evaluates itself, on its own clock.
  const clock = { now: () => now };
  observability = startObservability(t.platform, {
    clock,
    rules,
    gpuSampleIntervalMs: 3_600_000,
    evaluationIntervalMs: 3_600_000,
    gpuCommand: async (_command, args) => (args[0]!.startsWith('--query-gpu') ? gpuCsv : ''),
  });
});
afterAll(async () => {
  await observability?.stop();
  await t?.close();
});

describe('/metrics', () => {
  it('serves the GPU and budget gauges beside the gateway metrics, and promtool check metrics accepts it', async () => {
    await observability.gpu.sample();
    // OpenTelemetry exposes an instrument once it has a point: a refused request is one (it is counted).
    const refused = await t.app.inject({
      method: 'POST',
      url: '/v1/chat/completions',
      headers: { authorization: 'Bearer sk-not-a-key' },
      payload: { model: 'legal-answerer', messages: [{ role: 'user', content: 'hi' }] },
    });
    expect(refused.statusCode).toBe(401);
    const response = await t.app.inject({ method: 'GET', url: '/metrics', headers: t.as('admin') });
    expect(response.statusCode).toBe(200);
    const text = response.body;
    expect(text).toContain('# TYPE gen_ai_server_request_duration histogram');
    expect(text).toMatch(/gen_ai_server_request_duration_count\{[^}]*error_type="invalid_api_key"[^}]*\} 1/);
    expect(text).toContain(
      `aicloud_gpu_utilization_ratio{gpu="0",uuid="${H200}",workload_kind="job",workload_id="job_gpu",team="legal-rag"} 0`,
    );
    expect(text).toContain(`aicloud_gpu_memory_total_bytes{gpu="0",uuid="${H200}"} ${143771 * 1024 * 1024}`);
    expect(text).toContain(`aicloud_gpu_power_watts{gpu="0",uuid="${H200}"} 80.06`);
    expect(text).toContain('aicloud_gpu_telemetry_up 1');
    expect(text).toMatch(/aicloud_budget_used_ratio\{team="legal-rag"\} \d/);
    expect(text).toMatch(/aicloud_budget_used_ratio\{team="search"\} \d/);
    const checked = await promtool(['check', 'metrics'], text);
    expect(checked.output).toBe('');
    expect(checked.code).toBe(0);
  });

  it('is for platform-admins only', async () => {
    const response = await t.app.inject({ method: 'GET', url: '/metrics', headers: t.as('alice') });
    expect(response.statusCode).toBe(403);
  });
});

describe('/v1/alerts', () => {
  it('lists the rules and only the caller’s teams’ alerts; alerts without a team only for platform-admins', async () => {
    await observability.gpu.sample();
    now += 2 * 60_000;
    await observability.gpu.sample();
    const events = await observability.alerts.evaluate();
    expect(events.map((event) => event.rule).sort()).toEqual(['big_gpus', 'gpu_idle']);

    const list = async (user: string) =>
      (await t.app.inject({ method: 'GET', url: '/v1/alerts', headers: t.as(user) })).json() as {
        rules: { name: string; webhook: boolean; threshold: number }[];
        active: { rule: string; labels: Record<string, string>; state: string }[];
      };
    const alice = await list('alice');
    expect(alice.rules.map((rule) => [rule.name, rule.threshold, rule.webhook])).toEqual([
      ['gpu_idle', 60, false],
      ['big_gpus', 0, false],
    ]);
    expect(alice.active.map((alert) => [alert.rule, alert.labels.workload_id, alert.state])).toEqual([
      ['gpu_idle', 'job_gpu', 'firing'],
    ]);
    expect((await list('carol')).active).toEqual([]);
    expect((await list('admin')).active.map((alert) => alert.rule).sort()).toEqual(['big_gpus', 'gpu_idle']);
  });

  it('tests a rule for platform-admins only; an unknown rule is a 404', async () => {
    const test = (user: string, name: string) =>
      t.app.inject({ method: 'POST', url: `/v1/alerts/${name}/test`, headers: t.as(user) });
    expect((await test('alice', 'gpu_idle')).statusCode).toBe(403);
    const unknown = await test('admin', 'nope');
    expect(unknown.statusCode).toBe(404);
    expect(unknown.json().error.message).toContain("no alert rule 'nope'; the rules are: gpu_idle, big_gpus");
    const ok = await test('admin', 'gpu_idle');
    expect(ok.statusCode).toBe(200);
    expect(ok.json()).toMatchObject({
      rule: 'gpu_idle',
      delivery: 'none',
      values: [{ value: 120, active: true }],
    });
  });

  it('exports the rules as a Prometheus rule file', async () => {
    const response = await t.app.inject({
      method: 'GET',
      url: '/v1/alerts/prometheus-rules',
      headers: t.as('alice'),
    });
    expect(response.statusCode).toBe(200);
    expect(response.headers['content-type']).toContain('application/yaml');
    const dir = mkdtempSync(join(tmpdir(), 'aicloud-rules-'));
    writeFileSync(join(dir, 'aicloud.rules.yaml'), response.body);
    const checked = await promtool(['check', 'rules', join(dir, 'aicloud.rules.yaml')], '');
    rmSync(dir, { recursive: true, force: true });
    expect(checked.output).toContain('SUCCESS: 2 rules found');
  });

  it('answers 401 without a token', async () => {
    expect((await t.app.inject({ method: 'GET', url: '/v1/alerts' })).statusCode).toBe(401);
  });
});

describe('GET /v1/jobs/:id/gpu', () => {
  it('gives the job’s team its GPU series and hides it from other teams', async () => {
    const response = await t.app.inject({
      method: 'GET',
      url: '/v1/jobs/job_gpu/gpu',
      headers: t.as('alice'),
    });
    expect(response.statusCode).toBe(200);
    const series = response.json();
    expect(series.gpus).toHaveLength(1);
    expect(series.gpus[0]).toMatchObject({
      index: 0,
      uuid: H200,
      attributedBy: 'assignment',
      memoryTotalMiB: 143771,
    });
    expect(series.gpus[0].points.length).toBeGreaterThanOrEqual(3);
    expect(
      (await t.app.inject({ method: 'GET', url: '/v1/jobs/job_gpu/gpu', headers: t.as('carol') })).statusCode,
    ).toBe(404);
  });
});

describe('start with alert rules as code', () => {
  it('refuses to start on a bad rule file, naming the file and the field', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'aicloud-badalerts-'));
    const alertsDir = join(dataDir, 'alerts');
    mkdirSync(alertsDir);
    writeFileSync(
      join(alertsDir, 'slow.yaml'),
      'rules:\n  - name: slow\n    kind: latency_p99\n    above: fast\n',
    );
    try {
      await expect(
        startServer({
          host: '127.0.0.1',
          port: 0,
          dataDir,
          seedFile: null,
          webRoot: null,
          isolation: 'none',
          alertsDir,
        }),
      ).rejects.toThrow(
        'the alert rules are invalid, so aicloud will not start: alerts/slow.yaml: rules[0].above: Invalid input: expected number, received string',
      );
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
