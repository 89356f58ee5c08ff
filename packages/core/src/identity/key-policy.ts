import { policyPrincipal, roleIn } from '../admission/policy-check.ts';
import type { PolicyRequest } from '../ports/authorizer.ts';
import type { Actor } from './principal.ts';

/** The key being created: a user's own bearer token, or a key to an endpoint of a team. */
export type KeySubject =
  | { kind: 'api_token'; id: string }
  | { kind: 'endpoint_key'; id: string; team: string };

/** The policy question for creating an API key (`create_key` on an ApiKey). */
export function createKeyRequest(actor: Actor, key: KeySubject): PolicyRequest {
  const team = key.kind === 'endpoint_key' ? key.team : '';
  return {
    principal: policyPrincipal(actor),
    action: 'create_key',
    resource: {
      type: 'ApiKey',
      id: key.id,
      attrs: { owner: actor.principal.userName, team, kind: key.kind },
    },
    context: {
      role: team ? roleIn(actor, team) : 'none',
      scopedToken: actor.principal.scope !== null,
    },
  };
}
