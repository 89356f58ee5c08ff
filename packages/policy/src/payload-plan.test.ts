import type { PolicyJson } from '@cedar-policy/cedar-wasm/nodejs';
import { describe, expect, it } from 'vitest';
import { cedarEngine } from './cedar-engine.ts';
import { planPayload } from './payload-plan.ts';
import { pickAttributes, pruneContext } from './prune-payload.ts';

function plan(...policies: string[]) {
  return planPayload(
    policies.map((text) => {
      const answer = cedarEngine.policyToJson(text);
      if (answer.type === 'failure') throw new Error(answer.errors[0]?.message);
      return answer.json as PolicyJson;
    }),
  );
}

describe('planPayload', () => {
  it('keeps only the attributes and context fields the policies read', () => {
    const found = plan(
      'forbid (principal, action, resource) when { resource.gpus > context.product.maxGpus };',
      'permit (principal, action, resource) when { principal.platformAdmin || context has budget.remainingCents };',
    );
    expect(found.parents).toBe(false);
    expect(found.entityAttributes).toEqual(expect.arrayContaining(['gpus', 'platformAdmin']));
    expect(found.entityAttributes).not.toContain('gpuType');
    const context = {
      role: 'member',
      product: { name: 'p', maxGpus: 8, minGpus: 1 },
      budget: { maxBudgetCents: 5, remainingCents: 3 },
    };
    expect(pruneContext(context, found.context)).toEqual({
      product: { maxGpus: 8 },
      budget: { remainingCents: 3 },
    });
    expect(
      pickAttributes({ gpus: 2, gpuType: 'h100', platformAdmin: false }, found.entityAttributes),
    ).toEqual({
      gpus: 2,
      platformAdmin: false,
    });
  });

  it('keeps a record whole when a policy uses it whole', () => {
    const found = plan(
      'forbid (principal, action, resource) when { context.product == { name: "p" } && context.role == "x" };',
    );
    expect(pruneContext({ product: { name: 'p', maxGpus: 1 }, role: 'x', other: 1 }, found.context)).toEqual({
      product: { name: 'p', maxGpus: 1 },
      role: 'x',
    });
    const whole = plan('forbid (principal, action, resource) when { context == {} };');
    expect(whole.context).toBe(true);
  });

  it('sends parents when a policy tests membership', () => {
    expect(plan('permit (principal in Team::"legal", action, resource);').parents).toBe(true);
    expect(plan('permit (principal, action, resource) when { principal in Team::"legal" };').parents).toBe(
      true,
    );
    expect(plan('permit (principal, action in [Action::"submit_job"], resource);').parents).toBe(false);
  });

  it('follows attribute names through any expression, conservatively', () => {
    const found = plan(
      'forbid (principal, action, resource) when { (if context.flag then resource else principal).owner == "x" && ip("10.0.0.1").isInRange(ip(context.net)) };',
    );
    expect(found.entityAttributes).toEqual(expect.arrayContaining(['owner', 'flag', 'net']));
    expect(pruneContext({ flag: true, net: '10.0.0.0/8', extra: 1 }, found.context)).toEqual({
      flag: true,
      net: '10.0.0.0/8',
    });
  });
});
