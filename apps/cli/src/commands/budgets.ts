import { Command, InvalidArgumentError, Option } from 'commander';
import { client, teamOf } from '../context.ts';
import { outputFormat, print } from '../output.ts';

function usd(value: string): number {
  const parsed = Number(value);
  if (!Number.isFinite(parsed) || parsed < 0)
    throw new InvalidArgumentError('must be an amount in USD, e.g. 500');
  return parsed;
}

/** `aicloud budgets show|set`. */
export function budgetsCommand(): Command {
  const budgets = new Command('budgets').description(
    'team budgets: spent, committed by running and queued work, remaining',
  );
  budgets
    .command('show')
    .description("a team's budget in the current period")
    .option('--team <team>', 'the team (default: your only team)')
    .addOption(new Option('-o, --output <format>', 'table or json').default('table'))
    .action(async (options: { team?: string; output: string }) => {
      const format = outputFormat(options.output);
      const team = await teamOf(options.team);
      const { budget } = await client().budgets.show(team);
      print(format, budget, () =>
        budget
          ? [
              `budget of ${team}: $${budget.maxBudget.toFixed(2)} per ${budget.budgetDuration} (${budget.periodStart.slice(0, 10)} to ${budget.periodEnd.slice(0, 10)})`,
              `  spent      $${budget.spent.toFixed(2)}`,
              `  committed  $${budget.committed.toFixed(2)}  (reserved by queued and running jobs)`,
              `  remaining  $${budget.remaining.toFixed(2)}`,
              `  soft limit ${budget.softBudget === null ? '-' : `$${budget.softBudget.toFixed(2)}`}`,
            ].join('\n')
          : `${team} has no budget: nothing limits its spend. A manager sets one with aicloud budgets set --team ${team} --max-budget 500`,
      );
    });
  budgets
    .command('set')
    .description("set a team's budget (its managers, within the ceiling a platform-admin set)")
    .option('--team <team>', 'the team (default: your only team)')
    .requiredOption('--max-budget <usd>', 'hard budget per period; new work is refused beyond it', usd)
    .option('--soft-budget <usd>', 'alert threshold', usd)
    .option('--budget-duration <period>', 'e.g. 30d or 1mo')
    .option('--ceiling <usd>', 'the most a manager may set (platform-admins only)', usd)
    .addOption(new Option('-o, --output <format>', 'table or json').default('table'))
    .action(
      async (options: {
        team?: string;
        maxBudget: number;
        softBudget?: number;
        budgetDuration?: string;
        ceiling?: number;
        output: string;
      }) => {
        const format = outputFormat(options.output);
        const team = await teamOf(options.team);
        const budget = await client().budgets.set(team, {
          maxBudget: options.maxBudget,
          ...(options.softBudget !== undefined ? { softBudget: options.softBudget } : {}),
          ...(options.budgetDuration ? { budgetDuration: options.budgetDuration } : {}),
          ...(options.ceiling !== undefined ? { ceiling: options.ceiling } : {}),
        });
        print(
          format,
          budget,
          () =>
            `Budget of ${team} is now $${budget.maxBudget.toFixed(2)} per ${budget.budgetDuration}; $${budget.remaining.toFixed(2)} remaining this period.`,
        );
      },
    );
  return budgets;
}
