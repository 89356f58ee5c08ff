import { engineFailure } from './fail-closed.ts';
import type { LoadedPolicySet } from './load-policy-set.ts';
import type { PolicyDecision, PolicyHit } from './policy-decision.ts';

/** The hit reported when no permit policy matched the request. */
export const defaultDeny: PolicyHit = {
  policyId: 'default-deny',
  reason:
    'No policy permits this action for this caller; ask a manager of the team to add you to it, or a platform admin for help.',
  outcome: 'deny',
  enforcement: 'deny',
};

/** Turns the policies Cedar found satisfied into an outcome: deny > require_approval > warn > allow. */
export function decide(policySet: LoadedPolicySet, satisfied: string[]): PolicyDecision {
  const permits: { policyId: string; index: number }[] = [];
  const found: { hit: PolicyHit; index: number }[] = [];
  for (const policyId of satisfied) {
    const entry = policySet.byId.get(policyId);
    if (!entry)
      return engineFailure(policySet.digest, [`the engine reported an unknown policy "${policyId}"`]);
    if (entry.info.effect === 'permit') {
      permits.push({ policyId, index: entry.index });
      continue;
    }
    const { reason, outcome, enforcement } = entry.info;
    if (outcome === 'allow') continue;
    found.push({ hit: { policyId, reason, outcome, enforcement }, index: entry.index });
  }
  // Cedar reports satisfied policies in no fixed order; file order keeps decisions and audit lines stable.
  found.sort((left, right) => left.index - right.index);
  permits.sort((left, right) => left.index - right.index);
  const denies: PolicyHit[] = [];
  const approvals: PolicyHit[] = [];
  const warnings: PolicyHit[] = [];
  const dryRun: PolicyHit[] = [];
  for (const { hit } of found) {
    if (hit.enforcement === 'dryrun') dryRun.push(hit);
    else if (hit.outcome === 'warn' || hit.enforcement === 'warn') warnings.push(hit);
    else if (hit.outcome === 'deny') denies.push(hit);
    else approvals.push(hit);
  }
  const policySetDigest = policySet.digest;
  const rest = {
    permits: permits.map((permit) => permit.policyId),
    warnings,
    dryRun,
    policySetDigest,
    errors: [],
  };
  if (denies.length > 0) return { outcome: 'deny', determining: denies, ...rest };
  if (permits.length === 0) return { outcome: 'deny', determining: [defaultDeny], ...rest };
  if (approvals.length > 0) return { outcome: 'require_approval', determining: approvals, ...rest };
  if (warnings.length > 0) return { outcome: 'warn', determining: warnings, ...rest };
  return { outcome: 'allow', determining: [], ...rest };
}
