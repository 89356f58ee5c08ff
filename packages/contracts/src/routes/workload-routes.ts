import { z } from 'zod';
import { contractRoute, itemsOf } from '../contract-route.ts';
import { JobMetrics, ReportMetricsRequest, SecretInfo } from '../jobs.ts';

/** Logs, metrics and secrets of workloads. */
export const workloadRoutes = {
  getJobLogs: contractRoute({
    method: 'GET',
    path: '/v1/jobs/:id/logs',
    summary: "A job's log (stdout and stderr, secrets masked); follow=true streams until the job ends",
    tag: 'jobs',
    query: z.strictObject({
      follow: z.enum(['true', 'false', '1', '0']).optional(),
      offset: z.coerce.number().int().min(0).optional(),
    }),
    response: z.string(),
  }),
  getJobMetrics: contractRoute({
    method: 'GET',
    path: '/v1/jobs/:id/metrics',
    summary: "A job's metrics, one series per name",
    tag: 'jobs',
    response: JobMetrics,
  }),
  reportJobMetrics: contractRoute({
    method: 'POST',
    path: '/v1/jobs/:id/metrics',
    summary: 'Report metrics for a running job (its run token, or a member of its team)',
    tag: 'jobs',
    body: ReportMetricsRequest,
    response: z.object({ accepted: z.number() }),
    status: 202,
  }),
  preemptJob: contractRoute({
    method: 'POST',
    path: '/v1/jobs/:id/preempt',
    summary:
      'Reclaim a running spot job (platform-admins; simulates a spot interruption): it restarts from its checkpoint dir',
    tag: 'jobs',
    response: z.object({ jobId: z.string(), status: z.string() }),
    status: 202,
  }),
  listSecrets: contractRoute({
    method: 'GET',
    path: '/v1/teams/:team/secrets',
    summary: "A team's secrets (names only; values are never returned)",
    tag: 'secrets',
    response: itemsOf(SecretInfo),
  }),
  setSecret: contractRoute({
    method: 'PUT',
    path: '/v1/teams/:team/secrets/:name',
    summary: 'Set a team secret; it is stored encrypted (AES-256-GCM) and injected into jobs that name it',
    tag: 'secrets',
    body: z.strictObject({ value: z.string().min(1).max(65536) }),
    response: SecretInfo,
  }),
  deleteSecret: contractRoute({
    method: 'DELETE',
    path: '/v1/teams/:team/secrets/:name',
    summary: 'Delete a team secret',
    tag: 'secrets',
    response: z.object({ deleted: z.literal(true) }),
  }),
};
