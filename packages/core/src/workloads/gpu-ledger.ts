import type { Transaction } from 'kysely';
import { ACTIVE_NOTEBOOK_STATES } from '../notebooks/notebook-record.ts';
import type { Database } from '../store/schema.ts';

/**
 * The one answer to "which of this machine's GPUs are held": by running jobs on the local executor and by
 * notebooks that are starting, running or stopping. Slurm jobs hold the cluster's devices, not these, and
 * replicas hold none locally yet. Every placement (jobs, notebooks) and every capacity check reads it, in
 * the caller's transaction, so a notebook's GPU is never handed to a job or the other way round.
 */
export async function heldLocalGpus(trx: Transaction<Database>, gpuType: string): Promise<Set<number>> {
  const jobs = await trx
    .selectFrom('jobs')
    .select('gpu_indexes')
    .where('status', '=', 'running')
    .where('executor', '=', 'local')
    .where('gpu_type', '=', gpuType)
    .execute();
  const notebooks = await trx
    .selectFrom('notebooks')
    .select('gpu_indexes')
    .where('status', 'in', [...ACTIVE_NOTEBOOK_STATES])
    .where('gpu_type', '=', gpuType)
    .execute();
  return new Set([...jobs, ...notebooks].flatMap((row) => JSON.parse(row.gpu_indexes) as number[]));
}

/** GPUs that notebooks hold, by GPU type: capacity that admission must not promise to jobs. */
export async function notebookGpusByType(trx: Transaction<Database>): Promise<Map<string, number>> {
  const rows = await trx
    .selectFrom('notebooks')
    .select(['gpu_type', (eb) => eb.fn.sum<number>('gpus').as('gpus')])
    .where('status', 'in', [...ACTIVE_NOTEBOOK_STATES])
    .where('gpus', '>', 0)
    .groupBy('gpu_type')
    .execute();
  return new Map(rows.map((row) => [row.gpu_type ?? '', Number(row.gpus)]));
}
