import { contractRoute, itemsOf } from '../contract-route.ts';
import {
  Model,
  ModelDetail,
  ModelLineage,
  ModelQuery,
  ModelVersion,
  RegisterModelRequest,
  SetModelAliasRequest,
} from '../models.ts';

/** The model registry: versions, aliases and lineage. */
export const modelRoutes = {
  /**
   * The registry's models. The server answers it on the OpenAI-compatible `GET /v1/models` (a user token gets
   * this; an endpoint key gets OpenAI's list), so the OpenAPI description of `/v1` leaves it out.
   */
  listModels: contractRoute({
    method: 'GET',
    path: '/v1/models',
    summary: "Models of the caller's teams",
    tag: 'models',
    query: ModelQuery,
    response: itemsOf(Model),
  }),
  registerModel: contractRoute({
    method: 'POST',
    path: '/v1/models',
    summary:
      'Register the next version of a model from job:<id>, path:<dir> or hf://org/name@revision; it is copied and scanned (GET with a user token lists the registry)',
    tag: 'models',
    body: RegisterModelRequest,
    response: ModelVersion,
    status: 201,
  }),
  getModel: contractRoute({
    method: 'GET',
    path: '/v1/models/:name',
    summary: 'One model with its aliases and latest version',
    tag: 'models',
    query: ModelQuery,
    response: ModelDetail,
  }),
  listModelVersions: contractRoute({
    method: 'GET',
    path: '/v1/models/:name/versions',
    summary: 'Every version of a model, oldest first',
    tag: 'models',
    query: ModelQuery,
    response: itemsOf(ModelVersion),
  }),
  getModelVersion: contractRoute({
    method: 'GET',
    path: '/v1/models/:name/versions/:version',
    summary: 'One version (a number or an alias) with its files, scan and lineage',
    tag: 'models',
    query: ModelQuery,
    response: ModelVersion,
  }),
  setModelAlias: contractRoute({
    method: 'PUT',
    path: '/v1/models/:name/aliases/:alias',
    summary: 'Point an alias (champion, production, …) at a version',
    tag: 'models',
    query: ModelQuery,
    body: SetModelAliasRequest,
    response: Model,
  }),
  getModelLineage: contractRoute({
    method: 'GET',
    path: '/v1/lineage/models/:name/:version',
    summary: 'The chain dataset → job → model version → endpoints',
    tag: 'models',
    query: ModelQuery,
    response: ModelLineage,
  }),
};
