import { routes } from '@aicloud/contracts';
import { implement, type RouteDeps } from '../route.ts';

/** The compute catalog and the dataset registry. */
export function catalogRoutes({ catalog, datasets }: RouteDeps) {
  return [
    implement(routes.listProducts, async () => ({ items: await catalog.list() })),
    implement(routes.getProduct, ({ params }) => catalog.get(params.name)),
    implement(routes.putProduct, ({ actor, params, body }) =>
      catalog.put(actor, { ...body, name: params.name }),
    ),
    implement(routes.listDatasets, async ({ actor }) => ({ items: await datasets.list(actor) })),
    implement(routes.registerDataset, ({ actor, body }) => datasets.register(actor, body)),
    implement(routes.attestDataset, ({ actor, body }) => datasets.attest(actor, body)),
    implement(routes.getDataset, ({ actor, params }) => datasets.get(actor, params['*'])),
  ];
}
