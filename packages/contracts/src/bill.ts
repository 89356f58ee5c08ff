import { z } from 'zod';

/** The spend categories of the bill, in the order the bill lists them. */
export const BillCategory = z.enum(['training', 'inference', 'notebooks', 'storage']);
export type BillCategory = z.infer<typeof BillCategory>;

/** What the bill's breakdown groups by. */
export const BillGroupBy = z.enum(['category', 'day', 'user', 'resource', 'workload']);
export type BillGroupBy = z.infer<typeof BillGroupBy>;

/** A calendar month (`2026-11`), from 1970-01 to 9999-12. */
export const BillPeriod = z
  .string()
  .regex(/^(19[7-9]\d|[2-9]\d{3})-(0[1-9]|1[0-2])$/, 'a month from 1970-01 to 9999-12, e.g. 2026-11');
/** A window ending now (`7d`, `12h`). */
export const BillSince = z.string().regex(/^[1-9]\d{0,3}(d|h)$/, 'a window ending now, e.g. 7d or 12h');

/**
 * Which bill: a team (default: every team the caller sees), a calendar month or a window ending now
 * (default: the team's current budget period, else the current month), and the breakdown.
 */
export const BillQuery = z.strictObject({
  team: z.string().min(1).optional(),
  period: BillPeriod.optional(),
  since: BillSince.optional(),
  by: BillGroupBy.default('category'),
  format: z.enum(['json', 'csv']).optional(),
});
export type BillQuery = z.input<typeof BillQuery>;

/** The window of every team's bill, side by side. */
export const TeamsBillQuery = z.strictObject({ period: BillPeriod.optional(), since: BillSince.optional() });
export type TeamsBillQuery = z.input<typeof TeamsBillQuery>;

/** USD per category (every category present, zero when unused). */
export const CategoryAmounts = z.object({
  training: z.number(),
  inference: z.number(),
  notebooks: z.number(),
  storage: z.number(),
});
export type CategoryAmounts = z.infer<typeof CategoryAmounts>;

/** One category's total. */
export const BillCategoryTotal = z.object({
  category: BillCategory,
  cost: z.number(),
  /** Exact, in integer micro-dollars. */
  costMicros: z.number().int(),
  /** Share of the bill's total, 0–100. */
  share: z.number(),
});
export type BillCategoryTotal = z.infer<typeof BillCategoryTotal>;

/** One line of the breakdown: a category, a UTC day, a user, a resource or a workload. */
export const BillLine = z.object({
  key: z.string(),
  label: z.string(),
  /** The line's category when it has one (category and workload lines), else null. */
  category: BillCategory.nullable(),
  /** The line's team when it has one. */
  team: z.string().nullable(),
  user: z.string().nullable(),
  resource: z.string().nullable(),
  sourceKind: z.string().nullable(),
  sourceId: z.string().nullable(),
  /** Summed quantity when the line has one unit, else null. */
  quantity: z.number().nullable(),
  unit: z.string().nullable(),
  /** Ledger rows summed into the line. */
  rows: z.number().int(),
  byCategory: CategoryAmounts,
  cost: z.number(),
  costMicros: z.number().int(),
});
export type BillLine = z.infer<typeof BillLine>;

/** Spend of one UTC day, per category. */
export const BillDay = CategoryAmounts.extend({ day: z.string(), total: z.number() });
export type BillDay = z.infer<typeof BillDay>;

/** A team's budget in its current period, with reservations of queued and running jobs as committed. */
export const BillBudget = z.object({
  maxBudget: z.number(),
  softBudget: z.number().nullable(),
  budgetDuration: z.string(),
  periodStart: z.string(),
  periodEnd: z.string(),
  spent: z.number(),
  committed: z.number(),
  remaining: z.number(),
  /** spent ÷ maxBudget, in percent. */
  usedPercent: z.number(),
  /** (spent + committed) ÷ maxBudget, in percent. */
  committedPercent: z.number(),
});
export type BillBudget = z.infer<typeof BillBudget>;

/** Where spend is heading at the recent burn rate. */
export const BillForecast = z.object({
  /** The burn rate's basis: spend in the last `lookbackHours` hours. */
  lookbackHours: z.number(),
  burnRatePerDay: z.number(),
  /** The end the projection runs to (the bill's window, else the budget period). */
  projectedTo: z.string(),
  /** The bill's total at `projectedTo`, at the burn rate. */
  projectedTotal: z.number(),
  /** The budget period's spend at its end, at the burn rate; null without a budget. */
  projectedPeriodSpend: z.number().nullable(),
  /** When spend reaches the budget at the burn rate, within the budget period; null when it does not. */
  runsOutAt: z.string().nullable(),
  /** Spend has reached the budget already. */
  exhausted: z.boolean(),
});
export type BillForecast = z.infer<typeof BillForecast>;

/** The bill of one team (or of every team the caller sees, when `team` is null). */
export const Bill = z.object({
  team: z.string().nullable(),
  /** The teams the bill covers. */
  teams: z.array(z.string()),
  from: z.string(),
  to: z.string(),
  by: BillGroupBy,
  generatedAt: z.string(),
  categories: z.array(BillCategoryTotal),
  total: z.number(),
  totalMicros: z.number().int(),
  /** Ledger rows in the window. */
  rows: z.number().int(),
  breakdown: z.array(BillLine),
  daily: z.array(BillDay),
  budget: BillBudget.nullable(),
  forecast: BillForecast.nullable(),
  topWorkloads: z.array(BillLine),
  topUsers: z.array(BillLine),
});
export type Bill = z.infer<typeof Bill>;

/** One team in the side-by-side view. */
export const TeamBillSummary = z.object({
  team: z.string(),
  byCategory: CategoryAmounts,
  total: z.number(),
  totalMicros: z.number().int(),
  budget: BillBudget.nullable(),
  forecast: BillForecast.nullable(),
});
export type TeamBillSummary = z.infer<typeof TeamBillSummary>;

/** Every team's bill side by side (platform-admins: all teams; others: their teams). */
export const TeamsBill = z.object({
  from: z.string(),
  to: z.string(),
  generatedAt: z.string(),
  teams: z.array(TeamBillSummary),
  byCategory: CategoryAmounts,
  total: z.number(),
  totalMicros: z.number().int(),
});
export type TeamsBill = z.infer<typeof TeamsBill>;

/** The ledger rows behind a bill line (drill-down), newest first. */
export const BillRowsQuery = z.strictObject({
  team: z.string().min(1),
  sourceId: z.string().min(1).optional(),
  period: BillPeriod.optional(),
  since: BillSince.optional(),
  limit: z.coerce.number().int().min(1).max(1000).default(200),
});
export type BillRowsQuery = Omit<z.input<typeof BillRowsQuery>, 'limit'> & { limit?: number };

/** One usage ledger row. */
export const LedgerRow = z.object({
  id: z.string(),
  team: z.string(),
  user: z.string(),
  project: z.string().nullable(),
  category: BillCategory,
  resource: z.string(),
  quantity: z.number(),
  unit: z.string(),
  /** USD per unit, as recorded when the usage was metered. */
  rate: z.number(),
  cost: z.number(),
  costMicros: z.number().int(),
  sourceKind: z.string(),
  sourceId: z.string(),
  windowStart: z.string(),
  windowEnd: z.string(),
});
export type LedgerRow = z.infer<typeof LedgerRow>;

/** A budget threshold crossed: 50, 80 or 100 % of the budget, or the soft budget. */
export const BudgetAlert = z.object({
  team: z.string(),
  periodStart: z.string(),
  threshold: z.enum(['50', '80', '100', 'soft']),
  firedAt: z.string(),
  spent: z.number(),
  maxBudget: z.number(),
  /** The webhook's delivery: `none` (no webhook configured), `queued`, `delivered` or `failed`. */
  delivery: z.string(),
});
export type BudgetAlert = z.infer<typeof BudgetAlert>;
