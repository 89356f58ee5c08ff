import type { CedarAuthorizer } from './authorizer.ts';
import { buildCedarCall } from './build-cedar-call.ts';
import { type CedarEngine, cedarEngine } from './cedar-engine.ts';
import { decide } from './decide.ts';
import { engineFailure } from './fail-closed.ts';
import { loadPolicySet } from './load-policy-set.ts';
import type { PolicyDecision } from './policy-decision.ts';
import type { PolicyRequest } from './policy-request.ts';

/** Where the policies live and how strictly requests are checked. */
export interface CedarAuthorizerOptions {
  /** A folder with `schema.cedarschema` and `*.cedar` files. */
  policiesDir: string;
  /** Send whole requests and have Cedar validate them against the schema: slower, for policy tests. */
  strictRequests?: boolean;
  /** The Cedar engine to use; tests pass a broken one to check that failures deny. */
  engine?: CedarEngine;
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Loads, validates and parses a policy folder once, and answers requests with Cedar; throws if the set is invalid. */
export function createCedarAuthorizer(options: CedarAuthorizerOptions): CedarAuthorizer {
  const engine = options.engine ?? cedarEngine;
  const strict = options.strictRequests === true;
  const first = loadPolicySet(options.policiesDir, engine);
  if (!first.ok) throw new Error(first.error);
  let active = first.policySet;

  function authorize(request: PolicyRequest): PolicyDecision {
    const policySet = active;
    try {
      const answer = engine.statefulIsAuthorized(buildCedarCall(policySet, request, strict));
      if (answer.type === 'failure') {
        return engineFailure(
          policySet.digest,
          answer.errors.map((error) => error.message),
        );
      }
      const { reason, errors } = answer.response.diagnostics;
      if (errors.length > 0) {
        return engineFailure(
          policySet.digest,
          errors.map(({ policyId, error }) => `policy "${policyId}": ${error.message}`),
        );
      }
      return decide(policySet, reason);
    } catch (error) {
      return engineFailure(policySet.digest, [messageOf(error)]);
    }
  }

  return {
    authorize,
    get digest() {
      return active.digest;
    },
    policies: () => active.policies.map((policy) => ({ ...policy })),
    reload() {
      try {
        const next = loadPolicySet(options.policiesDir, engine);
        if (!next.ok) return { ok: false, error: next.error };
        active = next.policySet;
        return { ok: true, digest: active.digest };
      } catch (error) {
        return { ok: false, error: messageOf(error) };
      }
    },
  };
}
