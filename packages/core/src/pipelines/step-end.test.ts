import type { JobReason, JobStatus } from '@aicloud/contracts';
import { describe, expect, it } from 'vitest';
import { stepEndOf } from './step-end.ts';

const reason = (code: string): JobReason => ({
  code,
  message: code,
  asked: null,
  limit: null,
  rule: null,
  next: null,
});

const end = (status: JobStatus, code?: string, exitCode: number | null = null) =>
  stepEndOf({ id: 'job_1', status, exitCode, reasons: code ? [reason(code)] : [] });

describe('stepEndOf', () => {
  it('retries a failed command, a runtime kill and the platform losing or stopping the job', () => {
    expect(end('failed', 'exit_code_3', 3)).toEqual({ outcome: 'retry', why: 'job job_1 failed (exit 3)' });
    expect(end('timed_out', 'runtime_limit')).toEqual({ outcome: 'retry', why: 'job job_1 timed_out' });
    expect(end('lost', 'node_fail')).toEqual({ outcome: 'retry', why: 'job job_1 lost (node_fail)' });
    expect(end('lost', 'lost')).toEqual({ outcome: 'retry', why: 'job job_1 lost' });
    // Slurm's CANCELLED that the platform did not ask for (an operator's scancel), an eviction.
    expect(end('cancelled', 'cancelled')).toEqual({ outcome: 'retry', why: 'job job_1 cancelled' });
    expect(end('cancelled', 'preempted')).toEqual({
      outcome: 'retry',
      why: 'job job_1 cancelled (preempted)',
    });
  });

  it('does not retry a user’s cancel or a rejection', () => {
    expect(end('cancelled', 'cancelled_by_user')).toEqual({
      outcome: 'fail',
      why: 'job job_1 cancelled (cancelled_by_user)',
    });
    expect(end('rejected', 'quota')).toEqual({ outcome: 'fail', why: 'job job_1 rejected' });
  });

  it('waits on a job that has not ended, a requeued spot preemption included', () => {
    for (const status of ['pending_approval', 'queued', 'running'] as const)
      expect(end(status)).toEqual({ outcome: 'running' });
    expect(end('admitted', 'preempted')).toEqual({ outcome: 'running' });
    expect(end('succeeded')).toEqual({ outcome: 'succeeded' });
  });
});
