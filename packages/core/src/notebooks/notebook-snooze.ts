import { readBudget } from '../admission/team-usage.ts';
import { AppError } from '../app-error.ts';
import type { AuditService } from '../audit/audit-service.ts';
import type { CatalogService } from '../catalog/catalog-service.ts';
import type { Clock } from '../clock.ts';
import { formatDuration } from '../duration.ts';
import type { Actor } from '../identity/principal.ts';
import type { Authorizer } from '../ports/authorizer.ts';
import type { Store } from '../store/open-store.ts';
import { decide, notebookAdmissionRequest } from './notebook-policy.ts';
import { deadlinesOf, type NotebookRow } from './notebook-record.ts';

/** What a snooze needs. */
export interface NotebookSnoozeDeps {
  store: Store;
  audit: AuditService;
  clock: Clock;
  catalog: CatalogService;
  authorizer: Authorizer;
}

/**
 * Moves a running notebook's idle deadline one idle timeout further, never past its max lifetime, if the
 * policies allow the extra cost (`snooze_notebook` against the team's budget); refusals are audited and thrown.
 */
export async function snoozeNotebook(
  deps: NotebookSnoozeDeps,
  actor: Actor,
  row: NotebookRow,
  proxyActivity: number | null,
): Promise<void> {
  const { store, audit, clock } = deps;
  const id = row.id;
  if (row.status !== 'running') {
    throw new AppError('conflict', `notebook ${id} is ${row.status}; only a running notebook can be snoozed`);
  }
  const product = await deps.catalog.get(row.product);
  const now = clock.now();
  const current = deadlinesOf(row, proxyActivity);
  if (current.idleDeadline >= current.maxDeadline) {
    throw new AppError(
      'conflict',
      `notebook ${id} already runs until its max lifetime of ${formatDuration(row.max_lifetime_s)} (${new Date(current.maxDeadline).toISOString()}); it cannot be snoozed further`,
    );
  }
  const until = Math.min(
    Math.max(current.idleDeadline, now) + row.idle_timeout_s * 1000,
    current.maxDeadline,
  );
  const units = Math.max(row.gpus, 1);
  const extension = Math.ceil((row.rate_micros * units * (until - current.idleDeadline)) / 3_600_000);
  const refused = await store.db.transaction().execute(async (trx) => {
    const budget = await readBudget(store, trx, row.team, now);
    const exceptions = await trx
      .selectFrom('policy_exceptions')
      .select('policy_id')
      .where('team', '=', row.team)
      .where('expires_at', '>', new Date(now).toISOString())
      .execute();
    const decision = decide(
      deps.authorizer,
      notebookAdmissionRequest(
        actor,
        'snooze_notebook',
        {
          id,
          team: row.team,
          owner: row.owner,
          product,
          gpus: row.gpus,
          gpuType: row.gpu_type,
          maxLifetimeSeconds: row.max_lifetime_s,
        },
        { estimateMicros: extension, budget, exceptions: exceptions.map((entry) => entry.policy_id) },
      ),
    );
    if (decision.outcome === 'deny' || decision.outcome === 'require_approval') {
      const hit = decision.determining[0];
      return new AppError(
        'policy_denied',
        `[${hit?.policyId ?? 'policy'}] ${hit?.reason ?? 'the policies do not allow this snooze'}`,
        { details: { rule: hit?.policyId ?? null } },
      );
    }
    const updated = await trx
      .updateTable('notebooks')
      .set({ snoozed_until: new Date(until).toISOString(), warned_at: null, warning: null })
      .where('id', '=', id)
      .where('status', '=', 'running')
      .executeTakeFirst();
    if (Number(updated.numUpdatedRows) === 0) {
      return new AppError('conflict', `notebook ${id} stopped meanwhile`);
    }
    await audit.append(trx, {
      actor: actor.principal.userName,
      action: 'notebook.snoozed',
      resource: `notebook/${id}`,
      team: row.team,
      outcome: 'success',
      requestId: actor.requestId,
      details: {
        previousDeadline: new Date(current.idleDeadline).toISOString(),
        snoozedUntil: new Date(until).toISOString(),
        maxLifetimeAt: new Date(current.maxDeadline).toISOString(),
        policySetDigest: decision.policySetDigest,
      },
    });
    return null;
  });
  if (refused) {
    await audit.record({
      actor: actor.principal.userName,
      action: 'notebook.snooze',
      resource: `notebook/${id}`,
      team: row.team,
      outcome: 'deny',
      requestId: actor.requestId,
      details: { code: refused.code, message: refused.message },
    });
    throw refused;
  }
}
