import { ApiError, type Client } from '@aicloud/client';
import type { Notebook } from '@aicloud/contracts';
import { useQuery, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { errorMessage } from '../components/api-errors.ts';
import { gpuText, time, usd } from '../components/format.ts';
import { StatusBadge } from '../components/outcome-badge.tsx';
import { QueryState } from './query-state.tsx';

function failure(error: unknown): string {
  return error instanceof ApiError ? `${error.code}: ${error.message}` : errorMessage(error);
}

const live = (notebook: Notebook) => notebook.status === 'starting' || notebook.status === 'running';

/** Your notebooks: start one, open it in a new tab, snooze its idle stop, stop it. */
export function NotebooksPage({ client }: { client: Client }) {
  const queryClient = useQueryClient();
  const [creating, setCreating] = useState(false);
  const [gpus, setGpus] = useState(0);
  const [name, setName] = useState('');
  const [busy, setBusy] = useState<string | null>(null);
  const [message, setMessage] = useState<{ error: boolean; text: string } | null>(null);
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
            <table data-testid="notebooks-table">
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
                  <tr key={notebook.id} data-testid={`notebook-row-${notebook.name}`}>
                    <td>
                      {notebook.name} <code className="muted">{notebook.id}</code>
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
                    <td className="row-actions">
                      <button
                        type="button"
                        className="primary"
                        disabled={notebook.status !== 'running' || busy !== null}
                        onClick={() => {
                          // Open the tab now, while the click still counts as the user's; point it at the login URL once known.
                          const tab = window.open('', '_blank');
                          void act(`open-${notebook.id}`, async () => {
                            try {
                              const login = await client.notebooks.loginUrl(notebook.id);
                              if (tab) {
                                tab.opener = null;
                                tab.location.href = login.url;
                              } else window.open(login.url, '_blank', 'noopener');
                            } catch (error) {
                              tab?.close();
                              throw error;
                            }
                          });
                        }}
                      >
                        Open
                      </button>
                      <button
                        type="button"
                        disabled={!live(notebook) || busy !== null}
                        onClick={() =>
                          void act(
                            `snooze-${notebook.id}`,
                            () => client.notebooks.snooze(notebook.id),
                            `Snoozed ${notebook.name}.`,
                          )
                        }
                      >
                        Snooze
                      </button>
                      <button
                        type="button"
                        className="danger"
                        disabled={!live(notebook) || busy !== null}
                        onClick={() =>
                          void act(
                            `stop-${notebook.id}`,
                            () => client.notebooks.stop(notebook.id),
                            `Stopping ${notebook.name}.`,
                          )
                        }
                      >
                        Stop
                      </button>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          )
        }
      </QueryState>
    </section>
  );
}
