import type { JobStatus } from '@aicloud/contracts';
import type { Kysely, Updateable } from 'kysely';
import type { Database } from '../store/schema.ts';
import { sourcesOf, type TransitionTable } from './state-table.ts';

/**
 * The job state machine: for each status, the statuses a job may move to. Terminal statuses move nowhere.
 * Every write of `jobs.status` goes through moveJob/moveJobs below, which guard the write with this table in
 * the UPDATE itself (`WHERE status IN (…)`), so two writers racing for one job cannot both win.
 */
export const jobTransitions: TransitionTable<JobStatus> = {
  // Waiting for a manager: approved (re-admitted by id: queued, admitted, or rejected by the re-check),
  // denied or expired (rejected), or cancelled by its owner.
  pending_approval: ['queued', 'admitted', 'rejected', 'cancelled'],
  // Waiting for quota or capacity.
  queued: ['admitted', 'cancelled'],
  // Admitted: the runner claims it when GPUs are free.
  admitted: ['running', 'cancelled'],
  // Running: it ends, or goes back to `admitted` (spot preemption, or a start the server died in before
  // anything ran) to start again from its checkpoint dir.
  running: ['succeeded', 'failed', 'timed_out', 'cancelled', 'lost', 'admitted'],
  succeeded: [],
  failed: [],
  timed_out: [],
  cancelled: [],
  rejected: [],
  lost: [],
};

/** The statuses a job is created in (by submit). */
export const initialJobStatuses = [
  'pending_approval',
  'queued',
  'admitted',
  'rejected',
] as const satisfies readonly JobStatus[];

/** A status a job may be created in: the only `status` an insert into `jobs` may write. */
export type InitialJobStatus = (typeof initialJobStatuses)[number];

/** Whether the table allows `from` → `to`. */
export function canMoveJob(from: JobStatus, to: JobStatus): boolean {
  return jobTransitions[from].includes(to);
}

/** Whether a job in this status will never change again. */
export function isTerminalJobStatus(status: JobStatus): boolean {
  return jobTransitions[status].length === 0;
}

/** The other columns written with a status change. */
export type JobChanges = Omit<Updateable<Database['jobs']>, 'status' | 'id'>;

/**
 * Moves one job to `to` (and writes `changes` with it) when its current status allows it, and — if `from` is
 * given — is one of those. Returns whether it moved: false means another writer got there first (the job was
 * cancelled, ended or claimed meanwhile), which callers treat as "nothing to do".
 */
export async function moveJob(
  db: Kysely<Database>,
  id: string,
  to: JobStatus,
  changes: JobChanges = {},
  from?: JobStatus | readonly JobStatus[],
): Promise<boolean> {
  const result = await db
    .updateTable('jobs')
    .set({ ...changes, status: to })
    .where('id', '=', id)
    .where('status', 'in', sourcesOf('job', jobTransitions, to, from))
    .executeTakeFirst();
  return Number(result.numUpdatedRows) > 0;
}

/**
 * Moves many jobs to `to` in one statement; returns the ids and teams of those that moved. `checked: false`
 * leaves the status condition out where the caller holds the only writer and has just read the rows in `from`
 * in the same transaction (SQLite's admission pass: the condition would make it walk the status index).
 */
export async function moveJobs(
  db: Kysely<Database>,
  ids: readonly string[],
  to: JobStatus,
  changes: JobChanges,
  options: { from?: JobStatus | readonly JobStatus[]; checked?: boolean } = {},
): Promise<{ id: string; team: string }[]> {
  if (ids.length === 0) return [];
  const sources = sourcesOf('job', jobTransitions, to, options.from);
  let update = db
    .updateTable('jobs')
    .set({ ...changes, status: to })
    .where('id', 'in', ids);
  if (options.checked !== false) update = update.where('status', 'in', sources);
  return update.returning(['id', 'team']).execute();
}
