import { posix } from 'node:path';
import { type Kysely, type Selectable, sql, type Transaction } from 'kysely';
import type { Database } from '../store/schema.ts';
import { mlflowError } from './mlflow-error.ts';
import {
  BATCH_LIMITS,
  type MetricPoint,
  type MlflowKeyValue,
  type MlflowMetric,
  type MlflowRun,
} from './tracking-types.ts';

/** A Kysely handle or a transaction. */
export type Db = Kysely<Database> | Transaction<Database>;
export type RunRow = Selectable<Database['tracking_runs']>;
export type ExperimentRow = Selectable<Database['tracking_experiments']>;

const invalid = (message: string) => mlflowError('INVALID_PARAMETER_VALUE', message);

const NAME = /^[/\w.\- ]*$/;
const BAD_CHARACTERS =
  'Names may only contain alphanumerics, underscores (_), dashes (-), periods (.), spaces ( ), and slashes (/).';
const MAX_KEY = 250;
const MAX_PARAM_VALUE = 6000;
const MAX_TAG_VALUE = 5000;

function checkName(kind: string, name: string | undefined): string {
  if (name === undefined || name === null) {
    throw invalid(`${kind} name cannot be None. A key name must be provided.`);
  }
  if (!NAME.test(name)) throw invalid(`Invalid ${kind.toLowerCase()} name: '${name}'. ${BAD_CHARACTERS}`);
  const normalized = posix.normalize(name);
  if (
    normalized !== name ||
    normalized === '.' ||
    normalized.startsWith('..') ||
    normalized.startsWith('/')
  ) {
    throw invalid(
      `Invalid ${kind.toLowerCase()} name: '${name}'. Names may be treated as files in certain cases, and must not resolve to other names when treated as such. This name would resolve to '${normalized}'`,
    );
  }
  return name;
}

function checkLength(entity: string, limit: number, value: string): string {
  if (value.length > limit) {
    throw invalid(
      `${entity} '${value.slice(0, 250)}' had length ${value.length}, which exceeded length limit of ${limit}`,
    );
  }
  return value;
}

/** Checks a metric's key, timestamp and step as MLflow does. */
export function checkMetric(point: {
  key: unknown;
  value: number;
  timestamp: unknown;
  step: unknown;
}): MetricPoint {
  const key = checkName('Metric', typeof point.key === 'string' ? point.key : undefined);
  const timestamp = typeof point.timestamp === 'string' ? Number(point.timestamp) : point.timestamp;
  if (typeof timestamp !== 'number' || !Number.isSafeInteger(timestamp) || timestamp < 0) {
    throw invalid(
      `Got invalid timestamp ${String(point.timestamp)} for metric '${key}' (value=${point.value}). Timestamp must be a nonnegative long (64-bit integer) `,
    );
  }
  const step =
    point.step === undefined || point.step === null
      ? 0
      : typeof point.step === 'string'
        ? Number(point.step)
        : point.step;
  if (typeof step !== 'number' || !Number.isSafeInteger(step)) {
    throw invalid(
      `Got invalid step ${String(point.step)} for metric '${key}' (value=${point.value}). Step must be a valid long (64-bit integer).`,
    );
  }
  checkLength('Metric name', MAX_KEY, key);
  return { key, value: point.value, timestamp, step };
}

/** Checks a param's key and value as MLflow does. */
export function checkParam(key: unknown, value: unknown): MlflowKeyValue {
  const name = checkName('Parameter', typeof key === 'string' ? key : undefined);
  const text = typeof value === 'number' ? String(value) : value;
  if (typeof text !== 'string') throw invalid(`Invalid value for param '${name}': expected a string`);
  return {
    key: checkLength('Param key', MAX_KEY, name),
    value: checkLength('Param value', MAX_PARAM_VALUE, text),
  };
}

/** Checks a tag's key and value as MLflow does. */
export function checkTag(key: unknown, value: unknown): MlflowKeyValue {
  const name = checkName('Tag', typeof key === 'string' ? key : undefined);
  const text = typeof value === 'number' ? String(value) : value;
  if (typeof text !== 'string') throw invalid(`Invalid value for tag '${name}': expected a string`);
  return { key: checkLength('Tag key', MAX_KEY, name), value: checkLength('Tag value', MAX_TAG_VALUE, text) };
}

function checkBatchLimit(entity: string, limit: number, length: number): void {
  if (length > limit) {
    throw invalid(
      `A batch logging request can contain at most ${limit} ${entity}. Got ${length} ${entity}. Please split up ${entity} across multiple requests and try again.`,
    );
  }
}

/** MLflow's log-batch limits: 1000 metrics, 100 params, 100 tags, 1000 in all. */
export function checkBatchLimits(metrics: number, params: number, tags: number): void {
  checkBatchLimit('metrics', BATCH_LIMITS.metrics, metrics);
  checkBatchLimit('params', BATCH_LIMITS.params, params);
  checkBatchLimit('tags', BATCH_LIMITS.tags, tags);
  checkBatchLimit('metrics, params, and tags', BATCH_LIMITS.total, metrics + params + tags);
}

/** The run, active, or RESOURCE_DOES_NOT_EXIST / INVALID_PARAMETER_VALUE as MLflow answers. */
export function requireActive(run: RunRow): RunRow {
  if (run.lifecycle_stage !== 'active') {
    throw invalid(
      `The run ${run.id} must be in the 'active' state. Current state is ${run.lifecycle_stage}.`,
    );
  }
  return run;
}

/** Whether point a is later than point b in MLflow's order (step, then timestamp, then value). */
function later(a: MetricPoint, b: MetricPoint): boolean {
  if (a.step !== b.step) return a.step > b.step;
  if (a.timestamp !== b.timestamp) return a.timestamp > b.timestamp;
  return a.value > b.value || Number.isNaN(b.value);
}

const ROWS_PER_INSERT = 500;

/** Writes metric points, params and tags of one run in the caller's transaction. */
export async function writeBatch(
  trx: Transaction<Database>,
  run: RunRow,
  batch: { metrics: MetricPoint[]; params: MlflowKeyValue[]; tags: MlflowKeyValue[] },
): Promise<void> {
  const keys = new Set<string>();
  for (const param of batch.params) {
    if (keys.has(param.key)) {
      throw invalid(
        `Duplicate parameter keys have been submitted: ['${param.key}']. Please ensure the request contains only one param value per param key.`,
      );
    }
    keys.add(param.key);
  }
  if (batch.params.length > 0) {
    const existing = await trx
      .selectFrom('tracking_params')
      .select(['key', 'value'])
      .where('run_id', '=', run.id)
      .where('key', 'in', [...keys])
      .execute();
    const logged = new Map(existing.map((row) => [row.key, row.value]));
    for (const param of batch.params) {
      const old = logged.get(param.key);
      if (old !== undefined && old !== param.value) {
        throw invalid(
          `Changing param values is not allowed. Param with key='${param.key}' was already logged with value='${old}' for run ID='${run.id}'. Attempted logging new value '${param.value}'.`,
        );
      }
    }
    const fresh = batch.params.filter((param) => !logged.has(param.key));
    if (fresh.length > 0) {
      await trx
        .insertInto('tracking_params')
        .values(fresh.map((param) => ({ run_id: run.id, key: param.key, value: param.value })))
        .execute();
    }
  }
  if (batch.tags.length > 0) {
    const tags = new Map(batch.tags.map((tag) => [tag.key, tag.value]));
    await trx
      .insertInto('tracking_tags')
      .values([...tags].map(([key, value]) => ({ run_id: run.id, key, value })))
      .onConflict((conflict) =>
        conflict.columns(['run_id', 'key']).doUpdateSet((eb) => ({ value: eb.ref('excluded.value') })),
      )
      .execute();
    const name = tags.get('mlflow.runName');
    if (name !== undefined)
      await trx.updateTable('tracking_runs').set({ name }).where('id', '=', run.id).execute();
  }
  if (batch.metrics.length === 0) return;
  const rows = batch.metrics.map((point) => ({
    run_id: run.id,
    key: point.key,
    value: Number.isNaN(point.value) ? 0 : point.value,
    timestamp: point.timestamp,
    step: point.step,
    is_nan: Number.isNaN(point.value) ? 1 : 0,
  }));
  for (let start = 0; start < rows.length; start += ROWS_PER_INSERT) {
    await trx
      .insertInto('tracking_metrics')
      .values(rows.slice(start, start + ROWS_PER_INSERT))
      .execute();
  }
  const latest = new Map<string, MetricPoint>();
  for (const point of batch.metrics) {
    const current = latest.get(point.key);
    if (!current || later(point, current)) latest.set(point.key, point);
  }
  await trx
    .insertInto('tracking_latest_metrics')
    .values(
      [...latest.values()].map((point) => ({
        run_id: run.id,
        key: point.key,
        value: Number.isNaN(point.value) ? 0 : point.value,
        timestamp: point.timestamp,
        step: point.step,
        is_nan: Number.isNaN(point.value) ? 1 : 0,
      })),
    )
    .onConflict((conflict) =>
      conflict
        .columns(['run_id', 'key'])
        .doUpdateSet((eb) => ({
          value: eb.ref('excluded.value'),
          timestamp: eb.ref('excluded.timestamp'),
          step: eb.ref('excluded.step'),
          is_nan: eb.ref('excluded.is_nan'),
        }))
        .where(
          sql<boolean>`excluded.step > tracking_latest_metrics.step or (excluded.step = tracking_latest_metrics.step and (excluded.timestamp > tracking_latest_metrics.timestamp or (excluded.timestamp = tracking_latest_metrics.timestamp and excluded.value >= tracking_latest_metrics.value)))`,
        ),
    )
    .execute();
}

/** A stored metric value in MLflow's JSON form. */
export function metricJson(row: {
  key: string;
  value: number;
  timestamp: number;
  step: number;
  is_nan: number;
}): MlflowMetric {
  const value =
    row.is_nan === 1
      ? 'NaN'
      : row.value === Infinity
        ? 'Infinity'
        : row.value === -Infinity
          ? '-Infinity'
          : row.value;
  return { key: row.key, value, timestamp: row.timestamp, step: row.step };
}

/** The runs in MLflow's JSON form, with their data, in the order given. */
export async function runsJson(db: Db, runs: RunRow[]): Promise<MlflowRun[]> {
  if (runs.length === 0) return [];
  const ids = runs.map((run) => run.id);
  const [metrics, params, tags] = await Promise.all([
    db.selectFrom('tracking_latest_metrics').selectAll().where('run_id', 'in', ids).orderBy('key').execute(),
    db.selectFrom('tracking_params').selectAll().where('run_id', 'in', ids).orderBy('key').execute(),
    db.selectFrom('tracking_tags').selectAll().where('run_id', 'in', ids).orderBy('key').execute(),
  ]);
  const group = <T extends { run_id: string }>(rows: T[]) => {
    const map = new Map<string, T[]>();
    for (const row of rows) map.set(row.run_id, [...(map.get(row.run_id) ?? []), row]);
    return map;
  };
  const metricsOf = group(metrics);
  const paramsOf = group(params);
  const tagsOf = group(tags);
  return runs.map((run) => ({
    info: {
      run_id: run.id,
      run_uuid: run.id,
      run_name: run.name,
      experiment_id: run.experiment_id,
      user_id: run.user_id,
      status: run.status,
      start_time: run.start_time,
      ...(run.end_time === null ? {} : { end_time: run.end_time }),
      artifact_uri: run.artifact_uri,
      lifecycle_stage: run.lifecycle_stage,
    },
    data: {
      metrics: (metricsOf.get(run.id) ?? []).map(metricJson),
      params: (paramsOf.get(run.id) ?? []).map(({ key, value }) => ({ key, value })),
      tags: (tagsOf.get(run.id) ?? []).map(({ key, value }) => ({ key, value })),
    },
    inputs: {},
  }));
}

/** An opaque page token: base64 of the offset of the next page. */
export function pageToken(offset: number): string {
  return Buffer.from(JSON.stringify({ offset })).toString('base64');
}

/** The offset a page token names; INVALID_PARAMETER_VALUE if it is not one of ours. */
export function offsetOf(token: string | undefined): number {
  if (!token) return 0;
  try {
    const { offset } = JSON.parse(Buffer.from(token, 'base64').toString('utf8')) as { offset?: unknown };
    if (typeof offset === 'number' && Number.isSafeInteger(offset) && offset >= 0) return offset;
  } catch {
    // answered below
  }
  throw invalid(`Invalid page token, could not base64-decode or parse: '${token.slice(0, 100)}'`);
}
