import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Product } from '@aicloud/contracts';
import { createCedarAuthorizer, defaultPoliciesDir } from '@aicloud/policy';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { checkPolicy } from '../admission/policy-check.ts';
import type { BudgetState } from '../admission/team-usage.ts';
import { validateProduct } from '../catalog/catalog-service.ts';
import type { Actor } from '../identity/principal.ts';
import { type DeploySubject, deployRefusal, deployRequest } from './deploy-policy.ts';

const repoRoot = join(import.meta.dirname, '../../../..');
const spec = validateProduct(
  parse(readFileSync(join(repoRoot, 'catalog/realtime-endpoint.yaml'), 'utf8')),
  'test',
);
const product: Product = {
  ...spec,
  maxDurationSeconds: 12 * 3600,
  idleDurationSeconds: 900,
  source: 'file',
  updatedAt: '2026-12-04T00:00:00.000Z',
};
// Strict: every request is validated against the schema, so a request the schema does not describe fails.
const authorizer = createCedarAuthorizer({ policiesDir: defaultPoliciesDir, strictRequests: true });

function actor(name: string, platformAdmin = false): Actor {
  return {
    principal: {
      userId: `usr_${name}`,
      userName: name,
      platformAdmin,
      teams: platformAdmin ? new Map() : new Map([['legal-rag', 'member' as const]]),
      tokenId: 'tok_test',
      tokenName: 'test',
      tokenExpiresAt: null,
      scope: null,
    },
    requestId: null,
  };
}

function subject(overrides: Partial<DeploySubject['version']> = {}, rest: Partial<DeploySubject> = {}) {
  return {
    name: 'legal-answerer',
    model: 'legal-answerer',
    version: {
      team: 'legal-rag',
      version: 3,
      source: 'path:/srv/models/legal-answerer',
      scanVerdict: 'passed',
      trustRemoteCode: false,
      artifactDir: '/data/models/mdl_1/3',
      ...overrides,
    },
    product,
    gpus: 1,
    budget: null,
    exceptions: [],
    ...rest,
  } satisfies DeploySubject;
}

const refusalFor = (who: Actor, what: DeploySubject) =>
  deployRefusal(checkPolicy(authorizer, deployRequest(who, what)), what);

describe('deploy rules live in Cedar (policies/deploy.cedar)', () => {
  it('lets a member deploy a passed version with an artifact', () => {
    const decision = checkPolicy(authorizer, deployRequest(actor('alice'), subject()));
    expect(decision).toMatchObject({ outcome: 'allow', errors: [] });
    expect(deployRefusal(decision, subject())).toBeNull();
  });

  it('refuses a blocked version with the same rule id and message as before the move', () => {
    expect(refusalFor(actor('alice'), subject({ scanVerdict: 'blocked' }))).toEqual({
      code: 'policy_denied',
      rule: 'model-scan-passed',
      message:
        'legal-answerer version 3 is blocked by the security scan and never deploys; fix the artifact and register a new version (see aicloud models show legal-answerer)',
    });
  });

  it('holds a version that needs review for a platform-admin, who may deploy it', () => {
    expect(refusalFor(actor('alice'), subject({ scanVerdict: 'needs_review' }))).toEqual({
      code: 'approval_required',
      rule: 'model-scan-review',
      message:
        "legal-answerer version 3 imports code outside the allow-list and needs a platform-admin's review; a platform-admin can deploy it after reviewing the scan (aicloud models versions legal-answerer)",
    });
    expect(refusalFor(actor('root', true), subject({ scanVerdict: 'needs_review' }))).toBeNull();
  });

  it('refuses unpinned trust_remote_code, a missing artifact, too many GPUs and an exhausted budget', () => {
    const alice = actor('alice');
    expect(
      refusalFor(alice, subject({ trustRemoteCode: true, source: 'hf://org/model@main' })),
    ).toMatchObject({
      code: 'policy_denied',
      rule: 'trust-remote-code-pinned',
      message: 'trust_remote_code is allowed only for sources pinned to a revision',
    });
    expect(
      refusalFor(alice, subject({ trustRemoteCode: true, source: 'hf://org/model@0a1b2c3d' })),
    ).toBeNull();
    expect(refusalFor(alice, subject({ artifactDir: null }))).toMatchObject({
      rule: 'artifact-present',
      message: 'legal-answerer version 3 has no artifact on this platform to serve',
    });
    expect(refusalFor(alice, subject({}, { gpus: 3 }))).toMatchObject({
      code: 'policy_denied',
      rule: 'gpu-max-per-product',
      message: 'asked for 3 GPUs; product realtime-endpoint allows at most 2',
    });
    const spent: BudgetState = {
      maxMicros: 100_000_000,
      softMicros: null,
      duration: 'month',
      periodStart: '2026-12-01T00:00:00.000Z',
      periodEnd: '2027-01-01T00:00:00.000Z',
      spentMicros: 100_000_000,
      committedMicros: 0,
      remainingMicros: 0,
    };
    expect(refusalFor(alice, subject({}, { budget: spent }))).toMatchObject({
      code: 'budget_exceeded',
      rule: 'budget-exhausted',
    });
    // A time-boxed exception a platform-admin granted lifts the budget rule for deployments too.
    expect(refusalFor(alice, subject({}, { budget: spent, exceptions: ['budget-exhausted'] }))).toBeNull();
  });

  it('reports the scan first when several rules refuse, as the checks did', () => {
    const refusal = refusalFor(
      actor('alice'),
      subject({ scanVerdict: 'quarantined', artifactDir: null }, { gpus: 3 }),
    );
    expect(refusal?.rule).toBe('model-scan-passed');
  });

  it('refuses someone outside the team by default', () => {
    const mallory: Actor = {
      ...actor('mallory'),
      principal: { ...actor('mallory').principal, teams: new Map() },
    };
    expect(refusalFor(mallory, subject())).toMatchObject({ code: 'forbidden', rule: 'default-deny' });
  });
});
