import { z } from 'zod';
import { contractRoute } from './contract-route.ts';

/** What a lineage graph can start from. */
export const LineageRootKind = z.enum(['dataset', 'model', 'endpoint']);
export type LineageRootKind = z.infer<typeof LineageRootKind>;

/** The kinds of node in the lineage graph. */
export const LineageNodeKind = z.enum([
  'dataset',
  'pipeline_run',
  'step_job',
  'job',
  'tracking_run',
  'model_version',
  'endpoint',
]);
export type LineageNodeKind = z.infer<typeof LineageNodeKind>;

/**
 * One node. `id` is `<kind>:<ref>`. A dataset carries its content hash (sha256 over sorted relative paths and
 * bytes; null when not readable here), a model version its metrics and MLflow-style `sourceRunId`, an endpoint
 * the time it served the version (`from` → `to`, null while it still does).
 */
export const LineageNode = z.object({
  id: z.string(),
  kind: LineageNodeKind,
  label: z.string(),
  team: z.string().nullable(),
  status: z.string().nullable(),
  contentHash: z.string().nullable().optional(),
  sourceRunId: z.string().nullable().optional(),
  metrics: z.record(z.string(), z.number()).optional(),
  from: z.string().nullable().optional(),
  to: z.string().nullable().optional(),
  details: z.record(z.string(), z.union([z.string(), z.number(), z.boolean(), z.null()])),
});
export type LineageNode = z.infer<typeof LineageNode>;

/**
 * An edge, pointing downstream (`from` was there first): `consumed` (a dataset or an upstream step's output
 * read by a job), `step_of` (a pipeline run's step job), `tracked_as` (a job's MLflow run), `registered_from`
 * (the job whose output became a model version), `produced` (the pipeline run that produced a version),
 * `deployed_as` (a version served by an endpoint).
 */
export const LineageEdge = z.object({
  from: z.string(),
  to: z.string(),
  kind: z.enum(['consumed', 'step_of', 'tracked_as', 'registered_from', 'produced', 'deployed_as']),
  /** The content hash the consumer read (a dataset's at the step's start, an upstream step's output). */
  contentHash: z.string().nullable().optional(),
});
export type LineageEdge = z.infer<typeof LineageEdge>;

/** Which way to walk from the root: its ancestors, its descendants, or both. */
export const LineageDirection = z.enum(['up', 'down', 'both']);
export type LineageDirection = z.infer<typeof LineageDirection>;

export const LineageQuery = z.strictObject({
  direction: LineageDirection.default('both'),
  team: z.string().optional(),
});
export type LineageQuery = z.input<typeof LineageQuery>;

/** The graph around a root, limited to what the caller's teams may see. */
export const LineageGraph = z.object({
  root: z.string(),
  direction: LineageDirection,
  nodes: z.array(LineageNode),
  edges: z.array(LineageEdge),
  /** True when the walk stopped at its node limit. */
  truncated: z.boolean(),
});
export type LineageGraph = z.infer<typeof LineageGraph>;

/** Lineage as one graph: dataset versions → pipeline runs → step jobs → model versions → endpoints. */
export const lineageRoutes = {
  getLineage: contractRoute({
    method: 'GET',
    path: '/v1/lineage/:kind/:ref',
    summary:
      'The lineage graph from a dataset (its path), a model version (NAME@VERSION) or an endpoint (its name): up, down or both',
    tag: 'lineage',
    query: LineageQuery,
    response: LineageGraph,
  }),
};
