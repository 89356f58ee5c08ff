import { contractRoute, itemsOf } from '../contract-route.ts';
import { CreateNotebookRequest, Notebook, NotebookLoginUrl, NotebookQuery } from '../notebooks.ts';

/** Cost-capped notebooks: create, list, get, stop, snooze, and one-time login URLs for the browser. */
export const notebookRoutes = {
  createNotebook: contractRoute({
    method: 'POST',
    path: '/v1/notebooks',
    summary:
      'Start a Jupyter notebook from a notebook product (idle stop, max lifetime, egress as the product says); 503 where egress cannot be blocked here',
    tag: 'notebooks',
    body: CreateNotebookRequest,
    response: Notebook,
    status: 201,
  }),
  listNotebooks: contractRoute({
    method: 'GET',
    path: '/v1/notebooks',
    summary: "Notebooks of the caller's teams, newest first, with idle deadline, warning and cost",
    tag: 'notebooks',
    query: NotebookQuery,
    response: itemsOf(Notebook),
  }),
  getNotebook: contractRoute({
    method: 'GET',
    path: '/v1/notebooks/:id',
    summary: 'One notebook: status, idle deadline, warning if any, cost',
    tag: 'notebooks',
    response: Notebook,
  }),
  stopNotebook: contractRoute({
    method: 'POST',
    path: '/v1/notebooks/:id/stop',
    summary: 'Stop a notebook (your own; as a manager, your team’s); its files are kept',
    tag: 'notebooks',
    response: Notebook,
  }),
  snoozeNotebook: contractRoute({
    method: 'POST',
    path: '/v1/notebooks/:id/snooze',
    summary: 'Push the idle stop one idle timeout further (policy-checked, never past the max lifetime)',
    tag: 'notebooks',
    response: Notebook,
  }),
  createNotebookLoginUrl: contractRoute({
    method: 'POST',
    path: '/v1/notebooks/:id/login-url',
    summary: 'A one-time login URL (valid 60 s) that signs a browser in to the notebook; team members only',
    tag: 'notebooks',
    response: NotebookLoginUrl,
  }),
};
