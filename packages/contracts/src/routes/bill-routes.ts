import { z } from 'zod';
import {
  Bill,
  BillQuery,
  BillRowsQuery,
  BudgetAlert,
  LedgerRow,
  TeamsBill,
  TeamsBillQuery,
} from '../bill.ts';
import { contractRoute, itemsOf } from '../contract-route.ts';

/** Where budget alerts are POSTed; null: nowhere. */
const BudgetWebhookSetting = z.strictObject({ url: z.string().min(1).max(2048).nullable() });

/** The bill: spend per team from the usage ledger, budgets, forecast, csv for finance, budget alerts. */
export const billRoutes = {
  getBill: contractRoute({
    method: 'GET',
    path: '/v1/bill',
    summary:
      "A team's bill (default: every team you see): totals per category, breakdown, budget, forecast; format=csv for finance",
    tag: 'bill',
    query: BillQuery,
    response: Bill.or(z.string()),
  }),
  getBillCsv: contractRoute({
    method: 'GET',
    path: '/v1/bill.csv',
    summary: 'The bill as csv for finance (RFC 4180: a header row, one row per breakdown line)',
    tag: 'bill',
    query: BillQuery,
    response: z.string(),
  }),
  getTeamsBill: contractRoute({
    method: 'GET',
    path: '/v1/bill/teams',
    summary: 'Every team side by side (platform-admins: all teams; others: theirs); format=csv for finance',
    tag: 'bill',
    query: TeamsBillQuery.extend({ format: z.enum(['json', 'csv']).optional() }),
    response: TeamsBill.or(z.string()),
  }),
  listBillRows: contractRoute({
    method: 'GET',
    path: '/v1/bill/rows',
    summary: 'The usage ledger rows behind a bill line (drill-down), newest first',
    tag: 'bill',
    query: BillRowsQuery,
    response: itemsOf(LedgerRow),
  }),
  listBudgetAlerts: contractRoute({
    method: 'GET',
    path: '/v1/budgets/:team/alerts',
    summary: "Budget alerts a team's budget fired (50, 80, 100 % and the soft budget), newest first",
    tag: 'budgets',
    response: itemsOf(BudgetAlert),
  }),
  setBudgetWebhook: contractRoute({
    method: 'PUT',
    path: '/v1/settings/budget-webhook',
    summary:
      'Where budget alerts are POSTed (platform-admins); the host must be allowed (aicloud up --webhook-allow-host)',
    tag: 'budgets',
    body: BudgetWebhookSetting,
    response: BudgetWebhookSetting,
  }),
};
