import { contractRoute, itemsOf } from '../contract-route.ts';
import { Job, JobDecision, JobQuery, SubmitJobRequest, SubmitJobResponse } from '../jobs.ts';

/** Job submission through admission, listing, cancelling. */
export const jobRoutes = {
  submitJob: contractRoute({
    method: 'POST',
    path: '/v1/jobs',
    summary:
      'Submit a job: 201 admitted or queued, 202 held for approval, 200 for a dry run; refusals are 403/402 with reasons',
    tag: 'jobs',
    body: SubmitJobRequest,
    response: SubmitJobResponse,
  }),
  listJobs: contractRoute({
    method: 'GET',
    path: '/v1/jobs',
    summary: "Jobs of the caller's teams, newest first",
    tag: 'jobs',
    query: JobQuery,
    response: itemsOf(Job),
  }),
  getJob: contractRoute({
    method: 'GET',
    path: '/v1/jobs/:id',
    summary: 'One job with its status, reasons and queue position',
    tag: 'jobs',
    response: Job,
  }),
  getJobDecision: contractRoute({
    method: 'GET',
    path: '/v1/jobs/:id/decision',
    summary: 'The policy decision recorded for a job: digest, determining policies, warnings, dry runs',
    tag: 'jobs',
    response: JobDecision,
  }),
  cancelJob: contractRoute({
    method: 'POST',
    path: '/v1/jobs/:id/cancel',
    summary: 'Cancel a job (policy: your own jobs; a manager, the team’s)',
    tag: 'jobs',
    response: Job,
  }),
};
