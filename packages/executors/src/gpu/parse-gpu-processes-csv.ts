import { cellNumber, cellOf, parseNvidiaSmiCsv } from './nvidia-smi-csv.ts';

/** One process using a GPU, from `nvidia-smi --query-compute-apps`. */
export interface GpuProcess {
  /** UUID of the GPU the process uses. */
  gpuUuid: string;
  /** Process id, to match against a workload's processes. */
  pid: number;
  /** Process name as nvidia-smi prints it. */
  processName: string;
  /** GPU memory the process holds in MiB, when reported. */
  usedMemoryMiB?: number;
}

/** The fields of a compute-apps query, in the order assumed when the output has no header. */
export const gpuProcessFields = ['gpu_uuid', 'pid', 'process_name', 'used_gpu_memory'] as const;

/** Parses `nvidia-smi --query-compute-apps=… --format=csv`, skipping lines that are not rows. */
export function parseGpuProcessesCsv(
  text: string,
  fields: readonly string[] = gpuProcessFields,
): GpuProcess[] {
  const processes: GpuProcess[] = [];
  for (const row of parseNvidiaSmiCsv(text, fields)) {
    const gpuUuid = cellOf(row, 'gpu_uuid', 'uuid');
    const pid = cellNumber(row.pid);
    if (gpuUuid === undefined || pid === undefined) continue;
    const process: GpuProcess = { gpuUuid, pid, processName: cellOf(row, 'process_name', 'name') ?? '' };
    const usedMemoryMiB = cellNumber(cellOf(row, 'used_gpu_memory', 'used_memory'));
    if (usedMemoryMiB !== undefined) process.usedMemoryMiB = usedMemoryMiB;
    processes.push(process);
  }
  return processes;
}
