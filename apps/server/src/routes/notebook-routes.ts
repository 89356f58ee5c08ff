import { CreateNotebookRequest, Notebook, NotebookLoginUrl, NotebookQuery } from '@aicloud/contracts';
import { z } from 'zod';
import { defineRoute, type RouteDeps } from '../route.ts';

/** Cost-capped notebooks: create, list, get, stop, snooze, and one-time login URLs for the browser. */
export function notebookRoutes({ notebooks }: RouteDeps) {
  return [
    defineRoute({
      method: 'POST',
      url: '/v1/notebooks',
      summary:
        'Start a Jupyter notebook from a notebook product (idle stop, max lifetime, egress as the product says); 503 where egress cannot be blocked here',
      tag: 'notebooks',
      body: CreateNotebookRequest,
      response: Notebook,
      status: 201,
      handler: ({ actor, body }) => notebooks.create(actor, body),
    }),
    defineRoute({
      method: 'GET',
      url: '/v1/notebooks',
      summary: "Notebooks of the caller's teams, newest first, with idle deadline, warning and cost",
      tag: 'notebooks',
      query: NotebookQuery,
      response: z.object({ items: z.array(Notebook) }),
      handler: async ({ actor, query }) => ({ items: await notebooks.list(actor, query) }),
    }),
    defineRoute({
      method: 'GET',
      url: '/v1/notebooks/:id',
      summary: 'One notebook: status, idle deadline, warning if any, cost',
      tag: 'notebooks',
      response: Notebook,
      handler: ({ actor, params }) => notebooks.get(actor, params.id!),
    }),
    defineRoute({
      method: 'POST',
      url: '/v1/notebooks/:id/stop',
      summary: 'Stop a notebook (your own; as a manager, your team’s); its files are kept',
      tag: 'notebooks',
      response: Notebook,
      handler: ({ actor, params }) => notebooks.stop(actor, params.id!),
    }),
    defineRoute({
      method: 'POST',
      url: '/v1/notebooks/:id/snooze',
      summary: 'Push the idle stop one idle timeout further (policy-checked, never past the max lifetime)',
      tag: 'notebooks',
      response: Notebook,
      handler: ({ actor, params }) => notebooks.snooze(actor, params.id!),
    }),
    defineRoute({
      method: 'POST',
      url: '/v1/notebooks/:id/login-url',
      summary: 'A one-time login URL (valid 60 s) that signs a browser in to the notebook; team members only',
      tag: 'notebooks',
      response: NotebookLoginUrl,
      handler: ({ actor, params }) => notebooks.loginUrl(actor, params.id!),
    }),
  ];
}
