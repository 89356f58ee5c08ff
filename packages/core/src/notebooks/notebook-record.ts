import type { Notebook, NotebookStatus } from '@aicloud/contracts';
import type { Selectable } from 'kysely';
import { formatDuration } from '../duration.ts';
import { fromMicros } from '../money.ts';
import type { Database } from '../store/schema.ts';

/** One row of the notebooks table. */
export type NotebookRow = Selectable<Database['notebooks']>;

export { ACTIVE_NOTEBOOK_STATES } from './notebook-state.ts';

/** How long before a stop the warning comes: 10 min, scaled down for short timeouts (a sixth of the timeout). */
export function warningLeadMs(timeoutSeconds: number): number {
  return Math.min(600, timeoutSeconds / 6) * 1000;
}

/** When a notebook stops, which stop comes first and when to warn about it. */
export interface NotebookDeadlines {
  /** Idle stop (last activity + idle timeout, or the snooze), never later than the max lifetime. */
  idleDeadline: number;
  maxDeadline: number;
  /** The first stop and its kind. */
  stopAt: number;
  kind: 'idle' | 'max_lifetime';
  warnAt: number;
}

const parse = (text: string | null): number | null => (text ? Date.parse(text) : null);

/** The deadlines of a notebook given its latest known activity (ms since the epoch). */
export function deadlinesOf(row: NotebookRow, lastActivity: number | null = null): NotebookDeadlines {
  const started = parse(row.started_at) ?? Date.parse(row.created_at);
  const maxDeadline = started + row.max_lifetime_s * 1000;
  const activity = Math.max(lastActivity ?? 0, parse(row.last_activity_at) ?? started);
  const idle = Math.max(activity + row.idle_timeout_s * 1000, parse(row.snoozed_until) ?? 0);
  const kind = idle < maxDeadline ? 'idle' : 'max_lifetime';
  const stopAt = Math.min(idle, maxDeadline);
  const warnAt =
    kind === 'idle' ? stopAt - warningLeadMs(row.idle_timeout_s) : stopAt - warningLeadMs(row.max_lifetime_s);
  return { idleDeadline: stopAt, maxDeadline, stopAt, kind, warnAt };
}

const iso = (ms: number) => new Date(ms).toISOString();

/** The words of a stop warning. */
export function warningMessage(row: NotebookRow, kind: 'idle' | 'max_lifetime', stopsAt: number): string {
  if (kind === 'idle') {
    return `notebook ${row.id} has been idle and stops at ${iso(stopsAt)} (idle timeout ${formatDuration(row.idle_timeout_s)}); use it, or run: aicloud notebooks snooze ${row.id}`;
  }
  return `notebook ${row.id} reaches its max lifetime of ${formatDuration(row.max_lifetime_s)} and stops at ${iso(stopsAt)}; save your work (files are kept)`;
}

/** A notebook row as the API returns it (never its token). */
export function toNotebook(row: NotebookRow): Notebook {
  const status = row.status as NotebookStatus;
  const live = status === 'starting' || status === 'running';
  const deadlines = deadlinesOf(row);
  const units = Math.max(row.gpus, 1);
  const warningKind = row.warning === 'max_lifetime' ? 'max_lifetime' : 'idle';
  return {
    id: row.id,
    name: row.name,
    team: row.team,
    owner: row.owner,
    product: row.product,
    gpus: row.gpus,
    gpuType: row.gpu_type,
    gpuIndexes: JSON.parse(row.gpu_indexes) as number[],
    status,
    egress: row.egress === 'blocked' ? 'blocked' : 'allowed',
    path: `/notebooks/${row.id}/`,
    createdAt: row.created_at,
    startedAt: row.started_at,
    lastActivityAt: row.last_activity_at,
    idleTimeoutSeconds: row.idle_timeout_s,
    maxLifetimeSeconds: row.max_lifetime_s,
    idleDeadline: live ? iso(deadlines.idleDeadline) : null,
    maxLifetimeAt: row.started_at ? iso(deadlines.maxDeadline) : null,
    snoozedUntil: row.snoozed_until,
    warning:
      live && row.warned_at
        ? {
            kind: warningKind,
            at: row.warned_at,
            stopsAt: iso(warningKind === 'idle' ? deadlines.idleDeadline : deadlines.maxDeadline),
            message: warningMessage(
              row,
              warningKind,
              warningKind === 'idle' ? deadlines.idleDeadline : deadlines.maxDeadline,
            ),
          }
        : null,
    stoppedAt: row.stopped_at,
    stopReason: row.stop_reason,
    stopMessage: row.stop_message,
    pricePerHour: fromMicros(row.rate_micros * units),
    estimatedCost: fromMicros(row.estimate_micros),
    cost: fromMicros(row.cost_micros),
  };
}
