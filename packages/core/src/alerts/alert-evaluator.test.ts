import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createWebhookQueue } from '../billing/budget-webhook.ts';
import { createObservability } from '../telemetry/observability.ts';
import { createTestPlatform, storeTargets } from '../testing/test-platform.ts';
import { createAlertEvaluator } from './alert-evaluator.ts';
import { parseAlertRules } from './alert-rules.ts';

/**
 * Alert rules evaluated over the platform's real metrics (the gateway's histogram, GPU and budget gauges),
 * with firing and resolved events POSTed to a webhook receiver on 127.0.0.1.
 */
const fixtures = join(import.meta.dirname, '../telemetry/fixtures/gpu-h200');
const idleGpu = readFileSync(join(fixtures, 'query_idle.csv'), 'utf8');

let platform: Awaited<ReturnType<typeof createTestPlatform>>;
let receiver: Server;
let hook: string;
const received: {
  status: string;
  alert: string;
  labels: Record<string, string>;
  value: number;
  endsAt?: string;
}[] = [];
let failNext = 1;
let now = 0;
const clock = { now: () => now };

beforeAll(async () => {
  receiver = createServer((request, response) => {
    let body = '';
    request.on('data', (chunk: Buffer) => {
      body += chunk.toString('utf8');
    });
    request.on('end', () => {
      // The first delivery meets a 503: the queue retries it.
      if (failNext > 0) {
        failNext -= 1;
        response.writeHead(503).end();
        return;
      }
      received.push(JSON.parse(body));
      response.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  const address = receiver.address();
  hook = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}/hook`;
});
afterAll(() => receiver?.close());

const rulesText = () => `webhook: ${hook}
rules:
  - name: errors
    kind: error_rate
    above: 0.1
    window: 5m
    minRequests: 5
    for: 1m
  - name: slow
    kind: latency_p99
    above: 1
    window: 5m
    minRequests: 5
  - name: idle
    kind: idle_gpu
    idleFor: 10m
`;

const pgUrl = inject('pgUrl');

describe.each(storeTargets(pgUrl))('alert evaluator on %s', (target) => {
  beforeAll(async () => {
    now = Date.parse('2026-11-27T04:00:00Z');
    received.length = 0;
    failNext = 1;
    platform = await createTestPlatform(target, pgUrl, { clock });
    const at = new Date(now).toISOString();
    await platform.store.db
      .insertInto('endpoints')
      .values({
        id: 'ep_test',
        name: 'legal-answerer',
        team: 'legal-rag',
        model_id: 'mdl_test',
        model_name: 'legal',
        version: 1,
        runtime: 'aicloud-tiny',
        artifact_dir: '/nonexistent',
        product: 'inference-small',
        gpus: 0,
        gpu_type: null,
        min_replicas: 0,
        max_replicas: 1,
        target_concurrency: 4,
        idle_timeout_s: 900,
        status: 'ready',
        created_by: 'alice',
        created_at: at,
        deleted_at: null,
      })
      .execute();
  });
  afterAll(async () => {
    await platform?.dispose();
  });

  it('fires and resolves on the gateway metrics and idle GPUs, delivering each event to the webhook', async () => {
    const rules = parseAlertRules(rulesText(), 'alerts/test.yaml', ['127.0.0.1']);
    const observability = createObservability(platform, {
      rules,
      webhookAllowedHosts: ['127.0.0.1'],
      webhook: { backoffMs: 20 },
      gpuIdleMinutes: 10,
      gpuCommand: async (_command, args) => (args[0]!.startsWith('--query-gpu') ? idleGpu : ''),
    });
    const { alerts, gpu } = observability;
    const duration = platform.gateway.metrics.requestDuration;
    const labels = {
      'gen_ai.operation.name': 'chat',
      'gen_ai.provider.name': 'aicloud',
      'gen_ai.request.model': 'legal-answerer',
    };
    expect(await alerts.evaluate()).toEqual([]);

    // 10 requests of 2 s, half of them upstream errors.
    for (let n = 0; n < 10; n += 1)
      duration.record(2, n % 2 ? { ...labels, 'error.type': 'upstream_error' } : labels);
    now += 30_000;
    let events = await alerts.evaluate();
    expect(events.map((event) => [event.rule, event.state, event.labels])).toEqual([
      ['slow', 'firing', { endpoint: 'legal-answerer', team: 'legal-rag' }],
    ]);
    expect(alerts.active().find((alert) => alert.rule === 'errors')).toMatchObject({
      state: 'pending',
      value: 0.5,
    });

    now += 60_000;
    events = await alerts.evaluate();
    expect(events.map((event) => [event.rule, event.state, event.value])).toEqual([
      ['errors', 'firing', 0.5],
    ]);

    // A second evaluator over the same store resumes: the firing alert is not raised again.
    const resumed = createAlertEvaluator({
      store: platform.store,
      audit: platform.audit,
      clock,
      rules,
      scrape: observability.metricsText,
      webhooks: createWebhookQueue({ allowedHosts: ['127.0.0.1'] }),
    });
    expect(await resumed.evaluate()).toEqual([]);
    expect(resumed.active().map((alert) => [alert.rule, alert.state])).toEqual([
      ['errors', 'firing'],
      ['slow', 'firing'],
    ]);

    // 200 fast successes later the window holds no error and a p99 of milliseconds: both resolve.
    for (let n = 0; n < 200; n += 1) duration.record(0.005, labels);
    now += 5 * 60_000;
    events = await alerts.evaluate();
    expect(events.map((event) => [event.rule, event.state]).sort()).toEqual([
      ['errors', 'resolved'],
      ['slow', 'resolved'],
    ]);

    // A job holding the idle H200 for 10 minutes: gpu.idle and the idle_gpu rule.
    await platform.store.db
      .insertInto('jobs')
      .values({
        id: 'job_idle',
        name: 'idle',
        team: 'legal-rag',
        owner: 'alice',
        product: 'fine-tune',
        kind: 'fine-tune',
        gpus: 1,
        gpu_type: 'h200',
        spot: 0,
        datasets: '[]',
        secrets: '[]',
        command: 'sleep',
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
        created_at: new Date(now).toISOString(),
        admitted_at: null,
        started_at: null,
        ended_at: null,
        metered_until: null,
      })
      .execute();
    await gpu.sample();
    now += 10 * 60_000;
    await gpu.sample();
    events = await alerts.evaluate();
    expect(events.map((event) => [event.rule, event.state, event.labels.workload_id, event.value])).toEqual([
      ['idle', 'firing', 'job_idle', 600],
    ]);

    // Delivery never blocked the evaluation; it completes in the background, the first try retried.
    for (let waited = 0; received.length < 5 && waited < 5000; waited += 50)
      await new Promise((resolve) => setTimeout(resolve, 50));
    expect(received.map((payload) => [payload.alert, payload.status])).toEqual([
      ['slow', 'firing'],
      ['errors', 'firing'],
      expect.any(Array),
      expect.any(Array),
      ['idle', 'firing'],
    ]);
    const resolved = received.filter((payload) => payload.status === 'resolved');
    expect(resolved.map((payload) => payload.alert).sort()).toEqual(['errors', 'slow']);
    expect(resolved[0]!.endsAt).toBeDefined();
    expect(received[1]).toMatchObject({
      labels: { endpoint: 'legal-answerer', team: 'legal-rag' },
      value: 0.5,
    });
    for (let waited = 0; waited < 2000; waited += 50) {
      const rows = await platform.store.db.selectFrom('alert_events').select('delivery').execute();
      if (rows.every((row) => row.delivery === 'delivered')) break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const rows = await platform.store.db.selectFrom('alert_events').selectAll().orderBy('time').execute();
    expect(rows.map((row) => [row.rule, row.state, row.delivery])).toEqual([
      ['slow', 'firing', 'delivered'],
      ['errors', 'firing', 'delivered'],
      expect.arrayContaining(['resolved', 'delivered']),
      expect.arrayContaining(['resolved', 'delivered']),
      ['idle', 'firing', 'delivered'],
    ]);
    const audit = await platform.audit.list(
      { action: 'alert.*', limit: 100 },
      { all: true, teams: [], actor: '' },
    );
    expect(audit.map((record) => record.action).sort()).toEqual([
      'alert.firing',
      'alert.firing',
      'alert.firing',
      'alert.resolved',
      'alert.resolved',
    ]);
    expect(
      (await platform.audit.list({ action: 'gpu.idle', limit: 10 }, { all: true, teams: [], actor: '' }))
        .length,
    ).toBe(1);

    // `alerts test`: the rule's current values and a test notification.
    const test = await alerts.test('idle', 'admin');
    expect(test.delivery).toBe('delivered');
    expect(test.values[0]).toMatchObject({ value: 600, active: true });
    expect(received.at(-1)).toMatchObject({ alert: 'idle', status: 'test' });
  });
});
