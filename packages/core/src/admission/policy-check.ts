import type { Actor } from '../identity/principal.ts';
import {
  type Authorizer,
  engineError,
  failClosed,
  type PolicyDecision,
  type PolicyHit,
  type PolicyRequest,
  type TeamRole,
} from '../ports/authorizer.ts';

/** The caller as every policy request names it. */
export function policyPrincipal(actor: Actor): PolicyRequest['principal'] {
  return {
    name: actor.principal.userName,
    platformAdmin: actor.principal.platformAdmin,
    teams: [...actor.principal.teams.keys()],
  };
}

/** The caller's role in a team, as the policies read it. */
export function roleIn(actor: Actor, team: string): TeamRole {
  return actor.principal.teams.get(team) ?? 'none';
}

/** Asks the policy engine about one action through the one fail-closed wrapper: every action comes here. */
export function checkPolicy(authorizer: Authorizer, request: PolicyRequest): PolicyDecision {
  return failClosed(authorizer).authorize(request);
}

/**
 * The hit a refusal reports first, or null when the decision lets the action go ahead (allow or warn).
 * Denies come before approvals (as the engine decides); among them, `preference` names the order a service
 * shows its rules in, and the rest keep the policy set's order.
 */
export function refusingHit(decision: PolicyDecision, preference: readonly string[] = []): PolicyHit | null {
  if (decision.outcome === 'allow' || decision.outcome === 'warn') return null;
  const rank = (hit: PolicyHit) => {
    const index = preference.indexOf(hit.policyId);
    return index === -1 ? preference.length : index;
  };
  const hits = [...decision.determining].sort((left, right) => rank(left) - rank(right));
  // A refusal always names a rule; a deny without one can only be the engine's own failure.
  return hits[0] ?? engineError;
}
