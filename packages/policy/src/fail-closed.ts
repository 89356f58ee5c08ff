import type { Authorizer } from './authorizer.ts';
import type { PolicyDecision, PolicyHit } from './policy-decision.ts';

/** The hit reported when the engine failed and the request was denied (fail closed). */
export const engineError: PolicyHit = {
  policyId: 'engine-error',
  reason: 'The policy engine could not decide, so the request is denied; retry, or tell a platform engineer.',
  outcome: 'deny',
  enforcement: 'deny',
};

/** A deny that carries the engine's errors: what every failure of the engine turns into. */
export function engineFailure(policySetDigest: string, errors: string[]): PolicyDecision {
  return {
    outcome: 'deny',
    determining: [engineError],
    permits: [],
    warnings: [],
    dryRun: [],
    policySetDigest,
    errors,
  };
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * Holds any authorizer to the port's contract: one that throws answers deny with the error (fail closed).
 * Every service asks through this wrapper, so no implementation can turn a crash into an allow.
 */
export function failClosed(inner: Authorizer): Authorizer {
  return {
    authorize(request) {
      try {
        return inner.authorize(request);
      } catch (error) {
        let digest = 'unknown';
        try {
          digest = inner.digest;
        } catch {
          // The digest is only for the record; the answer is deny either way.
        }
        return engineFailure(digest, [messageOf(error)]);
      }
    },
    get digest() {
      return inner.digest;
    },
    policies: () => inner.policies(),
  };
}
