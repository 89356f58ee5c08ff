import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStore, type Store } from '../store/open-store.ts';
import { createWorkloadQueries, type WorkloadQueries } from './workload-queries.ts';

let store: Store;
let queries: WorkloadQueries;

async function addJob(id: string, status: string) {
  await store.db
    .insertInto('jobs')
    .values({
      id,
      name: id,
      team: 'legal-rag',
      owner: 'alice',
      product: 'batch-inference',
      kind: 'batch-inference',
      gpus: 0,
      gpu_type: null,
      spot: 0,
      datasets: '[]',
      secrets: '[]',
      command: 'true',
      executor: 'local',
      max_runtime_s: 60,
      grace_s: 5,
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
      created_at: '2026-12-04T00:00:00.000Z',
      admitted_at: null,
      started_at: null,
      ended_at: null,
      metered_until: null,
      rate_micros: null,
    })
    .execute();
}

beforeAll(async () => {
  store = await openStore({ sqliteFile: ':memory:' });
  queries = createWorkloadQueries({ store });
  await addJob('job_running', 'running');
  await addJob('job_done', 'succeeded');
  await store.db
    .insertInto('job_metrics')
    .values([
      { job_id: 'job_running', seq: 2, step: 2, name: 'loss', value: 0.5, time: '2026-12-04T00:00:02.000Z' },
      { job_id: 'job_running', seq: 1, step: 1, name: 'loss', value: 0.9, time: '2026-12-04T00:00:01.000Z' },
      {
        job_id: 'job_running',
        seq: 3,
        step: null,
        name: 'accuracy',
        value: 0.7,
        time: '2026-12-04T00:00:03.000Z',
      },
      { job_id: 'job_done', seq: 1, step: 1, name: 'loss', value: 0.1, time: '2026-12-04T00:00:01.000Z' },
    ])
    .execute();
});
afterAll(async () => store?.close());

describe('workload queries', () => {
  it('says a job has ended when its status is final or it is gone, not while it runs', async () => {
    expect(await queries.jobEnded('job_running')).toBe(false);
    expect(await queries.jobEnded('job_done')).toBe(true);
    expect(await queries.jobEnded('job_never_existed')).toBe(true);
  });

  it('groups a job’s metrics by name in the order they were recorded, and only that job’s', async () => {
    expect(await queries.metricSeries('job_running')).toEqual({
      loss: [
        { step: 1, value: 0.9, time: '2026-12-04T00:00:01.000Z' },
        { step: 2, value: 0.5, time: '2026-12-04T00:00:02.000Z' },
      ],
      accuracy: [{ step: null, value: 0.7, time: '2026-12-04T00:00:03.000Z' }],
    });
    expect(await queries.metricSeries('job_never_existed')).toEqual({});
  });
});
