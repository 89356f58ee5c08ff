import { type BillQuery, routes } from '@aicloud/contracts';
import { type Actor, billCsv, createBillService, teamsBillCsv } from '@aicloud/core';
import type { FastifyReply } from 'fastify';
import type { z } from 'zod';
import { implement, type RouteDeps } from '../route.ts';

function sendCsv(reply: FastifyReply, name: string, text: string): string {
  reply.type('text/csv; charset=utf-8').header('content-disposition', `attachment; filename="${name}.csv"`);
  return text;
}

const fileName = (parts: (string | undefined)[]) =>
  parts
    .filter(Boolean)
    .join('-')
    .replace(/[^A-Za-z0-9._-]/g, '_');

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
    implement(routes.getBill, ({ actor, query, reply }) => billOf(actor, query, reply)),
    implement(
      routes.getBillCsv,
      async ({ actor, query, reply }) => (await billOf(actor, { ...query, format: 'csv' }, reply)) as string,
    ),
    implement(routes.getTeamsBill, async ({ actor, query, reply }) => {
      const result = await bills.billAllTeams(actor, query);
      return query.format === 'csv'
        ? sendCsv(reply, fileName(['bill-teams', query.period ?? query.since]), teamsBillCsv(result))
        : result;
    }),
    implement(routes.listBillRows, async ({ actor, query }) => ({ items: await bills.rows(actor, query) })),
    implement(routes.listBudgetAlerts, async ({ actor, params }) => ({
      items: await bills.alerts(actor, params.team),
    })),
    implement(routes.setBudgetWebhook, ({ actor, body }) => webhooks.setBudgetWebhook(actor, body.url)),
  ];
}
