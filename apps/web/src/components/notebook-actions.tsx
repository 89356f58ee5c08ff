import { ApiError, type Client } from '@aicloud/client';
import type { Notebook } from '@aicloud/contracts';
import { useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { errorMessage } from './api-errors.ts';

/** What an action answered, for the page to show. */
export interface ActionMessage {
  error: boolean;
  text: string;
}

function failure(error: unknown): string {
  return error instanceof ApiError && error.code !== 'unauthenticated'
    ? `${error.code}: ${error.message}`
    : errorMessage(error);
}

const live = (notebook: Notebook) => notebook.status === 'starting' || notebook.status === 'running';

/** Open (in a new tab), Snooze and Stop for one notebook. */
export function NotebookActions({
  client,
  notebook,
  onMessage,
}: {
  client: Client;
  notebook: Notebook;
  onMessage: (message: ActionMessage | null) => void;
}) {
  const queryClient = useQueryClient();
  const [busy, setBusy] = useState<string | null>(null);
  const act = async (what: string, action: () => Promise<unknown>, done?: string) => {
    setBusy(what);
    onMessage(null);
    try {
      await action();
      if (done) onMessage({ error: false, text: done });
    } catch (error) {
      onMessage({ error: true, text: failure(error) });
    } finally {
      setBusy(null);
      await queryClient.invalidateQueries({ queryKey: ['notebooks'] });
    }
  };
  return (
    <div className="row-actions">
      <button
        type="button"
        className="primary"
        disabled={notebook.status !== 'running' || busy !== null}
        onClick={() => {
          // Open the tab now, while the click still counts as the user's; point it at the login URL once known.
          const tab = window.open('', '_blank');
          void act('open', async () => {
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
          void act('snooze', () => client.notebooks.snooze(notebook.id), `Snoozed ${notebook.name}.`)
        }
      >
        Snooze
      </button>
      <button
        type="button"
        className="danger"
        disabled={!live(notebook) || busy !== null}
        onClick={() =>
          void act('stop', () => client.notebooks.stop(notebook.id), `Stopping ${notebook.name}.`)
        }
      >
        Stop
      </button>
    </div>
  );
}
