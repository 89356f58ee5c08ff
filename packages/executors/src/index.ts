export type {
  Executor,
  ExecutorEvent,
  ExecutorListener,
  PersistedWorkload,
  WorkloadEgress,
  WorkloadEndedEvent,
  WorkloadExposure,
  WorkloadHandleInfo,
  WorkloadLogEvent,
  WorkloadMetricEvent,
  WorkloadPlacement,
  WorkloadSandbox,
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
export {
  checkMetricLine,
  type MalformedMetrics,
  malformedMetricsFile,
  readMalformedMetrics,
} from './local/log-tailer.ts';
export { type SandboxConfig, sandboxApiSocket, workloadUid } from './local/sandbox-command.ts';
export { type SandboxSupport, type SandboxTools, sandboxSupport } from './local/sandbox-support.ts';
export {
  gpuGres,
  renderBatchScript,
  type SlurmGresTypes,
  slurmAccountProblem,
  slurmComment,
  slurmJobName,
  timeLimitMinutes,
} from './slurm/batch-script.ts';
export {
  type LocalSlurmRunnerOptions,
  localSlurmRunner,
  type SlurmCommandResult,
  type SlurmCommandRunner,
} from './slurm/slurm-command.ts';
export {
  createSlurmExecutor,
  type SlurmExecutor,
  type SlurmExecutorDeps,
  type SlurmPollStats,
  SlurmSubmitError,
} from './slurm/slurm-executor.ts';
export {
  parseSacct,
  parseSbatchParsable,
  parseScontrolShowJob,
  parseSqueueJson,
  type SlurmJob,
} from './slurm/slurm-jobs.ts';
export { slurmOutcome } from './slurm/slurm-outcome.ts';
