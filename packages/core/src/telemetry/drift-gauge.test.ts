import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { parseAlertRules } from '../alerts/alert-rules.ts';
import { parseExposition } from '../alerts/exposition.ts';
import { createTestPlatform, storeTargets } from '../testing/test-platform.ts';
import { seededRandom } from '../testing/tiny-model.ts';
import { createObservability } from './observability.ts';

/**
 * Drift of a real platform's endpoints exported on /metrics and alerted on by the shipped `drift` rule:
 * generated traffic goes through the endpoint stats the gateway records into, then the prompts get longer.
 */
const shipped = readFileSync(join(import.meta.dirname, '../../../../alerts/drift.yaml'), 'utf8');

function promtoolCheckMetrics(text: string): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    const child = execFile('promtool', ['check', 'metrics'], (error, stdout, stderr) =>
      resolve({ code: error ? ((error as { code?: number }).code ?? 1) : 0, output: stdout + stderr }),
    );
    child.stdin!.end(text);
  });
}

let now = Date.parse('2026-11-27T04:00:00Z');
const clock = { now: () => now };
const pgUrl = inject('pgUrl');

describe.each(storeTargets(pgUrl))('drift gauges and the drift alert on %s', (target) => {
  let platform: Awaited<ReturnType<typeof createTestPlatform>>;
  beforeAll(async () => {
    platform = await createTestPlatform(target, pgUrl, { clock });
    const at = new Date(now).toISOString();
    const endpoint = (id: string, name: string) => ({
      id,
      name,
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
      rate_micros: null,
    });
    await platform.store.db
      .insertInto('endpoints')
      .values([endpoint('ep_shift', 'legal-answerer'), endpoint('ep_steady', 'steady')])
      .execute();
  });
  afterAll(async () => {
    await platform?.dispose();
  });

  it('exports PSI and KS per feature once the window is full, and fires when prompts get longer', async () => {
    const rules = parseAlertRules(shipped, 'alerts/drift.yaml');
    const observability = createObservability(platform, { rules, clock });
    const next = seededRandom(11);
    // Prompt lengths log-normal around `median` tokens; answers of 40–60 tokens in 200–400 ms.
    const request = (median: number) => {
      const normal = Math.sqrt(-2 * Math.log(1 - next())) * Math.cos(2 * Math.PI * next());
      return {
        ok: true,
        latencyMs: 200 + 200 * next(),
        firstTokenMs: null,
        tokensIn: Math.round(median * Math.exp(0.5 * normal)),
        tokensOut: 40 + Math.round(20 * next()),
      };
    };
    const shifting = platform.replicas.stats('ep_shift');
    const steady = platform.replicas.stats('ep_steady');
    for (let n = 0; n < 500; n += 1) {
      shifting.record(request(120));
      steady.record(request(120));
    }
    // Baselines full, no window yet: no drift series at all.
    let samples = parseExposition(await observability.metricsText());
    expect(samples.filter((sample) => sample.name.startsWith('aicloud_endpoint_drift'))).toEqual([]);
    expect(await observability.alerts.evaluate()).toEqual([]);

    for (let n = 0; n < 500; n += 1) {
      shifting.record(request(300));
      steady.record(request(120));
    }
    const text = await observability.metricsText();
    const check = await promtoolCheckMetrics(text);
    expect(check.output).toBe('');
    expect(check.code).toBe(0);
    samples = parseExposition(text);
    const psi = (endpoint: string, feature: string) =>
      samples.find(
        (sample) =>
          sample.name === 'aicloud_endpoint_drift_psi' &&
          sample.labels.endpoint === endpoint &&
          sample.labels.feature === feature,
      )?.value;
    const ks = (endpoint: string, feature: string) =>
      samples.find(
        (sample) =>
          sample.name === 'aicloud_endpoint_drift_ks' &&
          sample.labels.endpoint === endpoint &&
          sample.labels.feature === feature,
      )?.value;
    // The exported numbers are the ones the endpoint's stats show.
    const report = shifting.snapshot().drift;
    expect(report.status).toBe('shifted');
    expect(psi('legal-answerer', 'prompt_tokens')).toBe(report.features.prompt_tokens!.psi);
    expect(psi('legal-answerer', 'prompt_tokens')).toBeGreaterThan(0.25);
    expect(ks('legal-answerer', 'prompt_tokens')).toBeGreaterThan(0.4);
    expect(psi('steady', 'prompt_tokens')).toBeLessThan(0.1);
    expect(psi('steady', 'latency_ms')).toBeLessThan(0.1);
    expect(
      samples.filter((sample) => sample.name === 'aicloud_endpoint_drift_psi').map((s) => s.labels.feature),
    ).toEqual(expect.arrayContaining(['prompt_tokens', 'completion_tokens', 'latency_ms', 'empty_answer']));

    // The shipped rule (PSI > 0.25 for 10 minutes): pending at once, firing 10 minutes later, only the
    // shifted endpoint's prompt lengths, with its team.
    expect(await observability.alerts.evaluate()).toEqual([]);
    expect(observability.alerts.active()).toEqual([
      expect.objectContaining({
        rule: 'endpoint_drift_high',
        state: 'pending',
        labels: { endpoint: 'legal-answerer', feature: 'prompt_tokens', team: 'legal-rag' },
      }),
    ]);
    now += 10 * 60_000;
    const events = await observability.alerts.evaluate();
    expect(events.map((event) => [event.rule, event.state, event.labels])).toEqual([
      [
        'endpoint_drift_high',
        'firing',
        { endpoint: 'legal-answerer', feature: 'prompt_tokens', team: 'legal-rag' },
      ],
    ]);
    expect(events[0]!.value).toBeGreaterThan(0.25);

    // A new version resets the baseline: the series go away and the alert resolves.
    shifting.drift.reset();
    now += 15_000;
    expect((await observability.alerts.evaluate()).map((event) => [event.rule, event.state])).toEqual([
      ['endpoint_drift_high', 'resolved'],
    ]);
  });
});
