import type { NotebookStatus } from '@aicloud/contracts';
import type { Executor, ExecutorEvent, WorkloadStatus } from '@aicloud/executors';
import type { Kysely } from 'kysely';
import type { AuditService } from '../audit/audit-service.ts';
import type { Clock } from '../clock.ts';
import { formatDuration } from '../duration.ts';
import type { SecretBox } from '../secrets/secret-box.ts';
import type { Database } from '../store/schema.ts';
import type { JupyterTarget } from './jupyter-client.ts';
import { meterNotebook } from './notebook-metering.ts';
import { netnsNames, removeNamespace } from './notebook-netns.ts';
import type { NotebookRow } from './notebook-record.ts';
import { ACTIVE_NOTEBOOK_STATES, transitionNotebook } from './notebook-state.ts';

/** What the lifecycle needs. */
export interface NotebookLifecycleDeps {
  db: Kysely<Database>;
  audit: AuditService;
  clock: Clock;
  executor: Executor;
  /** Opens the sealed Jupyter tokens. */
  box: SecretBox;
}

/** Why the platform asks a notebook to stop. */
export type NotebookStopReason = 'user' | 'idle' | 'idle_gpu' | 'max_lifetime' | 'shutdown';

/** Who asks for a stop, as the audit record names them. */
export interface NotebookStopRequest {
  actor: string;
  requestId: string | null;
  action: string;
  details?: Record<string, unknown>;
  /** What the notebook's status says about the stop (`stop_message`); by default one line per reason. */
  message?: string;
}

/** A Jupyter's end as the executor reports it. */
export type NotebookEnd = Pick<WorkloadStatus, 'state' | 'reason' | 'exitCode' | 'endedAt'>;

/** How many times an end is recorded again when the status moved between reading and writing it. */
const END_ATTEMPTS = 3;

/**
 * The running side of notebooks: Jupyter tokens and addresses, asking a notebook to stop, recording its
 * end (metered, audited, namespace removed) one at a time, and waiting for it.
 */
export interface NotebookLifecycle {
  /** Notebooks whose start this instance is driving (the controller and recovery leave them alone). */
  readonly launching: Set<string>;
  load(id: string): Promise<NotebookRow | undefined>;
  /** Jupyter's token of a notebook, opened once and kept in memory until the notebook ends. */
  tokenOf(row: NotebookRow): string;
  /** Keeps a token this instance just made, so it is not opened again. */
  rememberToken(id: string, token: string): void;
  /** Where this notebook's Jupyter answers, with its token. */
  targetOf(row: NotebookRow): JupyterTarget;
  /** Records a notebook's end after every end queued before it: stopped (asked) or failed. */
  recordEnd(id: string, end: NotebookEnd, failure?: { reason: string; message: string }): Promise<void>;
  /** Records a failed start or a lost notebook now. */
  markFailed(id: string, reason: string, message: string): Promise<void>;
  /**
   * Marks a notebook `stopping` (audited) and asks the executor to stop it; records the end at once when
   * nothing of it runs. After a restart, call it only once recovery reattached the notebooks.
   */
  requestStop(id: string, reason: NotebookStopReason, by: NotebookStopRequest): Promise<boolean>;
  /** Resolves when the notebook ended, or after `timeoutMs`. */
  waitForEnd(id: string, timeoutMs: number): Promise<void>;
  /** Calls `listener` with each notebook whose end was recorded (to drop what is cached about it). */
  onEnded(listener: (id: string) => void): void;
  /** Resolves when every end queued up to now was recorded. */
  drained(): Promise<void>;
  /** Takes one executor event of a notebook (from the workload supervisor): an `ended` is recorded in turn. */
  onExecutorEvent(event: ExecutorEvent): void;
  /** Stops taking executor events. */
  close(): void;
}

function stopMessage(row: NotebookRow, reason: NotebookStopReason, actor: string): string {
  if (reason === 'user') return `stopped by ${actor}; files are kept`;
  if (reason === 'idle') {
    return `stopped after ${formatDuration(row.idle_timeout_s)} without activity; files are kept`;
  }
  if (reason === 'idle_gpu') return 'stopped because its GPUs stayed idle; files are kept';
  if (reason === 'max_lifetime') {
    return `stopped at its max lifetime of ${formatDuration(row.max_lifetime_s)}; files are kept`;
  }
  return 'stopped by the platform; files are kept';
}

/** Creates the lifecycle; the workload supervisor hands it the executor's events of notebooks. */
export function createNotebookLifecycle(deps: NotebookLifecycleDeps): NotebookLifecycle {
  const { db, audit, clock, executor, box } = deps;
  const launching = new Set<string>();
  const tokens = new Map<string, string>();
  const endWaiters = new Map<string, Set<() => void>>();
  const endedListeners: Array<(id: string) => void> = [];

  let queue: Promise<void> = Promise.resolve();
  const enqueue = (work: () => Promise<void>) => {
    queue = queue.then(work).catch((error: unknown) => {
      process.stderr.write(`notebooks: ${(error as Error).stack ?? String(error)}\n`);
    });
    return queue;
  };
  let closed = false;

  const load = (id: string) => db.selectFrom('notebooks').selectAll().where('id', '=', id).executeTakeFirst();

  function tokenOf(row: NotebookRow): string {
    let token = tokens.get(row.id);
    if (!token) {
      token = box.open(row.token_sealed, `notebook:${row.id}`);
      tokens.set(row.id, token);
    }
    return token;
  }

  function settle(id: string) {
    tokens.delete(id);
    for (const listener of endedListeners) listener(id);
    const waiters = endWaiters.get(id);
    endWaiters.delete(id);
    for (const resolve of waiters ?? []) resolve();
  }

  /** One attempt at recording an end; `raced` when the status moved between reading and writing it. */
  async function finishOnce(
    id: string,
    status: NotebookEnd,
    failure: { reason: string; message: string } | undefined,
  ): Promise<NotebookRow | 'raced' | null> {
    return db.transaction().execute(async (trx) => {
      const row = await trx
        .selectFrom('notebooks')
        .selectAll()
        .where('id', '=', id)
        .where('status', 'in', [...ACTIVE_NOTEBOOK_STATES])
        .executeTakeFirst();
      if (!row) return null;
      const endedAt = status.endedAt ?? clock.now();
      let next: 'stopped' | 'failed' = 'stopped';
      let reason = row.stop_reason;
      let message = row.stop_message;
      if (failure) {
        next = 'failed';
        reason = failure.reason;
        message = failure.message;
      } else if (row.stop_reason === 'start_failed') {
        next = 'failed';
      } else if (row.status !== 'stopping') {
        if (status.state === 'timed_out') {
          reason = 'max_lifetime';
          message = `stopped by the executor at the max lifetime of ${formatDuration(row.max_lifetime_s)}`;
        } else {
          next = 'failed';
          reason = status.state === 'lost' ? 'lost' : 'exited';
          message = `Jupyter ended by itself (${status.reason ?? `exit code ${status.exitCode}`}); files are kept`;
        }
      }
      const moved = await transitionNotebook(trx, id, row.status as NotebookStatus, next, {
        stop_reason: reason,
        stop_message: message,
        stopped_at: new Date(endedAt).toISOString(),
        warned_at: null,
        warning: null,
      });
      if (!moved) return 'raced';
      const cost = row.external_id ? await meterNotebook(trx, clock, row, endedAt) : row.cost_micros;
      await audit.append(trx, {
        actor: 'system',
        action: next === 'stopped' ? 'notebook.stopped' : 'notebook.failed',
        resource: `notebook/${id}`,
        team: row.team,
        outcome: next === 'stopped' ? 'success' : 'failure',
        details: { reason, message, cost: cost / 1_000_000 },
      });
      return row;
    });
  }

  /** Records the end of a notebook's Jupyter: metered, stopped (asked) or failed (not asked), namespace removed. */
  async function finish(
    id: string,
    status: NotebookEnd,
    failure?: { reason: string; message: string },
  ): Promise<void> {
    let ended: NotebookRow | 'raced' | null = 'raced';
    for (let attempt = 0; attempt < END_ATTEMPTS && ended === 'raced'; attempt += 1) {
      ended = await finishOnce(id, status, failure);
    }
    if (ended === 'raced')
      throw new Error(`notebook ${id}: its status kept changing while its end was recorded`);
    if (ended?.netns) await removeNamespace(netnsNames(id)).catch(() => undefined);
    settle(id);
  }

  const lifecycle: NotebookLifecycle = {
    launching,
    load,
    tokenOf,
    rememberToken(id, token) {
      tokens.set(id, token);
    },
    targetOf(row) {
      return {
        host: row.host ?? '127.0.0.1',
        port: row.port ?? 0,
        token: tokenOf(row),
        basePath: `/notebooks/${row.id}/`,
      };
    },
    recordEnd(id, end, failure) {
      return enqueue(() => finish(id, end, failure));
    },
    markFailed(id, reason, message) {
      return enqueue(() =>
        finish(id, { state: 'failed', reason, exitCode: null, endedAt: clock.now() }, { reason, message }),
      );
    },
    async requestStop(id, reason, by) {
      const row = await db.transaction().execute(async (trx) => {
        const current = await trx
          .selectFrom('notebooks')
          .selectAll()
          .where('id', '=', id)
          .where('status', 'in', ['starting', 'running'])
          .executeTakeFirst();
        if (!current) return null;
        const moved = await transitionNotebook(trx, id, current.status as NotebookStatus, 'stopping', {
          stop_reason: reason,
          stop_message: by.message ?? stopMessage(current, reason, by.actor),
        });
        if (!moved) return null;
        await audit.append(trx, {
          actor: by.actor,
          action: by.action,
          resource: `notebook/${id}`,
          team: current.team,
          outcome: 'success',
          requestId: by.requestId,
          details: { reason, ...by.details },
        });
        return current;
      });
      if (!row) return false;
      const status = executor.status(id);
      if (status && status.state === 'running') {
        await executor.cancel(id, `notebook_${reason}`);
      } else {
        // Nothing of it runs under this executor (never started, or gone): the stop is immediate.
        await enqueue(() =>
          finish(id, {
            state: status?.state ?? 'cancelled',
            reason: status?.reason ?? null,
            exitCode: status?.exitCode ?? null,
            endedAt: status?.endedAt ?? clock.now(),
          }),
        );
      }
      return true;
    },
    async waitForEnd(id, timeoutMs) {
      const row = await load(id);
      if (!row || !ACTIVE_NOTEBOOK_STATES.includes(row.status as never)) return;
      await new Promise<void>((resolve) => {
        let set = endWaiters.get(id);
        if (!set) {
          set = new Set();
          endWaiters.set(id, set);
        }
        const done = () => {
          clearTimeout(timer);
          set.delete(done);
          resolve();
        };
        const timer = setTimeout(done, timeoutMs);
        set.add(done);
      });
    },
    onEnded(listener) {
      endedListeners.push(listener);
    },
    drained: () => enqueue(async () => {}),
    onExecutorEvent(event) {
      if (closed || event.type !== 'ended') return;
      void enqueue(() => finish(event.id, event.status));
    },
    close() {
      closed = true;
    },
  };
  return lifecycle;
}
