import type { Kysely } from 'kysely';
import type { Database } from '../store/schema.ts';

/** One GPU's samples for one workload, oldest first. */
export interface WorkloadGpu {
  index: number;
  uuid: string;
  name: string;
  /** `assignment` or `pid` (see `GpuSample`). */
  attributedBy: string;
  memoryTotalMiB: number;
  points: {
    time: string;
    utilizationPercent: number | null;
    memoryUsedMiB: number | null;
    powerW: number | null;
  }[];
}

/** A workload's GPU figures, per GPU. */
export interface WorkloadGpuSeries {
  workloadId: string;
  gpus: WorkloadGpu[];
}

/** The stored GPU samples of a workload (job, notebook or replica), at most `limit` per GPU (the latest). */
export async function jobGpuSeries(
  db: Kysely<Database>,
  workloadId: string,
  limit = 2000,
): Promise<WorkloadGpuSeries> {
  const rows = await db
    .selectFrom('gpu_samples')
    .selectAll()
    .where('workload_id', '=', workloadId)
    .orderBy('time', 'desc')
    .limit(limit * 16)
    .execute();
  const gpus = new Map<string, WorkloadGpu>();
  for (const row of rows.reverse()) {
    const key = `${row.gpu_uuid}\u0000${row.attributed_by}`;
    let gpu = gpus.get(key);
    if (!gpu) {
      gpu = {
        index: row.gpu_index,
        uuid: row.gpu_uuid,
        name: row.gpu_name,
        attributedBy: row.attributed_by,
        memoryTotalMiB: row.memory_total_mib,
        points: [],
      };
      gpus.set(key, gpu);
    }
    gpu.points.push({
      time: row.time,
      utilizationPercent: row.utilization_percent,
      memoryUsedMiB: row.memory_used_mib,
      powerW: row.power_w,
    });
  }
  for (const gpu of gpus.values()) gpu.points = gpu.points.slice(-limit);
  return { workloadId, gpus: [...gpus.values()].sort((a, b) => a.index - b.index) };
}
