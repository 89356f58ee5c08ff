import { type Kysely, sql, type Transaction } from 'kysely';
import { currentPeriod } from '../admission/budget-period.ts';
import { RESERVING_STATES } from '../admission/team-usage.ts';
import type { Database } from '../store/schema.ts';
import { type BillWindow, dayCeil, dayFloor, iso } from './bill-window.ts';
import type { UsageCategory } from './ledger.ts';

type Db = Kysely<Database> | Transaction<Database>;

/** Which teams a query covers: a list, or null for every team. */
export type TeamScope = readonly string[] | null;

/** The categories in the order the bill lists them. */
export const CATEGORIES: readonly UsageCategory[] = ['training', 'inference', 'notebooks', 'storage'];

/** Integer micro-dollars per category. */
export type CategoryMicros = Record<UsageCategory, number>;

/** Zero in every category. */
export const zeroCategories = (): CategoryMicros => ({ training: 0, inference: 0, notebooks: 0, storage: 0 });

/** Ledger rows summed per category, UTC day, user, workload, resource and unit: everything a bill breaks down by. */
export interface LedgerGroup {
  team: string;
  category: UsageCategory;
  day: string;
  user: string;
  sourceKind: string;
  sourceId: string;
  project: string | null;
  resource: string;
  unit: string;
  quantity: number;
  costMicros: number;
  rows: number;
}

/** `team in (…)` for a list of teams; always true for every team. */
function teamIn(teams: TeamScope) {
  if (teams === null) return sql<boolean>`1 = 1`;
  return teams.length === 1
    ? sql<boolean>`team = ${teams[0]}`
    : sql<boolean>`team in (${sql.join([...teams])})`;
}

/**
 * The window's ledger rows grouped finely enough that every total and breakdown of the bill is a sum of
 * these groups: whole UTC days from the `usage_daily` rollup, the partial days at either edge from the
 * ledger itself (a range of the `usage_ledger_team_window` index).
 */
export async function ledgerGroups(db: Db, teams: TeamScope, window: BillWindow): Promise<LedgerGroup[]> {
  if (teams !== null && teams.length === 0) return [];
  const firstWholeDay = dayCeil(window.from);
  const endOfWholeDays = dayFloor(window.to);
  if (firstWholeDay >= endOfWholeDays) return ledgerRowGroups(db, teams, window.from, window.to);
  const rows = await db
    .selectFrom('usage_daily')
    .select([
      'team',
      'category',
      'day',
      'user_name',
      'source_kind',
      'source_id',
      'resource',
      'unit',
      'project',
      'quantity',
      'cost_micros',
      'row_count',
    ])
    .where('day', '>=', iso(firstWholeDay).slice(0, 10))
    .where('day', '<', iso(endOfWholeDays).slice(0, 10))
    .where(teamIn(teams))
    .where('row_count', '>', 0)
    .execute();
  const groups: LedgerGroup[] = rows.map((row) => ({
    team: row.team,
    category: row.category as UsageCategory,
    day: row.day,
    user: row.user_name,
    sourceKind: row.source_kind,
    sourceId: row.source_id,
    project: row.project ?? null,
    resource: row.resource,
    unit: row.unit,
    quantity: Number(row.quantity),
    costMicros: Number(row.cost_micros),
    rows: Number(row.row_count),
  }));
  groups.push(...(await ledgerRowGroups(db, teams, window.from, firstWholeDay)));
  groups.push(...(await ledgerRowGroups(db, teams, endOfWholeDays, window.to)));
  return groups;
}

async function ledgerRowGroups(db: Db, teams: TeamScope, from: number, to: number): Promise<LedgerGroup[]> {
  if (from >= to) return [];
  const day = sql<string>`substr(window_start, 1, 10)`;
  const rows = await db
    .selectFrom('usage_ledger')
    .select([
      'team',
      'category',
      day.as('day'),
      'user_name',
      'source_kind',
      'source_id',
      'resource',
      'unit',
      (eb) => eb.fn.max('project').as('project'),
      (eb) => eb.fn.sum<number>('quantity').as('quantity'),
      (eb) => eb.fn.sum<number>('cost_micros').as('cost'),
      (eb) => eb.fn.countAll<number>().as('rows'),
    ])
    .where('window_start', '>=', iso(from))
    .where('window_start', '<', iso(to))
    .where(teamIn(teams))
    .groupBy(['team', 'category', day, 'user_name', 'source_kind', 'source_id', 'resource', 'unit'])
    .execute();
  return rows.map((row) => ({
    team: row.team,
    category: row.category as UsageCategory,
    day: row.day,
    user: row.user_name,
    sourceKind: row.source_kind,
    sourceId: row.source_id,
    project: row.project ?? null,
    resource: row.resource,
    unit: row.unit,
    quantity: Number(row.quantity),
    costMicros: Number(row.cost),
    rows: Number(row.rows),
  }));
}

async function ledgerSpend(
  db: Db,
  teams: TeamScope,
  from: number,
  to: number,
  into: Map<string, CategoryMicros>,
): Promise<void> {
  if (from >= to) return;
  const rows = await db
    .selectFrom('usage_ledger')
    .select(['team', 'category', (eb) => eb.fn.sum<number>('cost_micros').as('cost')])
    .where('window_start', '>=', iso(from))
    .where('window_start', '<', iso(to))
    .where(teamIn(teams))
    .groupBy(['team', 'category'])
    .execute();
  for (const row of rows) add(into, row.team, row.category, Number(row.cost));
}

function add(into: Map<string, CategoryMicros>, team: string, category: string, micros: number): void {
  let totals = into.get(team);
  if (!totals) {
    totals = zeroCategories();
    into.set(team, totals);
  }
  if (category in totals) totals[category as UsageCategory] += micros;
}

/**
 * Spend per team and category in [from, to), exactly the sum of the ledger rows whose window starts
 * there: whole UTC days from the `usage_daily` rollup, the partial days at either edge from the ledger.
 */
export async function spendByTeam(
  db: Db,
  teams: TeamScope,
  window: BillWindow,
): Promise<Map<string, CategoryMicros>> {
  const totals = new Map<string, CategoryMicros>();
  if (teams !== null && teams.length === 0) return totals;
  const firstWholeDay = dayCeil(window.from);
  const endOfWholeDays = dayFloor(window.to);
  if (firstWholeDay >= endOfWholeDays) {
    await ledgerSpend(db, teams, window.from, window.to, totals);
    return totals;
  }
  const rows = await db
    .selectFrom('usage_daily')
    .select(['team', 'category', (eb) => eb.fn.sum<number>('cost_micros').as('cost')])
    .where('day', '>=', iso(firstWholeDay).slice(0, 10))
    .where('day', '<', iso(endOfWholeDays).slice(0, 10))
    .where(teamIn(teams))
    .groupBy(['team', 'category'])
    .execute();
  for (const row of rows) add(totals, row.team, row.category, Number(row.cost));
  await ledgerSpend(db, teams, window.from, firstWholeDay, totals);
  await ledgerSpend(db, teams, endOfWholeDays, window.to, totals);
  return totals;
}

/** Spend per team in [from, to) straight from the ledger (the recent burn; a short window). */
export async function burnByTeam(db: Db, teams: TeamScope, window: BillWindow): Promise<Map<string, number>> {
  const totals = new Map<string, CategoryMicros>();
  if (teams !== null && teams.length === 0) return new Map();
  await ledgerSpend(db, teams, window.from, window.to, totals);
  return new Map([...totals].map(([team, micros]) => [team, sumCategories(micros)]));
}

/** The sum over categories. */
export function sumCategories(micros: CategoryMicros): number {
  return micros.training + micros.inference + micros.notebooks + micros.storage;
}

/** Reservations of queued, admitted and running jobs not yet spent, per team (the budget's "committed"). */
export async function committedByTeam(db: Db, teams: TeamScope): Promise<Map<string, number>> {
  if (teams !== null && teams.length === 0) return new Map();
  const rows = await db
    .selectFrom('jobs')
    .select([
      'team',
      sql<number>`coalesce(sum(case when reserved_micros > cost_micros then reserved_micros - cost_micros else 0 end), 0)`.as(
        'total',
      ),
    ])
    .where('status', 'in', [...RESERVING_STATES])
    .where(teamIn(teams))
    .groupBy('team')
    .execute();
  return new Map(rows.map((row) => [row.team, Number(row.total)]));
}

/** A team's budget in its current period, in micro-dollars; read without locking (the bill only reads). */
export interface BudgetSnapshot {
  team: string;
  maxMicros: number;
  softMicros: number | null;
  duration: string;
  periodStart: number;
  periodEnd: number;
  spentMicros: number;
  committedMicros: number;
}

/** Budgets of the teams with their period's spend and commitments, the same numbers admission uses. */
export async function budgetSnapshots(
  db: Db,
  teams: TeamScope,
  now: number,
): Promise<Map<string, BudgetSnapshot>> {
  if (teams !== null && teams.length === 0) return new Map();
  const budgets = await db.selectFrom('budgets').selectAll().where(teamIn(teams)).execute();
  if (budgets.length === 0) return new Map();
  const committed = await committedByTeam(db, teams);
  // Teams whose periods coincide (the usual calendar month) share one spend query.
  const byPeriod = new Map<string, { window: BillWindow; teams: string[] }>();
  const periods = new Map<string, BillWindow>();
  for (const budget of budgets) {
    const period = currentPeriod(budget.budget_duration, budget.period_anchor, now);
    const window = { from: Date.parse(period.start), to: Date.parse(period.end) };
    periods.set(budget.team, window);
    const key = `${period.start}/${period.end}`;
    const group = byPeriod.get(key) ?? { window, teams: [] };
    group.teams.push(budget.team);
    byPeriod.set(key, group);
  }
  const spent = new Map<string, number>();
  for (const group of byPeriod.values()) {
    const totals = await spendByTeam(
      db,
      teams === null && byPeriod.size === 1 ? null : group.teams,
      group.window,
    );
    for (const [team, micros] of totals) spent.set(team, sumCategories(micros));
  }
  return new Map(
    budgets.map((budget) => {
      const period = periods.get(budget.team)!;
      return [
        budget.team,
        {
          team: budget.team,
          maxMicros: Number(budget.max_budget_micros),
          softMicros: budget.soft_budget_micros === null ? null : Number(budget.soft_budget_micros),
          duration: budget.budget_duration,
          periodStart: period.from,
          periodEnd: period.to,
          spentMicros: spent.get(budget.team) ?? 0,
          committedMicros: committed.get(budget.team) ?? 0,
        },
      ];
    }),
  );
}
