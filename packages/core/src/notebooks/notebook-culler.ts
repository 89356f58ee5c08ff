import type { Kysely } from 'kysely';
import type { AuditService } from '../audit/audit-service.ts';
import { type Clock, isoNow } from '../clock.ts';
import type { Database } from '../store/schema.ts';
import { pollActivity } from './jupyter-client.ts';
import type { NotebookLifecycle } from './notebook-lifecycle.ts';
import { deadlinesOf, type NotebookRow, warningMessage } from './notebook-record.ts';

/** What the culler needs. */
export interface NotebookCullerDeps {
  db: Kysely<Database>;
  audit: AuditService;
  clock: Clock;
  lifecycle: NotebookLifecycle;
}

/** Idle stop and max lifetime: tracks activity, warns before a stop, stops idle or expired notebooks. */
export interface NotebookCuller {
  /** Records activity seen by the proxy (HTTP requests, websocket frames). */
  touch(id: string): void;
  /** The latest activity the proxy saw, or null. */
  proxyActivityOf(id: string): number | null;
  /** One pass over running notebooks: poll Jupyter, record activity, warn, clear warnings, stop. */
  cull(rows: NotebookRow[], now: number): Promise<void>;
}

/** Creates the culler; what it remembers of a notebook is dropped when the notebook ends. */
export function createNotebookCuller(deps: NotebookCullerDeps): NotebookCuller {
  const { db, audit, clock, lifecycle } = deps;
  /** Latest activity the proxy saw, per notebook. */
  const proxyActivity = new Map<string, number>();
  /** When Jupyter was last polled, per notebook. */
  const lastPolled = new Map<string, number>();
  lifecycle.onEnded((id) => {
    proxyActivity.delete(id);
    lastPolled.delete(id);
  });

  async function pollAndAct(row: NotebookRow, now: number): Promise<void> {
    let activity = Math.max(
      proxyActivity.get(row.id) ?? 0,
      Date.parse(row.last_activity_at ?? row.created_at),
    );
    // Poll Jupyter at least every 30 s (a tenth of the idle timeout for short ones), and before any stop.
    const pollEvery = Math.min(30_000, Math.max(1000, (row.idle_timeout_s * 1000) / 10));
    const poll = async () => {
      lastPolled.set(row.id, clock.now());
      try {
        const seen = await pollActivity(lifecycle.targetOf(row));
        if (seen.busy) activity = Math.max(activity, clock.now());
        if (seen.lastActivity !== null)
          activity = Math.max(activity, Math.min(seen.lastActivity, clock.now()));
      } catch {
        // An unresponsive Jupyter shows no activity; its process ending is reported by the executor.
      }
    };
    if (now - (lastPolled.get(row.id) ?? 0) >= pollEvery) await poll();
    let deadlines = deadlinesOf(row, activity);
    if (now >= deadlines.stopAt && now - (lastPolled.get(row.id) ?? 0) > 500) {
      await poll();
      deadlines = deadlinesOf(row, activity);
    }
    const activityIso = new Date(activity).toISOString();
    if (row.last_activity_at === null || activity > Date.parse(row.last_activity_at)) {
      await db
        .updateTable('notebooks')
        .set({ last_activity_at: activityIso })
        .where('id', '=', row.id)
        .where('status', '=', 'running')
        .execute();
    }
    if (now >= deadlines.stopAt) {
      await lifecycle.requestStop(row.id, deadlines.kind, {
        actor: 'system',
        requestId: null,
        action: deadlines.kind === 'idle' ? 'notebook.idle_stop' : 'notebook.lifetime_stop',
        details: {
          lastActivityAt: activityIso,
          idleTimeoutSeconds: row.idle_timeout_s,
          maxLifetimeSeconds: row.max_lifetime_s,
        },
      });
      return;
    }
    const inWindow = now >= deadlines.warnAt;
    const warnedFor = row.warned_at ? row.warning : null;
    if (inWindow && warnedFor !== deadlines.kind) {
      const stopsAt = new Date(deadlines.stopAt).toISOString();
      await db.transaction().execute(async (trx) => {
        const updated = await trx
          .updateTable('notebooks')
          .set({ warned_at: isoNow(clock), warning: deadlines.kind })
          .where('id', '=', row.id)
          .where('status', '=', 'running')
          .executeTakeFirst();
        if (Number(updated.numUpdatedRows) === 0) return;
        await audit.append(trx, {
          actor: 'system',
          action: deadlines.kind === 'idle' ? 'notebook.idle_warning' : 'notebook.lifetime_warning',
          resource: `notebook/${row.id}`,
          team: row.team,
          outcome: 'warn',
          details: {
            stopsAt,
            lastActivityAt: activityIso,
            message: warningMessage(row, deadlines.kind, deadlines.stopAt),
          },
        });
      });
    } else if (!inWindow && warnedFor) {
      // Activity (or a snooze) moved the stop out of the warning window.
      await db.transaction().execute(async (trx) => {
        const updated = await trx
          .updateTable('notebooks')
          .set({ warned_at: null, warning: null })
          .where('id', '=', row.id)
          .where('status', '=', 'running')
          .executeTakeFirst();
        if (Number(updated.numUpdatedRows) === 0) return;
        await audit.append(trx, {
          actor: 'system',
          action: 'notebook.warning_cleared',
          resource: `notebook/${row.id}`,
          team: row.team,
          outcome: 'success',
          details: { lastActivityAt: activityIso, stopsAt: new Date(deadlines.stopAt).toISOString() },
        });
      });
    }
  }

  return {
    touch(id) {
      proxyActivity.set(id, clock.now());
    },
    proxyActivityOf: (id) => proxyActivity.get(id) ?? null,
    async cull(rows, now) {
      await Promise.all(
        rows
          .filter((row) => row.status === 'running' && !lifecycle.launching.has(row.id))
          .map((row) =>
            pollAndAct(row, now).catch((error: unknown) => {
              process.stderr.write(`notebooks: ${row.id}: ${(error as Error).stack ?? String(error)}\n`);
            }),
          ),
      );
    },
  };
}
