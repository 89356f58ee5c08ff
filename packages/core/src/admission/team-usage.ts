import { sql, type Transaction } from 'kysely';
import type { Store } from '../store/open-store.ts';
import type { Database } from '../store/schema.ts';
import { currentPeriod } from './budget-period.ts';

/** Job states that hold a budget reservation. */
export const RESERVING_STATES = ['queued', 'admitted', 'running'] as const;
/** Job states that hold quota and GPUs. */
export const GPU_HOLDING_STATES = ['admitted', 'running'] as const;

/** A team's budget in the current period, in micro-dollars; null when the team has no budget. */
export interface BudgetState {
  maxMicros: number;
  softMicros: number | null;
  duration: string;
  periodStart: string;
  periodEnd: string;
  spentMicros: number;
  committedMicros: number;
  remainingMicros: number;
}

/**
 * Reads a team's budget inside the caller's transaction, locking the budget row on PostgreSQL so that
 * concurrent admissions for the same team serialize (SQLite serializes every writer already).
 */
export async function readBudget(
  store: Store,
  trx: Transaction<Database>,
  team: string,
  now: number,
): Promise<BudgetState | null> {
  let query = trx.selectFrom('budgets').selectAll().where('team', '=', team);
  if (store.dialect === 'postgres') query = query.forUpdate();
  const budget = await query.executeTakeFirst();
  if (!budget) return null;
  const period = currentPeriod(budget.budget_duration, budget.period_anchor, now);
  const spent = await trx
    .selectFrom('usage_ledger')
    .select((eb) => eb.fn.coalesce(eb.fn.sum<number>('cost_micros'), sql<number>`0`).as('total'))
    .where('team', '=', team)
    .where('window_start', '>=', period.start)
    .where('window_start', '<', period.end)
    .executeTakeFirstOrThrow();
  const committed = await trx
    .selectFrom('jobs')
    .select(
      sql<number>`coalesce(sum(case when reserved_micros > cost_micros then reserved_micros - cost_micros else 0 end), 0)`.as(
        'total',
      ),
    )
    .where('team', '=', team)
    .where('status', 'in', [...RESERVING_STATES])
    .executeTakeFirstOrThrow();
  const spentMicros = Number(spent.total);
  const committedMicros = Number(committed.total);
  return {
    maxMicros: budget.max_budget_micros,
    softMicros: budget.soft_budget_micros,
    duration: budget.budget_duration,
    periodStart: period.start,
    periodEnd: period.end,
    spentMicros,
    committedMicros,
    remainingMicros: budget.max_budget_micros - spentMicros - committedMicros,
  };
}

/** GPUs of one type a team holds now (admitted and running jobs). */
export async function gpusInUse(
  trx: Transaction<Database>,
  filter: { team?: string; gpuType: string },
): Promise<number> {
  let query = trx
    .selectFrom('jobs')
    .select((eb) => eb.fn.coalesce(eb.fn.sum<number>('gpus'), sql<number>`0`).as('total'))
    .where('gpu_type', '=', filter.gpuType)
    .where('status', 'in', [...GPU_HOLDING_STATES]);
  if (filter.team) query = query.where('team', '=', filter.team);
  return Number((await query.executeTakeFirstOrThrow()).total);
}
