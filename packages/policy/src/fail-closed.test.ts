import { describe, expect, it } from 'vitest';
import type { Authorizer } from './authorizer.ts';
import { createCedarAuthorizer } from './create-cedar-authorizer.ts';
import { defaultPoliciesDir } from './default-policies-dir.ts';
import { failClosed } from './fail-closed.ts';
import type { PolicyRequest } from './policy-request.ts';

const request: PolicyRequest = {
  principal: { name: 'alice', platformAdmin: false, teams: ['legal'] },
  action: 'create_key',
  resource: { type: 'ApiKey', id: 'tok_new', attrs: { owner: 'alice', team: '', kind: 'api_token' } },
  context: { role: 'none', scopedToken: false },
};

describe('failClosed', () => {
  it('passes a working authorizer through unchanged', () => {
    const real = createCedarAuthorizer({ policiesDir: defaultPoliciesDir });
    const wrapped = failClosed(real);
    expect(wrapped.authorize(request)).toEqual(real.authorize(request));
    expect(wrapped.authorize(request).outcome).toBe('allow');
    expect(wrapped.digest).toBe(real.digest);
    expect(wrapped.policies()).toEqual(real.policies());
  });

  it('turns an authorizer that throws into a deny by engine-error carrying the error', () => {
    const crashing: Authorizer = {
      digest: 'sha256:feed',
      policies: () => [],
      authorize: () => {
        throw new Error('authorizer crashed');
      },
    };
    const decision = failClosed(crashing).authorize(request);
    expect(decision).toMatchObject({
      outcome: 'deny',
      policySetDigest: 'sha256:feed',
      errors: ['authorizer crashed'],
    });
    expect(decision.determining.map((hit) => hit.policyId)).toEqual(['engine-error']);
  });

  it('still denies when even the digest throws', () => {
    const broken = {
      get digest(): string {
        throw new Error('no policy set');
      },
      policies: () => [],
      authorize: () => {
        throw 'not an Error';
      },
    } satisfies Authorizer;
    const decision = failClosed(broken).authorize(request);
    expect(decision.outcome).toBe('deny');
    expect(decision.policySetDigest).toBe('unknown');
    expect(decision.errors).toEqual(['not an Error']);
  });
});
