import type {
  CedarValueJson,
  Context,
  EntityJson,
  StatefulAuthorizationCall,
} from '@cedar-policy/cedar-wasm/nodejs';
import type { LoadedPolicySet } from './load-policy-set.ts';
import { keepEverything } from './payload-plan.ts';
import type { PolicyRequest } from './policy-request.ts';
import { pickAttributes, pruneContext } from './prune-payload.ts';

/**
 * Builds the engine call for a request, sending only what the policy set can observe (the JSON
 * boundary is the cost); `strict` sends everything and has the engine validate it against the schema.
 */
export function buildCedarCall(
  policySet: LoadedPolicySet,
  request: PolicyRequest,
  strict: boolean,
): StatefulAuthorizationCall {
  const plan = strict ? keepEverything : policySet.plan;
  const { principal, resource } = request;
  const principalUid = { type: 'User', id: principal.name };
  const resourceUid = { type: resource.type, id: resource.id };
  const user = { name: principal.name, platformAdmin: principal.platformAdmin };
  const entities: EntityJson[] = [
    {
      uid: principalUid,
      attrs: pickAttributes(user, plan.entityAttributes) as Record<string, CedarValueJson>,
      parents: plan.parents ? principal.teams.map((team) => ({ type: 'Team', id: team })) : [],
    },
    {
      uid: resourceUid,
      attrs: pickAttributes(resource.attrs, plan.entityAttributes) as Record<string, CedarValueJson>,
      parents: [],
    },
  ];
  const call: StatefulAuthorizationCall = {
    principal: principalUid,
    action: { type: 'Action', id: request.action },
    resource: resourceUid,
    context: pruneContext(request.context, plan.context) as Context,
    entities,
    preparsedPolicySetId: policySet.policySetId,
  };
  if (strict) {
    call.preparsedSchemaName = policySet.schemaName;
    call.validateRequest = true;
  } else {
    entities.push(...policySet.actionEntities);
  }
  return call;
}
