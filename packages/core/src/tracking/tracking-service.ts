import { randomBytes, randomInt } from 'node:crypto';
import { join } from 'node:path';
import { sql } from 'kysely';
import type { AuditService } from '../audit/audit-service.ts';
import type { Clock } from '../clock.ts';
import { type Actor, canSeeTeam, teamsToList } from '../identity/principal.ts';
import type { Store } from '../store/open-store.ts';
import { mlflowError } from './mlflow-error.ts';
import { EXPERIMENT_FILTER_SCHEMA, parseFilter, parseOrderBy, RUN_FILTER_SCHEMA } from './mlflow-filter.ts';
import {
  type MlflowInput,
  metricValue,
  optionalInteger,
  optionalObjectList,
  optionalString,
  optionalStringList,
  requiredString,
} from './mlflow-input.ts';
import { type ArtifactListing, listRunArtifacts } from './run-artifacts.ts';
import { EXPERIMENT_TABLES, orderOf, RUN_TABLES, whereOf } from './search-sql.ts';
import {
  checkBatchLimits,
  checkMetric,
  checkParam,
  checkTag,
  type Db,
  type ExperimentRow,
  offsetOf,
  pageToken,
  type RunRow,
  requireActive,
  runsJson,
  writeBatch,
} from './tracking-store.ts';
import {
  type MlflowExperiment,
  type MlflowKeyValue,
  type MlflowMetric,
  type MlflowRun,
  type MlflowRunInfo,
  RUN_STATUSES,
} from './tracking-types.ts';

/** The MLflow tracking API over aicloud's store: every method takes the caller and MLflow's request fields. */
export interface TrackingService {
  createExperiment(actor: Actor, input: MlflowInput): Promise<{ experiment_id: string }>;
  getExperiment(actor: Actor, input: MlflowInput): Promise<{ experiment: MlflowExperiment }>;
  getExperimentByName(actor: Actor, input: MlflowInput): Promise<{ experiment: MlflowExperiment }>;
  searchExperiments(
    actor: Actor,
    input: MlflowInput,
  ): Promise<{ experiments: MlflowExperiment[]; next_page_token?: string }>;
  updateExperiment(actor: Actor, input: MlflowInput): Promise<Record<string, never>>;
  /** Marks the experiment and its runs deleted (`restore` undoes it). */
  deleteExperiment(actor: Actor, input: MlflowInput): Promise<Record<string, never>>;
  restoreExperiment(actor: Actor, input: MlflowInput): Promise<Record<string, never>>;
  setExperimentTag(actor: Actor, input: MlflowInput): Promise<Record<string, never>>;
  createRun(actor: Actor, input: MlflowInput): Promise<{ run: MlflowRun }>;
  getRun(actor: Actor, input: MlflowInput): Promise<{ run: MlflowRun }>;
  updateRun(actor: Actor, input: MlflowInput): Promise<{ run_info: MlflowRunInfo }>;
  deleteRun(actor: Actor, input: MlflowInput): Promise<Record<string, never>>;
  restoreRun(actor: Actor, input: MlflowInput): Promise<Record<string, never>>;
  searchRuns(actor: Actor, input: MlflowInput): Promise<{ runs: MlflowRun[]; next_page_token?: string }>;
  logMetric(actor: Actor, input: MlflowInput): Promise<Record<string, never>>;
  logParam(actor: Actor, input: MlflowInput): Promise<Record<string, never>>;
  setTag(actor: Actor, input: MlflowInput): Promise<Record<string, never>>;
  deleteTag(actor: Actor, input: MlflowInput): Promise<Record<string, never>>;
  /** Up to 1000 metrics, 100 params and 100 tags, written in one transaction. */
  logBatch(actor: Actor, input: MlflowInput): Promise<Record<string, never>>;
  getMetricHistory(
    actor: Actor,
    input: MlflowInput,
  ): Promise<{ metrics: MlflowMetric[]; next_page_token?: string }>;
  /** get-history's answer as JSON text, written by the database (100k points in well under 200 ms). */
  getMetricHistoryJson(actor: Actor, input: MlflowInput): Promise<string>;
  listArtifacts(actor: Actor, input: MlflowInput): Promise<ArtifactListing>;
  /** The run (visible to the caller) and the directory its artifacts lie in. */
  artifactRoot(actor: Actor, runId: string): Promise<{ run: RunRow; dir: string }>;
}

/** What the service needs. */
export interface TrackingServiceDeps {
  store: Store;
  audit: AuditService;
  clock: Clock;
  dataDir: string;
}

/** The tag that names (and, on create, chooses) the team owning an experiment. */
export const TEAM_TAG = 'aicloud.team';

const SEARCH_MAX_RESULTS = 50000;
const SEARCH_DEFAULT_RESULTS = 1000;
const VIEW_TYPES = ['ACTIVE_ONLY', 'DELETED_ONLY', 'ALL'] as const;
const EMPTY: Record<string, never> = {};

const invalid = (message: string) => mlflowError('INVALID_PARAMETER_VALUE', message);

/** A new experiment id: decimal text, as MLflow's are (time-based, so ids sort by creation). */
export function newExperimentId(now: number): string {
  return String(now * 1000 + randomInt(1000));
}

/** A new run id: 32 hex digits, as MLflow's are. */
export function newRunId(): string {
  return randomBytes(16).toString('hex');
}

/** Where a run's artifacts lie on the server, and the URI clients see. */
export function runArtifacts(dataDir: string, experimentId: string, runId: string) {
  return {
    artifact_uri: `mlflow-artifacts:/${experimentId}/${runId}/artifacts`,
    artifact_dir: join(dataDir, 'tracking', experimentId, runId, 'artifacts'),
  };
}

function experimentJson(row: ExperimentRow, tags: MlflowKeyValue[]): MlflowExperiment {
  return {
    experiment_id: row.id,
    name: row.name,
    artifact_location: row.artifact_location,
    lifecycle_stage: row.lifecycle_stage,
    last_update_time: row.last_update_time,
    creation_time: row.creation_time,
    tags,
  };
}

function viewStages(input: MlflowInput, field: string): string[] {
  const view = optionalString(input, field) ?? 'ACTIVE_ONLY';
  if (!(VIEW_TYPES as readonly string[]).includes(view)) {
    throw invalid(
      `Invalid value '${view}' for parameter '${field}': expected one of ${VIEW_TYPES.join(', ')}`,
    );
  }
  return view === 'ALL' ? ['active', 'deleted'] : view === 'DELETED_ONLY' ? ['deleted'] : ['active'];
}

function maxResults(input: MlflowInput): number {
  const max = optionalInteger(input, 'max_results') ?? SEARCH_DEFAULT_RESULTS;
  if (max <= 0 || max > SEARCH_MAX_RESULTS) {
    throw invalid(
      `Invalid value for request parameter max_results. It must be at most ${SEARCH_MAX_RESULTS}, but got value ${max}`,
    );
  }
  return max;
}

/** Creates the tracking service. */
export function createTrackingService(deps: TrackingServiceDeps): TrackingService {
  const { store, clock, audit } = deps;
  const db = store.db;

  async function experimentTags(executor: Db, ids: string[]): Promise<Map<string, MlflowKeyValue[]>> {
    const map = new Map<string, MlflowKeyValue[]>();
    if (ids.length === 0) return map;
    const rows = await executor
      .selectFrom('tracking_experiment_tags')
      .selectAll()
      .where('experiment_id', 'in', ids)
      .orderBy('key')
      .execute();
    for (const row of rows)
      map.set(row.experiment_id, [...(map.get(row.experiment_id) ?? []), { key: row.key, value: row.value }]);
    return map;
  }

  /** The experiment if the caller's teams own it; another team's is as absent as a missing one. */
  async function visibleExperiment(actor: Actor, id: string, executor: Db = db): Promise<ExperimentRow> {
    const row = await executor
      .selectFrom('tracking_experiments')
      .selectAll()
      .where('id', '=', id)
      .executeTakeFirst();
    if (!row || !canSeeTeam(actor.principal, row.team)) {
      throw mlflowError('RESOURCE_DOES_NOT_EXIST', `No Experiment with id=${id} exists`);
    }
    return row;
  }

  async function visibleRun(actor: Actor, id: string, executor: Db = db): Promise<RunRow> {
    const row = await executor
      .selectFrom('tracking_runs')
      .selectAll()
      .where('id', '=', id)
      .executeTakeFirst();
    if (!row || !canSeeTeam(actor.principal, row.team)) {
      throw mlflowError('RESOURCE_DOES_NOT_EXIST', `Run with id=${id} not found`);
    }
    return row;
  }

  const runIdOf = (input: MlflowInput) => requiredString(input, 'run_id', 'run_uuid');

  async function oneRun(executor: Db, id: string): Promise<MlflowRun> {
    const row = await executor
      .selectFrom('tracking_runs')
      .selectAll()
      .where('id', '=', id)
      .executeTakeFirstOrThrow();
    return (await runsJson(executor, [row]))[0]!;
  }

  async function setLifecycle(
    actor: Actor,
    kind: 'experiment' | 'run',
    id: string,
    stage: 'active' | 'deleted',
  ) {
    await db.transaction().execute(async (trx) => {
      const now = clock.now();
      if (kind === 'experiment') {
        const experiment = await visibleExperiment(actor, id, trx);
        await trx
          .updateTable('tracking_experiments')
          .set({ lifecycle_stage: stage, last_update_time: now })
          .where('id', '=', id)
          .execute();
        await trx
          .updateTable('tracking_runs')
          .set({ lifecycle_stage: stage })
          .where('experiment_id', '=', id)
          .execute();
        await audit.append(trx, {
          actor: actor.principal.userName,
          action: stage === 'deleted' ? 'experiment.deleted' : 'experiment.restored',
          resource: `experiment/${id}`,
          team: experiment.team,
          outcome: 'success',
          requestId: actor.requestId,
          details: { name: experiment.name },
        });
      } else {
        const run = await visibleRun(actor, id, trx);
        if (stage === 'active') {
          const experiment = await trx
            .selectFrom('tracking_experiments')
            .select('lifecycle_stage')
            .where('id', '=', run.experiment_id)
            .executeTakeFirst();
          if (experiment?.lifecycle_stage !== 'active') {
            throw invalid(`Cannot restore run ${id}: its experiment ${run.experiment_id} is deleted`);
          }
        }
        await trx.updateTable('tracking_runs').set({ lifecycle_stage: stage }).where('id', '=', id).execute();
      }
    });
    return EMPTY;
  }

  async function log(
    actor: Actor,
    runId: string,
    batch: { metrics?: ReturnType<typeof checkMetric>[]; params?: MlflowKeyValue[]; tags?: MlflowKeyValue[] },
  ) {
    await db.transaction().execute(async (trx) => {
      const run = requireActive(await visibleRun(actor, runId, trx));
      await writeBatch(trx, run, {
        metrics: batch.metrics ?? [],
        params: batch.params ?? [],
        tags: batch.tags ?? [],
      });
    });
    return EMPTY;
  }

  function parseMetric(input: MlflowInput) {
    const key = typeof input.key === 'string' ? input.key : undefined;
    return checkMetric({
      key,
      value: metricValue(input, key ?? 'None', input.timestamp),
      timestamp: input.timestamp,
      step: input.step,
    });
  }

  return {
    async createExperiment(actor, input) {
      const name = requiredString(input, 'name');
      if (name.length > 500) throw invalid('Experiment name exceeds the maximum length of 500 characters');
      const tags = optionalObjectList(input, 'tags').map((tag) => checkTag(tag.key, tag.value));
      const asked = tags.find((tag) => tag.key === TEAM_TAG)?.value;
      const teams = [...actor.principal.teams.keys()];
      const team = asked ?? (teams.length === 1 ? teams[0] : undefined);
      if (!team) {
        throw invalid(
          `You belong to ${teams.length === 0 ? 'no team' : `several teams (${teams.join(', ')})`}: name the team that owns the experiment with the tag '${TEAM_TAG}'`,
        );
      }
      if (!canSeeTeam(actor.principal, team))
        throw invalid(`You are not a member of team '${team}' (tag '${TEAM_TAG}')`);
      const artifactLocation = optionalString(input, 'artifact_location');
      if (artifactLocation) {
        throw invalid(
          'artifact_location is chosen by the platform (mlflow-artifacts:/<experiment_id>); leave it empty',
        );
      }
      const now = clock.now();
      const id = newExperimentId(now);
      await db.transaction().execute(async (trx) => {
        const existing = await trx
          .selectFrom('tracking_experiments')
          .select('lifecycle_stage')
          .where('team', '=', team)
          .where('name', '=', name)
          .executeTakeFirst();
        if (existing) {
          throw mlflowError(
            'RESOURCE_ALREADY_EXISTS',
            `Experiment(name=${name}) already exists${existing.lifecycle_stage === 'deleted' ? ' (deleted: restore it or pick another name)' : ''}.`,
          );
        }
        await trx
          .insertInto('tracking_experiments')
          .values({
            id,
            team,
            name,
            artifact_location: `mlflow-artifacts:/${id}`,
            lifecycle_stage: 'active',
            created_by: actor.principal.userName,
            creation_time: now,
            last_update_time: now,
          })
          .execute();
        const allTags = new Map(tags.map((tag) => [tag.key, tag.value]));
        allTags.set(TEAM_TAG, team);
        await trx
          .insertInto('tracking_experiment_tags')
          .values([...allTags].map(([key, value]) => ({ experiment_id: id, key, value })))
          .execute();
        await audit.append(trx, {
          actor: actor.principal.userName,
          action: 'experiment.created',
          resource: `experiment/${id}`,
          team,
          outcome: 'success',
          requestId: actor.requestId,
          details: { name },
        });
      });
      return { experiment_id: id };
    },

    async getExperiment(actor, input) {
      const row = await visibleExperiment(actor, requiredString(input, 'experiment_id'));
      return { experiment: experimentJson(row, (await experimentTags(db, [row.id])).get(row.id) ?? []) };
    },

    async getExperimentByName(actor, input) {
      const name = requiredString(input, 'experiment_name');
      const teams = teamsToList(actor.principal);
      let query = db.selectFrom('tracking_experiments').selectAll().where('name', '=', name);
      if (teams) query = query.where('team', 'in', teams.length > 0 ? teams : ['']);
      const row = await query.orderBy('creation_time').executeTakeFirst();
      if (!row) throw mlflowError('RESOURCE_DOES_NOT_EXIST', `Could not find experiment with name '${name}'`);
      return { experiment: experimentJson(row, (await experimentTags(db, [row.id])).get(row.id) ?? []) };
    },

    async searchExperiments(actor, input) {
      const max = maxResults(input);
      const offset = offsetOf(optionalString(input, 'page_token'));
      const clauses = parseFilter(optionalString(input, 'filter'), EXPERIMENT_FILTER_SCHEMA);
      const order = parseOrderBy(optionalStringList(input, 'order_by'), EXPERIMENT_FILTER_SCHEMA);
      const stages = viewStages(input, 'view_type');
      const teams = teamsToList(actor.principal);
      const conditions = [
        sql`e.lifecycle_stage in (${sql.join(stages)})`,
        ...(teams ? [teams.length > 0 ? sql`e.team in (${sql.join(teams)})` : sql`1 = 0`] : []),
        ...whereOf(clauses, EXPERIMENT_FILTER_SCHEMA, EXPERIMENT_TABLES, store.dialect),
      ];
      const { rows } =
        await sql<ExperimentRow>`select e.* from tracking_experiments e where ${sql.join(conditions, sql` and `)} order by ${orderOf(order, EXPERIMENT_FILTER_SCHEMA, EXPERIMENT_TABLES, [sql`e.creation_time desc`, sql`e.id asc`])} limit ${max + 1} offset ${offset}`.execute(
          db,
        );
      const page = rows.slice(0, max);
      const tags = await experimentTags(
        db,
        page.map((row) => row.id),
      );
      return {
        experiments: page.map((row) => experimentJson(row, tags.get(row.id) ?? [])),
        ...(rows.length > max ? { next_page_token: pageToken(offset + max) } : {}),
      };
    },

    async updateExperiment(actor, input) {
      const id = requiredString(input, 'experiment_id');
      const name = requiredString(input, 'new_name');
      await db.transaction().execute(async (trx) => {
        const experiment = await visibleExperiment(actor, id, trx);
        if (experiment.lifecycle_stage !== 'active') {
          throw invalid(
            `Cannot rename a non-active experiment. Current state is ${experiment.lifecycle_stage}.`,
          );
        }
        const clash = await trx
          .selectFrom('tracking_experiments')
          .select('id')
          .where('team', '=', experiment.team)
          .where('name', '=', name)
          .where('id', '!=', id)
          .executeTakeFirst();
        if (clash) throw mlflowError('RESOURCE_ALREADY_EXISTS', `Experiment(name=${name}) already exists.`);
        await trx
          .updateTable('tracking_experiments')
          .set({ name, last_update_time: clock.now() })
          .where('id', '=', id)
          .execute();
      });
      return EMPTY;
    },

    deleteExperiment: (actor, input) =>
      setLifecycle(actor, 'experiment', requiredString(input, 'experiment_id'), 'deleted'),
    restoreExperiment: (actor, input) =>
      setLifecycle(actor, 'experiment', requiredString(input, 'experiment_id'), 'active'),

    async setExperimentTag(actor, input) {
      const id = requiredString(input, 'experiment_id');
      const tag = checkTag(input.key, input.value);
      if (tag.key === TEAM_TAG)
        throw invalid(`The tag '${TEAM_TAG}' names the owning team and cannot be changed`);
      await visibleExperiment(actor, id);
      await db
        .insertInto('tracking_experiment_tags')
        .values({ experiment_id: id, key: tag.key, value: tag.value })
        .onConflict((conflict) =>
          conflict
            .columns(['experiment_id', 'key'])
            .doUpdateSet((eb) => ({ value: eb.ref('excluded.value') })),
        )
        .execute();
      return EMPTY;
    },

    async createRun(actor, input) {
      const experimentId = requiredString(input, 'experiment_id');
      const tags = optionalObjectList(input, 'tags').map((tag) => checkTag(tag.key, tag.value));
      const startTime = optionalInteger(input, 'start_time') ?? clock.now();
      const id = newRunId();
      const name =
        optionalString(input, 'run_name') ??
        tags.find((tag) => tag.key === 'mlflow.runName')?.value ??
        `run-${id.slice(0, 8)}`;
      const run = await db.transaction().execute(async (trx) => {
        const experiment = await visibleExperiment(actor, experimentId, trx);
        if (experiment.lifecycle_stage !== 'active') {
          throw invalid(
            `The experiment ${experimentId} must be in the 'active' state. Current state is ${experiment.lifecycle_stage}.`,
          );
        }
        const row: RunRow = {
          id,
          experiment_id: experimentId,
          team: experiment.team,
          name,
          // The caller is who the run belongs to, whatever user_id a client sends.
          user_id: actor.principal.userName,
          status: 'RUNNING',
          start_time: startTime,
          end_time: null,
          lifecycle_stage: 'active',
          ...runArtifacts(deps.dataDir, experimentId, id),
          job_id: null,
        };
        await trx.insertInto('tracking_runs').values(row).execute();
        const allTags = new Map(tags.map((tag) => [tag.key, tag.value]));
        allTags.set('mlflow.runName', name);
        allTags.set('mlflow.user', actor.principal.userName);
        await writeBatch(trx, row, {
          metrics: [],
          params: [],
          tags: [...allTags].map(([key, value]) => ({ key, value })),
        });
        return oneRun(trx, id);
      });
      return { run };
    },

    async getRun(actor, input) {
      const row = await visibleRun(actor, runIdOf(input));
      return { run: (await runsJson(db, [row]))[0]! };
    },

    async updateRun(actor, input) {
      const id = runIdOf(input);
      const status = optionalString(input, 'status');
      if (status !== undefined && !(RUN_STATUSES as readonly string[]).includes(status)) {
        throw invalid(
          `Invalid value '${status}' for parameter 'status': expected one of ${RUN_STATUSES.join(', ')}`,
        );
      }
      const endTime = optionalInteger(input, 'end_time');
      const name = optionalString(input, 'run_name');
      const run = await db.transaction().execute(async (trx) => {
        requireActive(await visibleRun(actor, id, trx));
        await trx
          .updateTable('tracking_runs')
          .set({
            ...(status ? { status } : {}),
            ...(endTime !== undefined ? { end_time: endTime } : {}),
            ...(name ? { name } : {}),
          })
          .where('id', '=', id)
          .execute();
        if (name) {
          const row = await trx
            .selectFrom('tracking_runs')
            .selectAll()
            .where('id', '=', id)
            .executeTakeFirstOrThrow();
          await writeBatch(trx, row, {
            metrics: [],
            params: [],
            tags: [{ key: 'mlflow.runName', value: name }],
          });
        }
        return oneRun(trx, id);
      });
      return { run_info: run.info };
    },

    deleteRun: (actor, input) => setLifecycle(actor, 'run', runIdOf(input), 'deleted'),
    restoreRun: (actor, input) => setLifecycle(actor, 'run', runIdOf(input), 'active'),

    async searchRuns(actor, input) {
      const experimentIds = optionalStringList(input, 'experiment_ids') ?? [];
      const max = maxResults(input);
      const offset = offsetOf(optionalString(input, 'page_token'));
      const clauses = parseFilter(optionalString(input, 'filter'), RUN_FILTER_SCHEMA);
      const order = parseOrderBy(optionalStringList(input, 'order_by'), RUN_FILTER_SCHEMA);
      const stages = viewStages(input, 'run_view_type');
      if (experimentIds.length === 0) return { runs: [] };
      const teams = teamsToList(actor.principal);
      const conditions = [
        sql`r.experiment_id in (${sql.join(experimentIds)})`,
        sql`r.lifecycle_stage in (${sql.join(stages)})`,
        ...(teams ? [teams.length > 0 ? sql`r.team in (${sql.join(teams)})` : sql`1 = 0`] : []),
        ...whereOf(clauses, RUN_FILTER_SCHEMA, RUN_TABLES, store.dialect),
      ];
      const { rows } =
        await sql<RunRow>`select r.* from tracking_runs r where ${sql.join(conditions, sql` and `)} order by ${orderOf(order, RUN_FILTER_SCHEMA, RUN_TABLES, [sql`r.start_time desc`, sql`r.id asc`])} limit ${max + 1} offset ${offset}`.execute(
          db,
        );
      const page = rows.slice(0, max);
      return {
        runs: await runsJson(db, page),
        ...(rows.length > max ? { next_page_token: pageToken(offset + max) } : {}),
      };
    },

    async logMetric(actor, input) {
      return log(actor, runIdOf(input), { metrics: [parseMetric(input)] });
    },

    async logParam(actor, input) {
      return log(actor, runIdOf(input), { params: [checkParam(input.key, input.value)] });
    },

    async setTag(actor, input) {
      return log(actor, runIdOf(input), { tags: [checkTag(input.key, input.value)] });
    },

    async deleteTag(actor, input) {
      const id = runIdOf(input);
      const key = requiredString(input, 'key');
      await db.transaction().execute(async (trx) => {
        requireActive(await visibleRun(actor, id, trx));
        const deleted = await trx
          .deleteFrom('tracking_tags')
          .where('run_id', '=', id)
          .where('key', '=', key)
          .executeTakeFirst();
        if (Number(deleted.numDeletedRows) === 0) {
          throw mlflowError('RESOURCE_DOES_NOT_EXIST', `No tag with name: ${key} in run with id ${id}`);
        }
      });
      return EMPTY;
    },

    async logBatch(actor, input) {
      const id = runIdOf(input);
      const metrics = optionalObjectList(input, 'metrics');
      const params = optionalObjectList(input, 'params');
      const tags = optionalObjectList(input, 'tags');
      checkBatchLimits(metrics.length, params.length, tags.length);
      return log(actor, id, {
        metrics: metrics.map(parseMetric),
        params: params.map((param) => checkParam(param.key, param.value)),
        tags: tags.map((tag) => checkTag(tag.key, tag.value)),
      });
    },

    async getMetricHistory(actor, input) {
      return JSON.parse(await historyJson(actor, input));
    },

    getMetricHistoryJson: (actor, input) => historyJson(actor, input),

    async listArtifacts(actor, input) {
      const run = await visibleRun(actor, runIdOf(input));
      return listRunArtifacts(run, optionalString(input, 'path') ?? '');
    },

    async artifactRoot(actor, runId) {
      const run = await visibleRun(actor, runId);
      return { run, dir: run.artifact_dir };
    },
  };

  async function historyJson(actor: Actor, input: MlflowInput): Promise<string> {
    const id = runIdOf(input);
    const key = requiredString(input, 'metric_key');
    const max = optionalInteger(input, 'max_results');
    if (max !== undefined && max <= 0) {
      throw invalid(`Invalid value ${max} for parameter 'max_results': expected a positive integer`);
    }
    const offset = offsetOf(optionalString(input, 'page_token'));
    await visibleRun(actor, id);
    const limit = max ?? Number.MAX_SAFE_INTEGER;
    // Whether a point lies beyond this page (only asked when paging: skipping 100k index entries costs).
    const more =
      max === undefined
        ? sql`0`
        : sql`(select count(*) from (select 1 from tracking_metrics where run_id = ${id} and key = ${key} limit 1 offset ${offset + max}) beyond)`;
    const points = sql`select key, value, timestamp, step, is_nan from tracking_metrics where run_id = ${id} and key = ${key} order by step, timestamp limit ${limit} offset ${offset}`;
    // The engine writes the JSON of 100k points far faster than rows turned into objects and stringified.
    // SQLite aggregates the ordered subquery in its order (a LIMIT subquery is never flattened into an
    // aggregate); an ORDER BY inside json_group_array would sort 100k points again.
    const query =
      store.dialect === 'sqlite'
        ? sql<{
            points: string;
            more: number;
          }>`select coalesce(json_group_array(json_object('key', key, 'value', case when is_nan = 1 then 'NaN' when value > 1.7976931348623157e308 then 'Infinity' when value < -1.7976931348623157e308 then '-Infinity' else value end, 'timestamp', timestamp, 'step', step)), '[]') as points, ${more} as more from (${points}) m`
        : sql<{
            points: string;
            more: number;
          }>`select coalesce(json_agg(json_build_object('key', key, 'value', case when is_nan = 1 then to_json('NaN'::text) when value = 'Infinity'::float8 then to_json('Infinity'::text) when value = '-Infinity'::float8 then to_json('-Infinity'::text) else to_json(value) end, 'timestamp', timestamp, 'step', step) order by step, timestamp), '[]'::json)::text as points, ${more} as more from (${points}) m`;
    const row = (await query.execute(db)).rows[0]!;
    const next =
      max !== undefined && Number(row.more) > 0
        ? `,"next_page_token":${JSON.stringify(pageToken(offset + max))}`
        : '';
    return `{"metrics":${row.points}${next}}`;
  }
}
