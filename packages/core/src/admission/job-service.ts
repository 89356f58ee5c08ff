import {
  type Admission,
  type Job,
  type JobDecision,
  type JobQuery,
  type JobStatus,
  type Product,
  SubmitJobRequest,
  type SubmitJobResponse,
} from '@aicloud/contracts';
import type { Transaction } from 'kysely';
import { AppError, notFound } from '../app-error.ts';
import type { AuditService } from '../audit/audit-service.ts';
import type { CatalogService } from '../catalog/catalog-service.ts';
import { type Clock, isoNow } from '../clock.ts';
import { formatDuration, parseDuration } from '../duration.ts';
import { type Actor, canSeeTeam, teamsToList } from '../identity/principal.ts';
import { newId } from '../ids.ts';
import { fromMicros, microsToCents } from '../money.ts';
import { type Authorizer, failClosed, type PolicyDecision, type PolicyRequest } from '../ports/authorizer.ts';
import type { Store } from '../store/open-store.ts';
import type { Database } from '../store/schema.ts';
import { canMoveJob, type InitialJobStatus, moveJob } from '../workloads/job-state.ts';
import {
  estimateMicros as estimateWorkloadMicros,
  hourlyRateMicros,
  unitsOf,
} from '../workloads/workload-meter.ts';
import { type AdmissionFacts, gatherFacts, type JobAsk } from './admission-facts.ts';
import { decideAdmission } from './admission-outcome.ts';
import { type JobRow, toJob } from './job-record.ts';

/** Cedar Longs must stay within 2^53; an absent budget is this many cents. */
const UNLIMITED_CENTS = 1_000_000_000_000;
const APPROVAL_TTL_MS = 24 * 3600 * 1000;

/** Dependencies of the job service. */
export interface JobServiceDeps {
  store: Store;
  audit: AuditService;
  clock: Clock;
  authorizer: Authorizer;
  catalog: CatalogService;
  /** Called when a running job must stop (the executor's business). */
  stopRunning?: (jobId: string, reason: 'cancelled') => Promise<void>;
  /** Names of the executors this platform has (`local`, `slurm`). */
  executorNames?: () => string[];
  /** Called after a job was admitted, so the runner can start it at once. */
  onAdmitted?: () => void;
}

/** Jobs: submission through admission (policy, approvals, quota, budget), listing, cancelling. */
export interface JobService {
  /** `traceparent`: the trace the submission continues (a caller's, or its pipeline step's). */
  submit(
    actor: Actor,
    request: SubmitJobRequest,
    options?: { traceparent?: string | undefined },
  ): Promise<SubmitJobResponse>;
  list(actor: Actor, query: JobQuery): Promise<Job[]>;
  get(actor: Actor, id: string): Promise<Job>;
  cancel(actor: Actor, id: string): Promise<Job>;
  /** The recorded policy decision of a job, for `aicloud policy explain`. */
  decision(actor: Actor, id: string): Promise<JobDecision>;
  /**
   * Re-runs admission, in a transaction of its own, for a job held for approval whose approval is approved;
   * by id, so it is safe to retry (conflict once the job moved on).
   */
  readmitApproved(jobId: string, approver: string): Promise<Admission>;
}

/** The estimated maximum cost: hourly price × GPUs (or one CPU machine) × maximum runtime. */
export function estimateMicros(ask: JobAsk): { micros: number; pricePerHour: number; rateMicros: number } {
  const placement = { gpus: ask.gpus, gpuType: ask.gpuType, spot: ask.spot };
  const rateMicros = hourlyRateMicros(ask.product.prices, placement);
  return {
    micros: estimateWorkloadMicros(rateMicros, placement, ask.maxRuntimeSeconds),
    pricePerHour: fromMicros(rateMicros * unitsOf(placement)),
    rateMicros,
  };
}

function policyRequest(
  actor: Actor,
  jobId: string,
  owner: string,
  ask: JobAsk,
  facts: AdmissionFacts,
  estimate: number,
  approved: boolean,
): PolicyRequest {
  const role = actor.principal.teams.get(ask.team) ?? 'none';
  return {
    principal: {
      name: actor.principal.userName,
      platformAdmin: actor.principal.platformAdmin,
      teams: [...actor.principal.teams.keys()],
    },
    action: 'submit_job',
    resource: {
      type: 'Job',
      id: jobId,
      attrs: {
        team: ask.team,
        owner,
        product: ask.product.name,
        kind: ask.product.kind,
        gpus: ask.gpus,
        gpuType: ask.gpuType ?? 'none',
        maxRuntimeSeconds: ask.maxRuntimeSeconds,
        spot: ask.spot,
      },
    },
    context: {
      role,
      product: {
        name: ask.product.name,
        maxGpus: ask.product.gpu.max,
        minGpus: ask.product.gpu.min,
        maxDurationSeconds: ask.product.maxDurationSeconds,
      },
      estimatedCostCents: microsToCents(estimate),
      budget: facts.budget
        ? {
            maxBudgetCents: microsToCents(facts.budget.maxMicros),
            remainingCents: Math.floor(facts.budget.remainingMicros / 10_000),
          }
        : { maxBudgetCents: UNLIMITED_CENTS, remainingCents: UNLIMITED_CENTS },
      unregisteredDatasets: facts.datasets.unregistered,
      unclassifiedDatasets: facts.datasets.unclassified,
      datasetsOutsideApprovedLocation: facts.datasets.outsideApprovedLocation,
      unencryptedDatasets: facts.datasets.unencrypted,
      otherTeamDatasets: facts.datasets.otherTeam,
      managerApproved: approved,
      exceptions: facts.exceptions,
    },
  };
}

function admissionOf(
  outcome: Admission['outcome'],
  decision: PolicyDecision,
  reasons: Admission['reasons'],
  ask: JobAsk,
  facts: AdmissionFacts,
  estimate: { micros: number; pricePerHour: number },
  extra: { queuePosition: number | null; approvalId: string | null },
): Admission {
  const budget = facts.budget;
  return {
    outcome,
    estimatedCost: fromMicros(estimate.micros),
    guardrails: {
      maxRuntime: formatDuration(ask.maxRuntimeSeconds),
      maxRuntimeSeconds: ask.maxRuntimeSeconds,
      idleRule: ask.product.idleDuration ? `stop after ${ask.product.idleDuration} idle` : null,
      spotPolicy: ask.product.spotPolicy,
      spot: ask.spot,
      pricePerHour: estimate.pricePerHour,
      quota:
        facts.quota && facts.quota.nominal !== null
          ? {
              gpuType: facts.quota.gpuType,
              nominal: facts.quota.nominal,
              used: facts.quota.used,
              left: Math.max(facts.quota.nominal - facts.quota.used, 0),
            }
          : null,
      budget: budget
        ? {
            max: fromMicros(budget.maxMicros),
            used: fromMicros(budget.spentMicros),
            committed: fromMicros(budget.committedMicros),
            left: fromMicros(Math.max(budget.remainingMicros, 0)),
            period: `${budget.periodStart.slice(0, 10)}..${budget.periodEnd.slice(0, 10)}`,
          }
        : null,
    },
    reasons,
    warnings: decision.warnings,
    dryRun: decision.dryRun,
    policySetDigest: decision.policySetDigest,
    queuePosition: extra.queuePosition,
    approvalId: extra.approvalId,
  };
}

/** Creates the job service. */
export function createJobService(deps: JobServiceDeps): JobService {
  const { store, audit, clock, catalog } = deps;
  const authorizer = failClosed(deps.authorizer);
  const db = store.db;

  async function queuePosition(
    executor: Transaction<Database> | typeof db,
    row: JobRow,
  ): Promise<number | null> {
    if (row.status !== 'queued') return null;
    const ahead = await executor
      .selectFrom('jobs')
      .select((eb) => eb.fn.countAll<number>().as('count'))
      .where('team', '=', row.team)
      .where('status', '=', 'queued')
      .where('gpu_type', '=', row.gpu_type)
      .where((eb) =>
        eb.or([
          eb('created_at', '<', row.created_at),
          eb.and([eb('created_at', '=', row.created_at), eb('id', '<', row.id)]),
        ]),
      )
      .executeTakeFirstOrThrow();
    return Number(ahead.count) + 1;
  }

  async function resolveAsk(
    actor: Actor,
    request: SubmitJobRequest,
  ): Promise<{ ask: JobAsk; parsed: ReturnType<typeof SubmitJobRequest.parse> }> {
    const parsed = SubmitJobRequest.parse(request);
    const product = await catalog.requested(parsed.product);
    if (product.kind === 'notebook' || product.kind === 'endpoint') {
      throw new AppError(
        'invalid_input',
        `product ${product.name} is a ${product.kind}, not a job product; use aicloud ${product.kind === 'notebook' ? 'notebooks create' : 'deploy model'}`,
      );
    }
    const teams = [...actor.principal.teams.keys()];
    const team = parsed.team ?? (teams.length === 1 ? teams[0] : undefined);
    if (!team) {
      throw new AppError(
        'invalid_input',
        teams.length === 0
          ? 'you are not in any team; ask a platform-admin to add you'
          : `you are in several teams (${teams.join(', ')}): pass --team`,
        {
          issues: [{ path: ['team'], message: 'required' }],
        },
      );
    }
    if (!canSeeTeam(actor.principal, team)) throw notFound('team', team);
    if (parsed.gpus < product.gpu.min) {
      throw new AppError(
        'invalid_input',
        `product ${product.name} needs at least ${product.gpu.min} GPU(s); you asked for ${parsed.gpus}`,
        {
          issues: [{ path: ['gpus'], message: `at least ${product.gpu.min}` }],
        },
      );
    }
    let gpuType: string | null = null;
    if (parsed.gpus > 0) {
      gpuType = parsed.gpuType ?? product.gpu.types[0] ?? null;
      if (!gpuType || !product.gpu.types.includes(gpuType)) {
        throw new AppError(
          'invalid_input',
          `product ${product.name} offers ${product.gpu.types.join(', ') || 'no GPUs'}, not ${parsed.gpuType}`,
          {
            issues: [{ path: ['gpuType'], message: `one of ${product.gpu.types.join(', ')}` }],
          },
        );
      }
    }
    let spot = parsed.spot;
    if (product.spotPolicy === 'spot') spot = true;
    if (product.spotPolicy === 'on-demand' && parsed.spot) {
      throw new AppError(
        'invalid_input',
        `product ${product.name} runs on on-demand capacity only; drop --spot`,
        { issues: [{ path: ['spot'], message: 'not offered' }] },
      );
    }
    const maxRuntimeSeconds = parsed.maxRuntime
      ? parseDuration(parsed.maxRuntime, 'maxRuntime')
      : product.maxDurationSeconds;
    if (maxRuntimeSeconds <= 0)
      throw new AppError('invalid_input', 'maxRuntime must be positive', {
        issues: [{ path: ['maxRuntime'], message: 'must be positive' }],
      });
    return {
      ask: {
        team,
        product,
        gpus: parsed.gpus,
        gpuType,
        datasets: [...new Set(parsed.datasets)],
        maxRuntimeSeconds,
        spot,
      },
      parsed,
    };
  }

  async function managersOf(trx: Transaction<Database>, team: string): Promise<string[]> {
    const rows = await trx
      .selectFrom('memberships')
      .innerJoin('teams', 'teams.id', 'memberships.team_id')
      .innerJoin('users', 'users.id', 'memberships.user_id')
      .select('users.name')
      .where('teams.name', '=', team)
      .where('memberships.role', '=', 'manager')
      .orderBy('users.name')
      .execute();
    return rows.map((row) => row.name);
  }

  function auditOutcome(outcome: Admission['outcome'], decision: PolicyDecision) {
    if (outcome === 'rejected') return 'deny' as const;
    if (outcome === 'pending_approval') return 'hold' as const;
    return decision.outcome === 'warn' ? ('warn' as const) : ('allow' as const);
  }

  return {
    async submit(actor, request) {
      const { ask, parsed } = await resolveAsk(actor, request);
      if (parsed.secrets.length > 0) {
        const found = await db
          .selectFrom('secrets')
          .select('name')
          .where('team', '=', ask.team)
          .where('name', 'in', parsed.secrets)
          .execute();
        const missing = parsed.secrets.filter((name) => !found.some((row) => row.name === name));
        if (missing.length > 0) {
          throw new AppError(
            'invalid_input',
            `secret(s) ${missing.join(', ')} not set for team ${ask.team}; set with: aicloud secrets set ${missing[0]} --team ${ask.team}`,
            {
              issues: [{ path: ['secrets'], message: `unknown: ${missing.join(', ')}` }],
            },
          );
        }
      }
      const executor = parsed.executor ?? ask.product.executor;
      const available = deps.executorNames?.() ?? ['local'];
      if (!available.includes(executor)) {
        // Asking for an executor the platform lacks is the caller's choice (400, pick another);
        // a product whose own executor is missing is the platform's misconfiguration (503).
        const how =
          executor === 'slurm'
            ? 'a platform engineer starts aicloud with --slurm-partition NAME (see docs/slurm.md)'
            : 'a platform engineer configures it, or moves the product to one of those';
        throw new AppError(
          parsed.executor === undefined ? 'unavailable' : 'invalid_input',
          `executor ${executor} is not configured on this platform (it has: ${available.join(', ')}); ${parsed.executor === undefined ? how : `leave --executor out or pick one of: ${available.join(', ')}`}`,
          {
            issues: [{ path: ['executor'], message: `not configured: ${executor}` }],
          },
        );
      }
      const jobId = newId('job');
      const estimate = estimateMicros(ask);
      const now = clock.now();
      const result = await db.transaction().execute(async (trx) => {
        const facts = await gatherFacts(store, trx, ask, now);
        const decision = authorizer.authorize(
          policyRequest(actor, jobId, actor.principal.userName, ask, facts, estimate.micros, false),
        );
        const { outcome, reasons, budgetRefusal } = decideAdmission(decision, ask, facts, estimate.micros);
        if (parsed.dryRun) {
          await audit.append(trx, {
            actor: actor.principal.userName,
            action: 'job.preview',
            resource: `job/${jobId}`,
            team: ask.team,
            outcome: auditOutcome(outcome, decision),
            requestId: actor.requestId,
            details: {
              status: outcome,
              policySetDigest: decision.policySetDigest,
              determining: decision.determining.map((hit) => hit.policyId),
            },
          });
          const position = outcome === 'queued' ? facts.queueAhead + 1 : null;
          return {
            job: null,
            admission: admissionOf(outcome, decision, reasons, ask, facts, estimate, {
              queuePosition: position,
              approvalId: null,
            }),
            budgetRefusal,
          };
        }
        const createdAt = isoNow(clock);
        let approvalId: string | null = null;
        if (outcome === 'pending_approval') {
          approvalId = newId('apr');
          const approvers = await managersOf(trx, ask.team);
          await trx
            .insertInto('approvals')
            .values({
              id: approvalId,
              job_id: jobId,
              team: ask.team,
              requested_by: actor.principal.userName,
              approvers: JSON.stringify(approvers),
              rules: JSON.stringify(decision.determining.map((hit) => hit.policyId)),
              status: 'pending',
              decided_by: null,
              reason: null,
              created_at: createdAt,
              expires_at: new Date(now + APPROVAL_TTL_MS).toISOString(),
              decided_at: null,
            })
            .execute();
          for (const reason of reasons) {
            reason.next = `${approvers.length > 0 ? approvers.join(' or ') : 'a manager of the team'} approves it: aicloud approvals approve ${approvalId}`;
          }
        }
        const reserves = outcome === 'admitted' || outcome === 'queued';
        const row: JobRow = {
          id: jobId,
          name: parsed.name ?? `${ask.product.name}-${jobId.slice(4, 10)}`,
          team: ask.team,
          owner: actor.principal.userName,
          product: ask.product.name,
          kind: ask.product.kind,
          gpus: ask.gpus,
          gpu_type: ask.gpuType,
          spot: ask.spot ? 1 : 0,
          datasets: JSON.stringify(ask.datasets),
          secrets: JSON.stringify(parsed.secrets),
          command: parsed.command,
          executor: parsed.executor ?? ask.product.executor,
          max_runtime_s: ask.maxRuntimeSeconds,
          grace_s: ask.product.graceSeconds,
          status: outcome satisfies InitialJobStatus,
          reasons: JSON.stringify(reasons),
          decision: JSON.stringify({
            digest: decision.policySetDigest,
            determining: decision.determining,
            warnings: decision.warnings,
            dryRun: decision.dryRun,
            errors: decision.errors,
          }),
          estimate_micros: estimate.micros,
          reserved_micros: reserves ? estimate.micros : 0,
          cost_micros: 0,
          approval_id: approvalId,
          gpu_indexes: '[]',
          gpu_source: null,
          exit_code: null,
          external_id: null,
          created_at: createdAt,
          admitted_at: outcome === 'admitted' ? createdAt : null,
          started_at: null,
          ended_at: outcome === 'rejected' ? createdAt : null,
          metered_until: null,
          rate_micros: estimate.rateMicros,
          experiment: parsed.experiment ?? null,
        };
        await trx.insertInto('jobs').values(row).execute();
        await audit.append(trx, {
          actor: actor.principal.userName,
          action: 'job.submit',
          resource: `job/${jobId}`,
          team: ask.team,
          outcome: auditOutcome(outcome, decision),
          requestId: actor.requestId,
          details: {
            status: outcome,
            product: ask.product.name,
            gpus: ask.gpus,
            gpuType: ask.gpuType,
            estimatedCost: fromMicros(estimate.micros),
            policySetDigest: decision.policySetDigest,
            determining: decision.determining.map((hit) => hit.policyId),
            warnings: decision.warnings.map((hit) => hit.policyId),
            wouldHaveDenied: decision.dryRun.map((hit) => hit.policyId),
            reasons: reasons.map((reason) => reason.code),
          },
        });
        const position = await queuePosition(trx, row);
        return {
          job: toJob(row, position),
          admission: admissionOf(outcome, decision, reasons, ask, facts, estimate, {
            queuePosition: position,
            approvalId,
          }),
          budgetRefusal,
        };
      });
      if (result.admission.outcome === 'admitted' && !parsed.dryRun) deps.onAdmitted?.();
      if (result.admission.outcome === 'rejected' && !parsed.dryRun) {
        const first = result.admission.reasons[0];
        throw new AppError(
          result.budgetRefusal ? 'budget_exceeded' : 'policy_denied',
          `job rejected by ${first?.rule ?? 'policy'}: ${first?.message ?? 'denied'}`,
          {
            details: { job: result.job, admission: result.admission },
          },
        );
      }
      return { job: result.job, admission: result.admission };
    },

    async list({ principal }, query) {
      let select = db
        .selectFrom('jobs')
        .selectAll()
        .orderBy('created_at', 'desc')
        .orderBy('id', 'desc')
        .limit(query.limit);
      const teams = teamsToList(principal, query.team);
      if (teams?.length === 0) return [];
      if (teams) select = select.where('team', 'in', teams);
      if (query.status) select = select.where('status', '=', query.status);
      const rows = await select.execute();
      return Promise.all(rows.map(async (row) => toJob(row, await queuePosition(db, row))));
    },

    async get({ principal }, id) {
      const row = await db.selectFrom('jobs').selectAll().where('id', '=', id).executeTakeFirst();
      if (!row || !canSeeTeam(principal, row.team)) throw notFound('job', id);
      return toJob(row, await queuePosition(db, row));
    },

    async decision({ principal }, id) {
      const row = await db.selectFrom('jobs').selectAll().where('id', '=', id).executeTakeFirst();
      if (!row || !canSeeTeam(principal, row.team)) throw notFound('job', id);
      const recorded = JSON.parse(row.decision) as Omit<
        JobDecision,
        'jobId' | 'status' | 'reasons' | 'policySetDigest'
      > & { digest: string };
      return {
        jobId: row.id,
        status: row.status as JobDecision['status'],
        policySetDigest: recorded.digest,
        determining: recorded.determining,
        warnings: recorded.warnings,
        dryRun: recorded.dryRun,
        errors: recorded.errors,
        approvedBy: recorded.approvedBy ?? null,
        reasons: JSON.parse(row.reasons) as JobDecision['reasons'],
      };
    },

    async cancel(actor, id) {
      const row = await db.selectFrom('jobs').selectAll().where('id', '=', id).executeTakeFirst();
      if (!row || !canSeeTeam(actor.principal, row.team)) throw notFound('job', id);
      const decision = authorizer.authorize({
        principal: {
          name: actor.principal.userName,
          platformAdmin: actor.principal.platformAdmin,
          teams: [...actor.principal.teams.keys()],
        },
        action: 'cancel_job',
        resource: {
          type: 'Job',
          id,
          attrs: {
            team: row.team,
            owner: row.owner,
            product: row.product,
            kind: row.kind,
            gpus: row.gpus,
            gpuType: row.gpu_type ?? 'none',
            maxRuntimeSeconds: row.max_runtime_s,
            spot: row.spot === 1,
          },
        },
        context: { role: actor.principal.teams.get(row.team) ?? 'none' },
      });
      if (decision.outcome === 'deny' || decision.outcome === 'require_approval') {
        await audit.record({
          actor: actor.principal.userName,
          action: 'job.cancel',
          resource: `job/${id}`,
          team: row.team,
          outcome: 'deny',
          requestId: actor.requestId,
          details: {
            policySetDigest: decision.policySetDigest,
            determining: decision.determining.map((hit) => hit.policyId),
          },
        });
        throw new AppError(
          'forbidden',
          `you may cancel only your own jobs (${row.owner} owns ${id}); a manager of ${row.team} can cancel it`,
          {
            details: { rule: decision.determining[0]?.policyId ?? 'cancel_job' },
          },
        );
      }
      const status = row.status as JobStatus;
      // The state table decides: only an ended job cannot be cancelled, and saying so is a conflict.
      if (!canMoveJob(status, 'cancelled')) {
        throw new AppError('conflict', `job ${id} already ended (${row.status})`);
      }
      if (row.status === 'running') {
        await audit.record({
          actor: actor.principal.userName,
          action: 'job.cancel',
          resource: `job/${id}`,
          team: row.team,
          outcome: 'allow',
          requestId: actor.requestId,
          details: { policySetDigest: decision.policySetDigest },
        });
        if (!deps.stopRunning)
          throw new AppError('unavailable', 'no executor is attached to stop running jobs');
        await deps.stopRunning(id, 'cancelled');
        return this.get(actor, id);
      }
      const endedAt = isoNow(clock);
      await db.transaction().execute(async (trx) => {
        const moved = await moveJob(
          trx,
          id,
          'cancelled',
          {
            ended_at: endedAt,
            reserved_micros: 0,
            reasons: JSON.stringify([
              {
                code: 'cancelled_by_user',
                message: `cancelled by ${actor.principal.userName}`,
                asked: null,
                limit: null,
                rule: null,
                next: null,
              },
            ]),
          },
          status,
        );
        if (!moved)
          throw new AppError(
            'conflict',
            `job ${id} changed state meanwhile; look again with aicloud jobs get ${id}`,
          );
        if (row.approval_id) {
          await trx
            .updateTable('approvals')
            .set({
              status: 'denied',
              decided_by: actor.principal.userName,
              reason: 'job cancelled',
              decided_at: endedAt,
            })
            .where('id', '=', row.approval_id)
            .where('status', '=', 'pending')
            .execute();
        }
        await audit.append(trx, {
          actor: actor.principal.userName,
          action: 'job.cancel',
          resource: `job/${id}`,
          team: row.team,
          outcome: 'allow',
          requestId: actor.requestId,
          details: { from: row.status, policySetDigest: decision.policySetDigest },
        });
      });
      return this.get(actor, id);
    },

    async readmitApproved(jobId, approver) {
      const held = await db.selectFrom('jobs').select('product').where('id', '=', jobId).executeTakeFirst();
      if (!held) throw notFound('job', jobId);
      const product = await catalog.get(held.product);
      return db.transaction().execute((trx) => readmit(trx, jobId, product, approver));
    },
  };

  /** Admission again for a held job whose approval is approved, inside one transaction. */
  async function readmit(
    trx: Transaction<Database>,
    jobId: string,
    product: Product,
    approver: string,
  ): Promise<Admission> {
    const row = await trx.selectFrom('jobs').selectAll().where('id', '=', jobId).executeTakeFirstOrThrow();
    if (row.status !== 'pending_approval')
      throw new AppError('conflict', `job ${jobId} is no longer waiting for approval (it is ${row.status})`);
    const approval = row.approval_id
      ? await trx
          .selectFrom('approvals')
          .select('status')
          .where('id', '=', row.approval_id)
          .executeTakeFirst()
      : undefined;
    if (approval?.status !== 'approved')
      throw new AppError('conflict', `job ${jobId} has no approved approval to be re-admitted with`);
    const ask: JobAsk = {
      team: row.team,
      product,
      gpus: row.gpus,
      gpuType: row.gpu_type,
      datasets: JSON.parse(row.datasets) as string[],
      maxRuntimeSeconds: row.max_runtime_s,
      spot: row.spot === 1,
    };
    const now = clock.now();
    const facts = await gatherFacts(store, trx, ask, now);
    const ownerPrincipal = await principalOf(trx, row.owner);
    const estimate = estimateMicros(ask);
    const decision = authorizer.authorize(
      policyRequest(
        { principal: ownerPrincipal, requestId: null },
        row.id,
        row.owner,
        ask,
        facts,
        estimate.micros,
        true,
      ),
    );
    const { outcome, reasons } = decideAdmission(decision, ask, facts, estimate.micros);
    const at = isoNow(clock);
    const reserves = outcome === 'admitted' || outcome === 'queued';
    const moved = await moveJob(
      trx,
      row.id,
      // Approval is not asked twice: a job that would need it again is rejected.
      outcome === 'pending_approval' ? 'rejected' : outcome,
      {
        reasons: JSON.stringify(reasons),
        reserved_micros: reserves ? estimate.micros : 0,
        admitted_at: outcome === 'admitted' ? at : null,
        ended_at: outcome === 'rejected' || outcome === 'pending_approval' ? at : null,
        decision: JSON.stringify({
          digest: decision.policySetDigest,
          determining: decision.determining,
          warnings: decision.warnings,
          dryRun: decision.dryRun,
          errors: decision.errors,
          approvedBy: approver,
        }),
      },
      'pending_approval',
    );
    if (!moved) throw new AppError('conflict', `job ${jobId} is no longer waiting for approval`);
    await audit.append(trx, {
      actor: approver,
      action: 'job.readmit',
      resource: `job/${row.id}`,
      team: row.team,
      outcome: auditOutcome(outcome, decision),
      details: {
        status: outcome,
        policySetDigest: decision.policySetDigest,
        determining: decision.determining.map((hit) => hit.policyId),
      },
    });
    const position = outcome === 'queued' ? facts.queueAhead + 1 : null;
    return admissionOf(outcome, decision, reasons, ask, facts, estimate, {
      queuePosition: position,
      approvalId: row.approval_id,
    });
  }
}

/** The principal of a user by name, for decisions made on their behalf (re-admission after approval). */
async function principalOf(trx: Transaction<Database>, name: string): Promise<Actor['principal']> {
  const user = await trx
    .selectFrom('users')
    .select(['id', 'name', 'platform_admin'])
    .where('name', '=', name)
    .executeTakeFirstOrThrow();
  const memberships = await trx
    .selectFrom('memberships')
    .innerJoin('teams', 'teams.id', 'memberships.team_id')
    .select(['teams.name as team', 'memberships.role as role'])
    .where('memberships.user_id', '=', user.id)
    .execute();
  return {
    userId: user.id,
    userName: user.name,
    platformAdmin: user.platform_admin === 1,
    teams: new Map(
      memberships.map((membership) => [membership.team, membership.role as 'member' | 'manager']),
    ),
    tokenId: 'on-behalf',
    tokenName: 'on-behalf',
    tokenExpiresAt: null,
    scope: null,
  };
}
