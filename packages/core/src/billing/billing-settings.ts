import type { Kysely, Transaction } from 'kysely';
import type { Database } from '../store/schema.ts';

/** Storage price when neither the `storage_gb_month_usd` setting nor `AICLOUD_STORAGE_GB_MONTH_USD` sets one. */
export const DEFAULT_STORAGE_GB_MONTH_USD = 0.023;
/** Hours in a billing month (365 × 24 ÷ 12), to turn $/GB-month into $/GB-hour. */
export const HOURS_PER_MONTH = 730;

/** Platform configuration of the bill: a `settings` row (JSON value) wins over the environment. */
export interface BillingSettings {
  /** USD per GB (10⁹ bytes) per month of stored artifacts and job outputs. */
  storageGbMonthUsd: number;
  /** Where budget alerts are POSTed, or null. */
  budgetWebhook: string | null;
  /** Stop a team's running spot jobs when its spend reaches 100 % of its budget. */
  stopSpotAtBudget: boolean;
}

/** The settings keys the bill reads. */
export const BILLING_SETTING_KEYS = {
  storageGbMonthUsd: 'storage_gb_month_usd',
  budgetWebhook: 'budget_webhook_url',
  stopSpotAtBudget: 'stop_spot_at_budget',
} as const;

function parse(value: string | undefined): unknown {
  if (value === undefined) return undefined;
  try {
    return JSON.parse(value);
  } catch {
    return value;
  }
}

/** Reads the bill's configuration. */
export async function billingSettings(
  db: Kysely<Database> | Transaction<Database>,
  env: NodeJS.ProcessEnv = process.env,
): Promise<BillingSettings> {
  const rows = await db
    .selectFrom('settings')
    .select(['key', 'value'])
    .where('key', 'in', Object.values(BILLING_SETTING_KEYS))
    .execute();
  const stored = new Map(rows.map((row) => [row.key, parse(row.value)]));
  const rate = Number(stored.get(BILLING_SETTING_KEYS.storageGbMonthUsd) ?? env.AICLOUD_STORAGE_GB_MONTH_USD);
  const webhook = stored.get(BILLING_SETTING_KEYS.budgetWebhook) ?? env.AICLOUD_BUDGET_WEBHOOK;
  const stopSpot = stored.get(BILLING_SETTING_KEYS.stopSpotAtBudget) ?? env.AICLOUD_STOP_SPOT_AT_BUDGET;
  return {
    storageGbMonthUsd: Number.isFinite(rate) && rate >= 0 ? rate : DEFAULT_STORAGE_GB_MONTH_USD,
    budgetWebhook: typeof webhook === 'string' && /^https?:\/\//.test(webhook) ? webhook : null,
    stopSpotAtBudget: stopSpot === true || stopSpot === 'true' || stopSpot === '1' || stopSpot === 1,
  };
}

/** Micro-dollars per GB-hour for a $/GB-month price (integer, as every ledger rate is). */
export function gbHourRateMicros(gbMonthUsd: number): number {
  return Math.round((gbMonthUsd * 1_000_000) / HOURS_PER_MONTH);
}
