export type {
  Executor,
  ExecutorEvent,
  ExecutorListener,
  PersistedWorkload,
  WorkloadEndedEvent,
  WorkloadHandleInfo,
  WorkloadLogEvent,
  WorkloadMetricEvent,
  WorkloadSpec,
  WorkloadStartedEvent,
  WorkloadState,
  WorkloadStatus,
} from './executor.ts';
export { isFinalState, workloadStates } from './executor.ts';
export { createGpuAllocator, type GpuAllocator, type GpuAllocatorDeps } from './gpu/gpu-allocator.ts';
export { type GpuInfo, type GpuInventory, gpuTypeFromName } from './gpu/gpu-info.ts';
export {
  type CommandRunner,
  type DeclaredGpuGroup,
  declaredGpus,
  detectGpus,
} from './gpu/gpu-inventory.ts';
export { type GpuProcess, parseGpuProcessesCsv } from './gpu/parse-gpu-processes-csv.ts';
export { gpuQueryFields, parseGpuQueryCsv } from './gpu/parse-gpu-query-csv.ts';
export { parseNvidiaSmiXml } from './gpu/parse-nvidia-smi-xml.ts';
export { createLocalExecutor, type LocalExecutorDeps } from './local/local-executor.ts';
