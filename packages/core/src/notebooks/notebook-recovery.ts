import type { Executor, WorkloadStatus } from '@aicloud/executors';
import type { Kysely } from 'kysely';
import type { AuditService } from '../audit/audit-service.ts';
import type { CatalogService } from '../catalog/catalog-service.ts';
import type { Database } from '../store/schema.ts';
import { pollActivity } from './jupyter-client.ts';
import { type JupyterOptions, jupyterSpec } from './jupyter-launch.ts';
import type { NotebookLifecycle } from './notebook-lifecycle.ts';
import type { NotebookRow } from './notebook-record.ts';
import { ACTIVE_NOTEBOOK_STATES, transitionNotebook } from './notebook-state.ts';

/** What recovery needs. */
export interface NotebookRecoveryDeps extends JupyterOptions {
  executor: Executor;
  db: Kysely<Database>;
  audit: AuditService;
  catalog: CatalogService;
  lifecycle: NotebookLifecycle;
  /** How long a reattached notebook may stay `starting` before it is stopped. */
  startTimeoutMs: number;
}

/** Re-attaching the Jupyter servers a previous server process started, and settling what they became. */
export interface NotebookRecovery {
  /** Reattaches every active notebook once per process (later calls wait for that one pass). */
  ensure(): Promise<void>;
  /** Marks reattached `starting` notebooks running once Jupyter answers, and ends `stopping` ones that ended. */
  reconcile(rows: NotebookRow[], now: number): Promise<void>;
}

/** Creates the recovery of one server process. */
export function createNotebookRecovery(deps: NotebookRecoveryDeps): NotebookRecovery {
  const { db, audit, catalog, executor, lifecycle } = deps;
  let recovery: Promise<void> | null = null;

  async function recover(): Promise<void> {
    const rows = await db
      .selectFrom('notebooks')
      .selectAll()
      .where('status', 'in', [...ACTIVE_NOTEBOOK_STATES])
      .execute();
    for (const row of rows) {
      if (lifecycle.launching.has(row.id)) continue;
      if (!row.external_id) {
        await lifecycle.markFailed(
          row.id,
          'start_interrupted',
          'the server stopped while the notebook was starting',
        );
        continue;
      }
      let status: WorkloadStatus;
      try {
        const product = await catalog.get(row.product).catch(() => ({ graceSeconds: 30 }));
        status = await executor.reattach({
          id: row.id,
          externalId: row.external_id,
          startedAt: Date.parse(row.started_at ?? row.created_at),
          spec: jupyterSpec(deps, row, product, lifecycle.tokenOf(row)),
        });
      } catch (error) {
        await lifecycle.markFailed(row.id, 'lost', `could not reattach: ${(error as Error).message}`);
        continue;
      }
      if (status.state !== 'running') {
        await lifecycle.recordEnd(row.id, status);
      } else if (row.status === 'stopping') {
        await executor.cancel(row.id, `notebook_${row.stop_reason ?? 'user'}`);
      }
    }
  }

  async function markReattachedRunning(row: NotebookRow, now: number): Promise<void> {
    try {
      await pollActivity(lifecycle.targetOf(row), 1000);
      await db.transaction().execute(async (trx) => {
        if (!(await transitionNotebook(trx, row.id, 'starting', 'running'))) return;
        await audit.append(trx, {
          actor: 'system',
          action: 'notebook.started',
          resource: `notebook/${row.id}`,
          team: row.team,
          outcome: 'success',
          details: { reattached: true },
        });
      });
    } catch {
      if (now - Date.parse(row.started_at ?? row.created_at) > deps.startTimeoutMs) {
        await lifecycle.requestStop(row.id, 'shutdown', {
          actor: 'system',
          requestId: null,
          action: 'notebook.start_timeout',
        });
      }
    }
  }

  return {
    ensure() {
      recovery ??= recover().catch((error: unknown) => {
        process.stderr.write(`notebooks: reattach failed: ${(error as Error).stack ?? String(error)}\n`);
      });
      return recovery;
    },

    async reconcile(rows, now) {
      for (const row of rows) {
        if (lifecycle.launching.has(row.id)) continue;
        const status = executor.status(row.id);
        if (row.status === 'starting' && row.external_id && status?.state === 'running') {
          await markReattachedRunning(row, now);
        }
        if (row.status === 'stopping' && status?.state !== 'running') {
          await lifecycle.recordEnd(row.id, {
            state: status?.state ?? 'cancelled',
            reason: status?.reason ?? null,
            exitCode: status?.exitCode ?? null,
            endedAt: status?.endedAt ?? now,
          });
        }
      }
    },
  };
}
