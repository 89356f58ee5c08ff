import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createCedarAuthorizer } from './create-cedar-authorizer.ts';
import { defaultPoliciesDir } from './default-policies-dir.ts';
import { runPolicyTests } from './run-policy-tests.ts';

const scratch: string[] = [];
afterEach(() => {
  for (const dir of scratch.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function testsDirWith(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'aicloud-policy-tests-'));
  scratch.push(dir);
  cpSync(join(defaultPoliciesDir, 'tests', 'cancel-jobs.yaml'), join(dir, 'cancel-jobs.yaml'));
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return dir;
}

const cancelBase = `
base:
  principal: { name: alice, platformAdmin: false, teams: [legal] }
  action: cancel_job
  resource:
    type: Job
    id: job_x
    attrs: { team: legal, owner: alice, product: p, kind: k, gpus: 1, gpuType: h100, maxRuntimeSeconds: 60, spot: false }
  context: { role: member }
`;

describe('runPolicyTests', () => {
  const report = runPolicyTests({ policiesDir: defaultPoliciesDir });

  it('passes every shipped decision table', () => {
    const failures = report.results.filter((result) => !result.passed);
    expect(failures).toEqual([]);
    expect(report.passed).toBe(report.results.length);
    expect(report.policySetDigest).toMatch(/^sha256:/);
  });

  it('covers every default forbid policy and every outcome', () => {
    const expectedIds = new Set(
      report.results.flatMap((result) => [
        ...(result.expected?.determining ?? []),
        ...(result.expected?.warnings ?? []),
      ]),
    );
    const forbids = createCedarAuthorizer({ policiesDir: defaultPoliciesDir })
      .policies()
      .filter((policy) => policy.effect === 'forbid');
    expect(forbids.length).toBeGreaterThanOrEqual(10);
    for (const policy of forbids) expect(expectedIds, policy.id).toContain(policy.id);
    const outcomes = new Set(report.results.map((result) => result.expected?.outcome));
    expect([...outcomes].sort()).toEqual(['allow', 'deny', 'require_approval', 'warn']);
    expect(expectedIds).toContain('default-deny');
  });

  it('fails a case whose decision differs, saying how', () => {
    const testsDir = testsDirWith({
      'wrong.yaml': `${cancelBase}
cases:
  - name: a stranger cancels
    request: { principal: { name: bob } }
    outcome: allow
    determining: [job-cancel-owner]
`,
    });
    const result = runPolicyTests({ policiesDir: defaultPoliciesDir, testsDir });
    expect(result.failed).toBe(1);
    const failure = result.results.find((entry) => !entry.passed);
    expect(failure?.name).toBe('a stranger cancels');
    expect(failure?.problems).toEqual([
      'outcome deny, expected allow',
      'determining [default-deny], expected [job-cancel-owner]',
    ]);
  });

  it('fails a case whose request does not match the schema, even when the outcome is deny', () => {
    const testsDir = testsDirWith({
      'typo.yaml': `${cancelBase}
cases:
  - name: a typo in the context
    request: { context: { rol: member } }
    outcome: deny
`,
    });
    const [failure] = runPolicyTests({ policiesDir: defaultPoliciesDir, testsDir }).results.filter(
      (entry) => !entry.passed,
    );
    expect(failure?.problems.join('\n')).toMatch(/engine errors: .*rol/);
  });

  it('reports an unreadable decision table as a failed case naming the file', () => {
    const testsDir = testsDirWith({ 'broken.yaml': 'cases:\n  - name: no outcome\n' });
    const result = runPolicyTests({ policiesDir: defaultPoliciesDir, testsDir });
    expect(result.failed).toBe(1);
    expect(result.results.find((entry) => !entry.passed)).toMatchObject({
      name: '(decision table)',
      problems: [expect.stringMatching(/broken\.yaml: case 1 \(no outcome\): outcome must be one of/)],
    });
  });
});
