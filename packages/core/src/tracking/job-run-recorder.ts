import { join } from 'node:path';
import type { Clock } from '../clock.ts';
import type { Store } from '../store/open-store.ts';
import { mlflowError } from './mlflow-error.ts';
import { newExperimentId, newRunId, runArtifacts, TEAM_TAG } from './tracking-service.ts';
import {
  checkBatchLimits,
  checkMetric,
  checkParam,
  checkTag,
  type Db,
  type RunRow,
  writeBatch,
} from './tracking-store.ts';
import type { RunStatus } from './tracking-types.ts';

/** What a job run starts with. */
export interface JobRunStart {
  jobId: string;
  team: string;
  /** Who submitted the job. */
  owner: string;
  /**
   * The experiment (created in the team if missing); when not given, the job's own (`--experiment`, stored on
   * the job), else the team's name.
   */
  experiment?: string | undefined;
  runName: string;
  /** CLI flags, dataset paths and such. */
  params?: Record<string, string>;
  tags?: Record<string, string>;
  /** Where the job writes its output: the run's artifact root (listed and downloaded through MLflow). */
  artifactDir?: string | undefined;
  startTime?: number | undefined;
}

/** A metric event of a job (`{"event":"metric",…}` lines). */
export interface JobMetricEvent {
  name: string;
  value: number;
  step?: number | null | undefined;
  /** Epoch milliseconds; now when not given. */
  timestamp?: number | undefined;
}

/** Records aicloud jobs as MLflow runs, for the job runner (no caller: the platform writes on a job's behalf). */
export interface JobRunRecorder {
  /** Creates the job's run (idempotent per job: a second call returns the first run's id). */
  start(job: JobRunStart): Promise<string>;
  /** Appends metric events to the job's run (split into MLflow-sized batches, each one transaction). */
  logMetrics(runId: string, events: JobMetricEvent[]): Promise<void>;
  /** Ends the run with the job's outcome. */
  end(runId: string, status: Exclude<RunStatus, 'RUNNING' | 'SCHEDULED'>, endTime?: number): Promise<void>;
  /** The run recording a job, if any. */
  runOfJob(jobId: string): Promise<string | null>;
}

/** Creates the recorder over the store. */
export function recordJobRuns(deps: { store: Store; clock: Clock; dataDir: string }): JobRunRecorder {
  const { db } = deps.store;

  async function runRow(runId: string, executor: Db = db): Promise<RunRow> {
    const row = await executor
      .selectFrom('tracking_runs')
      .selectAll()
      .where('id', '=', runId)
      .executeTakeFirst();
    if (!row) throw mlflowError('RESOURCE_DOES_NOT_EXIST', `Run with id=${runId} not found`);
    return row;
  }

  return {
    async runOfJob(jobId) {
      const row = await db
        .selectFrom('tracking_runs')
        .select('id')
        .where('job_id', '=', jobId)
        .executeTakeFirst();
      return row?.id ?? null;
    },

    async start(job) {
      const params = Object.entries(job.params ?? {}).map(([key, value]) => checkParam(key, value));
      const tags = Object.entries(job.tags ?? {}).map(([key, value]) => checkTag(key, value));
      checkBatchLimits(0, params.length, tags.length + 3);
      return db.transaction().execute(async (trx) => {
        const existing = await trx
          .selectFrom('tracking_runs')
          .select('id')
          .where('job_id', '=', job.jobId)
          .executeTakeFirst();
        if (existing) return existing.id;
        const stored = await trx
          .selectFrom('jobs')
          .select('experiment')
          .where('id', '=', job.jobId)
          .executeTakeFirst();
        const experimentName = job.experiment ?? stored?.experiment ?? job.team;
        const now = deps.clock.now();
        let experiment = await trx
          .selectFrom('tracking_experiments')
          .select(['id', 'lifecycle_stage'])
          .where('team', '=', job.team)
          .where('name', '=', experimentName)
          .executeTakeFirst();
        if (!experiment) {
          const id = newExperimentId(now);
          await trx
            .insertInto('tracking_experiments')
            .values({
              id,
              team: job.team,
              name: experimentName,
              artifact_location: `mlflow-artifacts:/${id}`,
              lifecycle_stage: 'active',
              created_by: 'system',
              creation_time: now,
              last_update_time: now,
            })
            .execute();
          await trx
            .insertInto('tracking_experiment_tags')
            .values({ experiment_id: id, key: TEAM_TAG, value: job.team })
            .execute();
          experiment = { id, lifecycle_stage: 'active' };
        }
        const id = newRunId();
        const locations = runArtifacts(deps.dataDir, experiment.id, id);
        const row: RunRow = {
          id,
          experiment_id: experiment.id,
          team: job.team,
          name: job.runName,
          user_id: job.owner,
          status: 'RUNNING',
          start_time: job.startTime ?? now,
          end_time: null,
          lifecycle_stage: experiment.lifecycle_stage,
          artifact_uri: locations.artifact_uri,
          artifact_dir: job.artifactDir ? join(job.artifactDir) : locations.artifact_dir,
          job_id: job.jobId,
        };
        await trx.insertInto('tracking_runs').values(row).execute();
        await writeBatch(trx, row, {
          metrics: [],
          params,
          tags: [
            ...tags,
            { key: 'mlflow.runName', value: job.runName },
            { key: 'mlflow.user', value: job.owner },
            { key: 'aicloud.job', value: job.jobId },
          ],
        });
        return id;
      });
    },

    async logMetrics(runId, events) {
      const now = deps.clock.now();
      const points = events.map((event) =>
        checkMetric({
          key: event.name,
          value: event.value,
          timestamp: event.timestamp ?? now,
          step: event.step ?? 0,
        }),
      );
      for (let start = 0; start < points.length || start === 0; start += 1000) {
        const batch = points.slice(start, start + 1000);
        if (batch.length === 0) break;
        await db.transaction().execute(async (trx) => {
          await writeBatch(trx, await runRow(runId, trx), { metrics: batch, params: [], tags: [] });
        });
      }
    },

    async end(runId, status, endTime) {
      await runRow(runId);
      await db
        .updateTable('tracking_runs')
        .set({ status, end_time: endTime ?? deps.clock.now() })
        .where('id', '=', runId)
        .execute();
    },
  };
}
