import { Job, JobDecision, JobQuery, SubmitJobRequest, SubmitJobResponse } from '@aicloud/contracts';
import { z } from 'zod';
import { defineRoute, type RouteDeps } from '../route.ts';

/** Job submission through admission, listing, cancelling. */
export function jobRoutes({ jobs }: RouteDeps) {
  return [
    defineRoute({
      method: 'POST',
      url: '/v1/jobs',
      summary:
        'Submit a job: 201 admitted or queued, 202 held for approval, 200 for a dry run; refusals are 403/402 with reasons',
      tag: 'jobs',
      body: SubmitJobRequest,
      response: SubmitJobResponse,
      handler: async ({ actor, body, reply }) => {
        const result = await jobs.submit(actor, body);
        if (result.job) reply.status(result.admission.outcome === 'pending_approval' ? 202 : 201);
        return result;
      },
    }),
    defineRoute({
      method: 'GET',
      url: '/v1/jobs',
      summary: "Jobs of the caller's teams, newest first",
      tag: 'jobs',
      query: JobQuery,
      response: z.object({ items: z.array(Job) }),
      handler: async ({ actor, query }) => ({ items: await jobs.list(actor, query) }),
    }),
    defineRoute({
      method: 'GET',
      url: '/v1/jobs/:id',
      summary: 'One job with its status, reasons and queue position',
      tag: 'jobs',
      response: Job,
      handler: ({ actor, params }) => jobs.get(actor, params.id!),
    }),
    defineRoute({
      method: 'GET',
      url: '/v1/jobs/:id/decision',
      summary: 'The policy decision recorded for a job: digest, determining policies, warnings, dry runs',
      tag: 'jobs',
      response: JobDecision,
      handler: ({ actor, params }) => jobs.decision(actor, params.id!),
    }),
    defineRoute({
      method: 'POST',
      url: '/v1/jobs/:id/cancel',
      summary: 'Cancel a job (policy: your own jobs; a manager, the team’s)',
      tag: 'jobs',
      response: Job,
      handler: ({ actor, params }) => jobs.cancel(actor, params.id!),
    }),
  ];
}
