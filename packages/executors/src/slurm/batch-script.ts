import type { WorkloadSpec } from '../executor.ts';
import { workloadIdVariable } from '../local/workload-env.ts';
import { workloadFiles } from '../local/workload-files.ts';

/** Prefix of the `--comment` that marks a job as aicloud's; the workload id follows. It is the idempotency key. */
export const slurmCommentPrefix = 'aicloud:';

/** The `--comment` of a workload's job: `aicloud:<id>`, how a restarted platform finds the job again. */
export function slurmComment(id: string): string {
  return `${slurmCommentPrefix}${id}`;
}

/** The `--job-name` of a workload's job: `aic-<id>`, with characters other than `A-Za-z0-9._-` replaced by `_`. */
export function slurmJobName(id: string): string {
  return `aic-${id.replace(/[^A-Za-z0-9._-]/g, '_')}`;
}

/** Slurm's `--time` in whole minutes: the runtime limit rounded up, at least 1 (Slurm's smallest limit). */
export function timeLimitMinutes(maxRuntimeSeconds: number): number {
  return Math.max(1, Math.ceil(maxRuntimeSeconds / 60));
}

/** What a Slurm account name may hold: letters, digits, `_`, `.` and `-` (Slurm folds it to lower case). */
const slurmAccountName = /^[A-Za-z0-9_.-]+$/;

/** Why `account` cannot be a Slurm account name (`--account`), or undefined when it can. */
export function slurmAccountProblem(account: string): string | undefined {
  return slurmAccountName.test(account)
    ? undefined
    : `Slurm account ${JSON.stringify(account)} must be letters, digits, '_', '.' or '-'`;
}

/** Quotes a value for `/bin/sh`: single quotes, with each `'` written as `'\''`. */
export function shellQuote(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

/** Where Slurm writes a workload's stdout and stderr: the local executor's spool paths in `<workDir>/.aicloud/`. */
export function slurmOutputFiles(spec: WorkloadSpec): { stdout: string; stderr: string } {
  const files = workloadFiles(spec);
  return { stdout: files.stdout, stderr: files.stderr };
}

/** What a batch script needs besides the spec. */
export interface BatchScriptOptions {
  /** The partition the job is submitted to. */
  partition: string;
  /** How the cluster names the catalog's GPU types in its gres (`SlurmExecutorDeps.gresTypes`). */
  gresTypes?: SlurmGresTypes | undefined;
}

/**
 * How a cluster's `gres.conf` names GPU types: a map from the catalog's type (`H100`) to Slurm's (`h100`,
 * `nvidia_h100_80gb_hbm3`), types not listed being their lower-case name; or `untyped` for a cluster whose
 * GPUs have no `Type=` (then `--gres=gpu:N`, any GPU). Absent: every type by its lower-case name.
 */
export type SlurmGresTypes = Record<string, string> | 'untyped';

const gresTypeName = /^[A-Za-z0-9_.-]+$/;

/** The `--gres` value for `count` GPUs of the spec's type: `gpu:<type>:N`, or `gpu:N` when no type is known or the cluster's GPUs are untyped. */
export function gpuGres(spec: WorkloadSpec, gresTypes?: SlurmGresTypes): string {
  const count = spec.placement?.gpus ?? spec.gpus.length;
  const type = spec.placement?.gpuType;
  if (!type || gresTypes === 'untyped') return `gpu:${count}`;
  const name = gresTypes?.[type] ?? type.toLowerCase();
  if (!gresTypeName.test(name)) {
    throw new Error(`GPU type ${JSON.stringify(name)} must be letters, digits, '_', '.' or '-' in a gres`);
  }
  return `gpu:${name}:${count}`;
}

const envName = /^[A-Za-z_][A-Za-z0-9_]*$/;
const defaultPath = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/**
 * Renders the batch script `sbatch --parsable` reads on stdin. Directives: job name and comment
 * (`aicloud:<id>`, the idempotency key), partition, `--time` (whole minutes, rounded up), `--account` when
 * the spec names one, `--gres=gpu:<type>:N` from the placement's GPU count and type (`gpu:N` without a
 * type or on a cluster whose GPUs are untyped; Slurm picks the devices),
 * `--cpus-per-task` and `--mem` when the spec sets them, output and error files in `<workDir>/.aicloud/`
 * (appended, so a requeued job keeps its log), `--chdir` and `--export=NONE` (nothing of the submitting
 * server's environment reaches the job). The body exports a minimal PATH/HOME/LANG when the node sets none, `SLURM_EXPORT_ENV=ALL` (so `srun` steps
 * inside the job keep the environment), then `spec.env`, the secrets, and what the platform owns, and
 * `exec`s the command so that Slurm's SIGTERM reaches it directly.
 * Throws when a value cannot be expressed (a variable name that is not a shell name, a `"` or a line
 * break in a path, an id with a line break, an account name outside `[A-Za-z0-9_.-]`).
 */
export function renderBatchScript(spec: WorkloadSpec, options: BatchScriptOptions): string {
  if (/[\r\n]/.test(spec.id)) throw new Error(`workload id ${JSON.stringify(spec.id)} has a line break`);
  const { stdout, stderr } = slurmOutputFiles(spec);
  const directives: [string, string | number][] = [
    ['job-name', slurmJobName(spec.id)],
    ['comment', slurmComment(spec.id)],
    ['partition', options.partition],
    ['time', timeLimitMinutes(spec.maxRuntimeSeconds)],
    ['nodes', 1],
    ['ntasks', 1],
  ];
  if (spec.account !== undefined) directives.push(['account', slurmAccount(spec.account)]);
  const gpus = spec.placement?.gpus ?? spec.gpus.length;
  if (gpus > 0) directives.push(['gres', gpuGres(spec, options.gresTypes)]);
  if (spec.cpus !== undefined) directives.push(['cpus-per-task', positiveInteger('cpus', spec.cpus)]);
  if (spec.memoryMiB !== undefined) {
    directives.push(['mem', `${positiveInteger('memoryMiB', spec.memoryMiB)}M`]);
  }
  directives.push(
    ['output', slurmFilename(stdout)],
    ['error', slurmFilename(stderr)],
    ['open-mode', 'append'],
    ['chdir', spec.workDir],
    ['export', 'NONE'],
  );

  const exports: [string, string][] = [
    ...Object.entries(spec.env),
    ...Object.entries(spec.secrets),
    [workloadIdVariable, spec.id],
    ['AICLOUD_OUTPUT_DIR', spec.outputDir],
    ['AICLOUD_CHECKPOINT_DIR', spec.checkpointDir],
  ];
  // Without a GPU, an empty CUDA_VISIBLE_DEVICES keeps a job off a GPU node's devices (as locally).
  if (gpus === 0) exports.push(['CUDA_VISIBLE_DEVICES', '']);
  for (const [name] of exports) {
    if (!envName.test(name)) throw new Error(`environment variable name ${JSON.stringify(name)} is invalid`);
  }

  return [
    '#!/bin/sh',
    ...directives.map(([name, value]) => `#SBATCH --${name}=${directiveValue(name, String(value))}`),
    `export PATH="\${PATH:-${defaultPath}}"`,
    `[ -n "\${HOME:-}" ] || HOME=${shellQuote(spec.workDir)}`,
    'export HOME',
    `export LANG="\${LANG:-C.UTF-8}"`,
    // `--export=NONE` would pass on to `srun` steps inside the job and strip the exports below from them.
    'export SLURM_EXPORT_ENV=ALL',
    ...exports.map(([name, value]) => `export ${name}=${shellQuote(value)}`),
    'mkdir -p "$AICLOUD_OUTPUT_DIR" "$AICLOUD_CHECKPOINT_DIR"',
    `exec /bin/sh -c ${shellQuote(spec.command)}`,
    '',
  ].join('\n');
}

/** `%` starts a replacement symbol in Slurm's file name patterns; `%%` is a literal `%`. */
function slurmFilename(path: string): string {
  return path.replace(/%/g, '%%');
}

/** An `#SBATCH` value: double-quoted when it holds white space; `"` and line breaks cannot be expressed. */
function directiveValue(name: string, value: string): string {
  if (/["\r\n]/.test(value))
    throw new Error(`--${name} ${JSON.stringify(value)} cannot go in a batch script`);
  return /\s/.test(value) ? `"${value}"` : value;
}

/** The `--account` value, refused (not quoted) when it is not a Slurm account name. */
function slurmAccount(account: string): string {
  const problem = slurmAccountProblem(account);
  if (problem) throw new Error(problem);
  return account;
}

function positiveInteger(field: string, value: number): number {
  if (!Number.isInteger(value) || value <= 0) throw new Error(`${field} must be a positive integer`);
  return value;
}
