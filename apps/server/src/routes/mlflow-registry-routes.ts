import type { Actor, MlflowInput, RegistryBridge } from '@aicloud/core';
import type { HTTPMethods } from 'fastify';

type Call = (registry: RegistryBridge, actor: Actor, input: MlflowInput) => Promise<unknown>;

/** MLflow's model registry endpoints over aicloud's registry: path under the prefix, methods, call. */
export const REGISTRY_ENDPOINTS: [string, HTTPMethods[], Call][] = [
  ['/registered-models/create', ['POST'], (r, a, i) => r.createRegisteredModel(a, i)],
  ['/registered-models/get', ['GET'], (r, a, i) => r.getRegisteredModel(a, i)],
  ['/registered-models/search', ['GET', 'POST'], (r, a, i) => r.searchRegisteredModels(a, i)],
  ['/registered-models/update', ['PATCH', 'POST'], (r, a, i) => r.updateRegisteredModel(a, i)],
  ['/registered-models/rename', ['POST'], (r, a, i) => r.renameRegisteredModel(a, i)],
  ['/registered-models/delete', ['DELETE'], (r, a, i) => r.deleteRegisteredModel(a, i)],
  ['/registered-models/get-latest-versions', ['GET', 'POST'], (r, a, i) => r.getLatestVersions(a, i)],
  ['/registered-models/alias', ['POST'], (r, a, i) => r.setAlias(a, i)],
  ['/registered-models/alias', ['DELETE'], (r, a, i) => r.deleteAlias(a, i)],
  ['/registered-models/alias', ['GET'], (r, a, i) => r.getByAlias(a, i)],
  ['/model-versions/create', ['POST'], (r, a, i) => r.createModelVersion(a, i)],
  ['/model-versions/get', ['GET'], (r, a, i) => r.getModelVersion(a, i)],
  ['/model-versions/search', ['GET', 'POST'], (r, a, i) => r.searchModelVersions(a, i)],
  ['/model-versions/update', ['PATCH', 'POST'], (r, a, i) => r.updateModelVersion(a, i)],
  ['/model-versions/delete', ['DELETE'], (r, a, i) => r.deleteModelVersion(a, i)],
  ['/model-versions/get-download-uri', ['GET'], (r, a, i) => r.getDownloadUri(a, i)],
];
