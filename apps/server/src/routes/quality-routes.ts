import { routes } from '@aicloud/contracts';
import { qualityOf } from '@aicloud/core';
import { implement, type RouteDeps } from '../route.ts';

/** Quality evaluations of endpoints: run one now (optionally on a schedule) and list them per version. */
export function qualityRoutes(platform: RouteDeps) {
  return [
    implement(routes.evaluateEndpoint, ({ actor, params, body }) =>
      qualityOf(platform).evaluate(actor, params.name, body),
    ),
    implement(routes.listEndpointEvals, ({ actor, params }) => qualityOf(platform).list(actor, params.name)),
  ];
}
