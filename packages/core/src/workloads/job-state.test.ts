import { JobStatus } from '@aicloud/contracts';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openStore, type Store } from '../store/open-store.ts';
import {
  canMoveJob,
  initialJobStatuses,
  isTerminalJobStatus,
  jobTransitions,
  moveJob,
  moveJobs,
} from './job-state.ts';

describe('the job state table', () => {
  it('covers every status of the contract, and terminal statuses move nowhere', () => {
    expect(Object.keys(jobTransitions).sort()).toEqual([...JobStatus.options].sort());
    for (const status of JobStatus.options) {
      for (const to of jobTransitions[status]) expect(JobStatus.options).toContain(to);
    }
    for (const status of ['succeeded', 'failed', 'timed_out', 'cancelled', 'rejected', 'lost'] as const)
      expect(isTerminalJobStatus(status)).toBe(true);
    expect(isTerminalJobStatus('running')).toBe(false);
  });

  it('reaches every status from a status a job is created in', () => {
    const reached = new Set<string>(initialJobStatuses);
    for (let changed = true; changed; ) {
      changed = false;
      for (const from of [...reached])
        for (const to of jobTransitions[from as JobStatus])
          if (!reached.has(to)) {
            reached.add(to);
            changed = true;
          }
    }
    expect([...reached].sort()).toEqual([...JobStatus.options].sort());
  });

  it('allows what the runner and admission do, and nothing out of an end', () => {
    expect(canMoveJob('admitted', 'running')).toBe(true);
    expect(canMoveJob('running', 'admitted')).toBe(true); // preempted, restarts from its checkpoint
    expect(canMoveJob('queued', 'running')).toBe(false); // never skips admission
    expect(canMoveJob('succeeded', 'running')).toBe(false);
    expect(canMoveJob('cancelled', 'admitted')).toBe(false);
  });
});

describe('moveJob on a real store', () => {
  let store: Store;
  beforeEach(async () => {
    store = await openStore({ sqliteFile: ':memory:' });
  });
  afterEach(async () => store.close());

  async function insertJob(id: string, status: JobStatus) {
    await store.db
      .insertInto('jobs')
      .values({
        id,
        name: id,
        team: 'legal-rag',
        owner: 'alice',
        product: 'fine-tune',
        kind: 'fine-tune',
        gpus: 0,
        gpu_type: null,
        spot: 0,
        datasets: '[]',
        secrets: '[]',
        command: 'true',
        executor: 'local',
        max_runtime_s: 60,
        grace_s: 1,
        status,
        reasons: '[]',
        decision: '{}',
        estimate_micros: 0,
        reserved_micros: 0,
        cost_micros: 0,
        approval_id: null,
        gpu_indexes: '[]',
        gpu_source: null,
        exit_code: null,
        external_id: null,
        created_at: new Date().toISOString(),
        admitted_at: null,
        started_at: null,
        ended_at: null,
        metered_until: null,
      })
      .execute();
  }

  const statusOf = async (id: string) =>
    (await store.db.selectFrom('jobs').select('status').where('id', '=', id).executeTakeFirstOrThrow())
      .status;

  it('moves along the table and writes the other columns with the status', async () => {
    await insertJob('job_a', 'admitted');
    expect(await moveJob(store.db, 'job_a', 'running', { gpu_indexes: '[0]' })).toBe(true);
    const row = await store.db
      .selectFrom('jobs')
      .selectAll()
      .where('id', '=', 'job_a')
      .executeTakeFirstOrThrow();
    expect([row.status, row.gpu_indexes]).toEqual(['running', '[0]']);
  });

  it('refuses a move the table does not allow, and changes nothing', async () => {
    await insertJob('job_b', 'succeeded');
    expect(await moveJob(store.db, 'job_b', 'running', { gpu_indexes: '[3]' })).toBe(false);
    expect(await statusOf('job_b')).toBe('succeeded');
    // A move no status may make is a programming error, said at once.
    await expect(moveJob(store.db, 'job_b', 'pending_approval')).rejects.toThrow(/job state table/);
    await expect(moveJob(store.db, 'job_b', 'running', {}, 'queued')).rejects.toThrow(/from queued/);
  });

  it('lets one of two racing writers win: a job cancelled first is not then marked succeeded', async () => {
    await insertJob('job_c', 'running');
    const [cancelled, succeeded] = await Promise.all([
      moveJob(store.db, 'job_c', 'cancelled', {}, 'running'),
      moveJob(store.db, 'job_c', 'succeeded', {}, 'running'),
    ]);
    expect([cancelled, succeeded]).toEqual([true, false]);
    expect(await statusOf('job_c')).toBe('cancelled');
  });

  it('moves many at once, only those whose status allows it', async () => {
    await insertJob('job_d', 'queued');
    await insertJob('job_e', 'cancelled');
    const moved = await moveJobs(
      store.db,
      ['job_d', 'job_e'],
      'admitted',
      { reasons: '[]' },
      { from: 'queued' },
    );
    expect(moved.map((row) => row.id)).toEqual(['job_d']);
    expect(await statusOf('job_e')).toBe('cancelled');
  });
});
