import {
  Model,
  ModelDetail,
  ModelLineage,
  ModelQuery,
  ModelVersion,
  RegisterModelRequest,
  SetModelAliasRequest,
} from '@aicloud/contracts';
import type { Actor, Platform } from '@aicloud/core';
import { z } from 'zod';
import { defineRoute, type RouteDeps } from '../route.ts';

/** The registry's answer to `GET /v1/models` for a signed-in user (the data plane's route hands it over). */
export async function listRegistryModels(platform: Platform, actor: Actor, query: unknown) {
  return { items: await platform.models.list(actor, ModelQuery.parse(query ?? {})) };
}

/** The model registry: versions, aliases and lineage (`GET /v1/models`: see {@link listRegistryModels}). */
export function modelRoutes({ models }: RouteDeps) {
  return [
    defineRoute({
      method: 'POST',
      url: '/v1/models',
      summary:
        'Register the next version of a model from job:<id>, path:<dir> or hf://org/name@revision; it is copied and scanned (GET with a user token lists the registry)',
      tag: 'models',
      body: RegisterModelRequest,
      response: ModelVersion,
      status: 201,
      handler: ({ actor, body }) => models.register(actor, body),
    }),
    defineRoute({
      method: 'GET',
      url: '/v1/models/:name',
      summary: 'One model with its aliases and latest version',
      tag: 'models',
      query: ModelQuery,
      response: ModelDetail,
      handler: ({ actor, params, query }) => models.show(actor, params.name!, query),
    }),
    defineRoute({
      method: 'GET',
      url: '/v1/models/:name/versions',
      summary: 'Every version of a model, oldest first',
      tag: 'models',
      query: ModelQuery,
      response: z.object({ items: z.array(ModelVersion) }),
      handler: async ({ actor, params, query }) => ({
        items: await models.versions(actor, params.name!, query),
      }),
    }),
    defineRoute({
      method: 'GET',
      url: '/v1/models/:name/versions/:version',
      summary: 'One version (a number or an alias) with its files, scan and lineage',
      tag: 'models',
      query: ModelQuery,
      response: ModelVersion,
      handler: ({ actor, params, query }) => models.version(actor, params.name!, params.version!, query),
    }),
    defineRoute({
      method: 'PUT',
      url: '/v1/models/:name/aliases/:alias',
      summary: 'Point an alias (champion, production, …) at a version',
      tag: 'models',
      query: ModelQuery,
      body: SetModelAliasRequest,
      response: Model,
      handler: ({ actor, params, query, body }) =>
        models.setAlias(actor, params.name!, params.alias!, body.version, query),
    }),
    defineRoute({
      method: 'GET',
      url: '/v1/lineage/models/:name/:version',
      summary: 'The chain dataset → job → model version → endpoints',
      tag: 'models',
      query: ModelQuery,
      response: ModelLineage,
      handler: ({ actor, params, query }) => models.lineage(actor, `${params.name}@${params.version}`, query),
    }),
  ];
}
