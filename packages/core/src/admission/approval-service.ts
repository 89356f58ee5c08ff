import type { Admission, Approval, CreatePolicyExceptionRequest, PolicyException } from '@aicloud/contracts';
import type { Selectable } from 'kysely';
import { AppError, notFound } from '../app-error.ts';
import type { AuditService } from '../audit/audit-service.ts';
import type { CatalogService } from '../catalog/catalog-service.ts';
import { type Clock, isoNow } from '../clock.ts';
import { type Actor, canSeeTeam, managesTeam } from '../identity/principal.ts';
import { newId } from '../ids.ts';
import type { Store } from '../store/open-store.ts';
import type { Database } from '../store/schema.ts';
import { moveJob } from '../workloads/job-state.ts';
import type { JobService } from './job-service.ts';

type ApprovalRow = Selectable<Database['approvals']>;

function toApproval(row: ApprovalRow): Approval {
  return {
    id: row.id,
    jobId: row.job_id,
    team: row.team,
    requestedBy: row.requested_by,
    approvers: JSON.parse(row.approvers) as string[],
    rules: JSON.parse(row.rules) as string[],
    status: row.status as Approval['status'],
    decidedBy: row.decided_by,
    reason: row.reason,
    createdAt: row.created_at,
    expiresAt: row.expires_at,
    decidedAt: row.decided_at,
  };
}

/** Approvals of held jobs, and time-boxed policy exceptions. */
export interface ApprovalService {
  list(actor: Actor, status?: Approval['status']): Promise<Approval[]>;
  approve(actor: Actor, id: string, reason?: string): Promise<{ approval: Approval; admission: Admission }>;
  deny(actor: Actor, id: string, reason?: string): Promise<Approval>;
  /** Expires approvals past their deadline and rejects their jobs; returns how many. */
  expire(): Promise<number>;
  grantException(actor: Actor, request: CreatePolicyExceptionRequest): Promise<PolicyException>;
  listExceptions(actor: Actor): Promise<PolicyException[]>;
}

/** Creates the approval service. */
export function createApprovalService(deps: {
  store: Store;
  audit: AuditService;
  clock: Clock;
  jobs: JobService;
  catalog: CatalogService;
  onAdmitted?: () => void;
}): ApprovalService {
  const { store, audit, clock, jobs, catalog } = deps;
  const db = store.db;

  async function decide(
    actor: Actor,
    id: string,
    verdict: 'approved' | 'denied',
    reason: string | undefined,
  ) {
    // Permission checks and their audit happen before the transaction: SQLite has one connection, and a
    // refusal is recorded in a transaction of its own.
    const found = await db.selectFrom('approvals').selectAll().where('id', '=', id).executeTakeFirst();
    if (!found || !canSeeTeam(actor.principal, found.team)) throw notFound('approval', id);
    const refuse = async (message: string): Promise<never> => {
      await audit.record({
        actor: actor.principal.userName,
        action: `approval.${verdict === 'approved' ? 'approve' : 'deny'}`,
        resource: `approval/${id}`,
        team: found.team,
        outcome: 'deny',
        requestId: actor.requestId,
        details: { reason: message },
      });
      throw new AppError('forbidden', message);
    };
    if (!managesTeam(actor.principal, found.team)) {
      await refuse(
        `only a manager of ${found.team} can decide this request (${(JSON.parse(found.approvers) as string[]).join(', ') || 'none set'})`,
      );
    }
    if (found.requested_by === actor.principal.userName && !actor.principal.platformAdmin) {
      await refuse('you cannot approve your own request; another manager of the team must');
    }
    // The job's product must still exist before the approval is recorded, or the job could not be re-admitted.
    const jobRow = await db
      .selectFrom('jobs')
      .select('product')
      .where('id', '=', found.job_id)
      .executeTakeFirstOrThrow();
    await catalog.get(jobRow.product);
    const decided = await db.transaction().execute(async (trx) => {
      const row = await trx
        .selectFrom('approvals')
        .selectAll()
        .where('id', '=', id)
        .executeTakeFirstOrThrow();
      if (row.status !== 'pending') throw new AppError('conflict', `approval ${id} is already ${row.status}`);
      const now = isoNow(clock);
      if (row.expires_at <= now)
        throw new AppError('conflict', `approval ${id} expired at ${row.expires_at}; submit the job again`);
      const job = await trx
        .selectFrom('jobs')
        .selectAll()
        .where('id', '=', row.job_id)
        .executeTakeFirstOrThrow();
      if (job.status !== 'pending_approval') {
        throw new AppError(
          'conflict',
          `job ${job.id} is no longer waiting for approval (it is ${job.status})`,
        );
      }
      await trx
        .updateTable('approvals')
        .set({
          status: verdict,
          decided_by: actor.principal.userName,
          reason: reason ?? null,
          decided_at: now,
        })
        .where('id', '=', id)
        .execute();
      await audit.append(trx, {
        actor: actor.principal.userName,
        action: verdict === 'approved' ? 'approval.approved' : 'approval.denied',
        resource: `approval/${id}`,
        team: row.team,
        outcome: verdict === 'approved' ? 'allow' : 'deny',
        requestId: actor.requestId,
        details: { job: row.job_id, reason: reason ?? null },
      });
      if (verdict === 'denied') {
        const reasons = [
          {
            code: 'approval_denied',
            message: `denied by ${actor.principal.userName}${reason ? `: ${reason}` : ''}`,
            asked: null,
            limit: null,
            rule: null,
            next: 'talk to your manager, or submit a smaller job',
          },
        ];
        const moved = await moveJob(
          trx,
          job.id,
          'rejected',
          { ended_at: now, reasons: JSON.stringify(reasons) },
          'pending_approval',
        );
        // Read as pending_approval above; on PostgreSQL a cancel may have won since.
        if (!moved)
          throw new AppError('conflict', `job ${job.id} is no longer waiting for approval; look again`);
      }
      const updated = await trx
        .selectFrom('approvals')
        .selectAll()
        .where('id', '=', id)
        .executeTakeFirstOrThrow();
      return { approval: toApproval(updated), jobId: job.id };
    });
    // Re-admission runs in its own transaction, by id; should it not run (a crash), expire() finds the job
    // still held under an approved approval and re-admits it.
    const admission =
      verdict === 'approved' ? await jobs.readmitApproved(decided.jobId, actor.principal.userName) : null;
    return { approval: decided.approval, admission };
  }

  return {
    async list({ principal }, status) {
      let query = db.selectFrom('approvals').selectAll().orderBy('created_at', 'desc');
      if (!principal.platformAdmin) {
        const teams = [...principal.teams.keys()];
        if (teams.length === 0) return [];
        query = query.where('team', 'in', teams);
      }
      if (status) query = query.where('status', '=', status);
      return (await query.execute()).map(toApproval);
    },

    async approve(actor, id, reason) {
      const { approval, admission } = await decide(actor, id, 'approved', reason);
      if (!admission)
        throw new AppError('conflict', `job ${approval.jobId} is no longer waiting for approval`);
      if (admission.outcome === 'admitted') deps.onAdmitted?.();
      return { approval, admission };
    },

    async deny(actor, id, reason) {
      return (await decide(actor, id, 'denied', reason)).approval;
    },

    async expire() {
      const now = isoNow(clock);
      const stranded = await db
        .selectFrom('jobs')
        .innerJoin('approvals', 'approvals.id', 'jobs.approval_id')
        .select(['jobs.id as id', 'approvals.decided_by as approver'])
        .where('jobs.status', '=', 'pending_approval')
        .where('approvals.status', '=', 'approved')
        .execute();
      for (const job of stranded) {
        try {
          const admission = await jobs.readmitApproved(job.id, job.approver ?? 'system');
          if (admission.outcome === 'admitted') deps.onAdmitted?.();
        } catch (error) {
          // Another caller re-admitted it meanwhile: nothing left to do.
          if (!(error instanceof AppError && error.code === 'conflict')) throw error;
        }
      }
      return db.transaction().execute(async (trx) => {
        const expired = await trx
          .selectFrom('approvals')
          .selectAll()
          .where('status', '=', 'pending')
          .where('expires_at', '<=', now)
          .execute();
        for (const row of expired) {
          await trx
            .updateTable('approvals')
            .set({ status: 'expired', decided_at: now })
            .where('id', '=', row.id)
            .execute();
          const reasons = [
            {
              code: 'approval_expired',
              message: `nobody approved it before ${row.expires_at}`,
              asked: null,
              limit: null,
              rule: null,
              next: 'submit the job again and ask a manager to approve it',
            },
          ];
          // A job cancelled meanwhile stays cancelled: nothing to reject.
          await moveJob(
            trx,
            row.job_id,
            'rejected',
            { ended_at: now, reasons: JSON.stringify(reasons) },
            'pending_approval',
          );
          await audit.append(trx, {
            actor: 'system',
            action: 'approval.expired',
            resource: `approval/${row.id}`,
            team: row.team,
            outcome: 'deny',
            details: { job: row.job_id },
          });
        }
        return expired.length;
      });
    },

    async grantException(actor, request) {
      if (!actor.principal.platformAdmin) {
        await audit.record({
          actor: actor.principal.userName,
          action: 'policy_exception.grant',
          resource: `policy/${request.policyId}`,
          team: request.team,
          outcome: 'deny',
          requestId: actor.requestId,
        });
        throw new AppError('forbidden', 'only platform-admins grant policy exceptions');
      }
      const expiresAt = new Date(request.expiresAt).toISOString();
      if (expiresAt <= isoNow(clock))
        throw new AppError('invalid_input', 'expiresAt must be in the future', {
          issues: [{ path: ['expiresAt'], message: 'in the past' }],
        });
      const row = {
        id: newId('exc'),
        policy_id: request.policyId,
        team: request.team,
        description: request.description,
        expires_at: expiresAt,
        granted_by: actor.principal.userName,
        created_at: isoNow(clock),
      };
      await db.transaction().execute(async (trx) => {
        await trx.insertInto('policy_exceptions').values(row).execute();
        await audit.append(trx, {
          actor: actor.principal.userName,
          action: 'policy_exception.granted',
          resource: `policy/${request.policyId}`,
          team: request.team,
          outcome: 'success',
          requestId: actor.requestId,
          details: { id: row.id, description: row.description, expiresAt },
        });
      });
      return {
        id: row.id,
        policyId: row.policy_id,
        team: row.team,
        description: row.description,
        expiresAt,
        grantedBy: row.granted_by,
        createdAt: row.created_at,
      };
    },

    async listExceptions({ principal }) {
      let query = db.selectFrom('policy_exceptions').selectAll().orderBy('created_at', 'desc');
      if (!principal.platformAdmin) query = query.where('team', 'in', [...principal.teams.keys(), '']);
      return (await query.execute()).map((row) => ({
        id: row.id,
        policyId: row.policy_id,
        team: row.team,
        description: row.description,
        expiresAt: row.expires_at,
        grantedBy: row.granted_by,
        createdAt: row.created_at,
      }));
    },
  };
}
