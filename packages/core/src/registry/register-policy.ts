import { policyPrincipal, roleIn } from '../admission/policy-check.ts';
import type { Actor } from '../identity/principal.ts';
import type { PolicyRequest } from '../ports/authorizer.ts';
import { isPinned, type ModelSourceRef } from './model-source.ts';

/** The policy question for registering a version of a team's model (`register_model` on a ModelVersion). */
export function registerModelRequest(
  actor: Actor,
  version: { team: string; model: string; source: ModelSourceRef; trustRemoteCode: boolean },
): PolicyRequest {
  return {
    principal: policyPrincipal(actor),
    action: 'register_model',
    resource: {
      type: 'ModelVersion',
      id: `model/${version.team}/${version.model}`,
      attrs: {
        team: version.team,
        owner: actor.principal.userName,
        model: version.model,
        sourceKind: version.source.kind,
        trustRemoteCode: version.trustRemoteCode,
        sourcePinned: isPinned(version.source),
      },
    },
    context: { role: roleIn(actor, version.team) },
  };
}
