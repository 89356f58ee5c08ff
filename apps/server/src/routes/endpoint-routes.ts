import { routes } from '@aicloud/contracts';
import { implement, type RouteDeps } from '../route.ts';

/** Deploying models as endpoints, scaling them, and their keys. */
export function endpointRoutes({ endpoints, rollouts }: RouteDeps) {
  return [
    implement(routes.deployModel, ({ actor, body }) => endpoints.deploy(actor, body)),
    implement(routes.listEndpoints, async ({ actor }) => ({ items: await endpoints.list(actor) })),
    implement(routes.getEndpoint, ({ actor, params }) => endpoints.get(actor, params.name)),
    implement(routes.scaleEndpoint, ({ actor, params, body }) => endpoints.scale(actor, params.name, body)),
    implement(routes.deleteEndpoint, ({ actor, params }) => endpoints.delete(actor, params.name)),
    implement(routes.getRollout, ({ actor, params }) => rollouts.status(actor, params.name)),
    implement(routes.promoteRollout, ({ actor, params }) => rollouts.promote(actor, params.name)),
    implement(routes.abortRollout, ({ actor, params }) => rollouts.abort(actor, params.name)),
    implement(routes.createKey, ({ actor, body }) => endpoints.createKey(actor, body)),
    implement(routes.listKeys, async ({ actor, query }) => ({
      items: await endpoints.listKeys(actor, query.endpoint),
    })),
    implement(routes.revokeKey, ({ actor, params }) => endpoints.revokeKey(actor, params.id)),
  ];
}
