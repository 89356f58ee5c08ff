import { constants } from 'node:os';
import type { TerminationRecord } from '../local/workload-files.ts';
import type { WorkloadOutcome } from '../local/workload-outcome.ts';
import { isFinalSlurmState, type SlurmJob } from './slurm-jobs.ts';

const signalNames = new Map<number, string>(Object.entries(constants.signals).map(([name, n]) => [n, name]));

/** States in which Slurm (not the command itself) ended the job: no exit code of the command's own. */
const endedBySlurm = new Set([
  'TIMEOUT',
  'CANCELLED',
  'OUT_OF_MEMORY',
  'NODE_FAIL',
  'BOOT_FAIL',
  'DEADLINE',
  'PREEMPTED',
  'REVOKED',
]);

/**
 * Maps a finished Slurm job to the port's outcome; undefined while the job has not reached a final state
 * (PENDING, RUNNING, COMPLETING…). COMPLETED → succeeded; FAILED → failed with `exit_code_N` (or
 * `signal_SIGX`; a shell's 128 + N reads as signal N, as locally); TIMEOUT and DEADLINE → timed_out;
 * CANCELLED → cancelled with the reason the executor recorded; OUT_OF_MEMORY → failed with `oom_killed`;
 * NODE_FAIL, BOOT_FAIL, PREEMPTED → lost. A termination the executor began (a cancel, or a runtime limit
 * it enforced below Slurm's minute granularity) wins, as in the local executor.
 */
export function slurmOutcome(job: SlurmJob, termination?: TerminationRecord): WorkloadOutcome | undefined {
  if (!isFinalSlurmState(job.state)) return undefined;
  const code = job.exit?.code ?? 0;
  const signalNumber = job.exit?.signal ? job.exit.signal : code > 128 ? code - 128 : 0;
  const signal = signalNumber > 0 ? (signalNames.get(signalNumber) ?? `SIG${signalNumber}`) : null;
  const ownExit = signal === null && job.exit !== null && !(endedBySlurm.has(job.state) && code === 0);
  const exitCode = ownExit ? code : null;
  const ended = { exitCode, signal };
  if (termination) return { state: termination.state, reason: termination.reason, ...ended };
  switch (job.state) {
    case 'COMPLETED':
      return { state: 'succeeded', reason: null, ...ended, exitCode: 0 };
    case 'FAILED':
      if (signal !== null) return { state: 'failed', reason: `signal_${signal}`, ...ended };
      if (exitCode !== null && exitCode !== 0)
        return { state: 'failed', reason: `exit_code_${exitCode}`, ...ended };
      return { state: 'failed', reason: `slurm_${job.reason ?? 'failed'}`, ...ended };
    case 'TIMEOUT':
      return { state: 'timed_out', reason: 'runtime_limit', ...ended };
    case 'DEADLINE':
      return { state: 'timed_out', reason: 'deadline', ...ended };
    case 'CANCELLED':
      return { state: 'cancelled', reason: 'cancelled', ...ended };
    case 'OUT_OF_MEMORY':
      // Slurm reports the OOM kill as a made-up signal 125; the reason says what happened.
      return { state: 'failed', reason: 'oom_killed', exitCode: null, signal: null };
    case 'NODE_FAIL':
      return { state: 'lost', reason: 'node_fail', ...ended };
    case 'BOOT_FAIL':
      return { state: 'lost', reason: 'boot_fail', ...ended };
    case 'PREEMPTED':
      return { state: 'lost', reason: 'preempted', ...ended };
    default:
      return { state: 'lost', reason: `slurm_${job.state.toLowerCase()}`, ...ended };
  }
}
