import type { EndpointEval, EndpointEvals, EvaluateEndpointRequest } from '@aicloud/contracts';
import type { Selectable } from 'kysely';
import type { ApiAddress } from '../api-address.ts';
import { AppError, notFound } from '../app-error.ts';
import type { AuditService } from '../audit/audit-service.ts';
import type { Clock } from '../clock.ts';
import { inApprovedLocation } from '../datasets/approved-locations.ts';
import { lakeView } from '../datasets/dataset-service.ts';
import { parseDuration } from '../duration.ts';
import { type Actor, canSeeTeam } from '../identity/principal.ts';
import { newId } from '../ids.ts';
import type { QualityComparison } from '../serving/rollout-analysis.ts';
import type { Store } from '../store/open-store.ts';
import type { Database } from '../store/schema.ts';
import { readEvalSet } from './eval-set.ts';
import { createInternalCaller } from './internal-caller.ts';
import { exactMatch, judgePrompt, parseJudgeScore, tokenF1 } from './quality-scores.ts';

type EvalRow = Selectable<Database['endpoint_evals']>;
type EndpointRow = Selectable<Database['endpoints']>;

/** What the quality service needs. */
export interface QualityServiceDeps {
  store: Store;
  audit: AuditService;
  clock: Clock;
  /** Where the platform's own gateway answers (the server's URL). */
  apiUrl: () => string;
  /** Called when an evaluation's internal key is revoked, so the gateway forgets it at once. */
  forgetKey?: (hash: string) => void;
}

/** Quality evaluations of endpoints: reference metrics and an optional judge, stored per version. */
export interface QualityService {
  /** Evaluates an endpoint now (and stores its schedule when `every` is given); answers the run. */
  evaluate(actor: Actor, endpoint: string, request: EvaluateEndpointRequest): Promise<EndpointEval>;
  /** The endpoint's schedule and runs, newest first. */
  list(actor: Actor, endpoint: string): Promise<EndpointEvals>;
  /** Runs the scheduled evaluations that are due (the controller loop); answers how many ran. */
  tick(): Promise<number>;
  /**
   * A canary rollout's quality check: the stable endpoint's evaluation set run on the canary's version
   * (stored under the endpoint's name, trigger `rollout`), beside the serving version's latest score (run now
   * if it has none); null when the endpoint has no evaluation set.
   */
  compareVersions(stable: EndpointRow, canary: EndpointRow): Promise<QualityComparison | null>;
  /** The latest scores of each live endpoint's current version (and canary's), for `aicloud_endpoint_quality_score`. */
  latestScores(): Promise<{ endpoint: string; version: number; metric: string; value: number }[]>;
}

function toEval(row: EvalRow): EndpointEval {
  return {
    id: row.id,
    endpoint: row.endpoint,
    team: row.team,
    model: row.model,
    version: row.version,
    dataset: row.dataset,
    judge: row.judge,
    trigger: row.trigger as EndpointEval['trigger'],
    samples: row.samples,
    failed: row.failed,
    exactMatch: row.exact_match,
    f1: row.f1,
    judgeScore: row.judge_score,
    createdBy: row.created_by,
    startedAt: row.started_at,
    finishedAt: row.finished_at,
  };
}

const round = (value: number) => Math.round(value * 10_000) / 10_000;
const mean = (values: number[]) =>
  values.length ? round(values.reduce((a, b) => a + b, 0) / values.length) : null;

/** Creates the quality service. */
export function createQualityService(deps: QualityServiceDeps): QualityService {
  const { store, audit, clock } = deps;
  const db = store.db;

  async function liveEndpoint(name: string): Promise<EndpointRow | undefined> {
    return db
      .selectFrom('endpoints')
      .selectAll()
      .where('name', '=', name)
      .where('status', '!=', 'deleted')
      .executeTakeFirst();
  }

  async function visibleEndpoint(actor: Actor, name: string): Promise<EndpointRow> {
    const endpoint = await liveEndpoint(name);
    // Another team's endpoint is absent to this caller.
    if (!endpoint || !canSeeTeam(actor.principal, endpoint.team)) throw notFound('endpoint', name);
    return endpoint;
  }

  /** The dataset's location, when it is the endpoint's team's and lies in the team's part of the lake. */
  async function datasetLocation(team: string, path: string): Promise<string> {
    const row = await db.selectFrom('datasets').selectAll().where('path', '=', path).executeTakeFirst();
    if (!row || row.team !== team)
      throw new AppError('invalid_input', `dataset ${path} is not a registered dataset of team ${team}`, {
        issues: [{ path: ['dataset'], message: 'not a dataset of the endpoint’s team' }],
      });
    const lake = await lakeView(db);
    if (!inApprovedLocation(row.location, lake.approved, team))
      throw new AppError(
        'forbidden',
        `dataset ${path} lies outside team ${team}'s part of the approved lake (${row.location}); evaluation sets are read only from there`,
      );
    return row.location;
  }

  async function run(
    endpoint: EndpointRow,
    options: {
      dataset: string;
      judge: string | null;
      trigger: EndpointEval['trigger'];
      actor: string;
      /** The endpoint name the run is kept under (a canary's runs belong to its stable endpoint). */
      recordAs?: string;
    },
  ): Promise<EndpointEval> {
    const recordAs = options.recordAs ?? endpoint.name;
    const samples = await readEvalSet(options.dataset, await datasetLocation(endpoint.team, options.dataset));
    const judgeEndpoint = options.judge ? await liveEndpoint(options.judge) : null;
    if (options.judge && (!judgeEndpoint || judgeEndpoint.team !== endpoint.team))
      throw new AppError(
        'invalid_input',
        `judge endpoint ${options.judge} is not a live endpoint of team ${endpoint.team}`,
        {
          issues: [{ path: ['judge'], message: 'not an endpoint of the team' }],
        },
      );
    const startedAt = new Date(clock.now()).toISOString();
    const apiUrl = deps.apiUrl();
    const { caller, judge } = await db.transaction().execute(async (trx) => {
      const caller = await createInternalCaller(trx, { apiUrl, endpoint, at: startedAt });
      const judge = judgeEndpoint
        ? await createInternalCaller(trx, { apiUrl, endpoint: judgeEndpoint, at: startedAt })
        : null;
      await audit.append(trx, {
        actor: options.actor,
        action: 'endpoint.evaluation_started',
        resource: `endpoint/${recordAs}`,
        team: endpoint.team,
        outcome: 'success',
        details: {
          version: endpoint.version,
          dataset: options.dataset,
          judge: options.judge,
          samples: samples.length,
          keys: [caller.keyId, ...(judge ? [judge.keyId] : [])],
        },
      });
      return { caller, judge };
    });
    const exact: number[] = [];
    const f1: number[] = [];
    const grades: number[] = [];
    let failed = 0;
    try {
      for (const sample of samples) {
        const answer = await caller.chat(sample.prompt);
        if (answer === null) failed += 1;
        exact.push(answer === null ? 0 : exactMatch(answer, sample.reference));
        f1.push(answer === null ? 0 : tokenF1(answer, sample.reference));
        if (judge) {
          const reply =
            answer === null ? null : await judge.chat(judgePrompt(sample.prompt, sample.reference, answer));
          const grade = reply === null ? null : parseJudgeScore(reply);
          if (answer === null) grades.push(0);
          else if (grade !== null) grades.push(grade);
        }
      }
    } finally {
      await finish();
    }
    async function finish() {
      const at = new Date(clock.now()).toISOString();
      await db
        .updateTable('endpoint_keys')
        .set({ revoked_at: at })
        .where('id', 'in', [caller.keyId, ...(judge ? [judge.keyId] : [])])
        .execute();
      deps.forgetKey?.(caller.secretHash);
      if (judge) deps.forgetKey?.(judge.secretHash);
    }
    const row: EvalRow = {
      id: newId('eval'),
      endpoint: recordAs,
      team: endpoint.team,
      model: endpoint.model_name,
      version: endpoint.version,
      dataset: options.dataset,
      judge: options.judge,
      trigger: options.trigger,
      samples: samples.length,
      failed,
      exact_match: mean(exact),
      f1: mean(f1),
      judge_score: judge ? mean(grades) : null,
      created_by: options.actor,
      started_at: startedAt,
      finished_at: new Date(clock.now()).toISOString(),
    };
    await db.transaction().execute(async (trx) => {
      await trx.insertInto('endpoint_evals').values(row).execute();
      await audit.append(trx, {
        actor: options.actor,
        action: 'endpoint.evaluated',
        resource: `endpoint/${recordAs}`,
        team: endpoint.team,
        outcome: 'success',
        details: {
          eval: row.id,
          version: row.version,
          samples: row.samples,
          failed,
          exactMatch: row.exact_match,
          f1: row.f1,
          judgeScore: row.judge_score,
        },
      });
    });
    return toEval(row);
  }

  return {
    async evaluate(actor, name, request) {
      const endpoint = await visibleEndpoint(actor, name);
      const evaluation = await run(endpoint, {
        dataset: request.dataset,
        judge: request.judge ?? null,
        trigger: 'manual',
        actor: actor.principal.userName,
      });
      const everySeconds = request.every ? parseDuration(request.every, 'every') : null;
      const now = clock.now();
      await db.transaction().execute(async (trx) => {
        await trx.deleteFrom('endpoint_eval_sets').where('endpoint', '=', endpoint.name).execute();
        await trx
          .insertInto('endpoint_eval_sets')
          .values({
            endpoint: endpoint.name,
            team: endpoint.team,
            dataset: request.dataset,
            judge: request.judge ?? null,
            every_s: everySeconds,
            next_run_at: everySeconds ? new Date(now + everySeconds * 1000).toISOString() : null,
            created_by: actor.principal.userName,
            updated_at: new Date(now).toISOString(),
          })
          .execute();
        await audit.append(trx, {
          actor: actor.principal.userName,
          action: 'endpoint.eval_set_updated',
          resource: `endpoint/${endpoint.name}`,
          team: endpoint.team,
          outcome: 'success',
          requestId: actor.requestId,
          details: { dataset: request.dataset, judge: request.judge ?? null, everySeconds },
        });
      });
      return evaluation;
    },

    async list(actor, name) {
      const endpoint = await visibleEndpoint(actor, name);
      const schedule = await db
        .selectFrom('endpoint_eval_sets')
        .selectAll()
        .where('endpoint', '=', endpoint.name)
        .executeTakeFirst();
      const rows = await db
        .selectFrom('endpoint_evals')
        .selectAll()
        .where('endpoint', '=', endpoint.name)
        .where('team', '=', endpoint.team)
        .orderBy('finished_at', 'desc')
        .orderBy('id', 'desc')
        .limit(200)
        .execute();
      return {
        schedule: schedule
          ? {
              dataset: schedule.dataset,
              judge: schedule.judge,
              everySeconds: schedule.every_s,
              nextRunAt: schedule.next_run_at,
            }
          : null,
        items: rows.map(toEval),
      };
    },

    async tick() {
      const now = clock.now();
      const due = await db
        .selectFrom('endpoint_eval_sets')
        .selectAll()
        .where('next_run_at', 'is not', null)
        .where('next_run_at', '<=', new Date(now).toISOString())
        .execute();
      let ran = 0;
      for (const schedule of due) {
        // Next time first: a failing run does not retry every tick.
        await db
          .updateTable('endpoint_eval_sets')
          .set({ next_run_at: new Date(now + (schedule.every_s ?? 0) * 1000).toISOString() })
          .where('endpoint', '=', schedule.endpoint)
          .execute();
        const endpoint = await liveEndpoint(schedule.endpoint);
        if (!endpoint || endpoint.team !== schedule.team) continue;
        try {
          await run(endpoint, {
            dataset: schedule.dataset,
            judge: schedule.judge,
            trigger: 'schedule',
            actor: 'system',
          });
          ran += 1;
        } catch (error) {
          await audit.record({
            actor: 'system',
            action: 'endpoint.evaluated',
            resource: `endpoint/${endpoint.name}`,
            team: endpoint.team,
            outcome: 'failure',
            details: { dataset: schedule.dataset, error: (error as Error).message },
          });
        }
      }
      return ran;
    },

    async compareVersions(stable, canary) {
      const schedule = await db
        .selectFrom('endpoint_eval_sets')
        .selectAll()
        .where('endpoint', '=', stable.name)
        .where('team', '=', stable.team)
        .executeTakeFirst();
      if (!schedule) return null;
      const metric = schedule.judge ? 'judge' : 'f1';
      const scoreOf = (evaluation: { f1: number | null; judgeScore: number | null }) =>
        metric === 'judge' ? evaluation.judgeScore : evaluation.f1;
      const options = {
        dataset: schedule.dataset,
        judge: schedule.judge,
        trigger: 'rollout' as const,
        actor: 'system',
      };
      const latest = await db
        .selectFrom('endpoint_evals')
        .selectAll()
        .where('endpoint', '=', stable.name)
        .where('team', '=', stable.team)
        .where('version', '=', stable.version)
        .where('dataset', '=', schedule.dataset)
        .orderBy('finished_at', 'desc')
        .orderBy('id', 'desc')
        .executeTakeFirst();
      const stableScore = latest
        ? scoreOf({ f1: latest.f1, judgeScore: latest.judge_score })
        : scoreOf(await run(stable, options));
      const canaryScore = scoreOf(await run(canary, { ...options, recordAs: stable.name }));
      return { metric, canary: canaryScore, stable: stableScore };
    },

    async latestScores() {
      // A canary's version is scored under its stable endpoint's name.
      const endpoints = await db
        .selectFrom('endpoints as e')
        .leftJoin('endpoints as s', 's.id', 'e.canary_of')
        .select(['e.name', 'e.team', 'e.version', 's.name as stable'])
        .where('e.status', '!=', 'deleted')
        .execute()
        .then((rows) => rows.map((row) => ({ ...row, name: row.stable ?? row.name })));
      const scores: { endpoint: string; version: number; metric: string; value: number }[] = [];
      for (const endpoint of endpoints) {
        const latest = await db
          .selectFrom('endpoint_evals')
          .selectAll()
          .where('endpoint', '=', endpoint.name)
          .where('team', '=', endpoint.team)
          .where('version', '=', endpoint.version)
          .orderBy('finished_at', 'desc')
          .orderBy('id', 'desc')
          .executeTakeFirst();
        if (!latest) continue;
        const metrics = { exact_match: latest.exact_match, f1: latest.f1, judge: latest.judge_score };
        for (const [metric, value] of Object.entries(metrics))
          if (value !== null)
            scores.push({ endpoint: endpoint.name, version: endpoint.version, metric, value });
      }
      return scores;
    },
  };
}

const instances = new WeakMap<object, QualityService>();

/** The platform's quality service (one per platform), calling its gateway at the server's URL. */
export function qualityOf(
  // Declared here, not as the Platform type: the platform builds its rollouts on this service.
  platform: {
    store: Store;
    audit: AuditService;
    clock: Clock;
    gateway: { forgetKey(hash: string): void };
    config: { apiAddress?: ApiAddress };
  },
): QualityService {
  let instance = instances.get(platform);
  if (!instance) {
    instance = createQualityService({
      store: platform.store,
      audit: platform.audit,
      clock: platform.clock,
      apiUrl: () => platform.config.apiAddress?.url() ?? 'http://127.0.0.1:8787',
      forgetKey: (hash) => platform.gateway.forgetKey(hash),
    });
    instances.set(platform, instance);
  }
  return instance;
}
