import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { cedarEngine } from './cedar-engine.ts';
import { createCedarAuthorizer } from './create-cedar-authorizer.ts';
import { readDecisionTable } from './decision-table.ts';
import { defaultPoliciesDir } from './default-policies-dir.ts';
import type { PolicyRequest, SubmitJobContext } from './policy-request.ts';

const context: SubmitJobContext = {
  role: 'member',
  product: { name: 'fine-tune', maxGpus: 8, minGpus: 1, maxDurationSeconds: 28800 },
  estimatedCostCents: 12000,
  budget: { maxBudgetCents: 500000, remainingCents: 300000 },
  unregisteredDatasets: [],
  unclassifiedDatasets: [],
  datasetsOutsideApprovedLocation: [],
  unencryptedDatasets: [],
  otherTeamDatasets: [],
  managerApproved: false,
  exceptions: [],
};

function submit(gpus: number, overrides: Partial<SubmitJobContext> = {}, spot = true): PolicyRequest {
  return {
    principal: { name: 'alice', platformAdmin: false, teams: ['legal'] },
    action: 'submit_job',
    resource: {
      type: 'Job',
      id: 'job_test',
      attrs: {
        team: 'legal',
        owner: 'alice',
        product: 'fine-tune',
        kind: 'fine-tune',
        gpus,
        gpuType: 'h100',
        maxRuntimeSeconds: 14400,
        spot,
      },
    },
    context: { ...context, ...overrides },
  };
}

const scratch: string[] = [];
afterEach(() => {
  for (const dir of scratch.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** A copy of the default policies that a test may change. */
function copyPolicies(): string {
  const dir = mkdtempSync(join(tmpdir(), 'aicloud-policies-'));
  scratch.push(dir);
  cpSync(defaultPoliciesDir, dir, { recursive: true });
  return dir;
}

const enforcementOfGpuMax = (dir: string, enforcement: string) => {
  const file = join(dir, 'gpus.cedar');
  const text = readFileSync(file, 'utf8');
  const rule =
    /(@id\("gpu-max-per-product"\)\n@reason\("[^"]*"\)\n@outcome\("deny"\)\n)@enforcement\("deny"\)/;
  expect(text).toMatch(rule);
  writeFileSync(file, text.replace(rule, `$1@enforcement("${enforcement}")`));
};

describe('createCedarAuthorizer', () => {
  const authorizer = createCedarAuthorizer({ policiesDir: defaultPoliciesDir });

  it('rejects 16 GPUs at once with the policy that said no', () => {
    const decision = authorizer.authorize(submit(16, { managerApproved: true }));
    expect(decision.outcome).toBe('deny');
    expect(decision.determining.map((hit) => hit.policyId)).toEqual(['gpu-max-per-product']);
    expect(decision.determining[0]?.reason).toMatch(/request a policy exception/);
    expect(decision.policySetDigest).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(decision.errors).toEqual([]);
  });

  it('lists the policies with their files and annotations', () => {
    const policies = authorizer.policies();
    expect(policies.find((policy) => policy.id === 'gpu-approval-above-4')).toEqual({
      id: 'gpu-approval-above-4',
      file: join(defaultPoliciesDir, 'gpus.cedar'),
      reason: expect.stringMatching(/manager/),
      outcome: 'require_approval',
      enforcement: 'deny',
      effect: 'forbid',
    });
    expect(policies.filter((policy) => policy.effect === 'permit').map((policy) => policy.id)).toContain(
      'job-submit-team-role',
    );
    expect(authorizer.digest).toBe(createCedarAuthorizer({ policiesDir: defaultPoliciesDir }).digest);
  });

  it('sends Cedar only what the policies read, and decides every decision-table case as the strict path does', () => {
    const strict = createCedarAuthorizer({ policiesDir: defaultPoliciesDir, strictRequests: true });
    const testsDir = join(defaultPoliciesDir, 'tests');
    const cases = readdirSync(testsDir).flatMap((name) => readDecisionTable(join(testsDir, name)));
    expect(cases.length).toBeGreaterThan(20);
    for (const testCase of cases) {
      expect(authorizer.authorize(testCase.request), testCase.name).toEqual(
        strict.authorize(testCase.request),
      );
    }
  });

  it('puts a dry-run policy in dryRun only and allows', () => {
    const dir = copyPolicies();
    enforcementOfGpuMax(dir, 'dryrun');
    const dryRun = createCedarAuthorizer({ policiesDir: dir });
    const decision = dryRun.authorize(submit(16, { managerApproved: true }));
    expect(decision.outcome).toBe('allow');
    expect(decision.determining).toEqual([]);
    expect(decision.dryRun).toEqual([
      expect.objectContaining({ policyId: 'gpu-max-per-product', outcome: 'deny', enforcement: 'dryrun' }),
    ]);
    expect(dryRun.digest).not.toBe(authorizer.digest);
  });

  it('turns a deny policy with warn enforcement into a warning', () => {
    const dir = copyPolicies();
    enforcementOfGpuMax(dir, 'warn');
    const decision = createCedarAuthorizer({ policiesDir: dir }).authorize(
      submit(16, { managerApproved: true }),
    );
    expect(decision.outcome).toBe('warn');
    expect(decision.warnings.map((hit) => hit.policyId)).toEqual(['gpu-max-per-product']);
  });

  it('refuses a policy that does not validate against the schema, naming the file, line and problem', () => {
    const dir = copyPolicies();
    writeFileSync(
      join(dir, 'typo.cedar'),
      '// a typo\n@id("typo")\n@reason("r")\n@outcome("deny")\nforbid (principal, action == Action::"submit_job", resource)\nwhen { resource.gpuz > 1 };\n',
    );
    expect(() => createCedarAuthorizer({ policiesDir: dir })).toThrow(
      /typo\.cedar:6:8: .*attribute `gpuz` on entity type `Job` not found.*did you mean `gpus`/,
    );
  });

  it('refuses a policy that does not parse, a missing annotation and a duplicate id', () => {
    const dir = copyPolicies();
    writeFileSync(
      join(dir, 'broken.cedar'),
      'permit (principal, action, resource) when { context.role == };\n',
    );
    writeFileSync(
      join(dir, 'unannotated.cedar'),
      '@id("no-outcome")\n@reason("r")\nforbid (principal, action == Action::"cancel_job", resource);\n',
    );
    writeFileSync(
      join(dir, 'twice.cedar'),
      '@id("budget-exhausted")\n@reason("r")\n@outcome("deny")\nforbid (principal, action == Action::"cancel_job", resource);\n',
    );
    const refusal = (() => {
      try {
        createCedarAuthorizer({ policiesDir: dir });
      } catch (error) {
        return (error as Error).message;
      }
      return 'loaded';
    })();
    expect(refusal).toMatch(/broken\.cedar:1:\d+: unexpected token/);
    expect(refusal).toMatch(/unannotated\.cedar:1:1: policy "no-outcome" needs @outcome/);
    expect(refusal).toMatch(
      /twice\.cedar:1:1: policy id "budget-exhausted" is already used in .*budget\.cedar/,
    );
  });

  it('reloads a changed set, and keeps the last good set when the new one is invalid', () => {
    const dir = copyPolicies();
    const live = createCedarAuthorizer({ policiesDir: dir });
    const first = live.digest;
    enforcementOfGpuMax(dir, 'dryrun');
    const reloaded = live.reload();
    expect(reloaded).toEqual({ ok: true, digest: expect.stringMatching(/^sha256:/) });
    expect(live.digest).not.toBe(first);
    expect(live.authorize(submit(16, { managerApproved: true })).outcome).toBe('allow');

    const good = live.digest;
    writeFileSync(join(dir, 'bad.cedar'), 'forbid (principal, action, resource) when { context.nope };\n');
    const refused = live.reload();
    expect(refused.ok).toBe(false);
    expect(!refused.ok && refused.error).toMatch(/bad\.cedar/);
    expect(live.digest).toBe(good);
    const decision = live.authorize(submit(16, { managerApproved: true }));
    expect(decision).toMatchObject({ outcome: 'allow', policySetDigest: good });
  });

  it('denies when the engine throws (fail closed)', () => {
    const broken = createCedarAuthorizer({
      policiesDir: defaultPoliciesDir,
      engine: {
        ...cedarEngine,
        statefulIsAuthorized: () => {
          throw new Error('unreachable executed');
        },
      },
    });
    const decision = broken.authorize(submit(2));
    expect(decision.outcome).toBe('deny');
    expect(decision.errors).toEqual(['unreachable executed']);
    expect(decision.determining.map((hit) => hit.policyId)).toEqual(['engine-error']);
  });

  it('denies when the engine answers with a failure or with policy errors', () => {
    const failing = createCedarAuthorizer({
      policiesDir: defaultPoliciesDir,
      engine: {
        ...cedarEngine,
        statefulIsAuthorized: () => ({
          type: 'failure',
          errors: [{ message: 'out of memory', help: null, code: null, url: null, severity: null }],
          warnings: [],
        }),
      },
    });
    expect(failing.authorize(submit(2))).toMatchObject({ outcome: 'deny', errors: ['out of memory'] });

    const missing = authorizer.authorize({ ...submit(2), context: { role: 'member' } });
    expect(missing.outcome).toBe('deny');
    expect(missing.errors.join('\n')).toMatch(/record does not have the attribute `product`/);

    const malformed = authorizer.authorize({
      principal: { name: 'alice' },
    } as unknown as PolicyRequest);
    expect(malformed.outcome).toBe('deny');
    expect(malformed.errors).toHaveLength(1);
  });
});
