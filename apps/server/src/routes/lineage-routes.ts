import { LineageRootKind, routes } from '@aicloud/contracts';
import { AppError } from '@aicloud/core';
import { implement, type RouteDeps } from '../route.ts';

/** Lineage as one graph: `GET /v1/lineage/{dataset|model|endpoint}/{ref}?direction=up|down|both`. */
export function lineageRoutes({ lineage }: RouteDeps) {
  return [
    implement(routes.getLineage, ({ actor, params, query }) => {
      const kind = LineageRootKind.safeParse(params.kind);
      if (!kind.success)
        throw new AppError(
          'invalid_input',
          `lineage starts from a dataset, a model or an endpoint, not '${params.kind}'`,
          {
            issues: [{ path: ['kind'], message: 'dataset, model or endpoint' }],
          },
        );
      return lineage.graph(actor, kind.data, params.ref, query);
    }),
  ];
}
