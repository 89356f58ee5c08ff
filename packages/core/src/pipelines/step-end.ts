import type { JobReason, JobStatus } from '@aicloud/contracts';

/** What a step does about how its job ended. */
export type StepEnd =
  | { outcome: 'running' }
  | { outcome: 'succeeded' }
  /** Retry with backoff while attempts last: the command failed, or the platform lost or stopped the job. */
  | { outcome: 'retry'; why: string }
  /** Fail the step now: a person (or the team's budget) stopped the job, or admission refused it. */
  | { outcome: 'fail'; why: string };

/** The reason codes of a cancel a person asked for (`aicloud jobs cancel`, a budget stop on the owner's behalf). */
const USER_CANCEL = new Set(['cancelled_by_user']);

/**
 * Classifies a step job's status: a failed or timed-out command and a platform-caused end (lost: node failure,
 * boot failure, a server restart that found no exit status; cancelled by the platform or the cluster, such as
 * an operator's scancel or a preemption that ended the job) are retried; a user's cancel and a rejection are
 * not. A spot preemption that the runner requeues is no end: the job goes back to `admitted` and restarts from
 * its checkpoint dir, and the step keeps waiting on the same job.
 */
export function stepEndOf(job: {
  id: string;
  status: JobStatus;
  exitCode: number | null;
  reasons: JobReason[];
}): StepEnd {
  const code = job.reasons[0]?.code;
  // Who or what ended it matters for a cancelled or lost job (a user, an operator, a failed node).
  const by = (job.status === 'cancelled' || job.status === 'lost') && code && code !== job.status;
  const why = `job ${job.id} ${job.status}${job.exitCode === null ? '' : ` (exit ${job.exitCode})`}${
    by ? ` (${code})` : ''
  }`;
  switch (job.status) {
    case 'succeeded':
      return { outcome: 'succeeded' };
    case 'failed':
    case 'timed_out':
    case 'lost':
      return { outcome: 'retry', why };
    case 'cancelled':
      return code && USER_CANCEL.has(code) ? { outcome: 'fail', why } : { outcome: 'retry', why };
    case 'rejected':
      return { outcome: 'fail', why };
    default:
      return { outcome: 'running' };
  }
}
