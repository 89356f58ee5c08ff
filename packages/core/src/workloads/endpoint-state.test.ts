import { endpointStatuses } from '@aicloud/contracts';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openStore, type Store } from '../store/open-store.ts';
import { endpointTransitions, moveEndpoint, moveReplica } from './endpoint-state.ts';

describe('the endpoint state machine', () => {
  let store: Store;
  beforeEach(async () => {
    store = await openStore({ sqliteFile: ':memory:' });
    await store.db
      .insertInto('endpoints')
      .values({
        id: 'ep_1',
        name: 'answers',
        team: 'legal-rag',
        model_id: 'mdl_1',
        model_name: 'answerer',
        version: 1,
        runtime: 'aicloud-tiny',
        artifact_dir: '/nowhere',
        product: 'realtime-endpoint',
        gpus: 0,
        gpu_type: null,
        min_replicas: 0,
        max_replicas: 1,
        target_concurrency: 4,
        idle_timeout_s: 60,
        status: 'starting',
        created_by: 'alice',
        created_at: new Date().toISOString(),
        deleted_at: null,
      })
      .execute();
    await store.db
      .insertInto('endpoint_replicas')
      .values({
        id: 'rep_1',
        endpoint_id: 'ep_1',
        port: 0,
        external_id: null,
        status: 'starting',
        gpu_indexes: '[]',
        started_at: new Date().toISOString(),
        ready_at: null,
        stopped_at: null,
        metered_until: null,
        cold_start_ms: null,
      })
      .execute();
  });
  afterEach(async () => store.close());

  const statusOf = async () =>
    (
      await store.db
        .selectFrom('endpoints')
        .select('status')
        .where('id', '=', 'ep_1')
        .executeTakeFirstOrThrow()
    ).status;

  it('covers every endpoint status of the contract', () => {
    expect(Object.keys(endpointTransitions).sort()).toEqual([...endpointStatuses].sort());
    expect(endpointTransitions.deleted).toEqual([]);
  });

  it('scales to zero and back, and a deleted endpoint stays deleted whatever its replicas do', async () => {
    expect(await moveEndpoint(store.db, 'ep_1', 'ready')).toBe(true);
    expect(await moveEndpoint(store.db, 'ep_1', 'scaled_to_zero')).toBe(true);
    expect(await moveEndpoint(store.db, 'ep_1', 'ready')).toBe(true);
    expect(await moveEndpoint(store.db, 'ep_1', 'deleted', { deleted_at: new Date().toISOString() })).toBe(
      true,
    );
    // The idle pass and a replica that became ready late both lose against the delete.
    expect(await moveEndpoint(store.db, 'ep_1', 'scaled_to_zero')).toBe(false);
    expect(await moveEndpoint(store.db, 'ep_1', 'ready')).toBe(false);
    expect(await statusOf()).toBe('deleted');
  });

  it('never makes a stopped replica ready again', async () => {
    expect(await moveReplica(store.db, 'rep_1', 'stopped')).toBe(true);
    expect(await moveReplica(store.db, 'rep_1', 'ready', { ready_at: new Date().toISOString() })).toBe(false);
    const row = await store.db
      .selectFrom('endpoint_replicas')
      .selectAll()
      .where('id', '=', 'rep_1')
      .executeTakeFirstOrThrow();
    expect([row.status, row.ready_at]).toEqual(['stopped', null]);
  });
});
