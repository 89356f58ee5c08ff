import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadAlertRules, parseAlertRules } from './alert-rules.ts';

const shipped = join(import.meta.dirname, '../../../../alerts');
const scratch = mkdtempSync(join(tmpdir(), 'aicloud-alerts-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

const problem = (text: string, allowedHosts: string[] = []) => {
  try {
    parseAlertRules(text, 'alerts/team.yaml', allowedHosts);
  } catch (error) {
    return (error as Error).message;
  }
  return null;
};

describe('alert rules as code', () => {
  it('loads the shipped rules: error rate, p99 latency, budget burn, idle GPU and drift', () => {
    const rules = loadAlertRules(shipped);
    expect(rules.map((rule) => [rule.name, rule.kind]).sort()).toEqual([
      ['endpoint_drift_high', 'drift'],
      ['endpoint_error_rate_high', 'error_rate'],
      ['endpoint_latency_p99_high', 'latency_p99'],
      ['gpu_idle', 'idle_gpu'],
      ['team_budget_nearly_spent', 'budget_burn'],
    ]);
    const errorRate = rules.find((rule) => rule.name === 'endpoint_error_rate_high')!;
    expect(errorRate).toMatchObject({ file: 'alerts/serving.yaml', forSeconds: 120, windowSeconds: 300 });
  });

  it('names the file and the field of a mistake', () => {
    expect(problem('rules:\n  - name: slow\n    kind: latency_p99\n    above: fast\n')).toBe(
      'alerts/team.yaml: rules[0].above: Invalid input: expected number, received string',
    );
    expect(
      problem('rules:\n  - name: x\n    kind: error_rate\n    above: 0.1\n    window: 5 minutes\n'),
    ).toMatch(/^alerts\/team\.yaml: rules\[0\]\.window: expected a duration/);
    expect(problem('rules:\n  - name: Bad-Name\n    kind: budget_burn\n    above: 0.5\n')).toMatch(
      /^alerts\/team\.yaml: rules\[0\]\.name: a rule name is snake_case/,
    );
    expect(problem('rules:\n  - name: x\n    kind: budget_burn\n    above: 0.5\n    treshold: 1\n')).toMatch(
      /^alerts\/team\.yaml: rules\[0\]: Unrecognized key: "treshold"/,
    );
    expect(problem('rules:\n  - name: x\n    kind: saturation\n')).toMatch(
      /^alerts\/team\.yaml: rules\[0\]\.kind: /,
    );
    expect(problem('rules:\n  - name: x\n    kind: drift\n')).toMatch(
      /^alerts\/team\.yaml: rules\[0\]\.above: /,
    );
    expect(problem('rules:\n  - name: x\n    kind: drift\n    above: 0.2\n    feature: mood\n')).toMatch(
      /^alerts\/team\.yaml: rules\[0\]\.feature: /,
    );
    expect(problem('rules:\n  - name: x\n    kind: quality\n    below: 7\n')).toMatch(
      /^alerts\/team\.yaml: rules\[0\]\.below: /,
    );
    expect(problem('rules: [\n')).toMatch(/^alerts\/team\.yaml: not YAML/);
    expect(problem('rules: []\n')).toMatch(/^alerts\/team\.yaml: rules: /);
  });

  it('refuses a webhook the allow-list does not allow, naming the field', () => {
    const text =
      'webhook: http://169.254.169.254/latest\nrules:\n  - name: x\n    kind: budget_burn\n    above: 0.5\n';
    expect(problem(text, ['169.254.169.254'])).toMatch(
      /^alerts\/team\.yaml: webhook: 169\.254\.169\.254 is a link-local/,
    );
    const own =
      'rules:\n  - name: x\n    kind: budget_burn\n    above: 0.5\n    webhook: https://hooks.example.com/a\n';
    expect(problem(own)).toMatch(
      /^alerts\/team\.yaml: rules\[0\]\.webhook: hooks\.example\.com is not an allowed/,
    );
    expect(parseAlertRules(own, 'alerts/team.yaml', ['hooks.example.com'])[0]!.webhookUrl).toBe(
      'https://hooks.example.com/a',
    );
  });

  it('refuses the same rule name in two files', () => {
    const dir = join(scratch, 'alerts');
    mkdirSync(dir);
    const rule = 'rules:\n  - name: burn\n    kind: budget_burn\n    above: 0.5\n';
    writeFileSync(join(dir, 'a.yaml'), rule);
    writeFileSync(join(dir, 'b.yaml'), rule);
    expect(() => loadAlertRules(dir)).toThrow(
      "alerts/b.yaml: rules[0].name: 'burn' is already a rule in alerts/a.yaml",
    );
    expect(loadAlertRules(join(scratch, 'none'))).toEqual([]);
  });
});
