import { ApiError, type Client } from '@aicloud/client';
import { useQuery, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { errorMessage } from '../components/api-errors.ts';
import { gpuText, time, usd } from '../components/format.ts';
import { Link, rowLink } from '../components/link.tsx';
import { type ActionMessage, NotebookActions } from '../components/notebook-actions.tsx';
import { StatusBadge } from '../components/outcome-badge.tsx';
import { ResponsiveTable } from '../components/responsive-table.tsx';
import { paths } from '../use-route.ts';
import { QueryState } from './query-state.tsx';

function failure(error: unknown): string {
  return error instanceof ApiError && error.code !== 'unauthenticated'
    ? `${error.code}: ${error.message}`
    : errorMessage(error);
}

/** Your notebooks: start one, open it in a new tab, snooze its idle stop, stop it; a row opens its page. */
export function NotebooksPage({ client }: { client: Client }) {
  const queryClient = useQueryClient();
  const [creating, setCreating] = useState(false);
  const [gpus, setGpus] = useState(0);
  const [name, setName] = useState('');
  const [busy, setBusy] = useState<string | null>(null);
  const [message, setMessage] = useState<ActionMessage | null>(null);
  const notebooks = useQuery({
    queryKey: ['notebooks', 'list'],
    queryFn: () => client.notebooks.list(),
    refetchInterval: 5000,
  });
  const refresh = () => queryClient.invalidateQueries({ queryKey: ['notebooks'] });
  const act = async (what: string, action: () => Promise<unknown>, done?: string) => {
    setBusy(what);
    setMessage(null);
    try {
      await action();
      if (done) setMessage({ error: false, text: done });
    } catch (error) {
      setMessage({ error: true, text: failure(error) });
    } finally {
      setBusy(null);
      await refresh();
    }
  };
  return (
    <section>
      <h1>Notebooks</h1>
      <div className="filters">
        <button type="button" className="primary" onClick={() => setCreating((open) => !open)}>
          New notebook
        </button>
        <span className="muted small">refreshes every 5 s</span>
      </div>
      {creating && (
        <form
          className="panel inline-form"
          data-testid="new-notebook"
          onSubmit={(event) => {
            event.preventDefault();
            void act(
              'create',
              () => client.notebooks.create({ product: 'notebook-gpu', gpus, ...(name ? { name } : {}) }),
              'Notebook starting; open it once it runs.',
            ).then(() => setCreating(false));
          }}
        >
          <div className="field">
            <label htmlFor="notebook-name">Name</label>
            <input
              id="notebook-name"
              placeholder="optional"
              value={name}
              onChange={(event) => setName(event.target.value)}
            />
          </div>
          <div className="field">
            <label htmlFor="notebook-gpus">GPUs</label>
            <input
              id="notebook-gpus"
              type="number"
              min={0}
              max={8}
              value={gpus}
              onChange={(event) => setGpus(Number(event.target.value))}
            />
          </div>
          <span className="muted small">
            product <code>notebook-gpu</code>
          </span>
          <button type="submit" className="primary" disabled={busy === 'create'}>
            {busy === 'create' ? 'Starting…' : 'Start notebook'}
          </button>
        </form>
      )}
      {message && (
        <p role={message.error ? 'alert' : 'status'} className={message.error ? 'error' : 'muted'}>
          {message.text}
        </p>
      )}
      <QueryState query={notebooks}>
        {(data) =>
          data.items.length === 0 ? (
            <p className="muted" data-testid="notebooks-empty">
              No notebooks yet: start one with New notebook.
            </p>
          ) : (
            <ResponsiveTable>
              <table data-testid="notebooks-table" className="clickable">
                <thead>
                  <tr>
                    <th>Notebook</th>
                    <th>Team</th>
                    <th>Status</th>
                    <th>GPUs</th>
                    <th>Idle deadline</th>
                    <th>Warning</th>
                    <th>Cost</th>
                    <th />
                  </tr>
                </thead>
                <tbody>
                  {data.items.map((notebook) => (
                    <tr
                      key={notebook.id}
                      data-testid={`notebook-row-${notebook.name}`}
                      {...rowLink(paths.notebook(notebook.id))}
                    >
                      <td>
                        <Link href={paths.notebook(notebook.id)} className="id-link">
                          {notebook.name}
                        </Link>{' '}
                        <code className="muted">{notebook.id}</code>
                      </td>
                      <td>{notebook.team}</td>
                      <td>
                        <StatusBadge status={notebook.status} />
                        {notebook.stopReason && <span className="muted small"> ({notebook.stopReason})</span>}
                      </td>
                      <td>{gpuText(notebook.gpus, notebook.gpuType)}</td>
                      <td>
                        {time(notebook.idleDeadline)}
                        {notebook.snoozedUntil && (
                          <span className="muted small"> snoozed to {time(notebook.snoozedUntil)}</span>
                        )}
                      </td>
                      <td className="wrap">
                        {notebook.warning ? <span className="warning">{notebook.warning.message}</span> : '—'}
                      </td>
                      <td>
                        {usd(notebook.cost)}{' '}
                        <span className="muted small">
                          ({usd(notebook.pricePerHour)}/h, at most {usd(notebook.estimatedCost)})
                        </span>
                      </td>
                      <td>
                        <NotebookActions client={client} notebook={notebook} onMessage={setMessage} />
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </ResponsiveTable>
          )
        }
      </QueryState>
    </section>
  );
}
