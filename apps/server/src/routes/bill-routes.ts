import {
  Bill,
  BillQuery,
  BillRowsQuery,
  BudgetAlert,
  LedgerRow,
  TeamsBill,
  TeamsBillQuery,
} from '@aicloud/contracts';
import { type Actor, billCsv, createBillService, teamsBillCsv } from '@aicloud/core';
import type { FastifyReply } from 'fastify';
import { z } from 'zod';
import { defineRoute, type RouteDeps } from '../route.ts';

function sendCsv(reply: FastifyReply, name: string, text: string): string {
  reply.type('text/csv; charset=utf-8').header('content-disposition', `attachment; filename="${name}.csv"`);
  return text;
}

const fileName = (parts: (string | undefined)[]) =>
  parts
    .filter(Boolean)
    .join('-')
    .replace(/[^A-Za-z0-9._-]/g, '_');

/** Where budget alerts are POSTed; null: nowhere. */
const BudgetWebhookSetting = z.strictObject({ url: z.string().min(1).max(2048).nullable() });

/** The bill: spend per team from the usage ledger, budgets, forecast, csv for finance, budget alerts. */
export function billRoutes({ store, clock, webhooks }: RouteDeps) {
  const bills = createBillService({ store, clock });
  const billOf = async (actor: Actor, query: z.output<typeof BillQuery>, reply: FastifyReply) => {
    const result = await bills.bill(actor, query);
    return query.format === 'csv'
      ? sendCsv(reply, fileName(['bill', query.team, query.period ?? query.since, query.by]), billCsv(result))
      : result;
  };
  return [
    defineRoute({
      method: 'GET',
      url: '/v1/bill',
      summary:
        "A team's bill (default: every team you see): totals per category, breakdown, budget, forecast; format=csv for finance",
      tag: 'bill',
      query: BillQuery,
      response: Bill.or(z.string()),
      handler: ({ actor, query, reply }) => billOf(actor, query, reply),
    }),
    defineRoute({
      method: 'GET',
      url: '/v1/bill.csv',
      summary: 'The bill as csv for finance (RFC 4180: a header row, one row per breakdown line)',
      tag: 'bill',
      query: BillQuery,
      response: z.string(),
      handler: async ({ actor, query, reply }) =>
        (await billOf(actor, { ...query, format: 'csv' }, reply)) as string,
    }),
    defineRoute({
      method: 'GET',
      url: '/v1/bill/teams',
      summary: 'Every team side by side (platform-admins: all teams; others: theirs); format=csv for finance',
      tag: 'bill',
      query: TeamsBillQuery.extend({ format: z.enum(['json', 'csv']).optional() }),
      response: TeamsBill.or(z.string()),
      handler: async ({ actor, query, reply }) => {
        const result = await bills.billAllTeams(actor, query);
        return query.format === 'csv'
          ? sendCsv(reply, fileName(['bill-teams', query.period ?? query.since]), teamsBillCsv(result))
          : result;
      },
    }),
    defineRoute({
      method: 'GET',
      url: '/v1/bill/rows',
      summary: 'The usage ledger rows behind a bill line (drill-down), newest first',
      tag: 'bill',
      query: BillRowsQuery,
      response: z.object({ items: z.array(LedgerRow) }),
      handler: async ({ actor, query }) => ({ items: await bills.rows(actor, query) }),
    }),
    defineRoute({
      method: 'GET',
      url: '/v1/budgets/:team/alerts',
      summary: "Budget alerts a team's budget fired (50, 80, 100 % and the soft budget), newest first",
      tag: 'budgets',
      response: z.object({ items: z.array(BudgetAlert) }),
      handler: async ({ actor, params }) => ({ items: await bills.alerts(actor, params.team!) }),
    }),
    defineRoute({
      method: 'PUT',
      url: '/v1/settings/budget-webhook',
      summary:
        'Where budget alerts are POSTed (platform-admins); the host must be allowed (aicloud up --webhook-allow-host)',
      tag: 'budgets',
      body: BudgetWebhookSetting,
      response: BudgetWebhookSetting,
      handler: ({ actor, body }) => webhooks.setBudgetWebhook(actor, body.url),
    }),
  ];
}
