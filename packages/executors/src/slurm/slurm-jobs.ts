/** One Slurm job as `squeue --json`, `scontrol show job -o` or `sacct` report it, in one shape. */
export interface SlurmJob {
  /** Slurm's job id, as text. */
  jobId: string;
  /** `--job-name`. */
  name: string;
  /** `--comment`, or null where the source does not report it (`sacct -c`). */
  comment: string | null;
  /** Base state: PENDING, RUNNING, COMPLETING, COMPLETED, FAILED, TIMEOUT, CANCELLED, OUT_OF_MEMORY, NODE_FAIL… */
  state: string;
  /** Slurm's reason (`Resources`, `NonZeroExitCode`, `TimeLimit`), null when none. */
  reason: string | null;
  /** How the batch script ended: its exit code and the signal that killed it (0 when none); null while unknown. */
  exit: { code: number; signal: number } | null;
  /** When the job started, in milliseconds since the epoch; null while it has not started. */
  startTime: number | null;
  /** When the job ended, in milliseconds since the epoch; null until it has ended. */
  endTime: number | null;
  /** The node that runs the batch script, null when none (pending, or refused at submit). */
  batchHost: string | null;
}

/** States after which a job never runs again (with `COMPLETING`, Slurm is still cleaning up: not final yet). */
export const finalSlurmStates = new Set([
  'COMPLETED',
  'FAILED',
  'TIMEOUT',
  'CANCELLED',
  'OUT_OF_MEMORY',
  'NODE_FAIL',
  'BOOT_FAIL',
  'DEADLINE',
  'PREEMPTED',
  'REVOKED',
  'SPECIAL_EXIT',
]);

/** States in which the job has not started yet. */
const notStartedStates = new Set(['PENDING', 'REQUEUED', 'REQUEUE_FED', 'REQUEUE_HOLD', 'RESV_DEL_HOLD']);

/** Whether a job has reached a final state. */
export function isFinalSlurmState(state: string): boolean {
  return finalSlurmStates.has(state);
}

/** Whether a job runs now (Slurm started it and it has not reached a final state). */
export function isRunningSlurmState(state: string): boolean {
  return !notStartedStates.has(state) && !finalSlurmStates.has(state);
}

/**
 * Parses `squeue --json` (Slurm 22.05: plain numbers; later versions' `{ set, number }` objects and state
 * arrays are read too). It lists every job slurmctld holds, finished ones included until `MinJobAge`,
 * whatever filter is given: callers filter on their side, here by `commentPrefix` when given (jobs
 * whose comment does not start with it are skipped before they are read).
 */
export function parseSqueueJson(text: string, commentPrefix?: string): SlurmJob[] {
  const parsed: unknown = JSON.parse(text);
  const jobs = isRecord(parsed) && Array.isArray(parsed.jobs) ? parsed.jobs : [];
  const wanted = (job: unknown): job is Record<string, unknown> =>
    isRecord(job) && (commentPrefix === undefined || stringOf(job.comment).startsWith(commentPrefix));
  return jobs.filter(wanted).map((job) => {
    const { state, completing } = stateOf(job.job_state);
    const reported = completing ? 'COMPLETING' : state;
    const started = !notStartedStates.has(reported);
    return {
      jobId: String(numberOf(job.job_id) ?? ''),
      name: stringOf(job.name),
      comment: stringOf(job.comment),
      state: reported,
      reason: reasonOf(stringOf(job.state_reason)),
      exit: isFinalSlurmState(reported) ? exitOfJson(job.exit_code) : null,
      startTime: started ? epochMs(numberOf(job.start_time)) : null,
      endTime: isFinalSlurmState(reported) ? epochMs(numberOf(job.end_time)) : null,
      batchHost: stringOf(job.batch_host) || null,
    };
  });
}

/**
 * Parses `scontrol show job N -o` (one job per line, `Key=Value` pairs; Slurm 22.05 has no `--json`
 * there). Times are the local time of the host, as Slurm prints them.
 */
export function parseScontrolShowJob(text: string): SlurmJob[] {
  return text
    .split('\n')
    .filter((line) => line.startsWith('JobId='))
    .map((line) => {
      const fields = keyValues(line);
      const state = fields.get('JobState') ?? 'UNKNOWN';
      const started = !notStartedStates.has(state);
      const final = isFinalSlurmState(state);
      return {
        jobId: fields.get('JobId') ?? '',
        name: fields.get('JobName') ?? '',
        comment: fields.get('Comment') ?? '',
        state,
        reason: reasonOf(fields.get('Reason') ?? ''),
        exit: final ? exitOfPair(fields.get('ExitCode')) : null,
        startTime: started ? localTime(fields.get('StartTime')) : null,
        endTime: final ? localTime(fields.get('EndTime')) : null,
        batchHost: reasonOf(fields.get('BatchHost') ?? ''),
      };
    });
}

/** The `sacct` fields `parseSacct` reads, in order (`-o`). */
export const sacctFields = 'jobid,jobname,state,exitcode,start,end,nodelist';

/**
 * Parses `sacct -X -P -n -o jobid,jobname,state,exitcode,start,end,nodelist` (with `-c`: from the job
 * completion file, which has no comment, so the name identifies the job). `CANCELLED by 0` reads as
 * CANCELLED; the first node of the node list stands for the batch host (none for a refused submission).
 */
export function parseSacct(text: string): SlurmJob[] {
  return text
    .split('\n')
    .map((line) => line.replace(/\|$/, ''))
    .filter((line) => /^\d/.test(line))
    .map((line) => {
      const [jobId = '', name = '', stateText = '', exitText = '', start = '', end = '', nodes = ''] =
        line.split('|');
      const state = stateText.split(' ')[0] ?? 'UNKNOWN';
      const final = isFinalSlurmState(state);
      return {
        jobId,
        name,
        comment: null,
        state,
        reason: null,
        exit: final ? exitOfPair(exitText) : null,
        startTime: notStartedStates.has(state) ? null : localTime(start),
        endTime: final ? localTime(end) : null,
        batchHost: /^(|\(null\)|None assigned)$/.test(nodes) ? null : (nodes.split(/[,[]/)[0] ?? null),
      };
    });
}

/** The job id in `sbatch --parsable` output (`123` or `123;cluster`), or undefined. */
export function parseSbatchParsable(stdout: string): string | undefined {
  const id = stdout.trim().split('\n').at(-1)?.split(';')[0]?.trim();
  return id && /^\d+$/.test(id) ? id : undefined;
}

/** Slurm's reason in sbatch's error output: the text after `Batch job submission failed: `, else the last error line. */
export function sbatchRefusalReason(stderr: string): string {
  const failed = /Batch job submission failed:\s*(.+)/.exec(stderr);
  if (failed?.[1]) return failed[1].trim();
  const lines = stderr
    .split('\n')
    .map((line) => line.replace(/^sbatch:\s*(error:\s*)?/, '').trim())
    .filter(Boolean);
  return lines.at(-1) ?? 'sbatch failed without a message';
}

function keyValues(line: string): Map<string, string> {
  const fields = new Map<string, string>();
  // A key starts after white space; values may hold `=` (TRES=cpu=1,mem=256M) and, rarely, spaces.
  const keys = [...line.matchAll(/(?:^|\s)([A-Za-z][\w/:.-]*)=/g)];
  keys.forEach((match, index) => {
    const start = (match.index ?? 0) + match[0].length;
    const end = keys[index + 1]?.index ?? line.length;
    fields.set(match[1] ?? '', line.slice(start, end).trim());
  });
  return fields;
}

function stateOf(value: unknown): { state: string; completing: boolean } {
  const states = Array.isArray(value) ? value.map(String) : [String(value ?? 'UNKNOWN')];
  const base = states.find((state) => state !== 'COMPLETING') ?? 'COMPLETING';
  return { state: base, completing: states.includes('COMPLETING') && states.length > 1 };
}

/** The raw wait status in `exit_code` (768 = exit 3), or a later version's `{ return_code, signal }`. */
function exitOfJson(value: unknown): SlurmJob['exit'] {
  const raw = numberOf(value);
  if (raw !== undefined) return { code: (raw >> 8) & 0xff, signal: raw & 0x7f };
  if (isRecord(value)) {
    const code = numberOf(value.return_code) ?? 0;
    const signal = isRecord(value.signal) ? (numberOf(value.signal.id) ?? 0) : 0;
    return { code, signal };
  }
  return null;
}

/** `3:0` (exit code : signal). */
function exitOfPair(value: string | undefined): SlurmJob['exit'] {
  const match = /^(\d+):(\d+)$/.exec(value?.trim() ?? '');
  return match ? { code: Number(match[1]), signal: Number(match[2]) } : null;
}

function numberOf(value: unknown): number | undefined {
  if (typeof value === 'number' && Number.isFinite(value)) return value;
  if (isRecord(value) && value.set !== false && value.infinite !== true) return numberOf(value.number);
  return undefined;
}

function epochMs(seconds: number | undefined): number | null {
  return seconds !== undefined && seconds > 0 ? seconds * 1000 : null;
}

/** `2026-11-27T04:46:30` in the host's local time (as Slurm prints it); null for `Unknown`, `None`, empty. */
function localTime(value: string | undefined): number | null {
  const match = /^(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)$/.exec(value?.trim() ?? '');
  if (!match) return null;
  const [, y, mo, d, h, mi, s] = match.map(Number) as [
    number,
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  return new Date(y, mo - 1, d, h, mi, s).getTime();
}

function reasonOf(value: string): string | null {
  return value === '' || value === 'None' || value === '(null)' ? null : value;
}

function stringOf(value: unknown): string {
  return typeof value === 'string' ? value : '';
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
