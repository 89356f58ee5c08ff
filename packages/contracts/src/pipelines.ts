import { z } from 'zod';
import { contractRoute, itemsOf } from './contract-route.ts';
import { ExperimentName } from './jobs.ts';

const StepName = z.string().regex(/^[a-z][a-z0-9_]{0,39}$/, 'lower-case letters, digits, underscore; 1-40');

/** One step of a pipeline: an ordinary aicloud job once its dependencies succeeded. */
export const PipelineStepSpec = z.strictObject({
  name: StepName,
  product: z.string().min(1),
  command: z.string().min(1).max(10_000),
  gpus: z.number().int().min(0).max(1024).default(0),
  datasets: z.array(z.string()).max(32).default([]),
  dependsOn: z.array(StepName).max(32).default([]),
  retries: z.number().int().min(0).max(10).default(0),
  cache: z.boolean().default(false),
  params: z.record(z.string(), z.union([z.string(), z.number(), z.boolean(), z.null()])).default({}),
});
export type PipelineStepSpec = z.infer<typeof PipelineStepSpec>;

/** A pipeline as submitted: a DAG of steps (`dependsOn` names other steps). */
export const CreatePipelineRequest = z.strictObject({
  name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/, 'letters, digits, dot, dash, underscore; 1-63'),
  team: z.string().optional(),
  /** The MLflow experiment every step's run lands in (default: the pipeline's name). */
  experiment: ExperimentName.optional(),
  steps: z.array(PipelineStepSpec).min(1).max(64),
});
export type CreatePipelineRequest = z.input<typeof CreatePipelineRequest>;

export const PipelineStepStatus = z.enum([
  'pending',
  'running',
  'retrying',
  'succeeded',
  'cached',
  'failed',
  'cancelled',
]);
export const PipelineStatus = z.enum(['running', 'succeeded', 'failed', 'cancelled']);

/** A step's state: its attempts' jobs, cache key, output hash and why it is where it is. */
export const PipelineStep = z.object({
  name: z.string(),
  status: PipelineStepStatus,
  attempt: z.number(),
  jobId: z.string().nullable(),
  jobIds: z.array(z.string()),
  cacheKey: z.string().nullable(),
  outputHash: z.string().nullable(),
  reason: z.string().nullable(),
  nextAttemptAt: z.string().nullable(),
  spec: PipelineStepSpec,
});
export type PipelineStep = z.infer<typeof PipelineStep>;

export const Pipeline = z.object({
  id: z.string(),
  name: z.string(),
  team: z.string(),
  owner: z.string(),
  status: PipelineStatus,
  reason: z.string().nullable(),
  /** The MLflow experiment its steps' runs land in. */
  experiment: z.string(),
  createdAt: z.string(),
  endedAt: z.string().nullable(),
  steps: z.array(PipelineStep),
});
export type Pipeline = z.infer<typeof Pipeline>;

export const PipelineQuery = z.strictObject({ team: z.string().optional() });
export type PipelineQuery = z.infer<typeof PipelineQuery>;

/** Pipelines: create, list, get, cancel, retry. */
export const pipelineRoutes = {
  createPipeline: contractRoute({
    method: 'POST',
    path: '/v1/pipelines',
    summary: 'Submit a pipeline: a DAG of steps, each run as an ordinary job under the same guardrails',
    tag: 'pipelines',
    body: CreatePipelineRequest,
    response: Pipeline,
    status: 201,
  }),
  listPipelines: contractRoute({
    method: 'GET',
    path: '/v1/pipelines',
    summary: "Pipelines of the caller's teams, newest first, with their steps' states",
    tag: 'pipelines',
    query: PipelineQuery,
    response: itemsOf(Pipeline),
  }),
  getPipeline: contractRoute({
    method: 'GET',
    path: '/v1/pipelines/:id',
    summary: 'One pipeline and its steps (attempts, jobs, cache hits, output hashes, reasons)',
    tag: 'pipelines',
    response: Pipeline,
  }),
  cancelPipeline: contractRoute({
    method: 'POST',
    path: '/v1/pipelines/:id/cancel',
    summary: 'Cancel a running pipeline and its running step jobs',
    tag: 'pipelines',
    response: Pipeline,
  }),
  retryPipeline: contractRoute({
    method: 'POST',
    path: '/v1/pipelines/:id/retry',
    summary: 'Run a failed or cancelled pipeline again from its unfinished steps (finished ones are kept)',
    tag: 'pipelines',
    response: Pipeline,
  }),
};
