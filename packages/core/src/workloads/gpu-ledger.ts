import type { Transaction } from 'kysely';
import { ACTIVE_NOTEBOOK_STATES } from '../notebooks/notebook-record.ts';
import type { Database } from '../store/schema.ts';

/** Replica statuses that hold their GPUs. */
const LIVE_REPLICA_STATES = ['starting', 'ready'] as const;

/**
 * The one answer to "which of this machine's GPUs are held": by running jobs on the local executor, by
 * notebooks that are starting, running or stopping, and by model replicas that are starting or ready. Slurm
 * jobs hold the cluster's devices, not these. Every placement (jobs, notebooks, replicas) and every capacity
 * check reads it, in the caller's transaction, so a GPU one workload holds is never handed to another.
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
  const replicas = await trx
    .selectFrom('endpoint_replicas')
    .innerJoin('endpoints', 'endpoints.id', 'endpoint_replicas.endpoint_id')
    .select('endpoint_replicas.gpu_indexes')
    .where('endpoint_replicas.status', 'in', [...LIVE_REPLICA_STATES])
    .where('endpoints.gpu_type', '=', gpuType)
    .execute();
  return new Set(
    [...jobs, ...notebooks, ...replicas].flatMap((row) => JSON.parse(row.gpu_indexes) as number[]),
  );
}

/**
 * GPUs that notebooks and model replicas hold, by GPU type: capacity that job admission must not promise.
 * (Jobs' own use is counted by admission from the jobs table.)
 */
export async function nonJobGpusByType(trx: Transaction<Database>): Promise<Map<string, number>> {
  const notebooks = await trx
    .selectFrom('notebooks')
    .select(['gpu_type', (eb) => eb.fn.sum<number>('gpus').as('gpus')])
    .where('status', 'in', [...ACTIVE_NOTEBOOK_STATES])
    .where('gpus', '>', 0)
    .groupBy('gpu_type')
    .execute();
  const replicas = await trx
    .selectFrom('endpoint_replicas')
    .innerJoin('endpoints', 'endpoints.id', 'endpoint_replicas.endpoint_id')
    .select(['endpoints.gpu_type as gpu_type', (eb) => eb.fn.sum<number>('endpoints.gpus').as('gpus')])
    .where('endpoint_replicas.status', 'in', [...LIVE_REPLICA_STATES])
    .where('endpoints.gpus', '>', 0)
    .groupBy('endpoints.gpu_type')
    .execute();
  const held = new Map<string, number>();
  for (const row of [...notebooks, ...replicas])
    held.set(row.gpu_type ?? '', (held.get(row.gpu_type ?? '') ?? 0) + Number(row.gpus));
  return held;
}

/** The GPUs a placement got, or how many there are and how many are free when they are too few. */
export type GpuPick =
  | { ok: true; indexes: number[]; source: string | null }
  | { ok: false; inventory: number; free: number };

/**
 * Picks `count` free GPUs of a type from this machine's inventory, lowest index first: free meaning held by
 * no workload of any kind (heldLocalGpus). Read in the caller's transaction, which records the pick.
 */
export async function pickFreeGpus(
  trx: Transaction<Database>,
  gpuType: string,
  count: number,
): Promise<GpuPick> {
  const inventory = await trx
    .selectFrom('gpus')
    .select(['device_index', 'source'])
    .where('gpu_type', '=', gpuType)
    .orderBy('device_index')
    .execute();
  const taken = await heldLocalGpus(trx, gpuType);
  const free = inventory.filter((gpu) => !taken.has(gpu.device_index));
  if (free.length < count) return { ok: false, inventory: inventory.length, free: free.length };
  return {
    ok: true,
    indexes: free.slice(0, count).map((gpu) => gpu.device_index),
    source: free[0]?.source ?? null,
  };
}
