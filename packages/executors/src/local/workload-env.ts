import type { WorkloadSpec } from '../executor.ts';

/** Name of the variable that marks every process of a workload, so escaped descendants can be found. */
export const workloadIdVariable = 'AICLOUD_WORKLOAD_ID';

const defaultPath = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/**
 * The environment of a workload: PATH, HOME and LANG from the server (nothing else of it leaks), then
 * spec.env, then the secrets, then what the platform owns and a workload may not override: its id,
 * its output and checkpoint directories and CUDA_VISIBLE_DEVICES (empty when no GPU is assigned).
 */
export function workloadEnv(
  spec: WorkloadSpec,
  base: NodeJS.ProcessEnv = process.env,
): Record<string, string> {
  // Inside a sandbox the server's PATH and HOME name folders that do not exist there.
  const sandboxed = spec.sandbox !== undefined;
  return {
    PATH: sandboxed ? defaultPath : (base.PATH ?? defaultPath),
    HOME: sandboxed ? (spec.sandbox?.home ?? spec.workDir) : (base.HOME ?? spec.workDir),
    LANG: base.LANG ?? 'C.UTF-8',
    ...(sandboxed ? { USER: 'aicloud', LOGNAME: 'aicloud' } : {}),
    ...spec.env,
    ...spec.secrets,
    [workloadIdVariable]: spec.id,
    AICLOUD_OUTPUT_DIR: spec.outputDir,
    AICLOUD_CHECKPOINT_DIR: spec.checkpointDir,
    CUDA_VISIBLE_DEVICES: spec.gpus.join(','),
  };
}
