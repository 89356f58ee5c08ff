import { routes } from '@aicloud/contracts';
import { implement, type RouteDeps } from '../route.ts';

/** Pipelines: create, list, get, cancel, retry (each step is an ordinary job). */
export function pipelineRoutes({ pipelines }: RouteDeps) {
  return [
    implement(routes.createPipeline, ({ actor, body }) => pipelines.create(actor, body)),
    implement(routes.listPipelines, async ({ actor, query }) => ({
      items: await pipelines.list(actor, query.team),
    })),
    implement(routes.getPipeline, ({ actor, params }) => pipelines.get(actor, params.id)),
    implement(routes.cancelPipeline, ({ actor, params }) => pipelines.cancel(actor, params.id)),
    implement(routes.retryPipeline, ({ actor, params }) => pipelines.retry(actor, params.id)),
  ];
}
