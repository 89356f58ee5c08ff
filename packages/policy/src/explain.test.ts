import { describe, expect, it } from 'vitest';
import { explain } from './explain.ts';
import { engineFailure } from './fail-closed.ts';
import type { PolicyDecision, PolicyHit } from './policy-decision.ts';

const hit = (
  policyId: string,
  outcome: PolicyHit['outcome'],
  enforcement: PolicyHit['enforcement'],
): PolicyHit => ({
  policyId,
  reason: `because of ${policyId}`,
  outcome,
  enforcement,
});

describe('explain', () => {
  it('names each determining policy with its reason, then warnings, dry runs and the policy set', () => {
    const decision: PolicyDecision = {
      outcome: 'deny',
      determining: [
        hit('gpu-max-per-product', 'deny', 'deny'),
        hit('budget-covers-estimate', 'deny', 'deny'),
      ],
      permits: [],
      warnings: [hit('spot-recommended', 'warn', 'warn')],
      dryRun: [hit('gpu-type-allowed', 'deny', 'dryrun')],
      policySetDigest: 'sha256:abc',
      errors: [],
    };
    expect(explain(decision)).toBe(
      [
        'Denied.',
        '  denied by gpu-max-per-product: because of gpu-max-per-product',
        '  denied by budget-covers-estimate: because of budget-covers-estimate',
        '  warning from spot-recommended: because of spot-recommended',
        '  dry run: gpu-type-allowed would have denied: because of gpu-type-allowed',
        '  policy set sha256:abc',
      ].join('\n'),
    );
  });

  it('says who holds a request, and does not repeat a warning that determined the outcome', () => {
    const held = explain({
      outcome: 'require_approval',
      determining: [hit('gpu-approval-above-4', 'require_approval', 'deny')],
      permits: [],
      warnings: [],
      dryRun: [],
      policySetDigest: 'sha256:abc',
      errors: [],
    });
    expect(held).toMatch(
      /^Held for approval\.\n {2}held by gpu-approval-above-4: because of gpu-approval-above-4\n/,
    );
    const warning = hit('spot-recommended', 'warn', 'warn');
    const warned = explain({
      outcome: 'warn',
      determining: [warning],
      permits: [],
      warnings: [warning],
      dryRun: [],
      policySetDigest: 'sha256:abc',
      errors: [],
    });
    expect(warned.match(/warning from spot-recommended/g)).toHaveLength(1);
  });

  it('shows engine errors of a fail-closed deny', () => {
    const text = explain(engineFailure('sha256:abc', ['wasm trap']));
    expect(text).toMatch(/^Denied\.\n {2}denied by engine-error: /);
    expect(text).toContain('  engine error: wasm trap');
  });
});
