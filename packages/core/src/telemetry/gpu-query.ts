import { type CommandRunner, type GpuInfo, parseGpuProcessesCsv, parseGpuQueryCsv } from '@aicloud/executors';

/** The fields the sampler asks `nvidia-smi --query-gpu` for: those of the H200 capture, in its order. */
export const TELEMETRY_GPU_FIELDS = [
  'timestamp',
  'index',
  'uuid',
  'name',
  'pci.bus_id',
  'driver_version',
  'memory.total',
  'memory.used',
  'memory.free',
  'utilization.gpu',
  'utilization.memory',
  'temperature.gpu',
  'power.draw',
  'power.limit',
  'clocks.current.sm',
  'clocks.max.sm',
  'pstate',
  'compute_mode',
  'mig.mode.current',
] as const;

/** The fields the sampler asks `nvidia-smi --query-compute-apps` for. */
export const TELEMETRY_APP_FIELDS = [
  'timestamp',
  'gpu_uuid',
  'pid',
  'process_name',
  'used_gpu_memory',
] as const;

/** One GPU process seen by nvidia-smi. */
export interface GpuApp {
  gpuUuid: string;
  pid: number;
  processName: string;
  usedMemoryMiB: number | null;
}

/** One reading of the machine's GPUs and the processes on them. */
export interface GpuReading {
  gpus: GpuInfo[];
  apps: GpuApp[];
}

/** The two nvidia-smi invocations of one sample (arguments after `nvidia-smi`). */
export const gpuQueryArgs = [`--query-gpu=${TELEMETRY_GPU_FIELDS.join(',')}`, '--format=csv'] as const;
export const appQueryArgs = [
  `--query-compute-apps=${TELEMETRY_APP_FIELDS.join(',')}`,
  '--format=csv',
] as const;

/** Parses `--query-gpu` output (with or without its header) in the sampler's field order. */
export function parseGpuTelemetry(text: string): GpuInfo[] {
  return parseGpuQueryCsv(text, TELEMETRY_GPU_FIELDS);
}

/** Parses `--query-compute-apps` output; lines that are not rows (a table appended to a capture) are skipped. */
export function parseGpuApps(text: string): GpuApp[] {
  return parseGpuProcessesCsv(text, TELEMETRY_APP_FIELDS).map((app) => ({
    gpuUuid: app.gpuUuid,
    pid: app.pid,
    processName: app.processName,
    usedMemoryMiB: app.usedMemoryMiB ?? null,
  }));
}

/** Runs both queries; null when nvidia-smi is missing or fails (the sampler is then off). */
export async function readGpus(run: CommandRunner): Promise<GpuReading | null> {
  const gpuText = await run('nvidia-smi', gpuQueryArgs);
  if (gpuText === null) return null;
  // No compute apps answer (an old driver, a MIG setup) still leaves the per-GPU figures.
  const appText = await run('nvidia-smi', appQueryArgs);
  return { gpus: parseGpuTelemetry(gpuText), apps: appText === null ? [] : parseGpuApps(appText) };
}
