import type { Bill, BillGroupBy, BillLine, TeamsBill } from '@aicloud/contracts';
import { Command, InvalidArgumentError, Option } from 'commander';
import { client } from '../context.ts';
import { table, UsageError } from '../output.ts';

const groupings: BillGroupBy[] = ['category', 'day', 'user', 'resource', 'workload'];
type BillFormat = 'table' | 'json' | 'csv';

function billFormat(value: string): BillFormat {
  if (value === 'table' || value === 'json' || value === 'csv') return value;
  throw new UsageError(`-o must be table, json or csv, got '${value}'`);
}

function period(value: string): string {
  if (!/^\d{4}-(0[1-9]|1[0-2])$/.test(value)) throw new InvalidArgumentError('must be a month, e.g. 2026-11');
  return value;
}

function since(value: string): string {
  if (!/^[1-9]\d{0,3}(d|h)$/.test(value))
    throw new InvalidArgumentError('must be a window ending now, e.g. 7d or 12h');
  return value;
}

function groupBy(value: string): BillGroupBy {
  if (!groupings.includes(value as BillGroupBy))
    throw new InvalidArgumentError(`must be one of ${groupings.join(', ')}`);
  return value as BillGroupBy;
}

const usd = (amount: number) => `$${amount.toFixed(2)}`;
const day = (iso: string) => iso.slice(0, 10);
const when = (iso: string) => `${iso.slice(0, 10)} ${iso.slice(11, 16)} UTC`;

function quantity(line: BillLine): string {
  if (line.quantity === null || line.unit === null) return '-';
  return `${Number(line.quantity.toFixed(3))} ${line.unit}`;
}

/** The bill as people read it: totals per category, budget, forecast, then the breakdown. */
export function billText(bill: Bill): string {
  const lines: string[] = [];
  const who = bill.team ?? (bill.teams.length === 1 ? bill.teams[0] : `${bill.teams.length} teams`);
  lines.push(`Bill of ${who}, ${day(bill.from)} to ${day(bill.to)} (${bill.rows} ledger rows)`);
  lines.push('');
  lines.push(
    table(
      ['CATEGORY', 'COST', 'SHARE'],
      [
        ...bill.categories.map((total) => [total.category, usd(total.cost), `${total.share.toFixed(1)} %`]),
        ['total', usd(bill.total), ''],
      ],
    ),
  );
  lines.push('');
  const budget = bill.budget;
  if (budget) {
    lines.push(
      `Budget     ${usd(budget.spent)} of ${usd(budget.maxBudget)} per ${budget.budgetDuration} used (${budget.usedPercent.toFixed(1)} %), ${day(budget.periodStart)} to ${day(budget.periodEnd)}`,
    );
    lines.push(
      `Committed  ${usd(budget.committed)} reserved by queued and running jobs (${budget.committedPercent.toFixed(1)} % with spend); remaining ${usd(budget.remaining)}`,
    );
    if (budget.softBudget !== null) lines.push(`Soft limit ${usd(budget.softBudget)}`);
  } else if (bill.team) lines.push(`Budget     none: nothing limits ${bill.team}'s spend`);
  const forecast = bill.forecast;
  if (forecast) {
    const parts = [`${usd(forecast.burnRatePerDay)}/day over the last ${forecast.lookbackHours} h`];
    if (forecast.projectedTo > bill.generatedAt)
      parts.push(`${usd(forecast.projectedTotal)} by ${day(forecast.projectedTo)}`);
    if (forecast.projectedPeriodSpend !== null && budget && budget.periodEnd !== forecast.projectedTo)
      parts.push(
        `${usd(forecast.projectedPeriodSpend)} by the budget period's end (${day(budget.periodEnd)})`,
      );
    lines.push(`Forecast   ${parts.join('; ')}`);
    lines.push(
      `Runs out   ${
        forecast.exhausted
          ? 'now: the budget is spent; new work is refused (budget-exhausted)'
          : forecast.runsOutAt
            ? when(forecast.runsOutAt)
            : budget
              ? 'not this period at this rate'
              : '-'
      }`,
    );
  }
  lines.push('');
  lines.push(`By ${bill.by}:`);
  const showCategory = bill.by !== 'category';
  if (bill.breakdown.length === 0) lines.push('  no usage in this window');
  else
    lines.push(
      table(
        [
          bill.by.toUpperCase(),
          ...(bill.by === 'workload' ? ['NAME'] : []),
          ...(showCategory ? ['CATEGORY'] : []),
          'QUANTITY',
          'COST',
        ],
        bill.breakdown.map((line) => [
          line.key,
          ...(bill.by === 'workload' ? [line.label] : []),
          ...(showCategory ? [line.category ?? 'mixed'] : []),
          quantity(line),
          usd(line.cost),
        ]),
      ),
    );
  return lines.join('\n');
}

/** Every team side by side. */
export function teamsText(bill: TeamsBill): string {
  return [
    `Bill of every team, ${day(bill.from)} to ${day(bill.to)}`,
    '',
    table(
      [
        'TEAM',
        'TRAINING',
        'INFERENCE',
        'NOTEBOOKS',
        'STORAGE',
        'TOTAL',
        'BUDGET',
        'USED',
        'COMMITTED',
        'RUNS OUT',
      ],
      [
        ...bill.teams.map((team) => [
          team.team,
          usd(team.byCategory.training),
          usd(team.byCategory.inference),
          usd(team.byCategory.notebooks),
          usd(team.byCategory.storage),
          usd(team.total),
          team.budget ? usd(team.budget.maxBudget) : '-',
          team.budget ? `${team.budget.usedPercent.toFixed(1)} %` : '-',
          team.budget ? usd(team.budget.committed) : '-',
          team.forecast?.exhausted
            ? 'exhausted'
            : team.forecast?.runsOutAt
              ? day(team.forecast.runsOutAt)
              : '-',
        ]),
        [
          'all',
          usd(bill.byCategory.training),
          usd(bill.byCategory.inference),
          usd(bill.byCategory.notebooks),
          usd(bill.byCategory.storage),
          usd(bill.total),
          '',
          '',
          '',
          '',
        ],
      ],
    ),
  ].join('\n');
}

/** `aicloud bill`. */
export function billCommand(): Command {
  return new Command('bill')
    .description(
      "your team's AI spend from the usage ledger: totals per category, budget used, committed, forecast, breakdown",
    )
    .option('--team <team>', 'the team (default: your only team; platform-admins: every team side by side)')
    .option('--period <month>', 'a calendar month, e.g. 2026-11 (default: the current budget period)', period)
    .option('--since <window>', 'a window ending now, e.g. 7d or 12h', since)
    .option('--by <grouping>', `breakdown: ${groupings.join(', ')}`, groupBy, 'category')
    .addOption(new Option('-o, --output <format>', 'table, json or csv (for finance)').default('table'))
    .addHelpText(
      'after',
      `
Examples:
  aicloud bill                              this period's bill of your team
  aicloud bill --since 7d --by day          the last week, day by day
  aicloud bill --period 2026-11 --by workload -o csv > bill.csv`,
    )
    .action(
      async (options: {
        team?: string;
        period?: string;
        since?: string;
        by: BillGroupBy;
        output: string;
      }) => {
        const format = billFormat(options.output);
        if (options.period && options.since) throw new UsageError('pass --period or --since, not both');
        const api = client();
        const window = {
          ...(options.period ? { period: options.period } : {}),
          ...(options.since ? { since: options.since } : {}),
        };
        let team = options.team;
        if (!team) {
          const me = await api.whoami();
          if (me.memberships.length === 1 && !me.user.platformAdmin) team = me.memberships[0]!.team;
          else if (me.user.platformAdmin) {
            // Platform-admins without --team: every team side by side.
            if (format === 'csv') process.stdout.write(await api.bill.teamsCsv(window));
            else {
              const teams = await api.bill.teams(window);
              process.stdout.write(
                `${format === 'json' ? JSON.stringify(teams, null, 2) : teamsText(teams)}\n`,
              );
            }
            return;
          }
        }
        const query = { ...(team ? { team } : {}), ...window, by: options.by };
        if (format === 'csv') {
          process.stdout.write(await api.bill.csv(query));
          return;
        }
        const bill = await api.bill.get(query);
        process.stdout.write(`${format === 'json' ? JSON.stringify(bill, null, 2) : billText(bill)}\n`);
      },
    );
}
