import { routes } from '@aicloud/contracts';
import { implement, type RouteDeps } from '../route.ts';

/** Job submission through admission, listing, cancelling. */
export function jobRoutes({ jobs }: RouteDeps) {
  return [
    implement(routes.submitJob, async ({ actor, body, reply }) => {
      // A caller's W3C trace context: its trace continues through admission into the job.
      const traceparent = reply.request.headers.traceparent;
      const result = await jobs.submit(actor, body, {
        traceparent: typeof traceparent === 'string' ? traceparent : undefined,
      });
      if (result.job) reply.status(result.admission.outcome === 'pending_approval' ? 202 : 201);
      return result;
    }),
    implement(routes.listJobs, async ({ actor, query }) => ({ items: await jobs.list(actor, query) })),
    implement(routes.getJob, ({ actor, params }) => jobs.get(actor, params.id)),
    implement(routes.getJobDecision, ({ actor, params }) => jobs.decision(actor, params.id)),
    implement(routes.cancelJob, ({ actor, params }) => jobs.cancel(actor, params.id)),
  ];
}
