import { routes } from '@aicloud/contracts';
import { implement, type RouteDeps } from '../route.ts';

/** Cost-capped notebooks: create, list, get, stop, snooze, and one-time login URLs for the browser. */
export function notebookRoutes({ notebooks }: RouteDeps) {
  return [
    implement(routes.createNotebook, ({ actor, body }) => notebooks.create(actor, body)),
    implement(routes.listNotebooks, async ({ actor, query }) => ({
      items: await notebooks.list(actor, query),
    })),
    implement(routes.getNotebook, ({ actor, params }) => notebooks.get(actor, params.id)),
    implement(routes.stopNotebook, ({ actor, params }) => notebooks.stop(actor, params.id)),
    implement(routes.snoozeNotebook, ({ actor, params }) => notebooks.snooze(actor, params.id)),
    implement(routes.createNotebookLoginUrl, ({ actor, params }) => notebooks.loginUrl(actor, params.id)),
  ];
}
