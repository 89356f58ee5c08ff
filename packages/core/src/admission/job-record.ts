import { type Job, type JobReason, JobStatus } from '@aicloud/contracts';
import type { Selectable } from 'kysely';
import { fromMicros } from '../money.ts';
import type { Database } from '../store/schema.ts';
import { isTerminalJobStatus } from '../workloads/job-state.ts';

/** A stored job row. */
export type JobRow = Selectable<Database['jobs']>;

/** States a job never leaves: the terminal statuses of the job state table. */
export const FINAL_STATES: JobStatus[] = JobStatus.options.filter(isTerminalJobStatus);

/** Converts a stored job to its API shape. */
export function toJob(row: JobRow, queuePosition: number | null = null): Job {
  return {
    id: row.id,
    name: row.name,
    team: row.team,
    owner: row.owner,
    product: row.product,
    kind: row.kind,
    gpus: row.gpus,
    gpuType: row.gpu_type,
    spot: row.spot === 1,
    datasets: JSON.parse(row.datasets) as string[],
    secrets: JSON.parse(row.secrets) as string[],
    command: row.command,
    executor: row.executor,
    maxRuntimeSeconds: row.max_runtime_s,
    status: row.status as JobStatus,
    reasons: JSON.parse(row.reasons) as JobReason[],
    queuePosition,
    estimatedCost: fromMicros(row.estimate_micros),
    reservedCost: fromMicros(row.reserved_micros),
    cost: fromMicros(row.cost_micros),
    approvalId: row.approval_id,
    gpuIndexes: JSON.parse(row.gpu_indexes) as number[],
    gpuSource: row.gpu_source as Job['gpuSource'],
    exitCode: row.exit_code,
    experiment: row.experiment,
    createdAt: row.created_at,
    admittedAt: row.admitted_at,
    startedAt: row.started_at,
    endedAt: row.ended_at,
  };
}
