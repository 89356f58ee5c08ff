import {
  type Actor,
  createRegistryBridge,
  createTrackingService,
  type MlflowInput,
  mlflowError,
  type Platform,
  type TrackingService,
} from '@aicloud/core';
import type { FastifyInstance, HTTPMethods } from 'fastify';
import { MLFLOW_ARTIFACTS_PREFIX, mlflowArtifactRoutes, sendFile } from './mlflow-artifact-routes.ts';
import { actorOf, inputOf, notFound, sendMlflowError } from './mlflow-http.ts';
import { REGISTRY_ENDPOINTS } from './mlflow-registry-routes.ts';

/** The prefixes MLflow's clients call: the REST API and the one its web UI uses. */
export const MLFLOW_PREFIXES = ['/api/2.0/mlflow', '/ajax-api/2.0/mlflow'];

type Call = (tracking: TrackingService, actor: Actor, input: MlflowInput) => Promise<unknown>;

const READ: HTTPMethods[] = ['GET', 'POST'];
const WRITE: HTTPMethods[] = ['POST'];

/** What a job's run token (`MLFLOW_TRACKING_TOKEN` in the job) may call: its own run's endpoints only. */
export const RUN_TOKEN_ENDPOINTS = new Set([
  '/runs/get',
  '/runs/update',
  '/runs/log-metric',
  '/runs/log-parameter',
  '/runs/set-tag',
  '/runs/log-batch',
  '/metrics/get-history',
  '/artifacts/list',
]);

/**
 * A run token may act on its own job's run and nothing else: the run named in the request must be the one
 * the platform made for the job. Another run, even of the same team, is refused like an unknown run.
 */
async function checkRunScope(platform: Platform, actor: Actor, path: string, input: MlflowInput) {
  const scope = actor.principal.scope;
  if (!scope) return;
  const jobId = scope.startsWith('job:') ? scope.slice(4) : null;
  const runId = typeof input.run_id === 'string' ? input.run_id : input.run_uuid;
  if (!jobId || !RUN_TOKEN_ENDPOINTS.has(path))
    throw mlflowError(
      'PERMISSION_DENIED',
      `a run token (${scope}) may only log to and read its own job's run`,
    );
  const run =
    typeof runId === 'string'
      ? await platform.store.db
          .selectFrom('tracking_runs')
          .select('job_id')
          .where('id', '=', runId)
          .executeTakeFirst()
      : undefined;
  if (run?.job_id !== jobId)
    throw mlflowError('RESOURCE_DOES_NOT_EXIST', `Run with id=${String(runId)} not found`);
}

/** MLflow's tracking endpoints: path under the prefix, methods, and the service call. */
const ENDPOINTS: [string, HTTPMethods[], Call][] = [
  ['/experiments/create', WRITE, (t, a, i) => t.createExperiment(a, i)],
  ['/experiments/get', READ, (t, a, i) => t.getExperiment(a, i)],
  ['/experiments/get-by-name', READ, (t, a, i) => t.getExperimentByName(a, i)],
  ['/experiments/search', READ, (t, a, i) => t.searchExperiments(a, i)],
  // MLflow 1.x's list (removed in 2.0), which older clients such as the `mlflow` npm package still call.
  ['/experiments/list', READ, (t, a, i) => t.searchExperiments(a, i)],
  ['/experiments/update', WRITE, (t, a, i) => t.updateExperiment(a, i)],
  ['/experiments/delete', WRITE, (t, a, i) => t.deleteExperiment(a, i)],
  ['/experiments/restore', WRITE, (t, a, i) => t.restoreExperiment(a, i)],
  ['/experiments/set-experiment-tag', WRITE, (t, a, i) => t.setExperimentTag(a, i)],
  ['/runs/create', WRITE, (t, a, i) => t.createRun(a, i)],
  ['/runs/get', READ, (t, a, i) => t.getRun(a, i)],
  ['/runs/update', WRITE, (t, a, i) => t.updateRun(a, i)],
  ['/runs/delete', WRITE, (t, a, i) => t.deleteRun(a, i)],
  ['/runs/restore', WRITE, (t, a, i) => t.restoreRun(a, i)],
  ['/runs/search', READ, (t, a, i) => t.searchRuns(a, i)],
  ['/runs/log-metric', WRITE, (t, a, i) => t.logMetric(a, i)],
  ['/runs/log-parameter', WRITE, (t, a, i) => t.logParam(a, i)],
  ['/runs/set-tag', WRITE, (t, a, i) => t.setTag(a, i)],
  ['/runs/delete-tag', WRITE, (t, a, i) => t.deleteTag(a, i)],
  ['/runs/log-batch', WRITE, (t, a, i) => t.logBatch(a, i)],
  // JSON text written by the database (see the onSend hook below).
  ['/metrics/get-history', READ, (t, a, i) => t.getMetricHistoryJson(a, i)],
  ['/artifacts/list', READ, (t, a, i) => t.listArtifacts(a, i)],
];

/** The MLflow-compatible tracking API (aicloud tokens as bearers, MLflow's shapes and errors). */
export function mlflowRoutes(platform: Platform) {
  const tracking = createTrackingService({
    store: platform.store,
    audit: platform.audit,
    clock: platform.clock,
    dataDir: platform.config.dataDir,
  });
  const registry = createRegistryBridge({
    store: platform.store,
    audit: platform.audit,
    clock: platform.clock,
    models: platform.models,
  });
  return async (app: FastifyInstance) => {
    app.setErrorHandler(sendMlflowError);
    for (const prefix of MLFLOW_PREFIXES) {
      await app.register(
        async (scope) => {
          scope.setNotFoundHandler(notFound);
          // get-history answers JSON text it did not stringify; say what it is.
          scope.addHook('onSend', async (request, reply, payload) => {
            if (request.routeOptions.url?.endsWith('/metrics/get-history') && typeof payload === 'string')
              reply.type('application/json; charset=utf-8');
            return payload;
          });
          for (const [path, methods, call] of ENDPOINTS) {
            scope.route({
              method: methods,
              url: path,
              handler: async (request) => {
                const actor = actorOf(request);
                const input = inputOf(request);
                await checkRunScope(platform, actor, path, input);
                return call(tracking, actor, input);
              },
            });
          }
          scope.get('/get-artifact', async (request, reply) => {
            const input = inputOf(request);
            const runId = typeof input.run_id === 'string' ? input.run_id : input.run_uuid;
            if (typeof runId !== 'string' || typeof input.path !== 'string') {
              throw mlflowError('INVALID_PARAMETER_VALUE', "get-artifact needs 'run_uuid' and 'path'");
            }
            const { dir } = await tracking.artifactRoot(actorOf(request), runId);
            return sendFile(reply, dir, input.path);
          });
          for (const [path, methods, call] of REGISTRY_ENDPOINTS) {
            scope.route({
              method: methods,
              url: path,
              handler: async (request) => {
                const actor = actorOf(request);
                const input = inputOf(request);
                await checkRunScope(platform, actor, path, input);
                return call(registry, actor, input);
              },
            });
          }
        },
        { prefix },
      );
    }
    // The artifact proxy: uploads, downloads and listings of runs' artifacts (and registered versions' copies).
    await app.register(mlflowArtifactRoutes(platform, tracking, registry), {
      prefix: MLFLOW_ARTIFACTS_PREFIX,
    });
  };
}
