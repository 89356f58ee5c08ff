import { type GpuInfo, gpuTypeFromName } from './gpu-info.ts';
import { cellNumber, cellOf, parseNvidiaSmiCsv } from './nvidia-smi-csv.ts';

/** The fields `detectGpus` asks nvidia-smi for, in this order. */
export const gpuQueryFields = [
  'index',
  'uuid',
  'name',
  'memory.total',
  'memory.used',
  'utilization.gpu',
  'power.draw',
] as const;

/**
 * Parses `nvidia-smi --query-gpu=… --format=csv[,noheader][,nounits]`. With a header the header names the
 * fields; without one, `fields` must list the query's fields in order. Rows lacking index, uuid, name or
 * total memory are skipped; `[N/A]` values are left out.
 */
export function parseGpuQueryCsv(text: string, fields: readonly string[] = gpuQueryFields): GpuInfo[] {
  const gpus: GpuInfo[] = [];
  for (const row of parseNvidiaSmiCsv(text, fields)) {
    const index = cellNumber(row.index);
    const uuid = cellOf(row, 'uuid', 'gpu_uuid');
    const name = cellOf(row, 'name', 'gpu_name');
    const memoryTotalMiB = cellNumber(row['memory.total']);
    if (index === undefined || uuid === undefined || name === undefined || memoryTotalMiB === undefined)
      continue;
    const gpu: GpuInfo = { index, uuid, name, type: gpuTypeFromName(name), memoryTotalMiB };
    const utilizationPercent = cellNumber(row['utilization.gpu']);
    const memoryUsedMiB = cellNumber(row['memory.used']);
    const powerW = cellNumber(cellOf(row, 'power.draw', 'power.draw.instant', 'power.draw.average'));
    if (utilizationPercent !== undefined) gpu.utilizationPercent = utilizationPercent;
    if (memoryUsedMiB !== undefined) gpu.memoryUsedMiB = memoryUsedMiB;
    if (powerW !== undefined) gpu.powerW = powerW;
    gpus.push(gpu);
  }
  return gpus;
}
