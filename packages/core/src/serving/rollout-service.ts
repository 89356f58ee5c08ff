import type { Rollout, RolloutDecision, RolloutFigures } from '@aicloud/contracts';
import type { Kysely, Selectable, Transaction } from 'kysely';
import { AppError } from '../app-error.ts';
import type { AuditService } from '../audit/audit-service.ts';
import { type Clock, isoNow } from '../clock.ts';
import type { Actor } from '../identity/principal.ts';
import { newId } from '../ids.ts';
import type { Store } from '../store/open-store.ts';
import type { Database } from '../store/schema.ts';
import { moveEndpoint } from '../workloads/endpoint-state.ts';
import type { ReplicaPool } from './replica-pool.ts';
import { judgeStep, type QualityComparison } from './rollout-analysis.ts';
import { visibleEndpoint } from './visible-endpoint.ts';

type RolloutRow = Selectable<Database['endpoint_rollouts']>;
type EndpointRow = Selectable<Database['endpoints']>;

/** Canary rollouts: analysis step by step, promotion, rollback; the gateway splits the traffic. */
export interface RolloutService {
  /** The endpoint's newest rollout. */
  status(actor: Actor, endpoint: string): Promise<Rollout>;
  /** Promotes the progressing canary now. */
  promote(actor: Actor, endpoint: string): Promise<Rollout>;
  /** Aborts the progressing canary: all traffic back to the stable version. */
  abort(actor: Actor, endpoint: string): Promise<Rollout>;
  /** Judges every progressing rollout whose step window has passed (the controller loop); answers how many moved. */
  tick(): Promise<number>;
}

/** What the rollout service needs. */
export interface RolloutServiceDeps {
  store: Store;
  audit: AuditService;
  clock: Clock;
  pool: ReplicaPool;
  /** Called when a rollout's weight or state changes, so the gateway routes by it at once. */
  onRoutesChanged: () => void;
  /**
   * Both versions' score on the stable endpoint's evaluation set (evaluating the canary through the gateway);
   * null when the endpoint has none.
   */
  compareQuality?: (stable: EndpointRow, canary: EndpointRow) => Promise<QualityComparison | null>;
}

/** A rollout as the API shows it, with its decisions. */
export async function rolloutView(db: Kysely<Database>, row: RolloutRow): Promise<Rollout> {
  const decisions = await db
    .selectFrom('endpoint_rollout_decisions')
    .selectAll()
    .where('rollout_id', '=', row.id)
    .orderBy('at')
    .orderBy('id')
    .execute();
  const steps = JSON.parse(row.steps) as number[];
  return {
    id: row.id,
    endpoint: row.endpoint,
    team: row.team,
    model: row.model,
    fromVersion: row.from_version,
    toVersion: row.to_version,
    status: row.status as Rollout['status'],
    weight: row.status === 'progressing' ? (steps[row.step] ?? 0) : 0,
    steps,
    step: row.step,
    analysisWindowSeconds: row.window_s,
    minRequests: row.min_requests,
    thresholds: thresholdsOf(row),
    waiting: row.waiting,
    stepStartedAt: row.step_started_at,
    createdBy: row.created_by,
    createdAt: row.created_at,
    endedAt: row.ended_at,
    decisions: decisions.map((decision) => ({
      at: decision.at,
      step: decision.step,
      weight: decision.weight,
      decision: decision.decision as RolloutDecision['decision'],
      reason: decision.reason,
      actor: decision.actor,
      figures: JSON.parse(decision.figures) as RolloutDecision['figures'],
    })),
  };
}

/** The thresholds a rollout's steps are judged against, as the API shows them. */
function thresholdsOf(row: RolloutRow): Rollout['thresholds'] {
  return {
    maxErrorRateIncrease: row.max_error_rate_increase,
    maxLatencyRatio: row.max_latency_ratio,
    latencyAllowanceMs: row.latency_allowance_ms,
    maxQualityDrop: row.max_quality_drop,
  };
}

/** The newest rollout of an endpoint (by its id), if any. */
export function latestRollout(db: Kysely<Database>, endpointId: string): Promise<RolloutRow | undefined> {
  return db
    .selectFrom('endpoint_rollouts')
    .selectAll()
    .where('endpoint_id', '=', endpointId)
    .orderBy('created_at', 'desc')
    .orderBy('id', 'desc')
    .executeTakeFirst();
}

/** Creates the rollout service. */
export function createRolloutService(deps: RolloutServiceDeps): RolloutService {
  const { store, audit, clock, pool } = deps;
  const db = store.db;

  async function visibleRollout(
    actor: Actor,
    name: string,
  ): Promise<{ row: RolloutRow; stable: EndpointRow }> {
    const stable = await visibleEndpoint(db, actor, name);
    const row = await latestRollout(db, stable.id);
    if (!row)
      throw new AppError(
        'not_found',
        `endpoint ${name} has no rollout; deploy a new version onto it to start one (aicloud deploy model --name MODEL --version N --endpoint ${name} --canary 10%)`,
      );
    return { row, stable };
  }

  function progressing(row: RolloutRow, verb: string): void {
    if (row.status !== 'progressing')
      throw new AppError(
        'conflict',
        `the rollout of ${row.endpoint} to version ${row.to_version} is ${row.status.replace('_', ' ')}, so there is nothing to ${verb}`,
      );
  }

  /** A rollout as it is now in the store, as the API shows it. */
  async function reread(id: string): Promise<Rollout> {
    return rolloutView(
      db,
      await db.selectFrom('endpoint_rollouts').selectAll().where('id', '=', id).executeTakeFirstOrThrow(),
    );
  }

  async function canaryOf(row: RolloutRow): Promise<EndpointRow> {
    return db.selectFrom('endpoints').selectAll().where('id', '=', row.canary_id).executeTakeFirstOrThrow();
  }

  async function decide(
    trx: Transaction<Database>,
    row: RolloutRow,
    decision: RolloutDecision['decision'],
    reason: string,
    figures: RolloutDecision['figures'],
    actor: string,
  ): Promise<void> {
    const steps = JSON.parse(row.steps) as number[];
    await trx
      .insertInto('endpoint_rollout_decisions')
      .values({
        id: newId('rod'),
        rollout_id: row.id,
        at: isoNow(clock),
        step: row.step,
        weight: steps[row.step] ?? 100,
        decision,
        reason,
        figures: JSON.stringify(figures),
        actor,
      })
      .execute();
    await audit.append(trx, {
      actor,
      action: `endpoint.rollout_${decision === 'advance' ? 'advanced' : decision === 'promote' ? 'promoted' : decision === 'rollback' ? 'rolled_back' : 'aborted'}`,
      resource: `endpoint/${row.endpoint}`,
      team: row.team,
      outcome: 'success',
      details: {
        rollout: row.id,
        fromVersion: row.from_version,
        toVersion: row.to_version,
        step: row.step,
        weight: steps[row.step] ?? 100,
        reason,
        figures,
      },
    });
  }

  /** The canary becomes the endpoint's version: the stable row takes its model, its replicas are rolled. */
  async function promote(
    row: RolloutRow,
    reason: string,
    figures: RolloutDecision['figures'],
    actor: string,
  ): Promise<void> {
    const canary = await canaryOf(row);
    const moved = await db.transaction().execute(async (trx) => {
      const ended = await trx
        .updateTable('endpoint_rollouts')
        .set({ status: 'promoted', ended_at: isoNow(clock), waiting: null })
        .where('id', '=', row.id)
        .where('status', '=', 'progressing')
        .executeTakeFirst();
      if (Number(ended.numUpdatedRows) === 0) return false;
      await trx
        .updateTable('endpoints')
        .set({
          model_id: canary.model_id,
          model_name: canary.model_name,
          version: canary.version,
          runtime: canary.runtime,
          artifact_dir: canary.artifact_dir,
          // What the new version was deployed on (and admitted for) comes with it.
          product: canary.product,
          gpus: canary.gpus,
          gpu_type: canary.gpu_type,
          rate_micros: canary.rate_micros,
        })
        .where('id', '=', row.endpoint_id)
        .execute();
      await moveEndpoint(trx, canary.id, 'deleted', { deleted_at: isoNow(clock) });
      await decide(trx, row, 'promote', reason, figures, actor);
      return true;
    });
    if (!moved) return;
    deps.onRoutesChanged();
    const stable = await db
      .selectFrom('endpoints')
      .selectAll()
      .where('id', '=', row.endpoint_id)
      .executeTakeFirstOrThrow();
    // New replicas of the promoted version start, then the old version's stop; the canary's stop last.
    await pool.roll(stable);
    await pool.retire(canary.id, 'rollout_promoted');
  }

  /** The canary goes: its row deleted, its replicas stopped, all traffic back to the stable version. */
  async function end(
    row: RolloutRow,
    status: 'rolled_back' | 'aborted',
    reason: string,
    figures: RolloutDecision['figures'],
    actor: string,
  ): Promise<void> {
    const moved = await db.transaction().execute(async (trx) => {
      const ended = await trx
        .updateTable('endpoint_rollouts')
        .set({ status, ended_at: isoNow(clock), waiting: null })
        .where('id', '=', row.id)
        .where('status', '=', 'progressing')
        .executeTakeFirst();
      if (Number(ended.numUpdatedRows) === 0) return false;
      await moveEndpoint(trx, row.canary_id, 'deleted', { deleted_at: isoNow(clock) });
      await decide(trx, row, status === 'rolled_back' ? 'rollback' : 'abort', reason, figures, actor);
      return true;
    });
    if (!moved) return;
    deps.onRoutesChanged();
    await pool.retire(row.canary_id, status === 'rolled_back' ? 'rollout_rolled_back' : 'rollout_aborted');
  }

  /** Each version's figures over the current step, and the quality comparison if the endpoint has one. */
  async function figuresOf(row: RolloutRow): Promise<{
    canary: RolloutFigures;
    stable: RolloutFigures;
    quality: QualityComparison | null;
  }> {
    const since = Date.parse(row.step_started_at);
    let quality = row.quality ? (JSON.parse(row.quality) as QualityComparison) : null;
    if (!row.quality && deps.compareQuality) {
      const stable = await db
        .selectFrom('endpoints')
        .selectAll()
        .where('id', '=', row.endpoint_id)
        .executeTakeFirstOrThrow();
      // Once per rollout: the new version's score on the evaluation set, beside the serving version's.
      quality = await deps.compareQuality(stable, await canaryOf(row));
      await db
        .updateTable('endpoint_rollouts')
        .set({ quality: JSON.stringify(quality ?? { metric: 'none', canary: null, stable: null }) })
        .where('id', '=', row.id)
        .execute();
    }
    if (quality?.metric === 'none') quality = null;
    return {
      canary: pool.stats(row.canary_id).window(since),
      stable: pool.stats(row.endpoint_id).window(since),
      quality,
    };
  }

  async function judge(row: RolloutRow): Promise<boolean> {
    // The pass that evaluates the canary's quality only records it: alerts see the new version's score
    // before the next pass acts on it.
    if (!row.quality && deps.compareQuality) {
      try {
        await figuresOf(row);
      } catch (error) {
        // A guardrail that cannot run does not let the version through.
        await end(
          row,
          'rolled_back',
          `the quality check could not run: ${(error as Error).message}`,
          {},
          'system',
        );
        return true;
      }
      return false;
    }
    const { canary, stable, quality } = await figuresOf(row);
    const thresholds = thresholdsOf(row);
    // Each decision keeps the thresholds it applied beside the figures it was taken on.
    const figures: RolloutDecision['figures'] = {
      canary,
      stable,
      ...(quality ? { quality } : {}),
      thresholds,
    };
    const verdict = judgeStep(canary, stable, quality, { minRequests: row.min_requests, ...thresholds });
    if (verdict.verdict === 'fail') {
      await end(row, 'rolled_back', verdict.reason, figures, 'system');
      return true;
    }
    // A quality failure rolls back at once; the traffic checks wait for the step's window to pass.
    if (clock.now() < Date.parse(row.step_started_at) + row.window_s * 1000) return false;
    if (verdict.verdict === 'wait') {
      if (row.waiting !== verdict.reason)
        await db
          .updateTable('endpoint_rollouts')
          .set({ waiting: verdict.reason })
          .where('id', '=', row.id)
          .execute();
      return false;
    }
    const steps = JSON.parse(row.steps) as number[];
    if (row.step + 1 >= steps.length) {
      await promote(row, verdict.reason, figures, 'system');
      return true;
    }
    await db.transaction().execute(async (trx) => {
      await decide(trx, row, 'advance', `${verdict.reason}; next ${steps[row.step + 1]}%`, figures, 'system');
      await trx
        .updateTable('endpoint_rollouts')
        .set({ step: row.step + 1, step_started_at: isoNow(clock), waiting: null })
        .where('id', '=', row.id)
        .where('status', '=', 'progressing')
        .execute();
    });
    deps.onRoutesChanged();
    return true;
  }

  return {
    async status(actor, name) {
      return rolloutView(db, (await visibleRollout(actor, name)).row);
    },

    async promote(actor, name) {
      const { row } = await visibleRollout(actor, name);
      progressing(row, 'promote');
      const { canary, stable, quality } = await figuresOf(row);
      await promote(
        row,
        `promoted by ${actor.principal.userName} before its analysis finished`,
        { canary, stable, ...(quality ? { quality } : {}) },
        actor.principal.userName,
      );
      return reread(row.id);
    },

    async abort(actor, name) {
      const { row } = await visibleRollout(actor, name);
      progressing(row, 'abort');
      const since = Date.parse(row.step_started_at);
      await end(
        row,
        'aborted',
        `aborted by ${actor.principal.userName}`,
        {
          canary: pool.stats(row.canary_id).window(since),
          stable: pool.stats(row.endpoint_id).window(since),
        },
        actor.principal.userName,
      );
      return reread(row.id);
    },

    async tick() {
      const rows = await db
        .selectFrom('endpoint_rollouts')
        .selectAll()
        .where('status', '=', 'progressing')
        .execute();
      let moved = 0;
      for (const row of rows) {
        try {
          if (await judge(row)) moved += 1;
        } catch (error) {
          // One rollout's failure neither stops the others nor the controller pass it runs in.
          await audit.record({
            actor: 'system',
            action: 'endpoint.rollout_judged',
            resource: `endpoint/${row.endpoint}`,
            team: row.team,
            outcome: 'failure',
            details: { rollout: row.id, error: (error as Error).message },
          });
        }
      }
      return moved;
    },
  };
}
