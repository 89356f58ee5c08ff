import type { Budget } from '@aicloud/contracts';
import { isBudgetDuration } from '../admission/budget-period.ts';
import { readBudget } from '../admission/team-usage.ts';
import { AppError, notFound } from '../app-error.ts';
import type { AuditService } from '../audit/audit-service.ts';
import { type Clock, isoNow } from '../clock.ts';
import { type Actor, canSeeTeam, managesTeam } from '../identity/principal.ts';
import { formatUsd, fromMicros, toMicros } from '../money.ts';
import type { Store } from '../store/open-store.ts';

/** A change to a team's budget; a ceiling only platform-admins may set. */
export interface SetBudgetRequest {
  maxBudget: number;
  softBudget?: number | null;
  budgetDuration?: string;
  ceiling?: number | null;
}

/** Team budgets: managers set theirs within the ceiling platform-admins set. */
export interface BudgetService {
  show(actor: Actor, team: string): Promise<Budget | null>;
  set(actor: Actor, team: string, request: SetBudgetRequest): Promise<Budget>;
}

/** Creates the budget service. */
export function createBudgetService(deps: {
  store: Store;
  audit: AuditService;
  clock: Clock;
}): BudgetService {
  const { store, audit, clock } = deps;

  async function show(actor: Actor, team: string): Promise<Budget | null> {
    if (!canSeeTeam(actor.principal, team)) throw notFound('team', team);
    return store.db.transaction().execute(async (trx) => {
      const state = await readBudget(store, trx, team, clock.now());
      if (!state) return null;
      return {
        team,
        maxBudget: fromMicros(state.maxMicros),
        softBudget: state.softMicros === null ? null : fromMicros(state.softMicros),
        budgetDuration: state.duration,
        periodStart: state.periodStart,
        periodEnd: state.periodEnd,
        spent: fromMicros(state.spentMicros),
        committed: fromMicros(state.committedMicros),
        remaining: fromMicros(state.remainingMicros),
      };
    });
  }

  return {
    show,
    async set(actor, team, request) {
      if (!canSeeTeam(actor.principal, team)) throw notFound('team', team);
      const deny = async (message: string): Promise<never> => {
        await audit.record({
          actor: actor.principal.userName,
          action: 'budget.set',
          resource: `budget/${team}`,
          team,
          outcome: 'deny',
          requestId: actor.requestId,
          details: { reason: message },
        });
        throw new AppError('forbidden', message);
      };
      if (!managesTeam(actor.principal, team))
        await deny(`only a manager of ${team} or a platform-admin sets its budget`);
      if (request.ceiling !== undefined && !actor.principal.platformAdmin)
        await deny('only platform-admins set the budget ceiling');
      if (request.budgetDuration !== undefined && !isBudgetDuration(request.budgetDuration)) {
        throw new AppError(
          'invalid_input',
          `budgetDuration '${request.budgetDuration}' is not a period: use e.g. 30d or 1mo`,
          { issues: [{ path: ['budgetDuration'], message: 'e.g. 30d or 1mo' }] },
        );
      }
      if (request.maxBudget < 0 || (request.softBudget ?? 0) < 0)
        throw new AppError('invalid_input', 'budgets are not negative');
      // The ceiling check (and its audited refusal) runs before the write transaction: SQLite has one connection.
      const current = await store.db
        .selectFrom('budgets')
        .select('ceiling_micros')
        .where('team', '=', team)
        .executeTakeFirst();
      const ceiling =
        request.ceiling !== undefined
          ? request.ceiling === null
            ? null
            : toMicros(request.ceiling)
          : (current?.ceiling_micros ?? null);
      const maxMicros = toMicros(request.maxBudget);
      if (ceiling !== null && maxMicros > ceiling && !actor.principal.platformAdmin) {
        await deny(
          `asked for a budget of ${formatUsd(maxMicros)}, above the ceiling of ${formatUsd(ceiling)} a platform-admin set for ${team}; ask a platform-admin to raise it`,
        );
      }
      await store.db.transaction().execute(async (trx) => {
        const existing = await trx
          .selectFrom('budgets')
          .selectAll()
          .where('team', '=', team)
          .executeTakeFirst();
        const values = {
          max_budget_micros: maxMicros,
          soft_budget_micros:
            request.softBudget === undefined
              ? (existing?.soft_budget_micros ?? null)
              : request.softBudget === null
                ? null
                : toMicros(request.softBudget),
          budget_duration: request.budgetDuration ?? existing?.budget_duration ?? '1mo',
          ceiling_micros: ceiling,
          updated_at: isoNow(clock),
        };
        // A kept soft budget must fit under a lowered budget too.
        if (values.soft_budget_micros !== null && values.soft_budget_micros > maxMicros) {
          throw new AppError(
            'invalid_input',
            `the soft budget ${formatUsd(values.soft_budget_micros)} is above the budget ${formatUsd(maxMicros)}`,
            { issues: [{ path: ['softBudget'], message: 'must be at most the budget' }] },
          );
        }
        if (existing) await trx.updateTable('budgets').set(values).where('team', '=', team).execute();
        else
          await trx
            .insertInto('budgets')
            .values({ team, period_anchor: '2026-01-01T00:00:00.000Z', ...values })
            .execute();
        await audit.append(trx, {
          actor: actor.principal.userName,
          action: 'budget.set',
          resource: `budget/${team}`,
          team,
          outcome: 'success',
          requestId: actor.requestId,
          details: {
            before: existing
              ? {
                  maxBudget: fromMicros(existing.max_budget_micros),
                  budgetDuration: existing.budget_duration,
                }
              : null,
            after: request,
          },
        });
      });
      return (await show(actor, team))!;
    },
  };
}
