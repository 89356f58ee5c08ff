import type {
  Bill,
  BillBudget,
  BillCategory,
  BillForecast,
  BillGroupBy,
  BillLine,
  BudgetAlert,
  CategoryAmounts,
  LedgerRow,
  TeamsBill,
} from '@aicloud/contracts';
import { notFound } from '../app-error.ts';
import type { Clock } from '../clock.ts';
import { type Actor, canSeeTeam } from '../identity/principal.ts';
import { fromMicros } from '../money.ts';
import type { Store } from '../store/open-store.ts';
import {
  type BudgetSnapshot,
  budgetSnapshots,
  burnByTeam,
  CATEGORIES,
  type CategoryMicros,
  type LedgerGroup,
  ledgerGroups,
  spendByTeam,
  sumCategories,
  type TeamScope,
  zeroCategories,
} from './bill-queries.ts';
import {
  type BillWindow,
  checkWindowArgs,
  currentMonth,
  daysOf,
  HOUR_MS,
  iso,
  monthWindow,
  sinceWindow,
} from './bill-window.ts';

/** Which bill to make. */
export interface BillRequest {
  team?: string | undefined;
  /** A calendar month, `2026-11`. */
  period?: string | undefined;
  /** A window ending now, `7d` or `12h`. */
  since?: string | undefined;
  by?: BillGroupBy | undefined;
}

/** The bill: spend from the usage ledger against budgets, with a forecast. */
export interface BillService {
  /** One team's bill, or (no team) the bill of every team the caller sees. */
  bill(actor: Actor, request: BillRequest): Promise<Bill>;
  /** Every team side by side (platform-admins: all teams; others: their own). */
  billAllTeams(actor: Actor, request: Omit<BillRequest, 'team' | 'by'>): Promise<TeamsBill>;
  /** The ledger rows of a team in the window, optionally of one workload, newest first. */
  rows(
    actor: Actor,
    request: { team: string; sourceId?: string | undefined; period?: string; since?: string; limit?: number },
  ): Promise<LedgerRow[]>;
  /** The budget alerts a team's budget has fired, newest first. */
  alerts(actor: Actor, team: string): Promise<BudgetAlert[]>;
}

/** How far back the burn rate looks. */
export const BURN_LOOKBACK_HOURS = 24;
const TOP = 10;

/** Creates the bill service. */
export function createBillService(deps: { store: Store; clock: Clock }): BillService {
  const { store, clock } = deps;
  const db = store.db;

  async function teamExists(team: string): Promise<boolean> {
    const row = await db.selectFrom('teams').select('name').where('name', '=', team).executeTakeFirst();
    if (row) return true;
    // A team may hold usage or a budget without a row of its own (imported ledgers, removed teams).
    const budget = await db.selectFrom('budgets').select('team').where('team', '=', team).executeTakeFirst();
    return budget !== undefined;
  }

  /** The teams a request covers: a team the caller sees (else not_found, as if absent), or all they see. */
  async function scopeOf(actor: Actor, team: string | undefined): Promise<TeamScope> {
    if (team !== undefined) {
      if (!canSeeTeam(actor.principal, team) || !(await teamExists(team))) throw notFound('team', team);
      return [team];
    }
    if (actor.principal.platformAdmin) return null;
    return [...actor.principal.teams.keys()].sort();
  }

  /** The bill's window: the month asked for, the window ending now, else the budget period or this month. */
  function windowOf(request: BillRequest, budget: BudgetSnapshot | null, now: number): BillWindow {
    checkWindowArgs(request);
    if (request.period) return monthWindow(request.period);
    if (request.since) return sinceWindow(request.since, now);
    if (budget) return { from: budget.periodStart, to: budget.periodEnd };
    return currentMonth(now);
  }

  async function budgetOf(team: string | null, now: number): Promise<BudgetSnapshot | null> {
    return team ? ((await budgetSnapshots(db, [team], now)).get(team) ?? null) : null;
  }

  async function allTeams(): Promise<string[]> {
    const rows = await db.selectFrom('teams').select('name').orderBy('name').execute();
    return rows.map((row) => row.name);
  }

  return {
    async bill(actor, request) {
      const now = clock.now();
      const by = request.by ?? 'category';
      const scope = await scopeOf(actor, request.team);
      const team = request.team ?? null;
      const budget = await budgetOf(team, now);
      const window = windowOf(request, budget, now);
      const groups = await ledgerGroups(db, scope, window);
      const burn = await burnByTeam(db, scope, { from: now - BURN_LOOKBACK_HOURS * HOUR_MS, to: now + 1 });
      const burnMicros = [...burn.values()].reduce((sum, micros) => sum + micros, 0);
      const categories = zeroCategories();
      let totalMicros = 0;
      let rows = 0;
      for (const group of groups) {
        categories[group.category] += group.costMicros;
        totalMicros += group.costMicros;
        rows += group.rows;
      }
      const teams =
        scope ?? [...new Set([...(await allTeams()), ...groups.map((group) => group.team)])].sort();
      return {
        team,
        teams: [...teams],
        from: iso(window.from),
        to: iso(window.to),
        by,
        generatedAt: iso(now),
        categories: CATEGORIES.map((category) => ({
          category,
          cost: fromMicros(categories[category]),
          costMicros: categories[category],
          share: totalMicros === 0 ? 0 : round2((categories[category] * 100) / totalMicros),
        })),
        total: fromMicros(totalMicros),
        totalMicros,
        rows,
        breakdown: breakdown(groups, by),
        daily: daily(groups, window, now),
        budget: budget ? billBudget(budget) : null,
        forecast: forecast({ window, now, totalMicros, burnMicros, budget }),
        topWorkloads: breakdown(groups, 'workload').slice(0, TOP),
        topUsers: breakdown(groups, 'user').slice(0, TOP),
      };
    },

    async billAllTeams(actor, request) {
      const now = clock.now();
      const scope = await scopeOf(actor, undefined);
      const window = windowOf(request, null, now);
      const spend = await spendByTeam(db, scope, window);
      const budgets = await budgetSnapshots(db, scope, now);
      const burn = await burnByTeam(db, scope, { from: now - BURN_LOOKBACK_HOURS * HOUR_MS, to: now + 1 });
      const names = [...new Set([...(scope ?? (await allTeams())), ...spend.keys()])].sort();
      const byCategory = zeroCategories();
      let totalMicros = 0;
      const teams = names.map((name) => {
        const micros = spend.get(name) ?? zeroCategories();
        const teamTotal = sumCategories(micros);
        for (const category of CATEGORIES) byCategory[category] += micros[category];
        totalMicros += teamTotal;
        const budget = budgets.get(name) ?? null;
        return {
          team: name,
          byCategory: amounts(micros),
          total: fromMicros(teamTotal),
          totalMicros: teamTotal,
          budget: budget ? billBudget(budget) : null,
          forecast: forecast({
            window,
            now,
            totalMicros: teamTotal,
            burnMicros: burn.get(name) ?? 0,
            budget,
          }),
        };
      });
      return {
        from: iso(window.from),
        to: iso(window.to),
        generatedAt: iso(now),
        teams,
        byCategory: amounts(byCategory),
        total: fromMicros(totalMicros),
        totalMicros,
      };
    },

    async rows(actor, request) {
      const now = clock.now();
      const scope = await scopeOf(actor, request.team);
      const window = windowOf(request, await budgetOf(request.team, now), now);
      let query = db
        .selectFrom('usage_ledger')
        .selectAll()
        .where('team', '=', scope![0]!)
        .where('window_start', '>=', iso(window.from))
        .where('window_start', '<', iso(window.to));
      if (request.sourceId) query = query.where('source_id', '=', request.sourceId);
      const rows = await query
        .orderBy('window_start', 'desc')
        .orderBy('id')
        .limit(Math.min(Math.max(request.limit ?? 200, 1), 1000))
        .execute();
      return rows.map((row) => ({
        id: row.id,
        team: row.team,
        user: row.user_name,
        project: row.project,
        category: row.category as BillCategory,
        resource: row.resource,
        quantity: Number(row.quantity),
        unit: row.unit,
        rate: fromMicros(Number(row.rate_micros)),
        cost: fromMicros(Number(row.cost_micros)),
        costMicros: Number(row.cost_micros),
        sourceKind: row.source_kind,
        sourceId: row.source_id,
        windowStart: row.window_start,
        windowEnd: row.window_end,
      }));
    },

    async alerts(actor, team) {
      await scopeOf(actor, team);
      const rows = await db
        .selectFrom('budget_alerts')
        .selectAll()
        .where('team', '=', team)
        .orderBy('fired_at', 'desc')
        .orderBy('threshold', 'desc')
        .execute();
      return rows.map((row) => ({
        team: row.team,
        periodStart: row.period_start,
        threshold: row.threshold as BudgetAlert['threshold'],
        firedAt: row.fired_at,
        spent: fromMicros(Number(row.spent_micros)),
        maxBudget: fromMicros(Number(row.max_budget_micros)),
        delivery: row.delivery,
      }));
    },
  };
}

const round2 = (value: number) => Math.round(value * 100) / 100;

function amounts(micros: CategoryMicros): CategoryAmounts {
  return {
    training: fromMicros(micros.training),
    inference: fromMicros(micros.inference),
    notebooks: fromMicros(micros.notebooks),
    storage: fromMicros(micros.storage),
  };
}

/** The budget as the bill shows it. */
export function billBudget(budget: BudgetSnapshot): BillBudget {
  const percent = (micros: number) => (budget.maxMicros > 0 ? round2((micros * 100) / budget.maxMicros) : 0);
  return {
    maxBudget: fromMicros(budget.maxMicros),
    softBudget: budget.softMicros === null ? null : fromMicros(budget.softMicros),
    budgetDuration: budget.duration,
    periodStart: iso(budget.periodStart),
    periodEnd: iso(budget.periodEnd),
    spent: fromMicros(budget.spentMicros),
    committed: fromMicros(budget.committedMicros),
    remaining: fromMicros(budget.maxMicros - budget.spentMicros - budget.committedMicros),
    usedPercent: percent(budget.spentMicros),
    committedPercent: percent(budget.spentMicros + budget.committedMicros),
  };
}

/**
 * Projects spend at the burn rate of the last `BURN_LOOKBACK_HOURS` hours: to the end of the bill's
 * window (when it has not ended), to the end of the budget period, and to the moment spend reaches the
 * budget (null when that is after the period ends or nothing is burning). Null for a past window
 * without a budget.
 */
export function forecast(input: {
  window: BillWindow;
  now: number;
  totalMicros: number;
  burnMicros: number;
  budget: BudgetSnapshot | null;
  lookbackHours?: number;
}): BillForecast | null {
  const { window, now, totalMicros, burnMicros, budget } = input;
  const lookbackHours = input.lookbackHours ?? BURN_LOOKBACK_HOURS;
  const current = window.to > now;
  if (!current && !budget) return null;
  const perMs = burnMicros / (lookbackHours * HOUR_MS);
  const projectedMicros = totalMicros + (current ? perMs * (window.to - now) : 0);
  let runsOutAt: string | null = null;
  let exhausted = false;
  let projectedPeriodSpend: number | null = null;
  if (budget) {
    projectedPeriodSpend = fromMicros(
      Math.round(budget.spentMicros + perMs * Math.max(budget.periodEnd - now, 0)),
    );
    if (budget.spentMicros >= budget.maxMicros) exhausted = true;
    else if (perMs > 0) {
      const at = now + (budget.maxMicros - budget.spentMicros) / perMs;
      if (at < budget.periodEnd) runsOutAt = iso(Math.ceil(at));
    }
  }
  return {
    lookbackHours,
    burnRatePerDay: fromMicros(Math.round(perMs * 24 * HOUR_MS)),
    projectedTo: iso(window.to),
    projectedTotal: fromMicros(Math.round(projectedMicros)),
    projectedPeriodSpend,
    runsOutAt,
    exhausted,
  };
}

/** Spend per UTC day of the window up to today, per category, zero-filled. */
function daily(groups: LedgerGroup[], window: BillWindow, now: number): Bill['daily'] {
  const days = new Map<string, CategoryMicros>();
  for (const day of daysOf(window.from, Math.min(window.to, Math.max(now + 1, window.from + 1))))
    days.set(day, zeroCategories());
  for (const group of groups) {
    let micros = days.get(group.day);
    if (!micros) {
      micros = zeroCategories();
      days.set(group.day, micros);
    }
    micros[group.category] += group.costMicros;
  }
  return [...days]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([day, micros]) => ({ day, ...amounts(micros), total: fromMicros(sumCategories(micros)) }));
}

interface LineAccumulator {
  key: string;
  label: string;
  categories: Set<BillCategory>;
  teams: Set<string>;
  users: Set<string>;
  resources: Set<string>;
  units: Set<string>;
  sourceKind: string | null;
  sourceId: string | null;
  quantity: number;
  rows: number;
  byCategory: CategoryMicros;
  costMicros: number;
}

/** The line a group adds to: its identity in the grouping, the key the API shows, and a label. */
function keyOf(group: LedgerGroup, by: BillGroupBy): { id: string; key: string; label: string } {
  switch (by) {
    case 'category':
      return { id: group.category, key: group.category, label: group.category };
    case 'day':
      return { id: group.day, key: group.day, label: group.day };
    case 'user':
      return { id: group.user, key: group.user, label: group.user };
    case 'resource':
      return { id: `${group.resource}\u0000${group.unit}`, key: group.resource, label: group.resource };
    case 'workload':
      return {
        id: `${group.sourceKind}\u0000${group.sourceId}`,
        key: group.sourceId,
        label: group.project ?? group.sourceId,
      };
  }
}

/** The breakdown lines: category order, days ascending, else the most expensive first. */
export function breakdown(groups: LedgerGroup[], by: BillGroupBy): BillLine[] {
  const lines = new Map<string, LineAccumulator>();
  for (const group of groups) {
    const { id, key, label } = keyOf(group, by);
    let line = lines.get(id);
    if (!line) {
      line = {
        key,
        label,
        categories: new Set(),
        teams: new Set(),
        users: new Set(),
        resources: new Set(),
        units: new Set(),
        sourceKind: by === 'workload' ? group.sourceKind : null,
        sourceId: by === 'workload' ? group.sourceId : null,
        quantity: 0,
        rows: 0,
        byCategory: zeroCategories(),
        costMicros: 0,
      };
      lines.set(id, line);
    }
    line.categories.add(group.category);
    line.teams.add(group.team);
    line.users.add(group.user);
    line.resources.add(group.resource);
    line.units.add(group.unit);
    line.quantity += group.quantity;
    line.rows += group.rows;
    line.byCategory[group.category] += group.costMicros;
    line.costMicros += group.costMicros;
  }
  const only = <T>(set: Set<T>): T | null => (set.size === 1 ? [...set][0]! : null);
  const result = [...lines.values()].map((line) => {
    const unit = only(line.units);
    return {
      key: line.key,
      label: line.label,
      category: only(line.categories),
      team: only(line.teams),
      user: only(line.users),
      resource: only(line.resources),
      sourceKind: line.sourceKind,
      sourceId: line.sourceId,
      quantity: unit === null ? null : round6(line.quantity),
      unit,
      rows: line.rows,
      byCategory: amounts(line.byCategory),
      cost: fromMicros(line.costMicros),
      costMicros: line.costMicros,
    };
  });
  const compareKeys = (a: BillLine, b: BillLine) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0);
  if (by === 'category')
    return result.sort(
      (a, b) => CATEGORIES.indexOf(a.key as BillCategory) - CATEGORIES.indexOf(b.key as BillCategory),
    );
  if (by === 'day') return result.sort(compareKeys);
  return result.sort((a, b) => b.costMicros - a.costMicros || compareKeys(a, b));
}

const round6 = (value: number) => Math.round(value * 1e6) / 1e6;
