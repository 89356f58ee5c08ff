import { constants } from 'node:os';
import type { WorkloadState } from '../executor.ts';
import type { TerminationRecord } from './workload-files.ts';

/** The final fields of a workload's status. */
export interface WorkloadOutcome {
  /** Final state. */
  state: Exclude<WorkloadState, 'running'>;
  /** Status reason, null on success. */
  reason: string | null;
  /** Exit code when the command exited on its own. */
  exitCode: number | null;
  /** Signal that ended the command. */
  signal: string | null;
}

/** What is known about how a workload's wrapper ended. */
export interface WrapperEnd {
  /** The command's `$?` as the wrapper reported it (exit status or file), when it reported one. */
  code: number | undefined;
  /** Signal that killed the wrapper itself (SIGKILL of the group), when one did. */
  signal: string | null;
}

const signalNames = new Map<number, string>(Object.entries(constants.signals).map(([name, n]) => [n, name]));

/**
 * Decides the final state: a termination the executor began wins; otherwise the command's status.
 * A shell reports "killed by signal N" as 128 + N, so a `$?` above 128 naming a signal is read as that
 * signal (a command that itself calls `exit 137` reads as SIGKILL, as in every shell).
 */
export function workloadOutcome(
  end: WrapperEnd | undefined,
  termination?: TerminationRecord,
): WorkloadOutcome {
  const code = end?.code;
  const fromCode = code !== undefined && code > 128 ? signalNames.get(code - 128) : undefined;
  const signal = end?.signal ?? fromCode ?? null;
  const exitCode = signal === null && code !== undefined ? code : null;
  if (termination) return { state: termination.state, reason: termination.reason, exitCode, signal };
  if (signal !== null) return { state: 'failed', reason: `signal_${signal}`, exitCode, signal };
  if (exitCode === 0) return { state: 'succeeded', reason: null, exitCode, signal };
  if (exitCode !== null) return { state: 'failed', reason: `exit_code_${exitCode}`, exitCode, signal };
  return { state: 'lost', reason: 'process_gone', exitCode: null, signal: null };
}
