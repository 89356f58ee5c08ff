/** Everything an executor needs to run one workload; the platform persists it so a workload can be reattached. */
export interface WorkloadSpec {
  /** Platform id of the workload (a job, notebook or replica id), unique within one executor. */
  id: string;
  /** Command line, run with `/bin/sh -c`. */
  command: string;
  /** Working directory of the command; created when missing. */
  workDir: string;
  /** Environment variables of the workload, on top of the executor's minimal base. */
  env: Record<string, string>;
  /** GPU device indexes assigned to the workload (from a GPU allocator); exported as CUDA_VISIBLE_DEVICES. */
  gpus: string[];
  /** Wall-clock seconds from the start after which the workload is terminated as `timed_out`. */
  maxRuntimeSeconds: number;
  /** Seconds between SIGTERM and SIGKILL when the workload is terminated. */
  graceSeconds: number;
  /** Secret values injected as environment variables under their names and replaced by `***` in logs. */
  secrets: Record<string, string>;
  /** File to which the masked stdout and stderr lines are appended. */
  logFile: string;
  /** Directory for the workload's outputs, exported as AICLOUD_OUTPUT_DIR; created when missing. */
  outputDir: string;
  /** Directory for the workload's checkpoints, exported as AICLOUD_CHECKPOINT_DIR; created when missing. */
  checkpointDir: string;
  /** CPU cores the workload needs (Slurm `--cpus-per-task`, a CFS quota locally when sandboxed); the backend's default when absent. */
  cpus?: number;
  /** Memory the workload needs in MiB (Slurm `--mem`, a cgroup memory limit locally); the backend's default when absent. */
  memoryMiB?: number;
  /** The cluster account the workload is charged to and limited under (Slurm `--account`, letters, digits, `_`, `.`, `-`); the submitting user's default account when absent. The local executor ignores it. */
  account?: string;
  /** How the local executor's sandbox isolates the workload; absent: its defaults (no network, nothing mounted but the workload's own folders). Other executors ignore it. */
  sandbox?: WorkloadSandbox;
  /** Where the workload runs: GPU count and type, spot capacity, image, labels; absent: no type, on-demand, the host's software. */
  placement?: WorkloadPlacement;
  /** How the workload is reached and what it reaches: its listening socket or port, and its egress. */
  exposure?: WorkloadExposure;
}

/** Where a workload runs, as a scheduler needs it; the GPU devices themselves stay in `WorkloadSpec.gpus`. */
export interface WorkloadPlacement {
  /** How many GPUs the workload needs (`WorkloadSpec.gpus.length` when the caller assigns devices). */
  gpus: number;
  /** The catalog's GPU type it is billed for (`H100`): Slurm `--gres=gpu:<type>:N`, a node selector on Kubernetes; absent: any. */
  gpuType?: string;
  /** Whether it may run on reclaimable (spot) capacity, billed at the spot price. */
  spot: boolean;
  /** The container image it runs in, where the backend runs containers (Kubernetes); the local and Slurm executors run on the host's software and ignore it. */
  image?: string;
  /** Key/value labels the backend attaches to the workload (`aicloud.dev/team`): Kubernetes labels, Slurm ignores them. */
  labels: Record<string, string>;
}

/** How a workload is reached (one listening socket or port) and what it may reach. */
export interface WorkloadExposure {
  /** TCP port the workload listens on; the start result's `address` is `host:port` where the executor knows the host. */
  port?: number;
  /** The address the workload binds its port to, where the caller chose it (a notebook's namespace address); 127.0.0.1 by default. */
  host?: string;
  /** Absolute path of the unix socket the workload listens on, inside its work dir for the local sandbox; returned as the `address`. */
  socket?: string;
  /** What the workload may reach; the local sandbox reads it when `sandbox.egress` is absent (they must agree when both are set). */
  egress: WorkloadEgress;
}

/** What a workload may reach over the network: nothing, only the platform's API, or what the host reaches. */
export type WorkloadEgress = 'blocked' | 'platform' | 'open';

/** The sandbox of one local workload: everything not listed here does not exist inside it. */
export interface WorkloadSandbox {
  /** Network: `blocked` (own empty namespace), `platform` (that plus the platform's API as a unix socket), `open` (the host's network); `exposure.egress` when absent, else `blocked`. */
  egress?: WorkloadEgress;
  /** A prepared network namespace to join instead (`/run/netns/NAME`): notebooks get one with a veth the proxy reaches. */
  netnsPath?: string;
  /** Host paths visible read-only at the same path: admitted datasets, the model a replica serves. */
  readOnly?: string[];
  /** Host paths visible read-write besides the work, output and checkpoint directories. */
  writable?: string[];
  /** HOME inside (default: the work directory). */
  home?: string;
  /** Most processes at once (default 4096). */
  pids?: number;
}

/** Every state a workload can be in, as data for schemas and exhaustive checks. */
export const workloadStates = ['running', 'succeeded', 'failed', 'timed_out', 'cancelled', 'lost'] as const;

/** Where a workload stands: `running` until it reaches one of the final states. */
export type WorkloadState = (typeof workloadStates)[number];

/** Whether a state is final (the workload will never run again). */
export function isFinalState(state: WorkloadState): boolean {
  return state !== 'running';
}

/** What an executor knows about one workload. */
export interface WorkloadStatus {
  /** The workload's id (`WorkloadSpec.id`). */
  id: string;
  /** Current state. */
  state: WorkloadState;
  /** Exit code of the command when it exited on its own, else null. */
  exitCode: number | null;
  /** Name of the signal that ended the command (`SIGKILL`), else null. */
  signal: string | null;
  /** Start time in milliseconds since the epoch. */
  startedAt: number;
  /** End time in milliseconds since the epoch, null while running. */
  endedAt: number | null;
  /** Why a workload ended other than by succeeding: `runtime_limit`, the cancel reason, `exit_code_3`, `signal_SIGSEGV`, `process_gone`. */
  reason: string | null;
  /** CPU seconds used by the workload's processes so far, where the executor can measure them. */
  cpuSeconds?: number;
}

/** What `start` returns; the caller persists it (with the spec) to reattach after a restart. */
export interface WorkloadHandleInfo {
  /** The workload's id (`WorkloadSpec.id`). */
  id: string;
  /** The executor's own id for the workload: `pid:starttime` locally, a Slurm job id, a Kubernetes Job uid. */
  externalId: string;
  /** Start time in milliseconds since the epoch; runtime limits count from it, also after a restart. */
  startedAt: number;
  /** Where the workload listens (`exposure`): a unix socket path or `host:port`; absent when it exposes nothing or the executor cannot tell yet (a queued Slurm job). */
  address?: string;
}

/** What the platform keeps of a running workload so that a restarted executor can find it again. */
export interface PersistedWorkload extends WorkloadHandleInfo {
  /** The spec the workload was started with. */
  spec: WorkloadSpec;
}

/** The workload started; emitted once by `start`. */
export interface WorkloadStartedEvent {
  /** Discriminator. */
  type: 'started';
  /** The workload's id. */
  id: string;
  /** The executor's id for it, as in `WorkloadHandleInfo`. */
  externalId: string;
  /** Start time in milliseconds since the epoch. */
  startedAt: number;
}

/** One complete output line, with secrets already masked. */
export interface WorkloadLogEvent {
  /** Discriminator. */
  type: 'log';
  /** The workload's id. */
  id: string;
  /** Which output stream the line came from. */
  stream: 'stdout' | 'stderr';
  /** The line without its trailing newline, secrets replaced by `***`. */
  line: string;
  /** When the executor read the line, in milliseconds since the epoch. */
  at: number;
}

/** A stdout line that was a JSON object with `"event": "metric"`, parsed. */
export interface WorkloadMetricEvent {
  /** Discriminator. */
  type: 'metric';
  /** The workload's id. */
  id: string;
  /** The parsed object, as the workload wrote it (after masking). */
  metric: Record<string, unknown>;
  /** When the executor read the line, in milliseconds since the epoch. */
  at: number;
}

/** The workload reached a final state and none of its processes remain; emitted once. */
export interface WorkloadEndedEvent {
  /** Discriminator. */
  type: 'ended';
  /** The workload's id. */
  id: string;
  /** The final status. */
  status: WorkloadStatus;
}

/** Everything an executor reports about its workloads, in order per workload. */
export type ExecutorEvent =
  | WorkloadStartedEvent
  | WorkloadLogEvent
  | WorkloadMetricEvent
  | WorkloadEndedEvent;

/** Receives executor events; must not throw. */
export type ExecutorListener = (event: ExecutorEvent) => void;

/** The port through which the platform runs workloads on a local machine, Slurm or Kubernetes. */
export interface Executor {
  /** Short name of the implementation: `local`, `slurm`, `kubernetes`. */
  readonly name: string;
  /** How its workloads are isolated from the platform and each other: the local sandbox, or not at all (`none`); a cluster's own (undefined). */
  readonly isolation?: 'sandbox' | 'none';
  /** Starts a workload and resolves once it runs; rejects when it cannot be started or its id is in use. */
  start(spec: WorkloadSpec): Promise<WorkloadHandleInfo>;
  /** Asks a workload to stop (SIGTERM, then SIGKILL of all its processes after graceSeconds); resolves once asked, a no-op for unknown or ended workloads. */
  cancel(id: string, reason: string): Promise<void>;
  /** The current status of a workload started or reattached by this instance, or undefined. */
  status(id: string): WorkloadStatus | undefined;
  /** Finds a workload again after a restart: `running` means it is watched again and `ended` will follow; a final status is returned without an `ended` event. */
  reattach(persisted: PersistedWorkload): Promise<WorkloadStatus>;
  /** Subscribes to events of all workloads; returns the function that unsubscribes. */
  onEvent(listener: ExecutorListener): () => void;
  /** Stops watching and enforcing, leaving workloads running so a next instance can reattach them. */
  shutdown(): Promise<void>;
}
