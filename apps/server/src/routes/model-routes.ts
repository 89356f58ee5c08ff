import { routes } from '@aicloud/contracts';
import type { Actor, Platform } from '@aicloud/core';
import { implement, type RouteDeps } from '../route.ts';

/** The registry's answer to `GET /v1/models` for a signed-in user (the data plane's route hands it over). */
export async function listRegistryModels(platform: Platform, actor: Actor, query: unknown) {
  return { items: await platform.models.list(actor, routes.listModels.query.parse(query ?? {})) };
}

/** The model registry: versions, aliases and lineage (`GET /v1/models`: see {@link listRegistryModels}). */
export function modelRoutes({ models }: RouteDeps) {
  return [
    implement(routes.registerModel, ({ actor, body }) => models.register(actor, body)),
    implement(routes.getModel, ({ actor, params, query }) => models.show(actor, params.name, query)),
    implement(routes.listModelVersions, async ({ actor, params, query }) => ({
      items: await models.versions(actor, params.name, query),
    })),
    implement(routes.getModelVersion, ({ actor, params, query }) =>
      models.version(actor, params.name, params.version, query),
    ),
    implement(routes.setModelAlias, ({ actor, params, query, body }) =>
      models.setAlias(actor, params.name, params.alias, body.version, query),
    ),
    implement(routes.getModelLineage, ({ actor, params, query }) =>
      models.lineage(actor, `${params.name}@${params.version}`, query),
    ),
  ];
}
