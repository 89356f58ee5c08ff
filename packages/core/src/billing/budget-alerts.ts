import type { AuditService } from '../audit/audit-service.ts';
import { type Clock, isoNow } from '../clock.ts';
import { fromMicros } from '../money.ts';
import type { Store } from '../store/open-store.ts';
import { type BudgetSnapshot, budgetSnapshots } from './bill-queries.ts';
import { iso } from './bill-window.ts';
import { billingSettings } from './billing-settings.ts';
import { createWebhookQueue, type WebhookQueue } from './budget-webhook.ts';
import { webhookUrlRefusal } from './webhook-guard.ts';

/** The percentages of the budget that fire an alert. */
export const ALERT_PERCENTS = [50, 80, 100] as const;
/** The clock time between two checks from the controller tick. */
export const ALERT_CHECK_INTERVAL_MS = 10_000;

/** What the alert check needs. */
export interface BudgetAlertDeps {
  store: Store;
  audit: AuditService;
  clock: Clock;
  /** Stops a running job (the runner's cancel path), for `stop_spot_at_budget`. */
  stopJob?: (jobId: string) => Promise<void>;
  /** The webhook queue (default: one per store, 3 tries with backoff, to `webhookAllowedHosts` only). */
  webhooks?: WebhookQueue;
  /** Where budget webhooks may go (`WebhookPolicy`): the platform's `webhookAllowedHosts`; none when empty. */
  webhookAllowedHosts?: readonly string[];
  env?: NodeJS.ProcessEnv;
}

/** An alert fired by this check. */
export interface FiredAlert {
  team: string;
  threshold: '50' | '80' | '100' | 'soft';
  periodStart: string;
  periodEnd: string;
  spentMicros: number;
  maxMicros: number;
}

const queues = new WeakMap<Store, WebhookQueue>();
const lastCheck = new WeakMap<Store, number>();

/** The webhook queue of a store's platform (one per store, so deliveries of one platform run in order). */
export function webhookQueueOf(store: Store, allowedHosts: readonly string[] = []): WebhookQueue {
  let queue = queues.get(store);
  if (!queue) {
    queue = createWebhookQueue({ allowedHosts });
    queues.set(store, queue);
  }
  return queue;
}

/** Thresholds a budget's spend has crossed: 50, 80, 100 % (exact integer comparison) and the soft budget. */
export function crossedThresholds(budget: Pick<BudgetSnapshot, 'maxMicros' | 'softMicros' | 'spentMicros'>) {
  const crossed: FiredAlert['threshold'][] = [];
  if (budget.maxMicros > 0) {
    for (const percent of ALERT_PERCENTS)
      if (budget.spentMicros * 100 >= budget.maxMicros * percent)
        crossed.push(String(percent) as FiredAlert['threshold']);
  }
  if (budget.softMicros !== null && budget.softMicros > 0 && budget.spentMicros >= budget.softMicros)
    crossed.push('soft');
  return crossed;
}

/**
 * Fires each budget alert once per team, budget period and threshold: a `budget_alerts` row and an
 * audit record in one transaction, then (if configured) a webhook POST queued without waiting for it.
 * At 100 %, with `stop_spot_at_budget` set, the team's running spot jobs are stopped.
 */
export async function checkBudgetAlerts(deps: BudgetAlertDeps): Promise<FiredAlert[]> {
  const { store, audit, clock } = deps;
  const now = clock.now();
  const budgets = await budgetSnapshots(store.db, null, now);
  if (budgets.size === 0) return [];
  const existing = await store.db
    .selectFrom('budget_alerts')
    .select(['team', 'period_start', 'threshold'])
    .where('period_start', 'in', [...new Set([...budgets.values()].map((budget) => iso(budget.periodStart)))])
    .execute();
  const done = new Set(existing.map((row) => `${row.team}\u0000${row.period_start}\u0000${row.threshold}`));
  const due: FiredAlert[] = [];
  for (const budget of budgets.values()) {
    for (const threshold of crossedThresholds(budget)) {
      const periodStart = iso(budget.periodStart);
      if (done.has(`${budget.team}\u0000${periodStart}\u0000${threshold}`)) continue;
      due.push({
        team: budget.team,
        threshold,
        periodStart,
        periodEnd: iso(budget.periodEnd),
        spentMicros: budget.spentMicros,
        maxMicros: budget.maxMicros,
      });
    }
  }
  if (due.length === 0) return [];
  const settings = await billingSettings(store.db, deps.env);
  const allowedHosts = deps.webhookAllowedHosts ?? [];
  // A refused URL is never sent to; each alert records why (the queue checks again at send time).
  const webhookRefusal = settings.budgetWebhook
    ? webhookUrlRefusal(settings.budgetWebhook, { allowedHosts })
    : null;
  const fired: FiredAlert[] = [];
  for (const alert of due) {
    const inserted = await store.db.transaction().execute(async (trx) => {
      const result = await trx
        .insertInto('budget_alerts')
        .values({
          team: alert.team,
          period_start: alert.periodStart,
          threshold: alert.threshold,
          fired_at: isoNow(clock),
          spent_micros: alert.spentMicros,
          max_budget_micros: alert.maxMicros,
          delivery: settings.budgetWebhook ? (webhookRefusal ? 'refused' : 'queued') : 'none',
        })
        .onConflict((conflict) => conflict.columns(['team', 'period_start', 'threshold']).doNothing())
        .executeTakeFirst();
      // Another process fired it first: once is enough.
      if (Number(result.numInsertedOrUpdatedRows ?? 0) === 0) return false;
      await audit.append(trx, {
        actor: 'system',
        action: 'budget.alert',
        resource: `budget/${alert.team}`,
        team: alert.team,
        outcome: 'success',
        details: {
          threshold: alert.threshold,
          spent: fromMicros(alert.spentMicros),
          maxBudget: fromMicros(alert.maxMicros),
          periodStart: alert.periodStart,
          periodEnd: alert.periodEnd,
          webhook: settings.budgetWebhook !== null,
          ...(webhookRefusal ? { webhookRefused: webhookRefusal } : {}),
        },
      });
      return true;
    });
    if (!inserted) continue;
    fired.push(alert);
    if (settings.budgetWebhook && !webhookRefusal) {
      const queue = deps.webhooks ?? webhookQueueOf(store, allowedHosts);
      queue.enqueue(settings.budgetWebhook, webhookPayload(alert, now), async (outcome) => {
        await store.db
          .updateTable('budget_alerts')
          .set({ delivery: outcome })
          .where('team', '=', alert.team)
          .where('period_start', '=', alert.periodStart)
          .where('threshold', '=', alert.threshold)
          .execute()
          .catch(() => {
            // The platform closed meanwhile; the audit record stands.
          });
      });
    }
    if (alert.threshold === '100' && settings.stopSpotAtBudget && deps.stopJob)
      await stopSpotJobs(deps, alert);
  }
  return fired;
}

async function stopSpotJobs(deps: BudgetAlertDeps, alert: FiredAlert): Promise<void> {
  const jobs = await deps.store.db
    .selectFrom('jobs')
    .select('id')
    .where('team', '=', alert.team)
    .where('status', '=', 'running')
    .where('spot', '=', 1)
    .execute();
  if (jobs.length === 0) return;
  await deps.audit.record({
    actor: 'system',
    action: 'budget.stop_spot',
    resource: `budget/${alert.team}`,
    team: alert.team,
    outcome: 'success',
    details: { jobs: jobs.map((job) => job.id), spent: fromMicros(alert.spentMicros) },
  });
  for (const job of jobs) {
    await deps.stopJob!(job.id).catch(() => {
      // Already ending: nothing to stop.
    });
  }
}

/** The JSON a budget webhook receives. */
export function webhookPayload(alert: FiredAlert, now: number) {
  return {
    type: 'budget.alert',
    team: alert.team,
    threshold: alert.threshold,
    percent: alert.maxMicros > 0 ? Math.round((alert.spentMicros * 10_000) / alert.maxMicros) / 100 : null,
    spent: fromMicros(alert.spentMicros),
    maxBudget: fromMicros(alert.maxMicros),
    periodStart: alert.periodStart,
    periodEnd: alert.periodEnd,
    firedAt: iso(now),
  };
}

/** The controller tick's alert check: at most every `ALERT_CHECK_INTERVAL_MS` of clock time per store. */
export async function budgetAlertTick(deps: BudgetAlertDeps): Promise<FiredAlert[]> {
  const now = deps.clock.now();
  const last = lastCheck.get(deps.store);
  if (last !== undefined && now >= last && now - last < ALERT_CHECK_INTERVAL_MS) return [];
  lastCheck.set(deps.store, now);
  return checkBudgetAlerts(deps);
}
