import type { JobMetrics, JobStatus } from '@aicloud/contracts';
import { FINAL_STATES } from '../admission/job-record.ts';
import type { Store } from '../store/open-store.ts';

/** Reads about a job's workload that routes need after the job service has authorized the caller. */
export interface WorkloadQueries {
  /** Whether the job has ended (or is gone): a log follower reads once more, then stops. */
  jobEnded(jobId: string): Promise<boolean>;
  /** The job's metrics, one series per name, each in the order the points were recorded. */
  metricSeries(jobId: string): Promise<JobMetrics['series']>;
}

/** Creates the workload queries over the store. Callers check access first (`jobs.get`). */
export function createWorkloadQueries(deps: { store: Store }): WorkloadQueries {
  const { db } = deps.store;
  return {
    async jobEnded(jobId) {
      const row = await db.selectFrom('jobs').select('status').where('id', '=', jobId).executeTakeFirst();
      return !row || FINAL_STATES.includes(row.status as JobStatus);
    },
    async metricSeries(jobId) {
      const rows = await db
        .selectFrom('job_metrics')
        .select(['name', 'step', 'value', 'time'])
        .where('job_id', '=', jobId)
        .orderBy('seq')
        .execute();
      const series: JobMetrics['series'] = {};
      for (const row of rows) {
        const points = series[row.name] ?? [];
        points.push({ step: row.step, value: row.value, time: row.time });
        series[row.name] = points;
      }
      return series;
    },
  };
}
