import type { Actor } from '../identity/principal.ts';
import { canSeeTeam } from '../identity/principal.ts';
import type { ModelService } from '../registry/model-service.ts';
import { mlflowError } from './mlflow-error.ts';
import type { ModelRow } from './registry-json.ts';
import { cleanArtifactPath, resolveUnder } from './run-artifacts.ts';
import type { Db } from './tracking-store.ts';

/** A model version's source that names a run's artifact: the run and the path under its artifact root. */
export interface RunSource {
  runId: string;
  path: string;
}

const invalid = (message: string) => mlflowError('INVALID_PARAMETER_VALUE', message);

/**
 * The run and path a source names: `runs:/<run_id>/<path>`, or the run's artifact URI
 * (`mlflow-artifacts:/<experiment_id>/<run_id>/artifacts/<path>`, what MLflow's clients resolve `runs:/` to);
 * null for any other source. A `run_id` sent beside the source must be the same run.
 */
export function runSourceOf(source: string, runId: string | null): RunSource | null {
  const runs = /^runs:\/([0-9a-f]{32})(?:\/(.*))?$/.exec(source);
  const proxied = /^mlflow-artifacts:\/{1,3}[^/]+\/([0-9a-f]{32})\/artifacts(?:\/(.*))?$/.exec(source);
  const match = runs ?? proxied;
  if (!match) {
    if (source.startsWith('runs:/') || source.startsWith('mlflow-artifacts:'))
      throw invalid(`Invalid source '${source}': expected runs:/<run_id>/<path>`);
    return null;
  }
  if (runId && runId !== match[1])
    throw invalid(`The source '${source}' is an artifact of run ${match[1]}, not of run_id ${runId}`);
  return { runId: match[1]!, path: cleanArtifactPath(match[2] ?? '') };
}

/** A metric value JSON can hold (NaN and infinities are left off the version's metrics). */
const finite = (value: number, nan: number) => nan === 0 && Number.isFinite(value);

/**
 * Registers a run's artifact as the next version of `model`: the run must be visible and of the model's
 * team, the path must exist; the version gets the run's latest metrics, its run id, and the run's job and
 * datasets as lineage. Returns the version number.
 */
export async function registerFromRun(
  deps: { db: Db; models: ModelService },
  actor: Actor,
  model: ModelRow,
  runSource: RunSource,
  extra: { tags: Record<string, string>; description: string | null },
): Promise<number> {
  const { db } = deps;
  const run = await db
    .selectFrom('tracking_runs')
    .selectAll()
    .where('id', '=', runSource.runId)
    .executeTakeFirst();
  if (!run || !canSeeTeam(actor.principal, run.team))
    throw mlflowError('RESOURCE_DOES_NOT_EXIST', `Run with id=${runSource.runId} not found`);
  if (run.team !== model.team)
    throw invalid(
      `Run ${run.id} belongs to team ${run.team}; its artifacts register as versions of that team's models, not of ${model.team}/${model.name}`,
    );
  if (!resolveUnder(run.artifact_dir, runSource.path))
    throw mlflowError(
      'RESOURCE_DOES_NOT_EXIST',
      `No artifact '${runSource.path || '.'}' in run ${run.id}: upload it first (mlflow-artifacts)`,
    );
  const metricRows = await db
    .selectFrom('tracking_latest_metrics')
    .select(['key', 'value', 'is_nan'])
    .where('run_id', '=', run.id)
    .execute();
  const metrics = Object.fromEntries(
    metricRows.filter((row) => finite(row.value, row.is_nan)).map((row) => [row.key, Number(row.value)]),
  );
  const job = run.job_id
    ? await db.selectFrom('jobs').select('datasets').where('id', '=', run.job_id).executeTakeFirst()
    : undefined;
  const version = await deps.models.registerRunArtifact(actor, {
    team: model.team,
    name: model.name,
    source: `runs:/${run.id}${runSource.path ? `/${runSource.path}` : ''}`,
    runId: run.id,
    root: run.artifact_dir,
    path: runSource.path,
    jobId: run.job_id,
    datasets: job ? (JSON.parse(job.datasets) as string[]) : [],
    metrics,
    tags: extra.tags,
    description: extra.description,
  });
  return version.version;
}
