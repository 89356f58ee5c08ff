import { NotebookStatus } from '@aicloud/contracts';
import type { Kysely, Updateable } from 'kysely';
import { AppError } from '../app-error.ts';
import type { Database } from '../store/schema.ts';

/** Every status a notebook can be in. */
export const NOTEBOOK_STATUSES: readonly NotebookStatus[] = NotebookStatus.options;

/** The status a notebook is inserted with. */
export const INITIAL_NOTEBOOK_STATUS = 'starting' satisfies NotebookStatus;

/** States in which a notebook's Jupyter may be running. */
export const ACTIVE_NOTEBOOK_STATES = ['starting', 'running', 'stopping'] as const;

/**
 * Where a notebook may go from each status. A Jupyter that ends by itself (or at the executor's backstop)
 * goes straight to `stopped`/`failed`; `stopping` is the platform asking it to end. Both ends are final.
 */
export const NOTEBOOK_TRANSITIONS: { readonly [from in NotebookStatus]: readonly NotebookStatus[] } = {
  starting: ['running', 'stopping', 'stopped', 'failed'],
  running: ['stopping', 'stopped', 'failed'],
  stopping: ['stopped', 'failed'],
  stopped: [],
  failed: [],
};

/** Whether the table allows a notebook to move from one status to another. */
export function canTransitionNotebook(from: NotebookStatus, to: NotebookStatus): boolean {
  return NOTEBOOK_TRANSITIONS[from].includes(to);
}

/** Columns written together with a status change (stop reason, message, times). */
export type NotebookTransitionFields = Omit<Updateable<Database['notebooks']>, 'id' | 'status'>;

/**
 * The only writer of a notebook's status: moves it from `from` to `to` (with `fields`) if it still is
 * `from`, and says whether it moved. A move the table does not allow is a bug and throws.
 */
export async function transitionNotebook(
  db: Kysely<Database>,
  id: string,
  from: NotebookStatus,
  to: NotebookStatus,
  fields: NotebookTransitionFields = {},
): Promise<boolean> {
  if (!canTransitionNotebook(from, to)) {
    throw new AppError(
      'internal',
      `notebook ${id}: no transition ${from} → ${to} in the notebook state table`,
      {
        details: { from, to },
      },
    );
  }
  const updated = await db
    .updateTable('notebooks')
    .set({ ...fields, status: to })
    .where('id', '=', id)
    .where('status', '=', from)
    .executeTakeFirst();
  return Number(updated.numUpdatedRows) > 0;
}
