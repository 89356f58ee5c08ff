import { createReadStream, statSync } from 'node:fs';
import {
  type Actor,
  AppError,
  cleanArtifactPath,
  createTrackingService,
  MLFLOW_HTTP_STATUS,
  type MlflowErrorCode,
  type MlflowInput,
  mlflowCodeOf,
  mlflowError,
  type Platform,
  resolveUnder,
  type TrackingService,
} from '@aicloud/core';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest, HTTPMethods } from 'fastify';

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

/** Answers an error in MLflow's shape `{"error_code", "message"}` with MLflow's status. */
export function sendMlflowError(error: unknown, request: FastifyRequest, reply: FastifyReply): void {
  let code: MlflowErrorCode;
  let message: string;
  if (error instanceof AppError) {
    code = mlflowCodeOf(error);
    message = error.message;
  } else {
    const fastifyError = error as FastifyError;
    if (fastifyError.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
      code = 'INVALID_PARAMETER_VALUE';
      message = 'Requests must be at most 1048576 bytes: split log-batch calls';
    } else if (
      typeof fastifyError.statusCode === 'number' &&
      fastifyError.statusCode >= 400 &&
      fastifyError.statusCode < 500
    ) {
      code = 'MALFORMED_REQUEST';
      message = `Malformed request: ${fastifyError.message}`;
    } else {
      request.log.error({ err: error }, 'unexpected error');
      code = 'INTERNAL_ERROR';
      message = `internal error; quote request id ${request.id} to your platform team`;
    }
  }
  if (code === 'INTERNAL_ERROR' && error instanceof AppError)
    request.log.error({ err: error }, 'unexpected error');
  reply.status(MLFLOW_HTTP_STATUS[code]).type('application/json').send({ error_code: code, message });
}

function inputOf(request: FastifyRequest): MlflowInput {
  const source = request.method === 'GET' ? request.query : request.body;
  if (source === undefined || source === null) return {};
  if (typeof source !== 'object' || Array.isArray(source)) {
    throw mlflowError('MALFORMED_REQUEST', 'The request body must be a JSON object');
  }
  return source as MlflowInput;
}

function actorOf(request: FastifyRequest): Actor {
  // The app's hook authenticates every route; never run one without a caller.
  if (!request.actor) throw mlflowError('UNAUTHENTICATED', 'missing API token');
  return request.actor;
}

async function sendArtifact(
  tracking: TrackingService,
  request: FastifyRequest,
  reply: FastifyReply,
  runId: string,
  path: string,
) {
  const { dir } = await tracking.artifactRoot(actorOf(request), runId);
  const relative = cleanArtifactPath(path);
  const file = relative === '' ? null : resolveUnder(dir, relative);
  if (!file || !statSync(file).isFile()) {
    throw mlflowError('RESOURCE_DOES_NOT_EXIST', `No artifact file '${relative}' in run ${runId}`);
  }
  return reply.type('application/octet-stream').send(createReadStream(file));
}

function notFound(request: FastifyRequest, reply: FastifyReply) {
  sendMlflowError(
    mlflowError('ENDPOINT_NOT_FOUND', `No API endpoint ${request.method} ${request.url.split('?')[0]}`),
    request,
    reply,
  );
}

/** The MLflow-compatible tracking API (aicloud tokens as bearers, MLflow's shapes and errors). */
export function mlflowRoutes(platform: Platform) {
  const tracking = createTrackingService({
    store: platform.store,
    audit: platform.audit,
    clock: platform.clock,
    dataDir: platform.config.dataDir,
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
            return sendArtifact(tracking, request, reply, runId, input.path);
          });
        },
        { prefix },
      );
    }
    // The artifact proxy's downloads: `<experiment_id>/<run_id>/artifacts/<path>`, as runs' artifact URIs say.
    await app.register(
      async (scope) => {
        scope.setNotFoundHandler(notFound);
        scope.get('/artifacts/*', async (request, reply) => {
          const rest = (request.params as { '*': string })['*'];
          const match = /^[^/]+\/([0-9a-f]{32})\/artifacts\/(.+)$/.exec(rest);
          if (!match) {
            throw mlflowError(
              'INVALID_PARAMETER_VALUE',
              `Invalid artifact path '${rest}': expected <experiment_id>/<run_id>/artifacts/<path>`,
            );
          }
          return sendArtifact(tracking, request, reply, match[1]!, match[2]!);
        });
      },
      { prefix: '/api/2.0/mlflow-artifacts' },
    );
  };
}
