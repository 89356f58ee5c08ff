import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Product } from '@aicloud/contracts';
import { createCedarAuthorizer, defaultPoliciesDir } from '@aicloud/policy';
import { afterAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { validateProduct } from '../catalog/catalog-service.ts';
import type { Actor } from '../identity/principal.ts';
import type { Authorizer, PolicyRequest } from '../ports/authorizer.ts';
import {
  decide,
  type NotebookPolicySubject,
  notebookAdmissionRequest,
  notebookIdleGpuStopRequest,
  notebookStopRequest,
} from './notebook-policy.ts';

const repoRoot = join(import.meta.dirname, '../../../..');
const spec = validateProduct(
  parse(readFileSync(join(repoRoot, 'catalog/notebook-gpu.yaml'), 'utf8')),
  'test',
);
const product: Product = {
  ...spec,
  maxDurationSeconds: 12 * 3600,
  idleDurationSeconds: 3600,
  source: 'file',
  updatedAt: '2026-12-04T00:00:00.000Z',
};

function actor(name: string, teams: [string, 'member' | 'manager'][], platformAdmin = false): Actor {
  return {
    principal: {
      userId: `usr_${name}`,
      userName: name,
      platformAdmin,
      teams: new Map(teams),
      tokenId: 'tok_test',
      tokenName: 'test',
      tokenExpiresAt: null,
      scope: null,
    },
    requestId: null,
  };
}

const alice = actor('alice', [['legal', 'member']]);
const subject = (gpus: number, maxLifetimeSeconds = 8 * 3600): NotebookPolicySubject => ({
  id: 'nb_test',
  team: 'legal',
  owner: 'alice',
  product,
  gpus,
  gpuType: gpus > 0 ? 'A100' : null,
  maxLifetimeSeconds,
});
const facts = { estimateMicros: 3_670_000, budget: null, exceptions: [] };

/** The real Cedar authorizer, recording every request it is asked. */
function recording(policiesDir: string): Authorizer & { asked: PolicyRequest[] } {
  const real = createCedarAuthorizer({ policiesDir, strictRequests: true });
  const asked: PolicyRequest[] = [];
  return {
    asked,
    get digest() {
      return real.digest;
    },
    policies: () => real.policies(),
    authorize(request) {
      asked.push(request);
      return real.authorize(request);
    },
  };
}

const scratch: string[] = [];
afterAll(() => {
  for (const dir of scratch) rmSync(dir, { recursive: true, force: true });
});

describe('notebook admission asks Cedar about notebooks, not jobs', () => {
  it('evaluates a create request as create_notebook on a Notebook, not submit_job on a Job', () => {
    const authorizer = recording(defaultPoliciesDir);
    const decision = decide(
      authorizer,
      notebookAdmissionRequest(alice, 'create_notebook', subject(1), facts),
    );
    expect(decision).toMatchObject({ outcome: 'allow', errors: [] });
    expect(authorizer.asked.map((request) => [request.action, request.resource.type])).toEqual([
      ['create_notebook', 'Notebook'],
    ]);
    const snooze = notebookAdmissionRequest(alice, 'snooze_notebook', subject(1), facts);
    expect([snooze.action, snooze.resource.type]).toEqual(['snooze_notebook', 'Notebook']);
    const stop = notebookStopRequest(alice, subject(1));
    expect([stop.action, stop.resource.type]).toEqual(['stop_notebook', 'Notebook']);
  });

  it('is refused by a policy written for create_notebook alone', () => {
    const dir = mkdtempSync(join(tmpdir(), 'aicloud-notebook-policy-'));
    scratch.push(dir);
    cpSync(defaultPoliciesDir, dir, { recursive: true });
    writeFileSync(
      join(dir, 'no-notebooks.cedar'),
      '@id("no-notebooks-today")\n@reason("Notebooks are closed today.")\n@outcome("deny")\n@enforcement("deny")\nforbid (principal, action == Action::"create_notebook", resource);\n',
    );
    const authorizer = recording(dir);
    const decision = decide(
      authorizer,
      notebookAdmissionRequest(alice, 'create_notebook', subject(1), facts),
    );
    expect(decision.outcome).toBe('deny');
    expect(decision.determining.map((hit) => hit.policyId)).toEqual(['no-notebooks-today']);
  });

  it('keeps the job rules that applied to notebooks: GPUs, lifetime, team', () => {
    const authorizer = recording(defaultPoliciesDir);
    const ids = (request: PolicyRequest) =>
      decide(authorizer, request).determining.map((hit) => hit.policyId);
    expect(ids(notebookAdmissionRequest(alice, 'create_notebook', subject(2), facts))).toEqual([
      'gpu-max-per-product',
    ]);
    expect(ids(notebookAdmissionRequest(alice, 'create_notebook', subject(1, 13 * 3600), facts))).toEqual([
      'runtime-within-product-max',
    ]);
    const mallory = actor('mallory', []);
    expect(ids(notebookAdmissionRequest(mallory, 'create_notebook', subject(1), facts))).toEqual([
      'default-deny',
    ]);
    const bob = actor('bob', [['legal', 'member']]);
    expect(ids(notebookStopRequest(bob, subject(1)))).toEqual(['default-deny']);
    expect(decide(authorizer, notebookStopRequest(alice, subject(1))).outcome).toBe('allow');
  });

  it('asks stop_idle_gpu_notebook as the platform, and the shipped rule permits it from 60 idle minutes', () => {
    const authorizer = recording(defaultPoliciesDir);
    const idle = (idleMinutes: number, gpus = 1) =>
      decide(
        authorizer,
        notebookIdleGpuStopRequest(subject(gpus), {
          idleMinutes,
          gpus,
          utilizationPercent: 0,
          thresholdPercent: 5,
        }),
      );
    expect(idle(60)).toMatchObject({ outcome: 'allow', permits: ['notebook-idle-gpu-stop'], errors: [] });
    expect(authorizer.asked[0]).toMatchObject({
      principal: { name: 'system', platformAdmin: false, teams: [] },
      action: 'stop_idle_gpu_notebook',
      resource: { type: 'Notebook', id: 'nb_test', attrs: { team: 'legal', product: 'notebook-gpu' } },
    });
    expect(idle(59).determining.map((hit) => hit.policyId)).toEqual(['default-deny']);
    expect(idle(120, 0).outcome).toBe('deny');
  });

  it('fails closed through the one wrapper when the authorizer throws', () => {
    const crashing: Authorizer = {
      digest: 'sha256:test',
      policies: () => [],
      authorize: () => {
        throw new Error('engine gone');
      },
    };
    const decision = decide(crashing, notebookAdmissionRequest(alice, 'create_notebook', subject(1), facts));
    expect(decision).toMatchObject({ outcome: 'deny', errors: ['engine gone'] });
    expect(decision.determining[0]?.policyId).toBe('engine-error');
  });
});
