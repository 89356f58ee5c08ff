import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseSacct, parseSqueueJson, type SlurmJob } from './slurm-jobs.ts';
import { slurmOutcome } from './slurm-outcome.ts';

const fixture = (name: string): string => readFileSync(join(import.meta.dirname, 'fixtures', name), 'utf8');
const finished = parseSqueueJson(fixture('squeue-finished.json'));
const newest = (id: string): SlurmJob =>
  finished
    .filter((job) => job.comment === `aicloud:${id}`)
    .sort((a, b) => Number(b.jobId) - Number(a.jobId))[0]!;

function job(state: string, exit: SlurmJob['exit'], reason: string | null = null): SlurmJob {
  return {
    jobId: '1',
    name: 'aic-x',
    comment: 'aicloud:x',
    state,
    reason,
    exit,
    startTime: 1,
    endTime: 2,
    batchHost: 'n',
  };
}

describe('slurmOutcome on the states of real jobs', () => {
  it('maps every final state Slurm reported', () => {
    expect(slurmOutcome(newest('ok'))).toEqual({
      state: 'succeeded',
      reason: null,
      exitCode: 0,
      signal: null,
    });
    expect(slurmOutcome(newest('fail'))).toEqual({
      state: 'failed',
      reason: 'exit_code_3',
      exitCode: 3,
      signal: null,
    });
    expect(slurmOutcome(newest('timeout'))).toEqual({
      state: 'timed_out',
      reason: 'runtime_limit',
      exitCode: null,
      signal: 'SIGKILL',
    });
    expect(slurmOutcome(newest('cancel'))).toEqual({
      state: 'cancelled',
      reason: 'cancelled',
      exitCode: null,
      signal: null,
    });
    expect(slurmOutcome(newest('oom'))).toEqual({
      state: 'failed',
      reason: 'oom_killed',
      exitCode: null,
      signal: null,
    });
    expect(slurmOutcome(newest('segv'))).toEqual({
      state: 'failed',
      reason: 'signal_SIGSEGV',
      exitCode: null,
      signal: 'SIGSEGV',
    });
  });

  it('maps the same states read from sacct -c', () => {
    const states = parseSacct(fixture('sacct-c.txt')).map((each) => [each.name, slurmOutcome(each)?.state]);
    expect(states).toEqual([
      ['aic-cancel', 'cancelled'],
      ['aic-ok', 'succeeded'],
      ['aic-fail', 'failed'],
      ['aic-oom', 'failed'],
      ['aic-segv', 'failed'],
      ['aic-timeout', 'timed_out'],
    ]);
  });

  it('has no outcome while a job is pending, running or completing', () => {
    for (const state of ['PENDING', 'RUNNING', 'COMPLETING', 'SUSPENDED', 'CONFIGURING']) {
      expect(slurmOutcome(job(state, null))).toBeUndefined();
    }
  });
});

describe('slurmOutcome rules', () => {
  it('reads a raw 768 as exit 3, and a shell’s 128 + N as signal N', () => {
    expect(slurmOutcome(job('FAILED', { code: 3, signal: 0 }))?.reason).toBe('exit_code_3');
    expect(slurmOutcome(job('FAILED', { code: 139, signal: 0 }))).toMatchObject({ reason: 'signal_SIGSEGV' });
  });

  it('maps NODE_FAIL, BOOT_FAIL and PREEMPTED to lost, DEADLINE to timed_out', () => {
    expect(slurmOutcome(job('NODE_FAIL', { code: 0, signal: 0 }))).toMatchObject({
      state: 'lost',
      reason: 'node_fail',
      exitCode: null,
    });
    expect(slurmOutcome(job('BOOT_FAIL', null))?.state).toBe('lost');
    expect(slurmOutcome(job('PREEMPTED', null))?.state).toBe('lost');
    expect(slurmOutcome(job('DEADLINE', null))).toMatchObject({ state: 'timed_out', reason: 'deadline' });
  });

  it('names Slurm’s reason for a failure without an exit code', () => {
    expect(slurmOutcome(job('FAILED', { code: 0, signal: 0 }, 'JobLaunchFailure'))?.reason).toBe(
      'slurm_JobLaunchFailure',
    );
  });

  it('lets a termination the executor began win: the cancel reason, or a runtime limit it enforced', () => {
    const cancelled = slurmOutcome(job('CANCELLED', { code: 0, signal: 15 }), {
      state: 'cancelled',
      reason: 'user_request',
      requestedAt: 1,
    });
    expect(cancelled).toEqual({
      state: 'cancelled',
      reason: 'user_request',
      exitCode: null,
      signal: 'SIGTERM',
    });
    const limited = slurmOutcome(job('CANCELLED', { code: 0, signal: 0 }), {
      state: 'timed_out',
      reason: 'runtime_limit',
      requestedAt: 1,
    });
    expect(limited).toMatchObject({ state: 'timed_out', reason: 'runtime_limit' });
  });
});
