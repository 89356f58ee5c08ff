import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadAlertRules, parseAlertRules } from './alert-rules.ts';
import { prometheusRuleFile, ruleExpr } from './prometheus-rules.ts';

/** The export checked by the real promtool (Debian's `prometheus` package; scripts/test-prereqs.sh). */
const scratch = mkdtempSync(join(tmpdir(), 'aicloud-promrules-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

function promtool(...args: string[]): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    execFile('promtool', args, (error, stdout, stderr) =>
      resolve({ code: error ? ((error as { code?: number }).code ?? 1) : 0, output: stdout + stderr }),
    );
  });
}

const extra = parseAlertRules(
  `rules:
  - name: quality_low
    kind: metric
    metric: aicloud_quality_score
    labels: { endpoint: "legal-answerer" }
    below: 0.7
    for: 10m
    summary: "Quality of \\"legal-answerer\\" under 0.7"
`,
  'alerts/quality.yaml',
);

describe('Prometheus rule export', () => {
  it('writes the shipped rules and a metric rule as a rule file promtool check rules accepts', async () => {
    const rules = [...loadAlertRules(join(import.meta.dirname, '../../../../alerts')), ...extra];
    const file = join(scratch, 'aicloud.rules.yaml');
    writeFileSync(file, prometheusRuleFile(rules));
    const result = await promtool('check', 'rules', file);
    expect(result.output).toContain(`SUCCESS: ${rules.length} rules found`);
    expect(result.code).toBe(0);
  });

  it('turns each kind into the PromQL the in-process evaluator mirrors', () => {
    const rules = loadAlertRules(join(import.meta.dirname, '../../../../alerts'));
    const byName = new Map(rules.map((rule) => [rule.name, ruleExpr(rule)]));
    expect(byName.get('endpoint_error_rate_high')).toBe(
      '(sum by (gen_ai_request_model) (increase(gen_ai_server_request_duration_count{error_type=~"upstream_error|timeout|replica_unavailable|_OTHER"}[5m])) / sum by (gen_ai_request_model) (increase(gen_ai_server_request_duration_count[5m]))) > 0.05 and sum by (gen_ai_request_model) (increase(gen_ai_server_request_duration_count[5m])) >= 20',
    );
    expect(byName.get('gpu_idle')).toBe('aicloud_gpu_idle_seconds{workload_id!=""} >= 1800');
    expect(byName.get('team_budget_nearly_spent')).toBe('aicloud_budget_used_ratio > 0.9');
    expect(byName.get('endpoint_drift_high')).toBe('aicloud_endpoint_drift_psi > 0.25');
    const [drift, quality] = parseAlertRules(
      `rules:
  - { name: prompts_drift, kind: drift, above: 0.1, feature: prompt_tokens }
  - { name: f1_low, kind: quality, below: 0.6, metric: f1 }
`,
      'alerts/t.yaml',
    );
    expect(ruleExpr(drift!)).toBe('aicloud_endpoint_drift_psi{feature="prompt_tokens"} > 0.1');
    expect(ruleExpr(quality!)).toBe('aicloud_endpoint_quality_score{metric="f1"} < 0.6');
    expect(ruleExpr(extra[0]!)).toBe('aicloud_quality_score{endpoint="legal-answerer"} < 0.7');
  });

  it("counts only the platform's errors in PromQL: promtool test rules fires on upstream errors, not on refusals", async () => {
    const rules = loadAlertRules(join(import.meta.dirname, '../../../../alerts'));
    writeFileSync(join(scratch, 'shipped.rules.yaml'), prometheusRuleFile(rules));
    const rule = rules.find((each) => each.name === 'endpoint_error_rate_high')!;
    const count = 'gen_ai_server_request_duration_count';
    // Per minute: endpoint "refused" answers 10 requests and refuses 30 (bad key, quota, rate limit, unknown
    // model); endpoint "broken" answers 10 and fails 10 (upstream errors, timeouts).
    const series = [
      ['refused', null],
      ['refused', 'invalid_api_key'],
      ['refused', 'insufficient_quota'],
      ['refused', 'rate_limit_exceeded'],
      ['broken', null],
      ['broken', 'upstream_error'],
      ['broken', 'timeout'],
    ].map(([endpoint, type]) => ({
      series: `${count}{gen_ai_request_model="${endpoint}"${type ? `,error_type="${type}"` : ''}}`,
      values: type === 'upstream_error' || type === 'timeout' ? '0+5x20' : '0+10x20',
    }));
    const test = {
      rule_files: ['shipped.rules.yaml'],
      evaluation_interval: '1m',
      tests: [
        {
          interval: '1m',
          input_series: series,
          alert_rule_test: [
            {
              eval_time: '15m',
              alertname: 'endpoint_error_rate_high',
              exp_alerts: [
                {
                  exp_labels: { severity: 'critical', kind: 'error_rate', gen_ai_request_model: 'broken' },
                  exp_annotations: { summary: rule.summary, source: rule.file },
                },
              ],
            },
          ],
        },
      ],
    };
    const file = join(scratch, 'error-rate.test.yaml');
    writeFileSync(file, JSON.stringify(test));
    const result = await promtool('test', 'rules', file);
    expect(result.output).toContain('SUCCESS');
    expect(result.code).toBe(0);
  });

  it('is checked for real: promtool refuses a broken rule file', async () => {
    const file = join(scratch, 'broken.yaml');
    writeFileSync(file, 'groups:\n  - name: x\n    rules:\n      - alert: x\n        expr: sum by (\n');
    expect((await promtool('check', 'rules', file)).code).not.toBe(0);
  });
});
