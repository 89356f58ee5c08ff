import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  isFinalSlurmState,
  isRunningSlurmState,
  parseSacct,
  parseSbatchParsable,
  parseScontrolShowJob,
  parseSqueueJson,
  type SlurmJob,
  sbatchRefusalReason,
} from './slurm-jobs.ts';
import { slurmOutcome } from './slurm-outcome.ts';

// Real output of Slurm 22.05 on the one-node cluster of scripts/services/slurm-up.sh (fixtures/capture.sh).
const fixture = (name: string): string => readFileSync(join(import.meta.dirname, 'fixtures', name), 'utf8');
// scontrol and sacct print the host's local time, as does `new Date('YYYY-MM-DDTHH:MM:SS')`.
const local = (text: string): number => new Date(text).getTime();

/** The newest job of one workload (the fixtures hold earlier runs of the capture too, as a real queue would). */
function latest(jobs: SlurmJob[], id: string): SlurmJob {
  const ours = jobs.filter((job) => job.comment === `aicloud:${id}`);
  const job = ours.sort((a, b) => Number(b.jobId) - Number(a.jobId))[0];
  if (!job) throw new Error(`no job for ${id}`);
  return job;
}

describe('parseSqueueJson on real squeue --json output', () => {
  it('reads running and pending jobs, with start times only for started ones', () => {
    const jobs = parseSqueueJson(fixture('squeue-running-pending.json'));
    expect(latest(jobs, 'timeout')).toEqual({
      jobId: '24',
      name: 'aic-timeout',
      comment: 'aicloud:timeout',
      state: 'RUNNING',
      reason: null,
      exit: null,
      startTime: 1795755179000,
      endTime: null,
      batchHost: 'node1',
    });
    expect(latest(jobs, 'ok')).toMatchObject({
      state: 'PENDING',
      startTime: null,
      endTime: null,
      batchHost: null,
    });
    expect(latest(jobs, 'fail')).toMatchObject({ state: 'PENDING', reason: 'Priority' });
  });

  it('lists every job slurmctld holds, whatever the owner: callers filter on their side', () => {
    const jobs = parseSqueueJson(fixture('squeue-finished.json'));
    expect(jobs.length).toBeGreaterThan(10);
    expect(jobs.find((job) => job.name === 'someone-else')).toMatchObject({
      comment: '',
      state: 'COMPLETED',
    });
    const ours = parseSqueueJson(fixture('squeue-finished.json'), 'aicloud:');
    expect(ours.length).toBe(jobs.filter((job) => job.comment?.startsWith('aicloud:')).length);
    expect(ours.some((job) => job.name === 'someone-else')).toBe(false);
  });

  it('decodes the raw wait status in exit_code (768 = exit 3) and the end time of finished jobs', () => {
    const jobs = parseSqueueJson(fixture('squeue-finished.json'));
    expect(latest(jobs, 'fail')).toMatchObject({
      state: 'FAILED',
      reason: 'NonZeroExitCode',
      exit: { code: 3, signal: 0 },
      startTime: 1795755191000,
      endTime: 1795755192000,
    });
    expect(latest(jobs, 'timeout')).toMatchObject({ state: 'TIMEOUT', exit: { code: 0, signal: 9 } });
    expect(latest(jobs, 'segv')).toMatchObject({ state: 'FAILED', exit: { code: 0, signal: 11 } });
    expect(latest(jobs, 'oom').state).toBe('OUT_OF_MEMORY');
    expect(latest(jobs, 'cancel').state).toBe('CANCELLED');
    expect(latest(jobs, 'ok')).toMatchObject({ state: 'COMPLETED', exit: { code: 0, signal: 0 } });
  });

  it('shows a job Slurm still cleans up as COMPLETING, which is not final', () => {
    const job = latest(parseSqueueJson(fixture('squeue-timeout-completing.json')), 'timeout');
    expect(job.state).toBe('COMPLETING');
    expect(isFinalSlurmState(job.state)).toBe(false);
    expect(isRunningSlurmState(job.state)).toBe(true);
    expect(slurmOutcome(job)).toBeUndefined();
  });

  it('keeps the record of a submission Slurm refused: FAILED, BadConstraints, no node', () => {
    const job = latest(parseSqueueJson(fixture('squeue-finished.json')), 'toomany');
    expect(job).toMatchObject({ state: 'FAILED', reason: 'BadConstraints', batchHost: null });
  });

  it('reads the later versions’ shapes: numbers as { set, number }, states as arrays', () => {
    const text = JSON.stringify({
      jobs: [
        {
          job_id: 7,
          name: 'aic-x',
          comment: 'aicloud:x',
          job_state: ['TIMEOUT', 'COMPLETING'],
          start_time: { set: true, infinite: false, number: 100 },
          end_time: { set: true, infinite: false, number: 200 },
          exit_code: { status: ['SIGNALED'], return_code: { number: 0 }, signal: { id: { number: 9 } } },
          batch_host: 'n1',
        },
        { job_id: 8, name: 'aic-y', comment: 'aicloud:y', job_state: ['FAILED'], exit_code: 768 },
      ],
    });
    const [completing, failed] = parseSqueueJson(text);
    expect(completing).toMatchObject({ jobId: '7', state: 'COMPLETING', startTime: 100_000, endTime: null });
    expect(failed).toMatchObject({ state: 'FAILED', exit: { code: 3, signal: 0 } });
  });
});

describe('parseScontrolShowJob on real scontrol show job -o output', () => {
  it('reads a running job (ignoring its expected end) and a pending one', () => {
    expect(parseScontrolShowJob(fixture('scontrol-running.txt'))).toEqual([
      {
        jobId: '24',
        name: 'aic-timeout',
        comment: 'aicloud:timeout',
        state: 'RUNNING',
        reason: null,
        exit: null,
        startTime: local('2026-11-27T04:52:59'),
        endTime: null,
        batchHost: 'node1',
      },
    ]);
    expect(parseScontrolShowJob(fixture('scontrol-pending.txt'))[0]).toMatchObject({
      jobId: '27',
      state: 'PENDING',
      startTime: null,
      batchHost: null,
    });
  });

  it('reads final states with their exit code and signal', () => {
    const one = (name: string): SlurmJob => parseScontrolShowJob(fixture(name))[0]!;
    expect(one('scontrol-failed.txt')).toMatchObject({ state: 'FAILED', exit: { code: 3, signal: 0 } });
    expect(one('scontrol-timeout.txt')).toMatchObject({
      state: 'TIMEOUT',
      reason: 'TimeLimit',
      exit: { code: 0, signal: 9 },
      startTime: local('2026-11-27T04:52:59'),
      endTime: local('2026-11-27T04:54:17'),
    });
    expect(one('scontrol-timeout-completing.txt')).toMatchObject({ state: 'COMPLETING', endTime: null });
    expect(one('scontrol-oom.txt')).toMatchObject({ state: 'OUT_OF_MEMORY', reason: 'OutOfMemory' });
    expect(one('scontrol-cancelled.txt').state).toBe('CANCELLED');
    expect(one('scontrol-completed.txt')).toMatchObject({ state: 'COMPLETED', comment: 'aicloud:ok' });
  });

  it('reads nothing from the error of an unknown job', () => {
    expect(parseScontrolShowJob(fixture('scontrol-invalid.txt'))).toEqual([]);
  });
});

describe('parseSacct on real sacct -c output (jobcomp/filetxt)', () => {
  it('reads finished jobs by id and name, without a comment', () => {
    const jobs = parseSacct(fixture('sacct-c.txt'));
    expect(jobs.map((job) => [job.jobId, job.name, job.state])).toEqual([
      ['25', 'aic-cancel', 'CANCELLED'],
      ['27', 'aic-ok', 'COMPLETED'],
      ['28', 'aic-fail', 'FAILED'],
      ['29', 'aic-oom', 'OUT_OF_MEMORY'],
      ['30', 'aic-segv', 'FAILED'],
      ['24', 'aic-timeout', 'TIMEOUT'],
    ]);
    expect(jobs[2]).toMatchObject({
      comment: null,
      batchHost: 'node1',
      exit: { code: 3, signal: 0 },
      startTime: local('2026-11-27T04:53:11'),
      endTime: local('2026-11-27T04:53:12'),
    });
  });

  it('reads `CANCELLED by N` and trailing separators', () => {
    const [job] = parseSacct(
      '5|aic-x|CANCELLED by 0|0:15|2026-11-27T04:50:21|2026-11-27T04:50:22|node[1-2]|\n',
    );
    expect(job).toMatchObject({
      jobId: '5',
      state: 'CANCELLED',
      exit: { code: 0, signal: 15 },
      batchHost: 'node',
    });
  });

  it('reads a refused submission (as the completion file keeps it) without a node', () => {
    // A line of `sacct -c` on this cluster after `sbatch --gres=gpu:5` was refused.
    const [job] = parseSacct('31|aic-toomany|FAILED|0:1|2026-11-27T04:53:00|2026-11-27T04:53:00|(null)\n');
    expect(job).toMatchObject({ state: 'FAILED', batchHost: null });
  });
});

describe('sbatch output', () => {
  it('reads the job id of --parsable, with or without a cluster', () => {
    expect(parseSbatchParsable('42\n')).toBe('42');
    expect(parseSbatchParsable('42;aicloud\n')).toBe('42');
    expect(parseSbatchParsable('')).toBeUndefined();
  });

  it("names Slurm's reason for a refusal", () => {
    expect(sbatchRefusalReason(fixture('sbatch-refused.txt'))).toBe(
      'Requested node configuration is not available',
    );
    expect(sbatchRefusalReason('sbatch: error: invalid partition specified: nope\n')).toBe(
      'invalid partition specified: nope',
    );
  });
});
