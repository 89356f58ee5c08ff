import { createReadStream, statSync } from 'node:fs';
import type { Readable } from 'node:stream';
import {
  type Actor,
  cleanArtifactPath,
  DEFAULT_ARTIFACT_MAX_BYTES,
  listRunArtifacts,
  mlflowError,
  type Platform,
  type RegistryBridge,
  resolveUnder,
  type TrackingService,
  writeRunArtifact,
} from '@aicloud/core';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { actorOf, inputOf, notFound } from './mlflow-http.ts';

/** The artifact proxy's prefix (`mlflow-artifacts:/…` URIs resolve under it). */
export const MLFLOW_ARTIFACTS_PREFIX = '/api/2.0/mlflow-artifacts';

/** A run's artifacts: `<experiment_id>/<run_id>/artifacts[/<path>]`, as runs' artifact URIs say. */
const RUN_PATH = /^[^/]+\/([0-9a-f]{32})\/artifacts(?:\/(.*))?$/;
/** A registered version's own copy: `models/<model_id>/<version>[/<path>]` (get-download-uri). */
const MODEL_PATH = /^models\/(mdl_[A-Za-z0-9_-]+)\/(\d+)(?:\/(.*))?$/;

type Location =
  | { kind: 'run'; runId: string; path: string }
  | { kind: 'model'; modelId: string; version: number; path: string };

function locate(rest: string): Location {
  const run = RUN_PATH.exec(rest);
  if (run) return { kind: 'run', runId: run[1]!, path: run[2] ?? '' };
  const model = MODEL_PATH.exec(rest);
  if (model) return { kind: 'model', modelId: model[1]!, version: Number(model[2]), path: model[3] ?? '' };
  throw mlflowError(
    'INVALID_PARAMETER_VALUE',
    `Invalid artifact path '${rest}': expected <experiment_id>/<run_id>/artifacts/<path>`,
  );
}

/** Where a location's files lie, once the caller may see them; a run token only reaches its own run. */
async function rootOf(
  tracking: TrackingService,
  registry: RegistryBridge,
  actor: Actor,
  location: Location,
): Promise<{ dir: string; team: string; uri: string }> {
  const scope = actor.principal.scope;
  if (location.kind === 'model') {
    if (scope) throw mlflowError('PERMISSION_DENIED', `a run token (${scope}) may only reach its own run`);
    const dir = await registry.versionArtifactDir(actor, location.modelId, location.version);
    return { dir, team: '', uri: `mlflow-artifacts:/models/${location.modelId}/${location.version}` };
  }
  const { run, dir } = await tracking.artifactRoot(actor, location.runId);
  if (scope && (!scope.startsWith('job:') || run.job_id !== scope.slice(4)))
    throw mlflowError('RESOURCE_DOES_NOT_EXIST', `Run with id=${location.runId} not found`);
  return { dir, team: run.team, uri: run.artifact_uri };
}

function restOf(request: FastifyRequest): string {
  return (request.params as { '*': string })['*'];
}

/**
 * MLflow's artifact proxy: `PUT …/artifacts/<experiment_id>/<run_id>/artifacts/<path>` streams one file into
 * the run's artifacts (capped, atomic, never outside the run's root), `GET` downloads it, and
 * `GET …/artifacts?path=` lists a directory (names relative to it, as MLflow's proxy answers).
 */
export function mlflowArtifactRoutes(
  platform: Platform,
  tracking: TrackingService,
  registry: RegistryBridge,
) {
  return async (scope: FastifyInstance) => {
    scope.setNotFoundHandler(notFound);
    // Upload bodies are streamed to disk as they arrive: no parser buffers them (nor the 1 MiB body limit).
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('*', (_request, payload, done) => done(null, payload));

    scope.put('/artifacts/*', async (request, reply) => {
      const actor = actorOf(request);
      const location = locate(restOf(request));
      if (location.kind !== 'run')
        throw mlflowError('PERMISSION_DENIED', 'registered model versions are immutable: upload to a run');
      const { dir, team } = await rootOf(tracking, registry, actor, location);
      const length = request.headers['content-length'];
      const written = await writeRunArtifact({
        root: dir,
        path: location.path,
        body: (request.body as Readable | undefined) ?? request.raw,
        maxBytes: platform.config.mlflowArtifactMaxBytes ?? DEFAULT_ARTIFACT_MAX_BYTES,
        declaredBytes: length === undefined ? undefined : Number(length),
      });
      await platform.audit.record({
        actor: actor.principal.userName,
        action: 'run.artifact_uploaded',
        resource: `run/${location.runId}/artifacts/${written.path}`,
        team,
        outcome: 'success',
        requestId: actor.requestId,
        details: { bytes: written.bytes },
      });
      return reply.type('application/json').send({});
    });

    scope.get('/artifacts/*', async (request, reply) => {
      const location = locate(restOf(request));
      const { dir } = await rootOf(tracking, registry, actorOf(request), location);
      return sendFile(reply, dir, location.path);
    });

    scope.get('/artifacts', async (request) => {
      const path = inputOf(request).path;
      const location = locate(typeof path === 'string' ? path : '');
      const { dir, uri } = await rootOf(tracking, registry, actorOf(request), location);
      const listing = listRunArtifacts({ artifact_dir: dir, artifact_uri: uri }, location.path);
      return {
        files: listing.files.map((file) => ({ ...file, path: file.path.split('/').at(-1)! })),
      };
    });
  };
}

/** Streams one file of an artifact root (links only where they stay under it). */
export function sendFile(reply: FastifyReply, dir: string, path: string) {
  const relative = cleanArtifactPath(path);
  const file = relative === '' ? null : resolveUnder(dir, relative);
  if (!file || !statSync(file).isFile()) {
    throw mlflowError('RESOURCE_DOES_NOT_EXIST', `No artifact file '${relative}'`);
  }
  return reply.type('application/octet-stream').send(createReadStream(file));
}
